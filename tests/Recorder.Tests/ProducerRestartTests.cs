using System.Buffers;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Recorder.Demo;
using Recorder.Mcap;

namespace Recorder.Tests;

/// <summary>
/// Producers across a daemon restart (issue 11, defect 7): `recorder publish` and the demo producers
/// used to die with "WriterFailed: the writer is Failed". They reconnect with backoff, say why, and
/// count what they could not send; the recordings hold exactly what was sent.
/// </summary>
[Collection("daemon")]
public class ProducerRestartTests
{
    /// <summary>Monotonic time that moves only when the test says so: the producer's backoff is measured on it.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _lines = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines) _lines.Add(formatter(state, exception));
        }
        public List<string> Lines
        {
            get { lock (_lines) return _lines.ToList(); }
        }
    }

    private static List<uint> Sequences(DaemonProcess d, string topic) =>
        d.FinishedFiles().SelectMany(f =>
        {
            using var reader = McapIndexedReader.Open(f);
            return reader.ReadMessages(topics: [topic]).Select(m => m.Message.Sequence).ToList();
        }).Order().ToList();

    [Fact]
    public async Task A_producer_survives_a_daemon_restart_reconnecting_with_backoff_and_counting_what_it_could_not_send()
    {
        var time = new ManualTime();
        var log = new ListLogger();
        using var first = DaemonProcess.Start();
        first.KeepRoot = true;
        using var producer = await ReconnectingProducer.ConnectAsync(first.IngestSocket, "restart-test", log, CancellationToken.None, attempts: 1, time: time);
        var channel = producer.AddChannel("/restart", "json");
        uint sequence = 0;
        void Send(int count, bool expected)
        {
            for (var i = 0; i < count; i++) Assert.Equal(expected, producer.Send(channel, sequence++, 1, 1, "{}"u8));
        }

        Send(10, expected: true);
        first.WaitFor(() => first.TopicCounts().GetValueOrDefault("/restart") == 10, TimeSpan.FromSeconds(30), "the first 10 messages");
        Assert.Equal(0, first.Stop());

        // Daemon gone: the first write finds the connection dead, one immediate attempt fails, backoff starts.
        Send(5, expected: false);
        Assert.Contains(log.Lines, l => l.Contains("The daemon went away") && l.Contains("reconnecting"));
        using var second = DaemonProcess.Start(root: first.Root);
        // Back, but the backoff (on the producer's clock) has not passed: no attempt, still counted.
        Send(1, expected: false);
        Assert.False(producer.IsConnected);
        time.Advance(ReconnectingProducer.InitialBackoff);
        Send(4, expected: true);
        producer.Finish();
        Assert.Contains(log.Lines, l => l.Contains("Reconnected") && l.Contains("6 messages were not sent"));
        Assert.Equal((14UL, 6UL, 1), (producer.Sent, producer.Lost, producer.Reconnects));

        second.WaitFor(() => second.TopicCounts().GetValueOrDefault("/restart") == 4, TimeSpan.FromSeconds(30), "the 4 messages after the restart");
        Assert.Equal(0, second.Stop());
        // Exactly what was sent, once: 0..9 before, 16..19 after; 10..15 are the 6 reported.
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (uint)i), 16u, 17u, 18u, 19u], Sequences(second, "/restart"));
    }

    [Fact]
    public void Recorder_publish_reconnects_after_a_daemon_restart_and_reports_the_lines_it_could_not_send()
    {
        using var first = DaemonProcess.Start();
        first.KeepRoot = true;
        var info = new ProcessStartInfo(DaemonProcess.NativeBinary ?? "dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (DaemonProcess.NativeBinary is null) info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "recorder.dll"));
        foreach (var arg in new[] { "publish", "--topic", "/shell", "--socket", first.IngestSocket }) info.ArgumentList.Add(arg);
        using var publish = Process.Start(info)!;
        var stderr = new StringBuilder();
        publish.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        publish.BeginErrorReadLine();
        string Stderr()
        {
            lock (stderr) return stderr.ToString();
        }
        var lines = 0;
        void Line()
        {
            publish.StandardInput.WriteLine($"{{\"n\":{lines++}}}");
            publish.StandardInput.Flush();
        }

        for (var i = 0; i < 20; i++) Line();
        first.WaitFor(() => first.TopicCounts().GetValueOrDefault("/shell") == 20, TimeSpan.FromSeconds(30), "the first 20 lines");
        Assert.Equal(0, first.Stop());
        Line();
        var noticed = Stopwatch.StartNew();
        while (!Stderr().Contains("The daemon went away"))
        {
            Assert.True(noticed.Elapsed < TimeSpan.FromSeconds(30), "publish did not notice:\n" + Stderr());
            Thread.Sleep(20); // a real process: its stderr arrives when it arrives
        }
        using var second = DaemonProcess.Start(root: first.Root);
        // A real process on the real clock: a line every 50 ms until its backoff lets it reconnect.
        var watch = Stopwatch.StartNew();
        while (!Stderr().Contains("Reconnected"))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "publish did not reconnect:\n" + Stderr());
            Line();
            Thread.Sleep(50);
        }
        for (var i = 0; i < 10; i++) Line();
        publish.StandardInput.Close();
        var summary = publish.StandardOutput.ReadToEnd();
        publish.WaitForExit();
        Assert.Equal(0, publish.ExitCode);

        var match = System.Text.RegularExpressions.Regex.Match(summary, @"published (\d+) messages on /shell; (\d+) not sent while the daemon was away \(1 reconnects\)");
        Assert.True(match.Success, summary + Stderr());
        var (sent, lost) = (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
        Assert.Equal(lines, sent + lost);
        Assert.True(lost >= 1);
        second.WaitFor(() => second.TopicCounts().GetValueOrDefault("/shell") == (ulong)(sent - 20), TimeSpan.FromSeconds(30), "the lines after the restart");
        Assert.Equal(0, second.Stop());
        Assert.Equal(sent, Sequences(second, "/shell").Distinct().Count());
    }
}

