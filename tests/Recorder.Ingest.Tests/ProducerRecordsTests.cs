using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;
using Recorder.Recording;
using Recorder.Recording.Tests;

namespace Recorder.Ingest.Tests;

/// <summary>
/// What producers send besides plain messages, read back from the recording (issue 11, defects 8
/// and 10): attachments and metadata kept, the recorder's namespace reserved, probes, refused JSON
/// lines, crashed sessions.
/// </summary>
public class ProducerRecordsTests
{
    [Fact]
    public async Task Producer_attachments_and_metadata_are_kept_in_the_recording_with_their_producer_noted()
    {
        using var p = new Pipeline();
        var calibration = Encoding.UTF8.GetBytes("camera_matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n");
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/cal/data", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 0, 10, 10, "{\"i\":0}"u8);
        McapRecordSerializer.WriteAttachment(w, new Attachment(5, 6, "calibration.yaml", "application/yaml", calibration), computeCrc: true);
        McapRecordSerializer.WriteMetadata(w, new Metadata("vehicle_calibration", new Dictionary<string, string> { ["rig"] = "r7" }));
        McapRecordSerializer.WriteMessage(w, 1, 1, 11, 11, "{\"i\":1}"u8);
        var stats = await p.Feed(ProducerStreams.End(w), name: "socket#7");
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
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/x", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteAttachment(w, new Attachment(0, 0, "map.bin", "application/octet-stream", new byte[1000]), computeCrc: true);
        McapRecordSerializer.WriteAttachment(w, new Attachment(0, 0, "small.txt", "text/plain", new byte[100]), computeCrc: true);
        McapRecordSerializer.WriteMessage(w, 1, 0, 1, 1, "{}"u8);
        var stats = await p.Feed(ProducerStreams.End(w));
        var files = await p.StopAsync();

        Assert.Null(stats.RefusedBecause);
        Assert.Equal(1, p.IngestOptions.Counters.AttachmentsRefused);
        Assert.Equal(1, p.IngestOptions.Counters.AttachmentsKept);
        using var reader = McapIndexedReader.Open(Assert.Single(files));
        Assert.Equal("small.txt", Assert.Single(reader.AttachmentIndexes).Name);
        Assert.Single(reader.ReadMessages(), m => m.Channel.Topic == "/x");
        Assert.Contains(Files.Events(files), e => e.Contains("\"type\":\"producer_attachment_refused\"") && e.Contains("map.bin") && e.Contains("1000 bytes"));
    }

    [Fact]
    public async Task Channels_in_the_recorder_namespace_are_refused_with_a_count_and_an_event()
    {
        using var p = new Pipeline(configure: o => o with { DiagnosticsInterval = TimeSpan.Zero });
        // A replayed recording: its old diagnostics and device metadata must not merge into ours.
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, RecordingWriter.DiagnosticsTopic, "json", Channel.NoMetadata));
        McapRecordSerializer.WriteChannel(w, new Channel(2, 1, "/replayed/imu", "json", Channel.NoMetadata));
        for (var i = 0; i < 5; i++)
        {
            McapRecordSerializer.WriteMessage(w, 1, (uint)i, 1, 1, "{\"old\":true}"u8);
            McapRecordSerializer.WriteMessage(w, 2, (uint)i, 1, 1, "{}"u8);
        }
        McapRecordSerializer.WriteMetadata(w, new Metadata("recorder.device", new Dictionary<string, string> { ["device_id"] = "someone-else" }));
        var stats = await p.Feed(ProducerStreams.End(w));
        var files = await p.StopAsync();

        Assert.Null(stats.RefusedBecause);
        Assert.Equal(1, p.IngestOptions.Counters.ReservedChannelsRefused);
        Assert.Equal(5, p.IngestOptions.Counters.ReservedMessagesRefused);
        Assert.Equal(1, p.IngestOptions.Counters.MetadataRefused);
        var messages = Files.Messages(files);
        Assert.Equal(5, messages.Count(m => m.Topic == "/replayed/imu"));
        Assert.DoesNotContain(messages, m => m.Topic == RecordingWriter.DiagnosticsTopic && Encoding.UTF8.GetString(m.Data).Contains("\"old\""));
        Assert.Contains(Files.Events(files), e => e.Contains("\"type\":\"producer_channel_refused\"") && e.Contains(RecordingWriter.DiagnosticsTopic));
        Assert.Equal("dev-1", Files.DeviceMetadata(Assert.Single(files)).Values["device_id"]);
        using var reader = McapIndexedReader.Open(files[0]);
        Assert.Single(reader.MetadataIndexes, m => m.Name == "recorder.device");
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
        Assert.DoesNotContain(Files.Events(files), e => e.Contains("producer_refused"));
    }

    [Fact]
    public async Task Bad_json_lines_are_counted_per_topic_as_refused_in_status_diagnostics_and_topic_stats()
    {
        using var p = new Pipeline();
        var input = new TopicInputOptions("unused.jsonl", "/diag", TopicInputFormat.Jsonl);
        var stats = new ProducerStats { Source = "fifo:diag#1" };
        var pipe = new Pipe();
        var session = new JsonLinesSession(input, p.Ingest, stats).RunAsync(pipe.Reader, CancellationToken.None);
        await pipe.Writer.WriteAsync("{\"a\":1}\nnot json\n{\"b\":2}\n{broken\n[1,2]\n"u8.ToArray());
        await pipe.Writer.CompleteAsync();
        await session;
        await p.WriterPassAsync();

        var topic = Assert.Single(p.Writer.Status().Topics, t => t.Topic == "/diag");
        Assert.Equal((3UL, 2UL), (topic.Messages, topic.Refused));
        var files = await p.StopAsync();
        var file = Assert.Single(files);
        Assert.Equal(2, Files.TopicStats(file, "/diag").GetProperty("refused").GetInt32());
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
            () => new McapProducerSession(p.Ingest, stats).RunAsync(reader, CancellationToken.None), p.Ingest, stats);
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
        await session; // ends at the second read, having recorded the first half
        var files = await p.StopAsync();

        Assert.StartsWith("unexpected InvalidOperationException: simulated bug", stats.RefusedBecause);
        Assert.Contains(log.Snapshot(), e => e.Level == LogLevel.Error && e.Text.Contains("socket#9"));
        Assert.Contains(Files.Events(files), e => e.Contains("\"type\":\"producer_refused\"") && e.Contains("socket#9") && e.Contains("simulated bug"));
    }

}
