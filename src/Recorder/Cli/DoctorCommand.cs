using System.Globalization;
using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>`recorder doctor FILE [--strict]`: every problem with its offset; exit 1 when any is an error.</summary>
public static class DoctorCommand
{
    public static int Run(Arguments args, TextWriter stdout)
    {
        var path = args.OnePositional("FILE");
        var report = McapDoctor.Check(path, new McapDoctorOptions { StrictMessageOrder = args.Has("--strict") });
        foreach (var diagnostic in report.Diagnostics)
            stdout.WriteLine(diagnostic.ToString());
        if (report.IsTruncated)
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"file stops being whole at byte {report.TruncatedAt} of {report.FileLength}: run `recorder recover`"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{path}: {report.ErrorCount} errors, {report.WarningCount} warnings ({report.Messages} messages, {report.Chunks} chunks, {report.Channels} channels)"));
        return report.HasErrors ? CommandLine.ExitError : CommandLine.ExitOk;
    }
}
