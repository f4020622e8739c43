using System.Globalization;
using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>`recorder recover IN -o OUT`: exit 0 nothing lost, 3 recovered with loss, 1 nothing recoverable.</summary>
public static class RecoverCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var input = args.OnePositional("input file");
        var output = args.Value("-o", "--output") ?? throw new UsageException("recover needs -o OUT");
        if (Path.GetFullPath(input) == Path.GetFullPath(output)) throw new UsageException("OUT must differ from IN");

        McapRecoveryResult result;
        var temporary = output + ".partial";
        using (var source = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var target = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            result = McapRecovery.Recover(source, target);
            target.Flush(flushToDisk: true);
        }
        File.Move(temporary, output, overwrite: true);

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"recovered {result.Messages} messages in {result.Chunks} chunks, {result.Channels} channels, {result.Schemas} schemas, {result.Attachments} attachments, {result.Metadata} metadata"));
        if (result.ChunksSkipped > 0) stdout.WriteLine($"skipped {result.ChunksSkipped} damaged chunks");
        if (result.MessagesSkipped > 0) stdout.WriteLine($"skipped {result.MessagesSkipped} messages on undefined channels");
        if (result.Error is { } error)
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"input usable up to byte {result.ValidUpTo} of {result.InputLength}: {error.Message}"));
        stdout.WriteLine($"wrote {output}");
        return result.ExitCode;
    }
}
