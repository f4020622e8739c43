using System.Globalization;
using System.Text;
using System.Text.Json;
using Recorder.Video;
using Recorder.Storage;

namespace Recorder.Cli;

/// <summary>
/// `recorder frames FILE [--topic T] [--json] [--rebuild]`: a recording's frame index, one entry
/// per frame, then per video topic its GOPs, keyframe interval, frame rate and gaps.
/// </summary>
public static class FramesCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var (mcap, vidx) = Paths(args.OnePositional("FILE"));
        var topic = args.Value("--topic");
        if (args.Has("--rebuild"))
        {
            // From the MCAP alone, replacing the index atomically.
            var rebuilt = FrameIndexRebuilder.RebuildFile(mcap, vidx);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rebuilt {vidx}: {rebuilt.Frames} frames on {rebuilt.Tracks} video topics"));
            if (!args.Has("--json")) return CommandLine.ExitOk;
        }
        if (!File.Exists(vidx))
        {
            stderr.WriteLine($"recorder: no frame index {vidx} (a recording without video, or made before it had one); `recorder frames --rebuild {mcap}` makes it from the MCAP");
            return CommandLine.ExitError;
        }
        var index = FrameIndex.ReadFile(vidx);
        if (index.StopReason is { } why)
            stderr.WriteLine($"recorder: warning: {vidx} ends early at byte {index.ValidBytes} ({why}); the frames before it are shown. `recorder frames --rebuild` regenerates it");
        var tracks = index.Tracks.Values.Where(t => topic is null || t.Topic == topic).ToList();
        if (topic is not null && tracks.Count == 0)
        {
            stderr.WriteLine($"recorder: no video topic '{topic}' in {vidx} (it has: {string.Join(", ", index.Tracks.Values.Select(t => t.Topic))})");
            return CommandLine.ExitError;
        }
        var ids = tracks.Select(t => t.TrackId).ToHashSet();
        var frames = index.Frames.Where(f => ids.Contains(f.TrackId)).ToList();
        if (args.Has("--json")) WriteJson(index, tracks, frames, stdout);
        else WriteText(index, tracks, frames, stdout);
        return CommandLine.ExitOk;
    }

    /// <summary>FILE may name the recording or its index.</summary>
    internal static (string Mcap, string Vidx) Paths(string file) =>
        RecordingLayout.KindOf(file) == RecordingFileKind.Vidx ? (Path.ChangeExtension(file, RecordingLayout.McapExtension), file) : (file, RecordingLayout.VidxPath(file));

    private static string KindName(KeyframeKind kind) => kind switch
    {
        KeyframeKind.Idr => "idr",
        KeyframeKind.RecoveryPoint => "recovery_point",
        KeyframeKind.Cra => "cra",
        KeyframeKind.Bla => "bla",
        _ => "none",
    };

    private static string Where(VideoTrackInfo track, in FrameIndexEntry f) => track.Store == FrameStore.Container
        ? string.Create(CultureInfo.InvariantCulture, $"chunk@{f.Offset}+{f.OffsetInChunk}")
        : string.Create(CultureInfo.InvariantCulture, $"stream@{f.Offset}");

    private static void WriteText(FrameIndex index, List<VideoTrackInfo> tracks, List<FrameIndexEntry> frames, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"recording: {index.RecordingFile}");
        foreach (var t in tracks)
        {
            var size = t.Width > 0 ? string.Create(inv, $" {t.Width}x{t.Height}") : "";
            var store = t.Store == FrameStore.Sidecar ? $"sidecar {t.StreamFile}" : "container";
            o.WriteLine($"topic {t.Topic}: {t.Codec.Name()}{size}, {store}");
        }
        o.WriteLine("topic                            frame       log_time_ns           publish_time_ns       keyframe  gop     size  where");
        foreach (var f in frames)
        {
            var t = index.Tracks[f.TrackId];
            o.WriteLine(string.Create(inv, $"{t.Topic,-32} {f.FrameNumber,6}  {f.LogTime,20}  {f.PublishTime,20}  {(f.IsKeyframe ? "true " : "false"),-8} {f.Gop,4} {f.Size,8}  {Where(t, f)}{(f.IsKeyframe ? " " + KindName(f.Keyframe) : "")}"));
        }
        foreach (var t in tracks)
        {
            var s = FrameSummary.Of(index.FramesOf(t.TrackId));
            o.WriteLine(string.Create(inv,
                $"{t.Topic}: {s.Frames} frames, {s.Keyframes} keyframes ({s.Gops} GOPs), keyframe interval {s.KeyframeIntervalFrames:0.#} frames / {s.KeyframeIntervalSeconds:0.###} s, {s.FrameRate:0.##} fps, {s.Gaps.Count} gaps{(s.Gaps.Count > 0 ? $" (largest {s.Gaps.Max(g => g.Seconds):0.###} s after frame {s.Gaps.MaxBy(g => g.Seconds).AfterFrame})" : "")}{(s.LeadingFrames > 0 ? $", {s.LeadingFrames} frames before the first keyframe" : "")}"));
        }
    }

    private static void WriteJson(FrameIndex index, List<VideoTrackInfo> tracks, List<FrameIndexEntry> frames, TextWriter o)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("recording", index.RecordingFile);
            if (index.StopReason is { } why) w.WriteString("index_ends_early", why.ToString());
            w.WriteStartArray("topics");
            foreach (var t in tracks)
            {
                var s = FrameSummary.Of(index.FramesOf(t.TrackId));
                w.WriteStartObject();
                w.WriteString("topic", t.Topic);
                w.WriteString("codec", t.Codec.Name());
                w.WriteString("store", t.Store == FrameStore.Sidecar ? "sidecar" : "container");
                if (t.StreamFile is not null) w.WriteString("stream_file", t.StreamFile);
                if (t.Width > 0) { w.WriteNumber("width", t.Width); w.WriteNumber("height", t.Height); }
                w.WriteNumber("frames", s.Frames);
                w.WriteNumber("keyframes", s.Keyframes);
                w.WriteNumber("gops", s.Gops);
                w.WriteNumber("frames_before_first_keyframe", s.LeadingFrames);
                w.WriteNumber("keyframe_interval_frames", Math.Round(s.KeyframeIntervalFrames, 3));
                w.WriteNumber("keyframe_interval_s", Math.Round(s.KeyframeIntervalSeconds, 6));
                w.WriteNumber("frame_rate_hz", Math.Round(s.FrameRate, 3));
                w.WriteStartArray("gaps");
                foreach (var g in s.Gaps)
                {
                    w.WriteStartObject();
                    w.WriteNumber("after_frame", g.AfterFrame);
                    w.WriteNumber("seconds", Math.Round(g.Seconds, 6));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("frames");
            foreach (var f in frames)
            {
                var t = index.Tracks[f.TrackId];
                w.WriteStartObject();
                w.WriteString("topic", t.Topic);
                w.WriteNumber("frame", f.FrameNumber);
                w.WriteNumber("log_time", f.LogTime);
                w.WriteNumber("publish_time", f.PublishTime);
                w.WriteBoolean("keyframe", f.IsKeyframe);
                w.WriteString("keyframe_kind", KindName(f.Keyframe));
                w.WriteNumber("gop", f.Gop);
                w.WriteNumber("size", f.Size);
                if (t.Store == FrameStore.Container)
                {
                    w.WriteNumber("chunk_offset", f.Offset);
                    w.WriteNumber("offset_in_chunk", f.OffsetInChunk);
                }
                else
                {
                    w.WriteNumber("stream_offset", f.Offset);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}

/// <summary>One video topic's shape: GOPs, keyframe interval, frame rate, and gaps (an interval over twice the median).</summary>
public sealed record FrameSummary(int Frames, int Keyframes, int LeadingFrames, double KeyframeIntervalFrames, double KeyframeIntervalSeconds,
    double FrameRate, IReadOnlyList<(ulong AfterFrame, double Seconds)> Gaps)
{
    /// <summary>A GOP starts at each keyframe (frames before the first belong to none).</summary>
    public int Gops => Keyframes;

    public static FrameSummary Of(IReadOnlyList<FrameIndexEntry> frames)
    {
        if (frames.Count == 0) return new FrameSummary(0, 0, 0, 0, 0, 0, []);
        var keyframes = frames.Where(f => f.IsKeyframe).ToList();
        var leading = frames.TakeWhile(f => !f.IsKeyframe).Count();
        // Mean distance between consecutive keyframes, in frames (positions in the list: frame numbers restart per file).
        var keyPositions = Enumerable.Range(0, frames.Count).Where(i => frames[i].IsKeyframe).ToList();
        var intervalFrames = keyPositions.Count > 1 ? (double)(keyPositions[^1] - keyPositions[0]) / (keyPositions.Count - 1) : 0;
        var intervalSeconds = keyframes.Count > 1 ? (keyframes[^1].LogTime - keyframes[0].LogTime) / 1e9 / (keyframes.Count - 1) : 0;
        var span = (frames[^1].LogTime - frames[0].LogTime) / 1e9;
        var rate = frames.Count > 1 && span > 0 ? (frames.Count - 1) / span : 0;
        var deltas = frames.Zip(frames.Skip(1), (a, b) => (double)(b.LogTime - a.LogTime)).ToList();
        var gaps = new List<(ulong, double)>();
        if (deltas.Count >= 2)
        {
            var median = deltas.Order().ElementAt(deltas.Count / 2);
            for (var i = 0; i < deltas.Count; i++)
                if (median > 0 && deltas[i] > 2 * median) gaps.Add((frames[i].FrameNumber, deltas[i] / 1e9));
        }
        return new FrameSummary(frames.Count, keyframes.Count, leading, intervalFrames, intervalSeconds, rate, gaps);
    }
}
