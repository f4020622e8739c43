using System.Text.Json;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;

namespace Recorder.Recording.Tests;

/// <summary>
/// How the writer places and reports producers' messages (issue 11, defects 8 and 10): chunk timing
/// under receive timestamps, late producer times, the finished line's chunk count. What ingest keeps
/// or refuses of a producer's records is tested in Recorder.Ingest.Tests (ProducerRecordsTests).
/// </summary>
public class ProducerRecordsTests
{
    private static ulong NowNs() => NowNs(TimeProvider.System);
    private static ulong NowNs(TimeProvider time) => (ulong)(time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

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
        var w = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(w, new Channel(1, 1, "/on_time", "json", Channel.NoMetadata));
        for (var i = 0; i < 3; i++) McapRecordSerializer.WriteMessage(w, 1, (uint)i, now, now, "{}"u8);
        await p.Feed(ProducerStreams.End(w), name: "socket#1");
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the watermark passes them
        Assert.True(p.Writer.Status().MessagesTotal >= 3);

        var late = ProducerStreams.Begin();
        McapRecordSerializer.WriteChannel(late, new Channel(1, 1, "/late", "json", Channel.NoMetadata));
        for (var i = 0; i < 4; i++) McapRecordSerializer.WriteMessage(late, 1, (uint)i, now - 10_000_000_000, now - 10_000_000_000, "{}"u8);
        await p.Feed(ProducerStreams.End(late), name: "socket#2");
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
        var stats = Files.TopicStats(Assert.Single(files), "/late");
        Assert.Equal(4, stats.GetProperty("messages").GetInt32());
        Assert.Equal(4, stats.GetProperty("late").GetInt32());
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
}
