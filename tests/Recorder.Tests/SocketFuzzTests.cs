using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Recorder.Mcap;
using Recorder.Mcap.Tests;
using Recorder.Ingest.Tests;
using Xunit.Abstractions;

namespace Recorder.Tests;

/// <summary>
/// The mutator's streams through the real daemon's ingest socket, one connection each, while a
/// well-behaved producer records alongside: the daemon never crashes, no session fails other than
/// by a refusal, every good message arrives once, and memory stays flat.
/// </summary>
[Collection("daemon")]
public class SocketFuzzTests(ITestOutputHelper output)
{
    private const int WarmUpInputs = 2000;
    private const int MeasuredInputs = 6000;

    /// <summary>Generous for a managed heap, but a leak of even a few hundred bytes per connection shows.</summary>
    private const long MaxRssGrowthBytes = 16L << 20;

    /// <summary>Every file of the conformance suite (read in place) and files our own writer makes (chunked lz4/zstd and not, attachments, metadata).</summary>
    private static List<byte[]> Seeds()
    {
        var conformance = Path.Combine(RepoPaths.Conformance, "data");
        Assert.True(Directory.Exists(conformance), $"the MCAP conformance suite is missing: {conformance}");
        var seeds = Directory.EnumerateFiles(conformance, "*.mcap", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        Assert.True(seeds.Count >= 400, $"only {seeds.Count} conformance files under {conformance}");
        foreach (var compression in new[] { McapCompression.None, McapCompression.Lz4, McapCompression.Zstd })
            seeds.Add(SampleFiles.Write(new McapWriterOptions { Compression = compression, ChunkSize = 2048 }, channels: 3, messagesPerChannel: 20, payloadSize: 64).Bytes);
        seeds.Add(SampleFiles.Write(new McapWriterOptions { UseChunks = false }, channels: 2, messagesPerChannel: 20, payloadSize: 64).Bytes);
        return seeds;
    }

    private static long RssBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>A well-behaved producer: record by record until told to stop, then a proper end. Returns how many it sent.</summary>
    private static async Task<uint> GoodProducer(string socketPath, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false, Library = "good-producer" }, leaveOpen: true);
        var schema = writer.AddSchema("test.Good", "jsonschema", "{\"type\":\"object\"}"u8.ToArray());
        var channel = writer.AddChannel("/good", "json", schema);
        uint sent = 0;
        while (!stop.IsCancellationRequested)
        {
            var now = (ulong)DateTime.UtcNow.Ticks * 100;
            writer.WriteMessage(channel, sent, now, now, Encoding.UTF8.GetBytes($"{{\"seq\":{sent}}}"));
            writer.Flush();
            sent++;
            await Task.Delay(1);
        }
        writer.Finish();
        return sent;
    }

    [Fact]
    public async Task Eight_thousand_mutated_streams_through_the_socket_never_crash_the_daemon_nor_touch_a_good_producer_and_memory_stays_flat()
    {
        const int seed = 1111;
        output.WriteLine($"mutation seed {seed}");
        var seeds = Seeds();
        var random = new Random(seed);
        var inputs = Enumerable.Range(0, WarmUpInputs + MeasuredInputs).Select(i => StreamMutator.Mutate(seeds[random.Next(seeds.Count)], random)).ToList();

        // A GC heap limit, as the unit's MemoryMax gives one in production (the GC takes 75 % of a
        // cgroup limit): without one the GC grows its budget lazily (RSS rose ~2 KiB per stream
        // for 10 000 streams, then stayed flat) and RSS says nothing about leaks. With one, a
        // leak ends in OutOfMemory, and growth above it is unmanaged memory.
        using var d = DaemonProcess.Start(chunk: "{ size: 64KiB, max_age: 100ms, compression: zstd }",
            environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x3000000" }); // 48 MiB
        using var stop = new CancellationTokenSource();
        var good = Task.Run(() => GoodProducer(d.IngestSocket, stop.Token));

        // Four connections at a time, as several misbehaving producers would.
        async Task Send(int from, int to)
        {
            var next = from - 1;
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < to; i = Interlocked.Increment(ref next))
                    await SocketProducer.SendRaw(d.IngestSocket, inputs[i]);
            })));
        }

        // The seeds themselves are valid streams: each is recorded, none refused (else the refusals below prove nothing).
        foreach (var valid in seeds) await SocketProducer.SendRaw(d.IngestSocket, valid);
        var refusedSeeds = d.Control("status").GetProperty("result").GetProperty("producers_refused").GetInt64();
        Assert.True(refusedSeeds == 0, $"{refusedSeeds} of {seeds.Count} valid seed streams were refused:\n{d.Output}");

        var watch = Stopwatch.StartNew();
        await Send(0, WarmUpInputs);
        var rssAfterWarmUp = RssBytes(d.Pid);
        await Send(WarmUpInputs, inputs.Count);
        var rssAtEnd = RssBytes(d.Pid);
        var fuzzSeconds = watch.Elapsed.TotalSeconds;
        Assert.True(d.IsRunning, "the daemon died:\n" + d.Output);
        stop.Cancel();
        var goodSent = await good;

        var status = d.Control("status").GetProperty("result");
        var refused = status.GetProperty("producers_refused").GetInt64();
        Assert.Equal(0, d.Stop());
        // What the mutations broke, by kind of refusal (offsets and numbers left out).
        foreach (var kind in System.Text.RegularExpressions.Regex.Matches(d.Output, @"refused: ([^(0-9]*)").GroupBy(m => m.Groups[1].Value.Trim()).OrderByDescending(g => g.Count()))
            output.WriteLine($"{kind.Count(),6} {kind.Key}");
        var log = d.Output;
        output.WriteLine($"{inputs.Count} mutated streams in {fuzzSeconds:0.0} s, {refused} refused; good producer sent {goodSent}; " +
            $"RSS {rssAfterWarmUp >> 20} MiB after {WarmUpInputs} streams, {rssAtEnd >> 20} MiB after {inputs.Count} ({(rssAtEnd - rssAfterWarmUp) / 1024} KiB growth)");

        // Every session ended by a clean end or a refusal with its reason; none by an unexpected exception.
        Assert.DoesNotContain("failed unexpectedly", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", log, StringComparison.Ordinal);
        Assert.True(refused > inputs.Count / 4, $"only {refused} of {inputs.Count} mutated streams were refused: the mutator is too gentle to prove anything");
        Assert.True(rssAtEnd - rssAfterWarmUp <= MaxRssGrowthBytes, $"RSS grew by {(rssAtEnd - rssAfterWarmUp) >> 20} MiB over {MeasuredInputs} streams");

        var files = d.FinishedFiles();
        var goodSeen = new List<uint>();
        foreach (var file in files)
        {
            var doctor = new StringWriter();
            Assert.True(Recorder.Cli.CommandLine.Run(["doctor", file], doctor, doctor) == 0, $"{file}\n{doctor}");
            using var reader = McapIndexedReader.Open(file);
            goodSeen.AddRange(reader.ReadMessages().Where(m => m.Channel.Topic == "/good").Select(m => m.Message.Sequence));
        }
        Assert.True(goodSent > 100, $"the good producer sent only {goodSent}");
        Assert.Equal(Enumerable.Range(0, (int)goodSent).Select(i => (uint)i), goodSeen.Order());
        // @mcap/core agrees on what the recording holds for the good producer.
        var foxglove = NodeInterop.Sequences(files);
        Assert.Equal(goodSeen.Order(), foxglove.Values.SelectMany(f => f.Topics.GetValueOrDefault("/good") ?? []).Order());
    }
}
