namespace Recorder.Cli;

/// <summary>`recorder doctor FILE [--strict]`. Placeholder until McapDoctor lands.</summary>
public static class DoctorCommand
{
    public static int Run(Arguments args, TextWriter stdout)
    {
        _ = args.OnePositional("FILE");
        stdout.WriteLine("doctor: not yet available");
        return CommandLine.ExitError;
    }
}
