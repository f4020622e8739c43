using System.Globalization;
using Recorder.Mcap;
using Recorder.Video;
using Recorder.Storage;

namespace Recorder.Cli;

/// <summary>
/// `recorder doctor FILE [--strict]`: every problem with its offset; exit 1 when any is an error.
/// A frame index beside the recording is checked too: it must be exactly what the MCAP rebuilds to.
/// </summary>
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
        var indexOk = CheckFrameIndex(path, stdout);
        return report.HasErrors || !indexOk ? CommandLine.ExitError : CommandLine.ExitOk;
    }

    /// <summary>False when NAME.vidx exists and is not what the MCAP rebuilds to (stale, torn or from another file).</summary>
    private static bool CheckFrameIndex(string mcap, TextWriter stdout)
    {
        var vidx = RecordingLayout.VidxPath(mcap);
        if (!File.Exists(vidx)) return true;
        using var rebuilt = new MemoryStream();
        FrameIndexRebuildResult result;
        using (var input = File.OpenRead(mcap)) result = FrameIndexRebuilder.Rebuild(input, rebuilt, Path.GetFileName(mcap));
        var frames = result.Frames;
        var onDisk = File.ReadAllBytes(vidx);
        if (onDisk.AsSpan().SequenceEqual(rebuilt.GetBuffer().AsSpan(0, (int)rebuilt.Length)))
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{vidx}: ok, {frames} frames, the same as the MCAP rebuilds to"));
            return true;
        }
        string why;
        try
        {
            var live = FrameIndex.Parse(onDisk);
            why = live.StopReason is { } stop ? $"it ends early ({stop})" : $"it has {live.Frames.Count} frames where the MCAP has {frames}, or other offsets";
        }
        catch (FrameIndexException e)
        {
            why = e.Message;
        }
        stdout.WriteLine($"{vidx}: error: does not match the MCAP: {why}; `recorder frames --rebuild {mcap}` regenerates it");
        return false;
    }
}
