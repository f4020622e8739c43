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
