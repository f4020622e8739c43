using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Recorder.Demo;
using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>
/// `recorder loadgen --socket PATH --producers N --size BYTES --rate MSGS_PER_S|max --duration SECONDS [--json]`:
/// N producers writing MCAP streams (a real schema and channel each) as fast as allowed or at a fixed
/// total rate. It only needs a Unix socket that accepts bytes, so the same run can be pointed at a
/// raw-copy sink (socat into a file) for the baseline.
/// </summary>
public static class LoadgenCommand
{
    public static int Run(Arguments args, TextWriter stdout)
    {
        if (args.Value("--video") is { } clip) return RunVideo(args, clip, stdout);
        var socket = args.Value("--socket") ?? throw new UsageException("loadgen needs --socket PATH");
        var producers = (int)(args.UInt64("--producers") ?? 1);
        var size = (int)(args.UInt64("--size") ?? 100);
        var seconds = args.UInt64("--duration") ?? 10;
        var rateText = args.Value("--rate") ?? "max";
        double? rate = rateText == "max" ? null
            : double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r > 0 ? r
            : throw new UsageException($"--rate must be a number of messages per second or 'max', not '{rateText}'");
        if (producers < 1 || size < 1 || size > 64 * 1024 * 1024) throw new UsageException("--producers must be at least 1 and --size 1 B to 64 MiB");

        var payload = new byte[size];
        new Random(42).NextBytes(payload); // noise: the worst case for compression
        var duration = TimeSpan.FromSeconds(seconds);
        var results = new (long Messages, long Bytes)[producers];
        var watch = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, producers).Select(i => Task.Run(async () =>
            results[i] = await Produce(socket, i, payload, rate / producers, duration).ConfigureAwait(false))).ToArray();
        Task.WaitAll(tasks);
        var elapsed = watch.Elapsed.TotalSeconds;
        var messages = results.Sum(x => x.Messages);
        var bytes = results.Sum(x => x.Bytes);

        if (args.Has("--json"))
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteNumber("producers", producers);
                w.WriteNumber("size", size);
                w.WriteNumber("messages", messages);
                w.WriteNumber("bytes", bytes);
                w.WriteNumber("seconds", Math.Round(elapsed, 3));
                w.WriteNumber("msgs_per_s", Math.Round(messages / elapsed, 1));
                w.WriteNumber("mb_per_s", Math.Round(bytes / elapsed / 1e6, 2));
                w.WriteEndObject();
            }
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
        else
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{messages} messages, {bytes} payload bytes in {elapsed:0.000} s: {messages / elapsed:0} msgs/s, {bytes / elapsed / 1e6:0.0} MB/s"));
        }
        return CommandLine.ExitOk;
    }

    /// <summary>
    /// `loadgen --video CLIP.h264|.h265 --socket PATH [--socket PATH2 ...] --duration S [--json]`: one camera
    /// per socket (a topic socket of the daemon, or a raw-copy sink), each writing the raw Annex B clip
    /// over and over as fast as the socket takes it; reports frames/s and MB/s.
    /// </summary>
    private static int RunVideo(Arguments args, string clip, TextWriter stdout)
    {
        var sockets = args.All("--socket");
        if (sockets.Count == 0) throw new UsageException("loadgen --video needs --socket PATH (one per camera)");
        var seconds = args.UInt64("--duration") ?? 10;
        var bytes = File.ReadAllBytes(clip);
        var codec = clip.EndsWith(".h265", StringComparison.Ordinal) || clip.EndsWith(".hevc", StringComparison.Ordinal) ? Video.VideoCodec.H265 : Video.VideoCodec.H264;
        var framesPerLoop = 0;
        var splitter = new Video.AnnexBSplitter(codec);
        Video.AccessUnitHandler count = (_, in _) => framesPerLoop++;
        splitter.Push(bytes, 0, count);
        splitter.Complete(count);
        var duration = TimeSpan.FromSeconds(seconds);
        var watch = Stopwatch.StartNew();
        var loops = sockets.Select(path => Task.Run(async () =>
        {
            using var socket = await DemoProducers.ConnectAsync(path, CancellationToken.None, attempts: 50).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            long done = 0;
            while (watch.Elapsed < duration)
            {
                await stream.WriteAsync(bytes).ConfigureAwait(false);
                done++;
            }
            return done;
        })).ToArray();
        Task.WaitAll(loops);
        var elapsed = watch.Elapsed.TotalSeconds;
        var frames = loops.Sum(l => l.Result) * framesPerLoop;
        var total = loops.Sum(l => l.Result) * bytes.LongLength;
        if (args.Has("--json"))
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"cameras\":{sockets.Count},\"frames\":{frames},\"bytes\":{total},\"seconds\":{elapsed:0.000},\"frames_per_s\":{frames / elapsed:0.0},\"mb_per_s\":{total / elapsed / 1e6:0.00},\"mean_frame_bytes\":{bytes.Length / Math.Max(framesPerLoop, 1)}}}"));
        }
        else
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{frames} frames ({framesPerLoop} per loop of {clip}), {total} bytes in {elapsed:0.000} s: {frames / elapsed:0.0} frames/s, {total / elapsed / 1e6:0.0} MB/s"));
        }
        return CommandLine.ExitOk;
    }

    private static async Task<(long, long)> Produce(string path, int index, byte[] payload, double? rate, TimeSpan duration)
    {
        using var socket = await DemoProducers.ConnectAsync(path, CancellationToken.None, attempts: 50).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var writer = new McapWriter(stream, new McapWriterOptions
        {
            Library = "recorder-loadgen/" + BuildInfo.Version,
            UseChunks = false,
            EnableSummary = false,
            OutputBufferSize = 256 * 1024,
        }, leaveOpen: true);
        var schema = writer.AddSchema("loadgen.Blob", "jsonschema", """{"type":"string","contentEncoding":"base64"}"""u8.ToArray());
        var channel = writer.AddChannel($"/loadgen/{index}", "raw", schema);
        var watch = Stopwatch.StartNew();
        long sent = 0;
        var ticksPerMessage = rate is { } r ? Stopwatch.Frequency / r : 0;
        while (watch.Elapsed < duration)
        {
            // Batches of 64 between clock checks keep the check off the per-message path.
            for (var i = 0; i < 64; i++)
            {
                var now = (ulong)(DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
                writer.WriteMessage(channel, (uint)sent, now, now, payload);
                sent++;
            }
            if (ticksPerMessage > 0)
            {
                writer.Flush();
                var due = (long)(sent * ticksPerMessage);
                var ahead = due - watch.ElapsedTicks;
                if (ahead > 0) await Task.Delay(TimeSpan.FromSeconds((double)ahead / Stopwatch.Frequency)).ConfigureAwait(false);
            }
        }
        writer.Finish();
        return (sent, sent * payload.Length);
    }
}
