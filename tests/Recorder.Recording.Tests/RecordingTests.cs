using System.Text;
using Microsoft.Extensions.Time.Testing;
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
        var schema = Assert.Single(reader.Schemas.Values, s => !s.Name.StartsWith("recorder.", StringComparison.Ordinal));
        Assert.All(reader.Channels.Values.Where(c => c.Topic is "/a" or "/b"), c => Assert.Equal(schema.Id, c.SchemaId));
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

    [Fact]
    public async Task A_recovery_cut_after_its_rename_is_completed_at_the_next_start_not_left_behind()
    {
        // SIGKILL between RecoverFile's rename of the recovered file and its delete of the .active
        // leaves both. The next start must keep the recovered file and drop the copy, not fail
        // ("file exists") and leave the .active to every later start.
        var dir = Directory.CreateTempSubdirectory("recorder-leftover-").FullName;
        try
        {
            var day = Path.Combine(dir, "dev-1", "2026-11-27");
            Directory.CreateDirectory(day);
            var recovered = Path.Combine(day, "dev-1_20261127T000000Z_0001.mcap");
            var bytes = ProducerStreams.Json("/a", 100, chunked: true);
            File.WriteAllBytes(recovered, bytes);
            File.WriteAllBytes(recovered + ".active", bytes[..(bytes.Length * 3 / 4)]);
            File.WriteAllBytes(recovered + ".recovering", bytes[..100]);
            var queue = new BatchQueue(1 << 20, new RecordingClock());
            using var writer = new RecordingWriter(new RecordingOptions { Directory = dir }, queue, new ChannelRegistry(), new DeviceIdentity("dev-1", new Dictionary<string, string>()));
            writer.Start();
            await writer.StopAsync();
            Assert.Equal([recovered], Directory.GetFiles(day));
            Assert.Equal(bytes, File.ReadAllBytes(recovered));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public class ProducerTimestampTests
{
    private static byte[] StreamWithTimes(string topic, IReadOnlyList<ulong> times)
    {
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false }, leaveOpen: true))
        {
            var channel = writer.AddChannel(topic, "json");
            for (var i = 0; i < times.Count; i++) writer.WriteMessage(channel, (uint)i, times[i], times[i], Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"));
        }
        return stream.ToArray();
    }

    private static ulong NowNs(TimeProvider time) => (ulong)(time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>
    /// The receive clock of these tests stands still until a test advances it: what is inside or
    /// past the reorder window is decided by the test, not by how fast this machine feeds the pipeline.
    /// </summary>
    private static FakeTimeProvider ReceiveClock() => new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    private static ulong Written(Pipeline p, string topic) => p.Writer.Status().Topics.FirstOrDefault(t => t.Topic == topic)?.Messages ?? 0;

    [Fact]
    public async Task Producer_times_within_the_window_are_kept_and_written_in_order()
    {
        var clock = ReceiveClock();
        using var p = new Pipeline(o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            UsesProducerTime = topic => topic == "/lidar",
            ReorderWindow = TimeSpan.FromMilliseconds(300),
        }, receiveTime: clock);
        var now = NowNs(clock);
        // Out of order by up to 50 ms, all recent.
        var times = Enumerable.Range(0, 200).Select(i => now - 100_000_000UL + (ulong)(i * 1_000_000) - (ulong)(i % 3 * 20_000_000)).ToList();
        var lidar = p.Feed(StreamWithTimes("/lidar", times), "lidar", segment: 256, paced: true);
        var other = p.Feed(ProducerStreams.Json("/imu", 300), "imu", segment: 256, paced: true);
        await Task.WhenAll(lidar, other);
        Assert.Equal(0UL, Written(p, "/lidar")); // all inside the window: held
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the watermark passes them all: released by time, not by the stop
        Assert.Equal((200UL, 300UL), (Written(p, "/lidar"), Written(p, "/imu")));
        var files = await p.StopAsync();

        var messages = Files.Messages(files);
        var written = messages.Where(m => m.Topic == "/lidar").Select(m => m.LogTime).ToList();
        Assert.Equal(times.Order(), written); // exactly the producer's times, sorted
        var stored = McapStreamReader.ReadRecords(File.OpenRead(Assert.Single(files))).Where(r => r.Opcode == McapOpcode.Message).Select(r => r.ToMessage().LogTime).ToList();
        Assert.Equal(stored.Order(), stored); // the file itself is in log-time order
        Assert.Equal(300, messages.Count(m => m.Topic == "/imu"));
    }

    [Fact]
    public async Task The_reorder_window_holds_at_most_its_byte_cap_and_loses_nothing()
    {
        const int size = 10_000, cap = 64 * 1024, count = 100;
        using var p = new Pipeline(o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            ChunkMaxAge = TimeSpan.FromMilliseconds(20),
            UsesProducerTime = topic => topic == "/big",
            ReorderWindow = TimeSpan.FromSeconds(30),
            ReorderMaxBytes = cap,
        }, receiveTime: ReceiveClock()); // the clock stands still: nothing leaves the window by time
        var clock = p.Queue.Clock;
        var now = clock.Now();
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false }, leaveOpen: true))
        {
            var channel = writer.AddChannel("/big", "raw");
            for (var i = 0; i < count; i++) writer.WriteMessage(channel, (uint)i, now + (ulong)i, now + (ulong)i, new byte[size]);
        }
        await p.Feed(stream.ToArray(), "big");
        // 1 MB went in; the window may keep only 64 KiB of it (6 messages): the rest must be written already.
        await p.WriterPassAsync();
        Assert.True(Written(p, "/big") >= count - cap / size, "at most 64 KiB held in the window");
        var files = await p.StopAsync();
        var kept = Files.Messages(files).Where(m => m.Topic == "/big").Select(m => m.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => (uint)i), kept); // all of them, in order
    }

    [Fact]
    public async Task A_message_older_than_the_window_is_kept_at_the_edge_and_counted_late()
    {
        var clock = ReceiveClock();
        using var p = new Pipeline(o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            UsesProducerTime = topic => topic == "/late",
            ReorderWindow = TimeSpan.FromMilliseconds(50),
        }, receiveTime: clock);
        await p.Feed(ProducerStreams.Json("/imu", 50));
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the watermark moves past everything so far
        Assert.Equal(50UL, Written(p, "/imu"));
        var ancient = NowNs(clock) - 10_000_000_000UL;
        await p.Feed(StreamWithTimes("/late", [ancient]), "late");
        var files = await p.StopAsync();
        var file = Assert.Single(files);
        var late = Files.Messages(files).Single(m => m.Topic == "/late");
        Assert.True(late.LogTime > ancient, "a late message cannot go back in time");
        using var reader = McapIndexedReader.Open(file);
        var lateMessage = reader.ReadMessages(topics: ["/late"]).Single();
        Assert.Equal(ancient, lateMessage.Message.PublishTime); // the producer's time survives
        var stats = reader.ReadMetadata(reader.MetadataIndexes.First(m => m.Name == "recorder.topic_stats"));
        Assert.Contains("\"late\":1", stats.Values["/late"]);
    }
}