/// <summary>What producers send besides messages, through the real daemon, read back with @mcap/core (issue 11, defects 8 and 10).</summary>
[Collection("daemon")]
public class ProducerRecordsDaemonTests
{
    [Fact]
    public async Task Producer_attachments_and_metadata_reach_the_file_reserved_topics_and_bad_json_are_refused_and_a_probe_is_no_event()
    {
        using var d = DaemonProcess.Start(fleetExtra: "topics:\n  - { topic: /diag, fifo: ./diag.jsonl, format: jsonl }\n",
            ingestExtra: ", max_attachment_bytes: 1KiB");
        var fifo = Path.Combine(d.Root, "diag.jsonl");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");

        // A health probe: connect, send nothing, close.
        using (var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
            await probe.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(d.IngestSocket));

        var w = new System.Buffers.ArrayBufferWriter<byte>();
        w.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(w, new Header("", "cpp-like-writer"));
        McapRecordSerializer.WriteChannel(w, new Channel(1, 0, "/cal", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteChannel(w, new Channel(2, 0, "/recorder/diagnostics", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 0, 1, 1, "{}"u8);
        McapRecordSerializer.WriteMessage(w, 2, 0, 1, 1, "{\"replayed\":true}"u8);
        McapRecordSerializer.WriteAttachment(w, new Attachment(7, 8, "calibration.yaml", "application/yaml", "k: 1\n"u8.ToArray()), computeCrc: true);
        McapRecordSerializer.WriteAttachment(w, new Attachment(7, 8, "map.bin", "application/octet-stream", new byte[4096]), computeCrc: true);
        McapRecordSerializer.WriteMetadata(w, new Metadata("rig", new Dictionary<string, string> { ["id"] = "r7" }));
        McapRecordSerializer.WriteMessage(w, 1, 1, 2, 2, "{}"u8);
        McapRecordSerializer.WriteDataEnd(w, new DataEnd(0));
        await SocketProducer.SendRaw(d.IngestSocket, w.WrittenSpan.ToArray());
        await using (var jsonl = new StreamWriter(new FileStream(fifo, FileMode.Open, FileAccess.Write)))
            await jsonl.WriteAsync("{\"ok\":1}\nnot json\n{\"ok\":2}\n");

        d.WaitFor(() => d.TopicCounts().GetValueOrDefault("/cal") == 2 && d.TopicCounts().GetValueOrDefault("/diag") == 2, TimeSpan.FromSeconds(30), "the messages");
        var status = d.Control("status").GetProperty("result");
        Assert.Equal(0, status.GetProperty("producers_refused").GetInt64());
        Assert.Equal((1, 1, 1, 1), (status.GetProperty("reserved_channels_refused").GetInt64(), status.GetProperty("producer_attachments_kept").GetInt64(),
            status.GetProperty("producer_attachments_refused").GetInt64(), status.GetProperty("producer_metadata_kept").GetInt64()));
        var diag = status.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("topic").GetString() == "/diag");
        Assert.Equal(1UL, diag.GetProperty("refused").GetUInt64());
        Assert.Equal(0, d.Stop());
        Assert.DoesNotContain("refused: stream ended mid-record", d.Output);

        var file = Assert.Single(d.FinishedFiles());
        var dump = Recorder.Mcap.Tests.NodeInterop.Dump(file);
        var attachment = Assert.Single(dump["attachments"]!.AsArray());
        Assert.Equal("calibration.yaml", attachment!["name"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String("k: 1\n"u8), attachment["data"]!.GetValue<string>());
        var rig = Assert.Single(dump["metadata"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "rig")!;
        Assert.Equal("r7", rig["metadata"]!["id"]!.GetValue<string>());
        Assert.Equal("cpp-like-writer", rig["metadata"]!["recorder.producer_library"]!.GetValue<string>());
        Assert.Contains(dump["metadata"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "recorder.producer_attachment");
        var messages = dump["messages"]!.AsArray().Select(m => Encoding.UTF8.GetString(Convert.FromBase64String(m!["data"]!.GetValue<string>()))).ToList();
        Assert.DoesNotContain(messages, m => m.Contains("replayed"));
        Assert.Contains(messages, m => m.Contains("producer_channel_refused") && m.Contains("/recorder/diagnostics"));
        Assert.Contains(messages, m => m.Contains("producer_attachment_refused") && m.Contains("map.bin"));
        Assert.DoesNotContain(messages, m => m.Contains("producer_refused"));
        var topicStats = Assert.Single(dump["metadata"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "recorder.topic_stats")!;
        Assert.Contains("\"refused\":1", topicStats["metadata"]!["/diag"]!.GetValue<string>());
    }
}
