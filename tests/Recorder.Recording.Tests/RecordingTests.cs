using System.Text;
using Recorder.Mcap;

namespace Recorder.Recording.Tests;

public class RecordingTests
{
    [Fact]
    public async Task Producers_become_one_ordered_self_contained_file()
    {
        using var p = new Pipeline();
        var a = p.Feed(ProducerStreams.Json("/a", 500), "a");
        var b = p.Feed(ProducerStreams.Json("/b", 300, chunked: true, compression: McapCompression.Zstd), "b");
        await Task.WhenAll(a, b);
        var files = await p.StopAsync();

        var file = Assert.Single(files);
        Assert.Matches(@"dev-1[/\\]\d{4}-\d\d-\d\d[/\\]dev-1_\d{8}T\d{6}Z_0001\.mcap$", file);
        Assert.False(File.Exists(file + ".active"));
        var messages = Files.Messages(files);
        Assert.Equal(500, messages.Count(m => m.Topic == "/a"));
        Assert.Equal(300, messages.Count(m => m.Topic == "/b"));
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (uint)i), messages.Where(m => m.Topic == "/a").Select(m => m.Sequence));

        using var reader = McapIndexedReader.Open(file);
        // log_time is the receive time: recent, not the producers' 0..500.
        Assert.True(reader.Statistics!.MessageStartTime > 1_700_000_000_000_000_000UL);
        Assert.Equal("recorder/" + RecordingWriter.RecorderVersion, reader.Header.Library);
        Assert.Contains(reader.MetadataIndexes, m => m.Name == "recorder.topic_stats");
        var stats = reader.ReadMetadata(reader.MetadataIndexes.First(m => m.Name == "recorder.topic_stats"));
        Assert.Contains("\"messages\":500", stats.Values["/a"]);
        Assert.Equal("ana", Files.DeviceMetadata(file).Values["operator"]);
        Assert.Equal("start", Files.DeviceMetadata(file).Values["previous_file_end_reason"]);
        // Identical schemas from both producers share one id.
        var schema = Assert.Single(reader.Schemas.Values);
        Assert.All(reader.Channels.Values, c => Assert.Equal(schema.Id, c.SchemaId));
    }

    [Fact]
    public async Task Chunks_never_overlap_in_time()
    {
        using var p = new Pipeline(o => new RecordingOptions { Directory = o.Directory, ChunkSize = 2048, Fsync = FsyncPolicy.Never });
        await Task.WhenAll(p.Feed(ProducerStreams.Json("/a", 2000), "a", segment: 700, paced: true), p.Feed(ProducerStreams.Json("/b", 2000), "b", segment: 900, paced: true));
        var files = await p.StopAsync();
        using var reader = McapIndexedReader.Open(Assert.Single(files));
        var chunks = reader.ChunkIndexes.OrderBy(c => c.ChunkStartOffset).ToList();
        Assert.True(chunks.Count > 20, $"{chunks.Count} chunks");
        for (var i = 1; i < chunks.Count; i++)
            Assert.True(chunks[i].MessageStartTime > chunks[i - 1].MessageEndTime, $"chunk {i} overlaps chunk {i - 1}");
        var times = Files.Messages(files).Select(m => m.LogTime).ToList();
        Assert.Equal(times.Order(), times);
    }

    [Fact]
    public async Task Splits_by_command_lose_and_duplicate_nothing_and_repeat_latched_topics()
    {
        using var p = new Pipeline(o => new RecordingOptions { Directory = o.Directory, Fsync = FsyncPolicy.Never, LatchedTopics = new HashSet<string> { "/tf_static" } });
        await p.Feed(ProducerStreams.Json("/tf_static", 1), "static");
        var producer = Task.Run(async () =>
        {
            for (var round = 0; round < 25; round++)
            {
                await p.Feed(ProducerStreams.Json("/imu", 40, startSequence: round * 40), $"imu{round}");
                p.Queue.EnqueueCommand(new SplitCommand());
            }
        });
        await producer;
        var files = await p.StopAsync();
        Assert.True(files.Count >= 20, $"{files.Count} files");
        var imu = Files.Messages(files).Where(m => m.Topic == "/imu").Select(m => m.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (uint)i), imu);
        foreach (var file in files)
        {
            var messages = Files.Messages([file]);
            Assert.Contains(messages, m => m.Topic == "/tf_static");
            Assert.Equal(messages.Select(m => m.LogTime).Order(), messages.Select(m => m.LogTime));
        }
        Assert.Equal("command", Files.DeviceMetadata(files[1]).Values["previous_file_end_reason"]);
        Assert.Equal("2", Files.DeviceMetadata(files[1]).Values["file_sequence"]);
    }

    [Fact]
    public async Task Splits_by_size_keep_every_message_once()
    {
        using var p = new Pipeline(o => new RecordingOptions { Directory = o.Directory, Fsync = FsyncPolicy.Never, ChunkSize = 4096, SplitSize = 16 * 1024, Compression = McapCompression.None });
        for (var round = 0; round < 10; round++) await p.Feed(ProducerStreams.Json("/a", 200, startSequence: round * 200), $"a{round}");
        var files = await p.StopAsync();
        Assert.True(files.Count >= 5, $"{files.Count} files");
        var seqs = Files.Messages(files).Where(m => m.Topic == "/a").Select(m => m.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => (uint)i), seqs);
        Assert.Equal("size", Files.DeviceMetadata(files[1]).Values["previous_file_end_reason"]);
    }

    [Fact]
    public async Task Marks_and_operator_changes_are_events_and_metadata()
    {
        using var p = new Pipeline();
        await p.Feed(ProducerStreams.Json("/a", 10));
        p.Queue.EnqueueCommand(new MarkCommand("pothole"));
        p.Queue.EnqueueCommand(new SetMetadataCommand("operator", "bo"));
        var files = await p.StopAsync();
        var file = Assert.Single(files);
        var events = Files.Messages(files).Where(m => m.Topic == RecordingWriter.EventsTopic).Select(m => Encoding.UTF8.GetString(m.Data)).ToList();
        Assert.Contains(events, e => e.Contains("\"type\":\"mark\"") && e.Contains("pothole"));
        Assert.Contains(events, e => e.Contains("\"type\":\"metadata\"") && e.Contains("\"value\":\"bo\""));
        using var reader = McapIndexedReader.Open(file);
        Assert.Contains(reader.MetadataIndexes, m => m.Name == "recorder.mark");
        var devices = reader.MetadataIndexes.Where(m => m.Name == "recorder.device").Select(reader.ReadMetadata).ToList();
        Assert.Equal(["ana", "bo"], devices.Select(d => d.Values["operator"]));
    }

    [Fact]
    public async Task Leftover_active_file_is_recovered_at_start()
    {
        var dir = Directory.CreateTempSubdirectory("recorder-leftover-").FullName;
        try
        {
            var day = Path.Combine(dir, "dev-1", "2026-11-27");
            Directory.CreateDirectory(day);
            var bytes = ProducerStreams.Json("/a", 100, chunked: true);
            File.WriteAllBytes(Path.Combine(day, "dev-1_20261127T000000Z_0001.mcap.active"), bytes[..(bytes.Length * 3 / 4)]);
            var queue = new BatchQueue(1 << 20, new RecordingClock());
            using var writer = new RecordingWriter(new RecordingOptions { Directory = dir }, queue, new ChannelRegistry(), new DeviceIdentity("dev-1", new Dictionary<string, string>()));
            writer.Start();
            await writer.StopAsync();
            Assert.False(File.Exists(Path.Combine(day, "dev-1_20261127T000000Z_0001.mcap.active")));
            var recovered = Path.Combine(day, "dev-1_20261127T000000Z_0001.mcap");
            Assert.True(McapDoctor.Check(recovered).ErrorCount == 0);
            using var reader = McapIndexedReader.Open(recovered);
            Assert.InRange(reader.Statistics!.MessageCount, 1UL, 99UL);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
