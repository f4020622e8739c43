using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Recorder.Video;

namespace Recorder.Cli;

/// <summary>
/// `recorder export-video FILE --topic T -o OUT.mp4 [--start NS] [--end NS]`: one video topic as an
/// MP4 (or anything ffmpeg muxes by the output's extension), starting at the keyframe at or before
/// --start, with the recorded timestamps. The frames go to the ffmpeg CLI as IVF, the simplest
/// container that carries a timestamp per frame, and are stream-copied (no re-encode).
/// </summary>
public static class ExportVideoCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var (mcap, vidx) = FramesCommand.Paths(args.OnePositional("FILE"));
        var topic = args.Value("--topic") ?? throw new UsageException("export-video needs --topic T");
        var output = args.Value("-o", "--output") ?? throw new UsageException("export-video needs -o OUT.mp4");
        var start = args.UInt64("--start");
        var end = args.UInt64("--end") ?? ulong.MaxValue;
        if (FindOnPath("ffmpeg") is not { } ffmpeg)
        {
            stderr.WriteLine("recorder: export-video needs the ffmpeg command on PATH (Debian: apt-get install ffmpeg)");
            return CommandLine.ExitError;
        }

        var index = LoadIndex(mcap, vidx, stderr);
        if (index.FindTrack(topic) is not { } track)
        {
            stderr.WriteLine($"recorder: {mcap} has no video topic '{topic}' (it has: {string.Join(", ", index.Tracks.Values.Select(t => t.Topic))})");
            return CommandLine.ExitError;
        }
        // From the keyframe at or before --start (or the first one after it), found through the index.
        var frames = index.FramesForRange(topic, start ?? 0, end);
        if (frames.Count == 0)
        {
            stderr.WriteLine($"recorder: {topic} has no keyframe to start from {(start is null ? "" : "at or after --start ")}up to --end");
            return CommandLine.ExitError;
        }

        var info = new ProcessStartInfo(ffmpeg) { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-v", "error", "-y", "-f", "ivf", "-i", "-", "-c", "copy", output }) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new IOException("could not start ffmpeg");
        var errors = process.StandardError.ReadToEndAsync();
        using (var reader = new FrameReader(mcap, index))
        {
            var stdin = process.StandardInput.BaseStream;
            try
            {
                WriteIvf(stdin, track, frames, reader);
            }
            catch (IOException) when (process.HasExited)
            {
                // ffmpeg stopped reading: its own message says why.
            }
            stdin.Close();
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            stderr.WriteLine($"recorder: ffmpeg failed ({process.ExitCode}): {errors.Result.Trim()}");
            return CommandLine.ExitError;
        }
        var seconds = frames.Count > 1 ? (frames[^1].LogTime - frames[0].LogTime) / 1e9 : 0;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"exported {frames.Count} frames of {topic} ({seconds:0.###} s from the keyframe at {frames[0].LogTime}) to {output}"));
        return CommandLine.ExitOk;
    }

    /// <summary>The index beside the recording, or one rebuilt in memory when it is missing or torn.</summary>
    private static FrameIndex LoadIndex(string mcap, string vidx, TextWriter stderr)
    {
        if (File.Exists(vidx))
        {
            using var stream = File.OpenRead(vidx);
            var index = FrameIndex.Read(stream);
            if (index.StopReason is null) return index;
            stderr.WriteLine($"recorder: warning: {vidx} ends early ({index.StopReason}); using an index rebuilt from the MCAP");
        }
        using var input = File.OpenRead(mcap);
        using var rebuilt = new MemoryStream();
        FrameIndexRebuilder.Rebuild(input, rebuilt, Path.GetFileName(mcap));
        rebuilt.Position = 0;
        return FrameIndex.Read(rebuilt);
    }

    /// <summary>IVF: a 32-byte header, then per frame a 12-byte header (size, timestamp) and the frame. Timestamps in microseconds from the first frame.</summary>
    private static void WriteIvf(Stream output, VideoTrackInfo track, IReadOnlyList<FrameIndexEntry> frames, FrameReader reader)
    {
        Span<byte> header = stackalloc byte[32];
        "DKIF"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 32);
        (track.Codec == VideoCodec.H265 ? "HEVC"u8 : "H264"u8).CopyTo(header[8..]);
        BinaryPrimitives.WriteUInt16LittleEndian(header[12..], (ushort)track.Width);
        BinaryPrimitives.WriteUInt16LittleEndian(header[14..], (ushort)track.Height);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 1_000_000); // time base 1/1,000,000 s
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], (uint)frames.Count);
        output.Write(header);
        Span<byte> frameHeader = stackalloc byte[12];
        var origin = frames[0].LogTime;
        foreach (var frame in frames)
        {
            var data = reader.ReadFrame(frame).Span;
            BinaryPrimitives.WriteUInt32LittleEndian(frameHeader, (uint)data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(frameHeader[4..], (frame.LogTime - origin) / 1000);
            output.Write(frameHeader);
            output.Write(data);
        }
    }

    private static string? FindOnPath(string command)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