public class ClockTests
{
    /// <summary>A clock whose wall time can be stepped while its monotonic time only moves forward.</summary>
    private sealed class SteppableTime : TimeProvider
    {
        public long Ticks;
        public DateTimeOffset Wall = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Ticks;
        public override DateTimeOffset GetUtcNow() => Wall;
        public void Advance(TimeSpan by)
        {
            Ticks += by.Ticks;
            Wall += by;
        }
    }

    [Fact]
    public void Log_time_follows_the_monotonic_clock_and_a_backward_step_starts_a_new_epoch()
    {
        var time = new SteppableTime();
        var clock = new RecordingClock(time, stepThreshold: TimeSpan.FromMilliseconds(100), checkInterval: TimeSpan.FromMilliseconds(10));
        var t0 = clock.Now();
        time.Advance(TimeSpan.FromSeconds(1));
        var t1 = clock.Now();
        Assert.Equal(1_000_000_000UL, t1 - t0);

        time.Wall -= TimeSpan.FromSeconds(30); // NTP steps the wall clock back
        time.Advance(TimeSpan.FromMilliseconds(20));
        var t2 = clock.Now();
        var step = clock.TakeStep();
        Assert.NotNull(step);
        Assert.True(step.DeltaNs < -29_000_000_000L);
        Assert.Equal(1, clock.Epoch);
        Assert.True(t2 < t1, "after re-anchoring, the clock reads the corrected wall time");

        time.Wall += TimeSpan.FromSeconds(5); // a forward step: same epoch, times keep increasing
        time.Advance(TimeSpan.FromMilliseconds(20));
        var t3 = clock.Now();
        Assert.Equal(1, clock.Epoch);
        Assert.True(t3 > t2);
        Assert.True(clock.TakeStep()!.DeltaNs > 4_000_000_000L);
    }

