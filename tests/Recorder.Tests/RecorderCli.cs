using Recorder.Cli;

namespace Recorder.Tests;

/// <summary>Runs a `recorder` command line in-process, as the shell would: exit code, stdout, stderr.</summary>
internal static class RecorderCli
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
