using System.Buffers;
using System.Text;
using System.Text.Json;
using Recorder.Mcap;
using Recorder.Mcap.Tests;

namespace Recorder.Tests;

/// <summary>The daemon as a real process: real sockets, a FIFO, a producer written by Foxglove's library, SIGTERM.</summary>
[Collection("daemon")]
public class DaemonTests
{
    /// <summary>Every file is whole: our doctor finds no error and @mcap/core reads it; messages are in log-time order; recorder.device is there.</summary>
    private static List<(string File, string Topic, uint Sequence, ulong LogTime, string Data)> ValidateFiles(List<string> files)
    {
        var all = new List<(string, string, uint, ulong, string)>();
        foreach (var file in files)
        {
            var doctorOutput = new StringWriter();
            Assert.True(Recorder.Cli.CommandLine.Run(["doctor", file], doctorOutput, doctorOutput) == 0, $"recorder doctor {file}:\n{doctorOutput}");
            var dump = NodeInterop.Dump(file);
            using var reader = McapIndexedReader.Open(file);
            Assert.Contains(reader.MetadataIndexes, m => m.Name == "recorder.device");
            var device = reader.ReadMetadata(reader.MetadataIndexes.First(m => m.Name == "recorder.device"));
            Assert.Equal("test-0001", device.Values["device_id"]);
            Assert.Contains(dump["metadata"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "recorder.device");
            var messages = reader.ReadMessages().ToList();
            Assert.Equal(messages.Count, dump["messages"]!.AsArray().Count);
            var times = messages.Select(m => m.Message.LogTime).ToList();
            Assert.Equal(times.Order(), times);
            // Stored order is log-time order too, not just what the indexed reader returns.
            var stored = McapStreamReader.ReadRecords(File.OpenRead(file)).Where(r => r.Opcode == McapOpcode.Message).Select(r => r.ToMessage().LogTime).ToList();
            Assert.Equal(stored.Order(), stored);
            all.AddRange(messages.Select(m => (file, m.Channel.Topic, m.Message.Sequence, m.Message.LogTime, Encoding.UTF8.GetString(m.Message.Data.Span))));
        }
        return all;
    }

    private static void AssertExactlyOnce(List<(string File, string Topic, uint Sequence, ulong LogTime, string Data)> messages, string topic, int count)
    {
        var sequences = messages.Where(m => m.Topic == topic).Select(m => m.Sequence).Order().ToList();
        Assert.True(Enumerable.Range(0, count).Select(i => (uint)i).SequenceEqual(sequences),
            $"{topic}: expected 0..{count - 1} exactly once, got {sequences.Count} messages");
    }

    [Fact]
    public async Task Producers_over_socket_and_fifo_are_recorded_exactly_once_in_valid_files()
    {
        using var d = DaemonProcessWithFifo();
        var fifo = Path.Combine(d.Root, "diag.jsonl");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");

        var a = SocketProducer.Send(d.IngestSocket, "/a", 3000, chunked: false, pauseEvery: 50);
        var b = SocketProducer.Send(d.IngestSocket, "/b", 2000, chunked: true, compression: McapCompression.Zstd, pauseEvery: 100);
        var node = Task.Run(() =>
        {
            var (code, output, error) = NodeInterop.Run("node", ["produce-socket.mjs", d.IngestSocket, "/node", "1000", "0", "chunked"], NodeInterop.Directory, TimeSpan.FromMinutes(2));
            Assert.True(code == 0, $"node producer failed: {error}");
            Assert.Contains("sent 1000", output);
        });
        var jsonl = Task.Run(async () =>
        {
            // Two writers one after the other: the FIFO is reopened for the second.
            for (var session = 0; session < 2; session++)
            {
                await using var w = new StreamWriter(new FileStream(fifo, FileMode.Open, FileAccess.Write));
                for (var i = session * 250; i < (session + 1) * 250; i++)
                {
                    await w.WriteLineAsync($"{{\"seq\":{i},\"battery_v\":48.1}}");
                    if (i == 100) await w.WriteLineAsync("this line is not json");
                    if (i % 50 == 0) await w.FlushAsync();
                }
                await w.FlushAsync();
                w.Close();
                await Task.Delay(300);
            }
        });
        var publish = Task.Run(() =>
        {
            var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "recorder.dll"), "publish", "--topic", "/shell", "--socket", d.IngestSocket })
                info.ArgumentList.Add(arg);
            using var process = System.Diagnostics.Process.Start(info)!;
            for (var i = 0; i < 100; i++) process.StandardInput.WriteLine($"{{\"shell\":{i}}}");
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("published 100 messages on /shell", output);
        });
        // A split needs an open file: it waits for the first written message, not a fixed 200 ms that a loaded machine's
        // producers (processes and threads of their own) may not have used to send anything yet.
        d.WaitFor(() => d.TopicCounts().Values.Any(n => n > 0), TimeSpan.FromSeconds(30), "the first messages");
        Assert.True(d.Control("split").GetProperty("ok").GetBoolean());
        Assert.True(d.Control("mark", ("text", "halfway")).GetProperty("ok").GetBoolean());
        Assert.True(d.Control("operator", ("name", "rosa")).GetProperty("ok").GetBoolean());
        await Task.WhenAll(a, b, node, jsonl, publish);

        d.WaitFor(() =>
        {
            var counts = d.TopicCounts();
            return counts.GetValueOrDefault("/a") == 3000 && counts.GetValueOrDefault("/b") == 2000
                && counts.GetValueOrDefault("/node") == 1000 && counts.GetValueOrDefault("/vehicle/diag") == 500
                && counts.GetValueOrDefault("/shell") == 100;
        }, TimeSpan.FromSeconds(30), "all messages to arrive");
        Assert.Equal(0, d.Stop());
        Assert.Empty(d.ActiveFiles());

        var files = d.FinishedFiles();
        Assert.True(files.Count >= 2, "the split should have produced a second file");
        var messages = ValidateFiles(files);
        AssertExactlyOnce(messages, "/a", 3000);
        AssertExactlyOnce(messages, "/b", 2000);
        AssertExactlyOnce(messages, "/node", 1000);
        AssertExactlyOnce(messages, "/shell", 100);
        // JSON lines carry their own counter (each FIFO writer session numbers from 0).
        var diagSeqs = messages.Where(m => m.Topic == "/vehicle/diag").Select(m => JsonDocument.Parse(m.Data).RootElement.GetProperty("seq").GetInt32()).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 500), diagSeqs);
        Assert.Contains(messages, m => m.Topic == "/recorder/events" && m.Data.Contains("halfway"));
        Assert.Contains(messages, m => m.Topic == "/node" && m.Data.Contains("mcap-core"));

        using var last = McapIndexedReader.Open(files[^1]);
        var diag = last.Channels.Values.FirstOrDefault(c => c.Topic == "/vehicle/diag") ?? McapIndexedReader.Open(files[0]).Channels.Values.First(c => c.Topic == "/vehicle/diag");
        Assert.Equal("internal", diag.Metadata["sensitivity"]);
        var devices = last.MetadataIndexes.Where(m => m.Name == "recorder.device").Select(last.ReadMetadata).ToList();
        Assert.Equal("rosa", devices[^1].Values["operator"]);
        Assert.Equal("9.9.9", devices[0].Values["software_version"]);
    }

    private static DaemonProcess DaemonProcessWithFifo() =>
        DaemonProcess.Start(fleetExtra: "topics:\n  - { topic: /vehicle/diag, fifo: ./diag.jsonl, format: jsonl, tags: { sensitivity: internal } }\n");

    [Fact]
    public async Task Twenty_splits_under_continuous_load_lose_and_duplicate_nothing()
    {
        using var d = DaemonProcess.Start(
            fleetExtra: "topics:\n  - { topic: /tf_static, latched: true }\n  - { topic: /never, fifo: ./never.fifo, format: mcap }\n",
            recording: "  split: { size: 48KiB, duration: 10m }\n",
            chunk: "{ size: 8KiB, max_age: 100ms, compression: none }");
        await SocketProducer.Send(d.IngestSocket, "/tf_static", 1, chunked: false);
        var producers = Enumerable.Range(0, 3).Select(p => SocketProducer.Send(d.IngestSocket, $"/p{p}", 7000, chunked: p == 1, pauseEvery: 20)).ToArray();
        await Task.WhenAll(producers);
        d.WaitFor(() => Enumerable.Range(0, 3).All(p => d.TopicCounts().GetValueOrDefault($"/p{p}") == 7000), TimeSpan.FromSeconds(30), "all messages");
        Assert.True(File.Exists(Path.Combine(d.Root, "never.fifo")), "the daemon creates a declared FIFO");
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, d.Stop());
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"a FIFO nobody opened must not hold up shutdown (took {stopping.Elapsed})");

        var files = d.FinishedFiles();
        Assert.True(files.Count >= 21, $"expected at least 20 splits, got {files.Count} files");
        var messages = ValidateFiles(files);
        for (var p = 0; p < 3; p++) AssertExactlyOnce(messages, $"/p{p}", 7000);
        foreach (var file in files) Assert.Contains(messages, m => m.File == file && m.Topic == "/tf_static");
    }

    [Fact]
    public async Task Malformed_producers_are_refused_and_the_daemon_and_others_carry_on()
    {
        using var d = DaemonProcess.Start();
        var good = SocketProducer.Send(d.IngestSocket, "/good", 5000, chunked: true, pauseEvery: 25);

        await SocketProducer.SendRaw(d.IngestSocket, "definitely not an mcap stream"u8.ToArray());
        var valid = new MemoryStream();
        using (var w = new McapWriter(valid, new McapWriterOptions { UseChunks = false, EnableSummary = false }, leaveOpen: true))
        {
            var ch = w.AddChannel("/bad", "json");
            for (uint i = 0; i < 10; i++) w.WriteMessage(ch, i, i, i, "{}"u8);
        }
        var bytes = valid.ToArray();
        await SocketProducer.SendRaw(d.IngestSocket, bytes[..(bytes.Length - 40)]); // truncated mid-record
        var oversized = bytes[..(bytes.Length - 50)].Concat(new byte[] { 0x05, 0, 0, 0, 0, 0, 0, 0, 0x40 }).ToArray();
        await SocketProducer.SendRaw(d.IngestSocket, oversized);
        var unknown = new System.Buffers.ArrayBufferWriter<byte>();
        unknown.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(unknown, new Header("", ""));
        McapRecordSerializer.WriteMessage(unknown, 42, 0, 1, 1, "{}"u8);
        await SocketProducer.SendRaw(d.IngestSocket, unknown.WrittenSpan.ToArray());

        await good;
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault("/good") == 5000, TimeSpan.FromSeconds(30), "the good producer's messages");
        var status = d.Control("status").GetProperty("result");
        Assert.Equal(4, status.GetProperty("producers_refused").GetInt64());
        Assert.True(d.IsRunning);
        Assert.Equal(0, d.Stop());

        var messages = ValidateFiles(d.FinishedFiles());
        AssertExactlyOnce(messages, "/good", 5000);
        var refusals = messages.Where(m => m.Topic == "/recorder/events" && m.Data.Contains("producer_refused")).Select(m => m.Data).ToList();
        Assert.Equal(4, refusals.Count);
        Assert.Contains(refusals, r => r.Contains("not an MCAP stream"));
        Assert.Contains(refusals, r => r.Contains("stream ended mid-record"));
        Assert.Contains(refusals, r => r.Contains("oversized record"));
        Assert.Contains(refusals, r => r.Contains("message on undeclared channel 42"));
        Assert.Contains("refused", d.Output);
    }

    [Fact]
    public void Readme_run_command_records_the_demo_on_embedded_defaults()
    {
        var dir = Directory.CreateTempSubdirectory("recorder-readme-").FullName;
        try
        {
            using var d = DaemonProcess.StartWithDefaults(dir, demo: true);
            Thread.Sleep(3000);
            Assert.Equal(0, d.Stop());
            var files = d.FinishedFiles(Path.Combine(dir, "recordings"));
            var file = Assert.Single(files);
            var stdout = new StringWriter();
            Assert.Equal(0, Recorder.Cli.CommandLine.Run(["info", file], stdout, new StringWriter()));
            var info = stdout.ToString();
            Assert.Matches(@"/imu\s+\d+ msgs \(\d+\.\d+ Hz\)\s+: recorder\.demo\.Imu \[protobuf\] \[protobuf\]", info);
            Assert.Contains("/gps", info);
            Assert.Contains("/vehicle/diagnostics", info);
            Assert.Matches(@"/camera/demo\s+\d+ msgs .*foxglove\.CompressedVideo", info);
            // The camera is indexed: a .vidx beside the file, starting at a keyframe.
            var frames = new StringWriter();
            Assert.Equal(0, Recorder.Cli.CommandLine.Run(["frames", file, "--json"], frames, new StringWriter()));
            using (var json = System.Text.Json.JsonDocument.Parse(frames.ToString()))
            {
                var camera = json.RootElement.GetProperty("topics")[0];
                Assert.Equal("/camera/demo", camera.GetProperty("topic").GetString());
                Assert.Equal(320, camera.GetProperty("width").GetInt32());
                Assert.InRange(camera.GetProperty("frames").GetInt32(), 15, 50); // ~10 fps for ~3 s
                Assert.True(json.RootElement.GetProperty("frames")[0].GetProperty("keyframe").GetBoolean());
            }
            using var reader = McapIndexedReader.Open(file);
            var imu = reader.Statistics!.ChannelMessageCounts[reader.Channels.Values.First(c => c.Topic == "/imu").Id];
            Assert.InRange(imu, 300UL, 1000UL); // ~200 Hz for ~3 s
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}

[CollectionDefinition("daemon", DisableParallelization = true)]
public class DaemonCollection;

[Collection("daemon")]
public class HostileProducerTests
{
    private static long RssKb(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
            System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Connects as a well-behaved producer does: a full backlog (EAGAIN) means try again shortly.</summary>
    private static async Task<System.Net.Sockets.Socket> Connect(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
                return s;
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.TryAgain && attempt < 200)
            {
                s.Dispose();
                await Task.Delay(5);
            }
        }
    }

    [Fact]
    public async Task A_thousand_connect_disconnect_cycles_and_a_producer_stalled_mid_record_harm_nobody()
    {
        using var d = DaemonProcess.Start();
        // A producer that sends half a record and then says nothing, holding its connection open.
        using var staller = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await staller.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(d.IngestSocket));
        var half = new MemoryStream();
        using (var w = new McapWriter(half, new McapWriterOptions { UseChunks = false, EnableSummary = false }, leaveOpen: true))
        {
            var ch = w.AddChannel("/stalled", "json");
            w.WriteMessage(ch, 0, 1, 1, new byte[10_000]);
        }
        await staller.SendAsync(half.ToArray().AsMemory(0, (int)half.Length - 5000));

        var good = SocketProducer.Send(d.IngestSocket, "/good", 4000, chunked: false, pauseEvery: 50);
        // Warm up, then measure memory across the churn.
        await SocketProducer.Send(d.IngestSocket, "/warmup", 10, chunked: false);
        var before = RssKb(d.Pid);
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            using var s = await Connect(d.IngestSocket);
            // Some say nothing, some send a valid start, some garbage; all hang up.
            if (i % 3 == 1) await s.SendAsync(McapConstants.Magic.ToArray());
            if (i % 3 == 2)
            {
                var junk = new byte[random.Next(1, 300)];
                random.NextBytes(junk);
                await s.SendAsync(junk);
            }
        }
        await good;
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault("/good") == 4000, TimeSpan.FromSeconds(30), "the good producer's messages");
        var status = d.Control("status").GetProperty("result");
        Assert.True(d.IsRunning);
        var after = RssKb(d.Pid);
        Assert.True(after - before < 32 * 1024, $"RSS grew from {before} KiB to {after} KiB over 1000 connections");
        Assert.Equal(1, status.GetProperty("producers").GetInt32()); // only the staller is still connected
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, d.Stop());
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(15), "a stalled producer must not hold up shutdown");
        using var reader = McapIndexedReader.Open(d.FinishedFiles().Last());
        Assert.DoesNotContain(reader.Channels.Values, c => c.Topic == "/stalled" && reader.Statistics!.ChannelMessageCounts.ContainsKey(c.Id));
    }
}