    [Fact]
    public async Task A_backward_clock_step_starts_a_new_file_and_is_recorded_as_an_event()
    {
        var time = new SteppableTime();
        var clock = new RecordingClock(time, stepThreshold: TimeSpan.FromMilliseconds(100), checkInterval: TimeSpan.Zero);
        var dir = Directory.CreateTempSubdirectory("recorder-clock-").FullName;
        try
        {
            var queue = new BatchQueue(1 << 20, clock);
            var registry = new ChannelRegistry();
            registry.TryGetOrAddChannel("/a", "json", 0, Channel.NoMetadata, out var channel);
            using var writer = new RecordingWriter(new RecordingOptions { Directory = dir, Fsync = FsyncPolicy.Never }, queue, registry,
                new DeviceIdentity("dev", new Dictionary<string, string>()));
            writer.Start();
            async Task Send(int i)
            {
                var batch = queue.Rent();
                batch.TryAdd(channel, (uint)i, 0, 0, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"));
                await queue.EnqueueAsync(batch);
            }
            for (var i = 0; i < 5; i++) { time.Advance(TimeSpan.FromMilliseconds(10)); await Send(i); }
            time.Wall -= TimeSpan.FromMinutes(1);
            for (var i = 5; i < 10; i++) { time.Advance(TimeSpan.FromMilliseconds(10)); await Send(i); }
            await writer.StopAsync();

            Assert.Equal(2, writer.FinishedFiles.Count);
            var second = Files.Messages([writer.FinishedFiles[1]]);
            Assert.Equal(Enumerable.Range(5, 5).Select(i => (uint)i), second.Where(m => m.Topic == "/a").Select(m => m.Sequence));
            Assert.Contains(second, m => m.Topic == RecordingWriter.EventsTopic && Encoding.UTF8.GetString(m.Data).Contains("clock_step"));
            Assert.Equal("clock_step", Files.DeviceMetadata(writer.FinishedFiles[1]).Values["previous_file_end_reason"]);
            foreach (var file in writer.FinishedFiles)
            {
                var times = Files.Messages([file]).Select(m => m.LogTime).ToList();
                Assert.Equal(times.Order(), times);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public class SelectionAndChunkAgeTests
{
    [Fact]
    public async Task Topics_not_selected_by_include_exclude_are_skipped_and_counted()
    {
        using var p = new Pipeline(ingest: new Recorder.Ingest.IngestOptions { SocketPath = null, SelectTopic = t => !t.StartsWith("/debug", StringComparison.Ordinal) });
        var kept = await p.Feed(ProducerStreams.Json("/a", 20));
        var skipped = await p.Feed(ProducerStreams.Json("/debug/raw", 30));
        var files = await p.StopAsync();
        Assert.Equal(30UL, skipped.Skipped);
        Assert.Null(skipped.RefusedBecause);
        var topics = Files.Messages(files).Select(m => m.Topic).Distinct().ToList();
        Assert.Contains("/a", topics);
        Assert.DoesNotContain("/debug/raw", topics);
    }

    [Fact]
    public async Task A_chunk_is_cut_by_age_when_messages_trickle()
    {
        using var p = new Pipeline(o => new RecordingOptions { Directory = o.Directory, Fsync = FsyncPolicy.Never, ChunkMaxAge = TimeSpan.FromMilliseconds(50) },
            receiveTime: Pipeline.FakeClock());
        for (var i = 0; i < 6; i++)
        {
            await p.Feed(ProducerStreams.Json("/slow", 1, startSequence: i), $"slow{i}");
            await p.AdvanceAsync(TimeSpan.FromMilliseconds(120));
        }
        var files = await p.StopAsync();
        using var reader = McapIndexedReader.Open(Assert.Single(files));
        // Each message's chunk is cut by age before the next message arrives: six messages, six chunks.
        var chunks = reader.ChunkIndexes.ToList();
        var chunkOfEach = reader.ReadMessages(topics: ["/slow"]).Select(m => chunks.FindIndex(c => c.MessageStartTime <= m.Message.LogTime && m.Message.LogTime <= c.MessageEndTime));
        Assert.Equal(6, chunkOfEach.Distinct().Count());
    }
}
