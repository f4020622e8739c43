using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Recorder.Ingest;
using Recorder.Mcap;

namespace Recorder.Recording.Tests;

/// <summary>
/// What producers send besides plain messages, and the counts and times around them (issue 11,
/// defects 8 and 10): attachments and metadata kept, the recorder's namespace reserved, chunk
/// timing under receive timestamps, late producer times, probes, refused JSON lines, crashed sessions.
/// </summary>
public class ProducerRecordsTests
{
    private static ulong NowNs() => NowNs(TimeProvider.System);
    private static ulong NowNs(TimeProvider time) => (ulong)(time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>A producer stream written record by record, as foxglove/mcap's C++ writer sends an unchunked one.</summary>
    private static ArrayBufferWriter<byte> Begin(string library = "cal-writer/1.0")
    {
        var w = new ArrayBufferWriter<byte>();
        w.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(w, new Header("", library));
        McapRecordSerializer.WriteSchema(w, new Schema(1, "Sample", "jsonschema", "{\"type\":\"object\"}"u8.ToArray()));
        return w;
    }

    private static byte[] End(ArrayBufferWriter<byte> w)
    {
        McapRecordSerializer.WriteDataEnd(w, new DataEnd(0));
        return w.WrittenSpan.ToArray();
    }

    private static List<string> Events(IEnumerable<string> files) =>
        Files.Messages(files).Where(m => m.Topic == RecordingWriter.EventsTopic).Select(m => Encoding.UTF8.GetString(m.Data)).ToList();

    [Fact]
    public async Task Producer_attachments_and_metadata_are_kept_in_the_recording_with_their_producer_noted()
    {
        using var p = new Pipeline();
        var calibration = Encoding.UTF8.GetBytes("camera_matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n");
        var w = Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/cal/data", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 0, 10, 10, "{\"i\":0}"u8);
        McapRecordSerializer.WriteAttachment(w, new Attachment(5, 6, "calibration.yaml", "application/yaml", calibration), computeCrc: true);
        McapRecordSerializer.WriteMetadata(w, new Metadata("vehicle_calibration", new Dictionary<string, string> { ["rig"] = "r7" }));
        McapRecordSerializer.WriteMessage(w, 1, 1, 11, 11, "{\"i\":1}"u8);
        var stats = await p.Feed(End(w), name: "socket#7");
        var files = await p.StopAsync();

        Assert.Null(stats.RefusedBecause);
        Assert.Equal(1, p.IngestOptions.Counters.AttachmentsKept);
        Assert.Equal(1, p.IngestOptions.Counters.MetadataKept);
        using var reader = McapIndexedReader.Open(Assert.Single(files));
        var attachment = reader.ReadAttachment(Assert.Single(reader.AttachmentIndexes));
        Assert.Equal(("calibration.yaml", "application/yaml", 5UL, 6UL), (attachment.Name, attachment.MediaType, attachment.LogTime, attachment.CreateTime));
        Assert.Equal(calibration, attachment.Data.ToArray());
        var note = reader.ReadMetadata(reader.MetadataIndexes.Single(m => m.Name == RecordingWriter.ProducerAttachmentNote));
        Assert.Equal("calibration.yaml", note.Values["name"]);
        Assert.Equal("socket#7", note.Values[RecordingWriter.ProducerKey]);
        Assert.Equal("cal-writer/1.0", note.Values[RecordingWriter.ProducerLibraryKey]);
        var metadata = reader.ReadMetadata(reader.MetadataIndexes.Single(m => m.Name == "vehicle_calibration"));
        Assert.Equal("r7", metadata.Values["rig"]);
        Assert.Equal("socket#7", metadata.Values[RecordingWriter.ProducerKey]);
        Assert.Equal(2, reader.ReadMessages().Count(m => m.Channel.Topic == "/cal/data"));
        Assert.False(McapDoctor.Check(files[0]).HasErrors);
    }

    [Fact]
    public async Task An_attachment_over_max_attachment_bytes_is_refused_counted_and_the_producer_goes_on()
    {
        using var p = new Pipeline(ingest: new IngestOptions { SocketPath = null, MaxAttachmentBytes = () => 100 });
        var w = Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/x", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteAttachment(w, new Attachment(0, 0, "map.bin", "application/octet-stream", new byte[1000]), computeCrc: true);
        McapRecordSerializer.WriteAttachment(w, new Attachment(0, 0, "small.txt", "text/plain", new byte[100]), computeCrc: true);
        McapRecordSerializer.WriteMessage(w, 1, 0, 1, 1, "{}"u8);
        var stats = await p.Feed(End(w));
        var files = await p.StopAsync();

        Assert.Null(stats.RefusedBecause);
        Assert.Equal(1, p.IngestOptions.Counters.AttachmentsRefused);
        Assert.Equal(1, p.IngestOptions.Counters.AttachmentsKept);
        using var reader = McapIndexedReader.Open(Assert.Single(files));
        Assert.Equal("small.txt", Assert.Single(reader.AttachmentIndexes).Name);
        Assert.Single(reader.ReadMessages(), m => m.Channel.Topic == "/x");
        Assert.Contains(Events(files), e => e.Contains("\"type\":\"producer_attachment_refused\"") && e.Contains("map.bin") && e.Contains("1000 bytes"));
    }

    [Fact]
    public async Task Channels_in_the_recorder_namespace_are_refused_with_a_count_and_an_event()
    {
        using var p = new Pipeline(configure: o => o with { DiagnosticsInterval = TimeSpan.Zero });
        // A replayed recording: its old diagnostics and device metadata must not merge into ours.
        var w = Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, RecordingWriter.DiagnosticsTopic, "json", Channel.NoMetadata));
        McapRecordSerializer.WriteChannel(w, new Channel(2, 1, "/replayed/imu", "json", Channel.NoMetadata));
        for (var i = 0; i < 5; i++)
        {
            McapRecordSerializer.WriteMessage(w, 1, (uint)i, 1, 1, "{\"old\":true}"u8);
            McapRecordSerializer.WriteMessage(w, 2, (uint)i, 1, 1, "{}"u8);
        }
        McapRecordSerializer.WriteMetadata(w, new Metadata("recorder.device", new Dictionary<string, string> { ["device_id"] = "someone-else" }));
        var stats = await p.Feed(End(w));
        var files = await p.StopAsync();

