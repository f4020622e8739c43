using System.Buffers;
using System.Text;
using Recorder.Mcap;
using Recorder.Recording;
using Recorder.Recording.Tests;

namespace Recorder.Ingest.Tests;

/// <summary>An MCAP producer's session against the recording stage's intake: what it registers and what it hands over.</summary>
public class McapProducerSessionTests
{
    [Fact]
    public async Task Messages_are_handed_over_on_the_recording_channel_with_the_producer_sequence_and_times()
    {
        var inbox = new RecordingInbox();
        var stats = await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.Json("/imu", 100), source: "socket#4", segment: 333);

        Assert.Null(stats.RefusedBecause);
        Assert.Equal((100UL, 100UL), (stats.Messages, (ulong)inbox.Messages.Count));
        var channel = inbox.Registry.Channel(Assert.Single(inbox.Messages.Select(m => m.ChannelId).Distinct()))!;
        Assert.Equal(("/imu", "json"), (channel.Topic, channel.MessageEncoding));
        Assert.Equal("Sample", inbox.Registry.Schema(channel.SchemaId)!.Name);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (uint)i), inbox.Messages.Select(m => m.Sequence));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (ulong)i), inbox.Messages.Select(m => m.LogTime));
        Assert.All(inbox.Messages, m => Assert.Equal(("socket#4", DropPolicy.Block, 0UL), (m.Source, m.Policy, m.ChunkEndTime)));
        Assert.Equal("{\"topic\":\"/imu\",\"i\":42}", Encoding.UTF8.GetString(inbox.Messages[42].Data));
        Assert.Equal((ulong)inbox.Messages.Sum(m => m.Data.Length), stats.Bytes);
    }

    [Fact]
    public async Task Producers_declaring_the_same_channel_share_one_recording_id()
    {
        var inbox = new RecordingInbox();
        await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.Json("/imu", 10), source: "socket#1");
        await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.Json("/imu", 10, startSequence: 10, chunked: true), source: "socket#2");
        await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.Json("/gps", 10), source: "socket#3");

        Assert.Equal(30, inbox.Messages.Count);
        Assert.Equal(2, inbox.Registry.ChannelCount);
        var imu = inbox.Messages.Where(m => m.Source != "socket#3").Select(m => m.ChannelId).Distinct();
        Assert.Equal("/imu", inbox.TopicOf(Assert.Single(imu)));
    }

    [Fact]
    public async Task Messages_in_a_producer_chunk_carry_the_chunk_message_end_time()
    {
        var inbox = new RecordingInbox();
        await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.Json("/imu", 200, chunked: true), segment: 1 << 20);

        Assert.Equal(200, inbox.Messages.Count);
        // Chunks of 4 KiB: each message's batch names the end time of the chunk it came in (a later or equal log time).
        Assert.All(inbox.Messages, m => Assert.InRange(m.ChunkEndTime, Math.Max(m.LogTime, 1), 199UL));
        Assert.True(inbox.Messages.Select(m => m.ChunkEndTime).Distinct().Count() > 1, "the stream should span several chunks");
        Assert.Equal(199UL, inbox.Messages[^1].ChunkEndTime);
    }

    [Fact]
    public async Task Unselected_topics_are_skipped_counted_and_given_no_recording_id()
    {
        var inbox = new RecordingInbox(new IngestOptions { SocketPath = null, SelectTopic = topic => topic != "/camera/raw" });
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/camera/raw", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteChannel(w, new Channel(2, 1, "/imu", "json", Channel.NoMetadata));
        for (var i = 0; i < 5; i++)
        {
            McapRecordSerializer.WriteMessage(w, 1, (uint)i, 1, 1, "{}"u8);
            McapRecordSerializer.WriteMessage(w, 2, (uint)i, 1, 1, "{}"u8);
        }
        var stats = await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.End(w));

        Assert.Null(stats.RefusedBecause);
        Assert.Equal((5UL, 5UL), (stats.Messages, stats.Skipped));
        Assert.Equal(1, inbox.Registry.ChannelCount);
        Assert.All(inbox.Messages, m => Assert.Equal("/imu", inbox.TopicOf(m.ChannelId)));
    }

    [Fact]
    public async Task Each_topic_drop_policy_travels_on_the_batches_of_its_messages()
    {
        var inbox = new RecordingInbox(new IngestOptions
        {
            SocketPath = null,
            DropPolicyFor = topic => topic == "/lidar" ? DropPolicy.DropOldest : topic == "/camera" ? DropPolicy.DropNewest : DropPolicy.Block,
        });
        var w = ProducerStreams.Begin();
        string[] topics = ["/lidar", "/camera", "/imu"];
        for (var c = 0; c < topics.Length; c++) McapRecordSerializer.WriteChannel(w, new Channel((ushort)(c + 1), 1, topics[c], "json", Channel.NoMetadata));
        for (var i = 0; i < 30; i++) McapRecordSerializer.WriteMessage(w, (ushort)(i % 3 + 1), (uint)i, (ulong)i, (ulong)i, "{}"u8);
        await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.End(w), segment: 1 << 20);

        Assert.Equal(30, inbox.Messages.Count);
        var policies = inbox.Messages.GroupBy(m => inbox.TopicOf(m.ChannelId)).ToDictionary(g => g.Key, g => Assert.Single(g.Select(m => m.Policy).Distinct()));
        Assert.Equal(DropPolicy.DropOldest, policies["/lidar"]);
        Assert.Equal(DropPolicy.DropNewest, policies["/camera"]);
        Assert.Equal(DropPolicy.Block, policies["/imu"]);
        // Within a policy, a producer's messages keep their order.
        foreach (var topic in topics)
        {
            var sequences = inbox.Messages.Where(m => inbox.TopicOf(m.ChannelId) == topic).Select(m => m.Sequence).ToList();
            Assert.Equal(sequences.Order(), sequences);
        }
    }

    [Fact]
    public async Task A_channel_redefined_with_other_content_ends_the_session_with_a_producer_refused_event()
    {
        var inbox = new RecordingInbox();
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/x", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 0, 1, 1, "{}"u8);
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/y", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 1, 2, 2, "{}"u8);
        var stats = await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.End(w), source: "socket#2");

        Assert.Equal("channel 1 (/y) redefined with different content", stats.RefusedBecause);
        Assert.Equal(0U, Assert.Single(inbox.Messages).Sequence); // what came before stays
        var refused = Assert.IsType<EventCommand>(Assert.Single(inbox.Commands));
        Assert.Equal("producer_refused", refused.Type);
        Assert.Equal(("socket#2", stats.RefusedBecause, "1"), (refused.Fields["producer"], refused.Fields["reason"], refused.Fields["messages_kept"]));
    }

    [Fact]
    public async Task A_producer_attachment_is_handed_over_as_a_command_with_its_origin_and_its_own_copy_of_the_bytes()
    {
        var inbox = new RecordingInbox();
        var w = ProducerStreams.Begin(library: "cal-writer/2.1");
        McapRecordSerializer.WriteAttachment(w, new Attachment(5, 6, "calibration.yaml", "application/yaml", "k: [1, 0, 0]\n"u8.ToArray()), computeCrc: true);
        McapRecordSerializer.WriteMetadata(w, new Metadata("rig", new Dictionary<string, string> { ["id"] = "r7" }));
        await inbox.Feed(RecordingInbox.Mcap, ProducerStreams.End(w), source: "fifo:/run/cal#1", segment: 7);

        var attachment = Assert.IsType<ProducerAttachmentCommand>(inbox.Commands[0]);
        Assert.Equal(new ProducerOrigin("fifo:/run/cal#1", "cal-writer/2.1"), attachment.Origin);
        Assert.Equal("k: [1, 0, 0]\n"u8.ToArray(), attachment.Attachment.Data.ToArray());
        var metadata = Assert.IsType<ProducerMetadataCommand>(inbox.Commands[1]);
        Assert.Equal("r7", metadata.Metadata.Values["id"]);
        Assert.Equal(2, inbox.Commands.Count);
        Assert.Equal((1L, 1L), (inbox.Context.Options.Counters.AttachmentsKept, inbox.Context.Options.Counters.MetadataKept));
    }

    [Fact]
    public async Task A_reload_that_changes_the_selection_applies_at_the_next_read_of_a_connected_producer()
    {
        var excluded = true;
        var version = 0;
        var inbox = new RecordingInbox(new IngestOptions
        {
            SocketPath = null,
            SelectTopic = topic => !(excluded && topic == "/late"),
            SelectionVersion = () => Volatile.Read(ref version),
        });
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/late", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 0, 1, 1, "{}"u8);
        var first = w.WrittenSpan.ToArray();
        var rest = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteMessage(rest, 1, 1, 2, 2, "{}"u8);
        McapRecordSerializer.WriteDataEnd(rest, new DataEnd(0));

        var stats = new ProducerStats { Source = "socket#1" };
        var pipe = new System.IO.Pipelines.Pipe();
        var session = new McapProducerSession(inbox.Context, stats).RunAsync(pipe.Reader, CancellationToken.None);
        await pipe.Writer.WriteAsync(first);
        // The session has read the first part once its channel is known and its one message skipped.
        Assert.True(SpinWait.SpinUntil(() => stats.Skipped == 1, TimeSpan.FromSeconds(30)));
        excluded = false;
        Interlocked.Increment(ref version);
        await pipe.Writer.WriteAsync(rest.WrittenMemory);
        await pipe.Writer.CompleteAsync();
        await session;
        inbox.Drain();

        Assert.Equal(1U, Assert.Single(inbox.Messages).Sequence);
        Assert.Equal("/late", inbox.TopicOf(inbox.Messages[0].ChannelId));
    }
}
