using System.Text;
using Recorder.Recording;

namespace Recorder.Ingest.Tests;

/// <summary>A JSON lines writer's session (a topic's FIFO or socket) against the recording stage's intake.</summary>
public class JsonLinesSessionTests
{
    private static readonly TopicInputOptions Diag = new("unused.jsonl", "/diag", TopicInputFormat.Jsonl);

    private static List<string> Texts(RecordingInbox inbox) => inbox.Messages.Select(m => Encoding.UTF8.GetString(m.Data)).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(4096)]
    public async Task Each_line_is_one_message_on_the_topic_channel_however_the_reads_split_it(int segment)
    {
        var inbox = new RecordingInbox();
        var lines = "{\"v\":1}\n\n  \r\n[1,2]\r\n\"text\"\n{\"v\":\n2}\n42"u8.ToArray(); // the last line unterminated, a JSON value split over two lines is two bad lines
        var stats = await inbox.Feed(RecordingInbox.JsonLines(Diag), lines, source: "fifo:diag#1", segment: segment);

        Assert.Equal(["{\"v\":1}", "[1,2]", "\"text\"", "42"], Texts(inbox));
        Assert.Equal(Enumerable.Range(0, 4).Select(i => (uint)i), inbox.Messages.Select(m => m.Sequence));
        var channel = inbox.Registry.Channel(Assert.Single(inbox.Messages.Select(m => m.ChannelId).Distinct()))!;
        Assert.Equal(("/diag", "json", (ushort)0), (channel.Topic, channel.MessageEncoding, channel.SchemaId));
        Assert.All(inbox.Messages, m => Assert.Equal((0UL, 0UL, "fifo:diag#1"), (m.LogTime, m.PublishTime, m.Source))); // receive time only
        Assert.Equal((4UL, 2UL), (stats.Messages, stats.Skipped));
        Assert.Null(stats.RefusedBecause);
    }

    [Fact]
    public async Task Lines_that_are_not_one_json_value_are_counted_as_refused_on_the_topic_channel()
    {
        var inbox = new RecordingInbox();
        var stats = await inbox.Feed(RecordingInbox.JsonLines(Diag), "{\"a\":1}\nnot json\n{\"b\":2}\n{broken\n1 2\n[1,2]\n"u8.ToArray());

        Assert.Equal(["{\"a\":1}", "{\"b\":2}", "[1,2]"], Texts(inbox));
        Assert.Equal(3UL, inbox.Queue.Refused(inbox.Messages[0].ChannelId));
        Assert.Equal(3UL, stats.Skipped);
        Assert.Null(stats.RefusedBecause); // a bad line costs only itself
    }

    [Fact]
    public async Task A_json_schema_declared_for_the_topic_becomes_the_channel_schema()
    {
        var inbox = new RecordingInbox();
        const string schema = "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\"}}}";
        await inbox.Feed(RecordingInbox.JsonLines(Diag with { JsonSchema = schema }), "{\"v\":1}\n"u8.ToArray());

        var channel = inbox.Registry.Channel(Assert.Single(inbox.Messages).ChannelId)!;
        var registered = inbox.Registry.Schema(channel.SchemaId)!;
        Assert.Equal(("/diag", "jsonschema", schema), (registered.Name, registered.Encoding, Encoding.UTF8.GetString(registered.Data.Span)));
    }

    // In one read the long line's end came with it, and it used to be recorded whole: the limit held only for a line still open.
    [Theory]
    [InlineData(64)]
    [InlineData(1 << 20)]
    public async Task A_line_longer_than_the_record_limit_ends_the_session_with_an_event_and_keeps_the_lines_before_it(int segment)
    {
        var inbox = new RecordingInbox(new IngestOptions { SocketPath = null, MaxRecordSize = 100 });
        var bytes = Encoding.UTF8.GetBytes("{\"a\":1}\n{\"b\":2}\n\"" + new string('x', 300) + "\"\n{\"c\":3}\n");
        var stats = await inbox.Feed(RecordingInbox.JsonLines(Diag), bytes, source: "fifo:diag#2", segment: segment);

        Assert.Equal("line 3 is longer than 100 bytes", stats.RefusedBecause);
        Assert.Equal(["{\"a\":1}", "{\"b\":2}"], Texts(inbox));
        var refused = Assert.IsType<EventCommand>(Assert.Single(inbox.Commands));
        Assert.Equal(("producer_refused", "fifo:diag#2", "2"), (refused.Type, refused.Fields["producer"], refused.Fields["messages_kept"]));
    }

    [Fact]
    public async Task Each_topic_drop_policy_travels_on_its_batches()
    {
        var inbox = new RecordingInbox(new IngestOptions { SocketPath = null, DropPolicyFor = topic => topic == "/diag" ? DropPolicy.DropNewest : DropPolicy.Block });
        await inbox.Feed(RecordingInbox.JsonLines(Diag), "1\n2\n3\n"u8.ToArray());

        Assert.Equal(3, inbox.Messages.Count);
        Assert.All(inbox.Messages, m => Assert.Equal(DropPolicy.DropNewest, m.Policy));
    }
}