        Assert.Null(stats.RefusedBecause);
        Assert.Equal(1, p.IngestOptions.Counters.ReservedChannelsRefused);
        Assert.Equal(5, p.IngestOptions.Counters.ReservedMessagesRefused);
        Assert.Equal(1, p.IngestOptions.Counters.MetadataRefused);
        var messages = Files.Messages(files);
        Assert.Equal(5, messages.Count(m => m.Topic == "/replayed/imu"));
        Assert.DoesNotContain(messages, m => m.Topic == RecordingWriter.DiagnosticsTopic && Encoding.UTF8.GetString(m.Data).Contains("\"old\""));
        Assert.Contains(Events(files), e => e.Contains("\"type\":\"producer_channel_refused\"") && e.Contains(RecordingWriter.DiagnosticsTopic));
        Assert.Equal("dev-1", Files.DeviceMetadata(Assert.Single(files)).Values["device_id"]);
        using var reader = McapIndexedReader.Open(files[0]);
        Assert.Single(reader.MetadataIndexes, m => m.Name == "recorder.device");
    }

    [Fact]
    public async Task Messages_in_a_producer_chunk_keep_their_spacing_under_receive_timestamps()
    {
        using var p = new Pipeline(configure: o => o with { DiagnosticsInterval = TimeSpan.Zero });
        // 500 messages 1 ms apart in one chunk: before, all got the chunk's one arrival time.
        var stream = new MemoryStream();
        var start = NowNs() - 2_000_000_000;
        using (var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = true, ChunkSize = 1 << 20, Compression = McapCompression.Zstd }, leaveOpen: true))
        {
            var channel = writer.AddChannel("/chunked", "json");
            for (var i = 0; i < 500; i++) writer.WriteMessage(channel, (uint)i, start + (ulong)i * 1_000_000, start + (ulong)i * 1_000_000, "{}"u8);
        }
        var before = NowNs();
        await p.Feed(stream.ToArray(), segment: 1 << 22);
        var after = NowNs();
        var files = await p.StopAsync();

        var times = Files.Messages(files).Where(m => m.Topic == "/chunked").OrderBy(m => m.Sequence).Select(m => m.LogTime).ToList();
        Assert.Equal(500, times.Count);
        Assert.Equal(500, times.Distinct().Count());
        for (var i = 1; i < times.Count; i++) Assert.Equal(1_000_000UL, times[i] - times[i - 1]);
        // The last message is at the chunk's arrival, and nothing is later than the arrival.
        Assert.InRange(times[^1], before, after);
    }

    /// <summary>Captures log entries (level, event id, text) for assertions.</summary>
    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, int Id, string Text)> Entries { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries) Entries.Add((logLevel, eventId.Id, formatter(state, exception)));
        }
        public List<(LogLevel Level, int Id, string Text)> Snapshot()
        {
            lock (Entries) return Entries.ToList();
        }
    }


    [Fact]
    public async Task A_late_producer_time_message_is_logged_once_per_producer_with_its_skew()
    {
        var log = new ListLogger();
        using var p = new Pipeline(configure: o => o with
        {
            UsesProducerTime = _ => true,
            ReorderWindow = TimeSpan.FromMilliseconds(20),
            DiagnosticsInterval = TimeSpan.Zero,
        }, logger: log, receiveTime: Pipeline.FakeClock());
        var now = NowNs(p.Time!);
        var w = Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/on_time", "json", Channel.NoMetadata));
        for (var i = 0; i < 3; i++) McapRecordSerializer.WriteMessage(w, 1, (uint)i, now, now, "{}"u8);
        await p.Feed(End(w), name: "socket#1");
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the watermark passes them
        Assert.True(p.Writer.Status().MessagesTotal >= 3);

        var late = Begin();
        McapRecordSerializer.WriteChannel(late, new Channel(1, 1, "/late", "json", Channel.NoMetadata));
        for (var i = 0; i < 4; i++) McapRecordSerializer.WriteMessage(late, 1, (uint)i, now - 10_000_000_000, now - 10_000_000_000, "{}"u8);
        await p.Feed(End(late), name: "socket#2");
        await p.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.True(p.Writer.Status().MessagesTotal >= 7);
        var files = await p.StopAsync();

        var warnings = log.Snapshot().Where(e => e.Id == 112).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("socket#2", warning.Text);
        Assert.Contains("/late", warning.Text);
        Assert.Contains("10000 ms older", warning.Text);
        // All four are kept, at the edge, counted as late.
        var stats = TopicStatsOf(Assert.Single(files), "/late");
        Assert.Equal(4, stats.GetProperty("messages").GetInt32());
        Assert.Equal(4, stats.GetProperty("late").GetInt32());
    }

    private static JsonElement TopicStatsOf(string file, string topic)
    {
        using var reader = McapIndexedReader.Open(file);
        var stats = reader.ReadMetadata(reader.MetadataIndexes.Single(m => m.Name == "recorder.topic_stats"));
        return JsonDocument.Parse(stats.Values[topic]).RootElement.Clone();
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_a_debug_level_non_event()
    {
        var log = new ListLogger();
        using var p = new Pipeline(logger: log);
        var probe = await p.Feed([], name: "socket#1");
        await p.Feed(ProducerStreams.Json("/after", 3), name: "socket#2");
        var files = await p.StopAsync();

        Assert.Null(probe.RefusedBecause);
        var probeEntries = log.Snapshot().Where(e => e.Text.Contains("socket#1")).ToList();
        Assert.All(probeEntries, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Contains(probeEntries, e => e.Text.Contains("without sending anything"));
        Assert.DoesNotContain(Events(files), e => e.Contains("producer_refused"));
    }

    [Fact]
    public async Task The_finished_log_line_counts_every_chunk_of_the_file()
    {
        var log = new ListLogger();
        using var p = new Pipeline(configure: o => o with { ChunkSize = 2048 }, logger: log);
        await p.Feed(ProducerStreams.Json("/x", 400), segment: 1024, paced: true); // many reads: many instants to cut chunks between
        var file = Assert.Single(await p.StopAsync());

        using var reader = McapIndexedReader.Open(file);
        var finished = Assert.Single(log.Snapshot(), e => e.Id == 101);
        Assert.Contains($"{reader.ChunkIndexes.Count} chunks", finished.Text);
        Assert.True(reader.ChunkIndexes.Count > 1);
    }

    [Fact]
    public async Task Bad_json_lines_are_counted_per_topic_as_refused_in_status_diagnostics_and_topic_stats()
    {
        using var p = new Pipeline();
        var input = new TopicInputOptions("unused.jsonl", "/diag", TopicInputFormat.Jsonl);
        var stats = new ProducerStats { Source = "fifo:diag#1" };
        var pipe = new Pipe();
        var session = new JsonLinesSession(input, p.IngestOptions, p.Queue, p.Registry, stats, p.Logger).RunAsync(pipe.Reader, CancellationToken.None);
        await pipe.Writer.WriteAsync("{\"a\":1}\nnot json\n{\"b\":2}\n{broken\n[1,2]\n"u8.ToArray());
        await pipe.Writer.CompleteAsync();
        await session;
        await p.WriterPassAsync();

        var topic = Assert.Single(p.Writer.Status().Topics, t => t.Topic == "/diag");
        Assert.Equal((3UL, 2UL), (topic.Messages, topic.Refused));
        var files = await p.StopAsync();
        var file = Assert.Single(files);
        Assert.Equal(2, TopicStatsOf(file, "/diag").GetProperty("refused").GetInt32());
        var diagnostics = Files.Messages(files).Where(m => m.Topic == RecordingWriter.DiagnosticsTopic).Select(m => JsonDocument.Parse(m.Data).RootElement).Last();
        Assert.Equal(2, diagnostics.GetProperty("topics").GetProperty("/diag").GetProperty("refused").GetInt32());
    }

    /// <summary>A reader that fails the way a bug would: an exception no session expects, after some good reads.</summary>
    private sealed class FailingReader(PipeReader inner, int failAtRead) : PipeReader
    {
        private int _reads;
        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);
        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);
        public override void CancelPendingRead() => inner.CancelPendingRead();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            ++_reads == failAtRead ? throw new InvalidOperationException("simulated bug") : inner.ReadAsync(cancellationToken);
        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);
    }

    [Fact]
    public async Task A_producer_session_ending_with_an_unexpected_exception_is_counted_as_refused_with_an_event()
    {
        var log = new ListLogger();
        using var p = new Pipeline(logger: log);
        var bytes = ProducerStreams.Json("/x", 50);
        var pipe = new Pipe();
        var stats = new ProducerStats { Source = "socket#9" };
        var reader = new FailingReader(pipe.Reader, failAtRead: 2);
        var session = ProducerSessions.RunAsync(
            () => new McapProducerSession(p.IngestOptions, p.Queue, p.Registry, stats, p.Logger).RunAsync(reader, CancellationToken.None),
            p.Queue, stats, p.Logger);
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
        await session; // ends at the second read, having recorded the first half
        var files = await p.StopAsync();

        Assert.StartsWith("unexpected InvalidOperationException: simulated bug", stats.RefusedBecause);
        Assert.Contains(log.Snapshot(), e => e.Level == LogLevel.Error && e.Text.Contains("socket#9"));
        Assert.Contains(Events(files), e => e.Contains("\"type\":\"producer_refused\"") && e.Contains("socket#9") && e.Contains("simulated bug"));
    }
}
