using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Recorder.Mcap;

namespace Recorder.Recording.Tests;

/// <summary>Streams standing in for a failing or wedged disk.</summary>
internal sealed class FaultyStream(Stream inner, Func<long, Exception?> failAt, ManualResetEventSlim? gate = null, SemaphoreSlim? blocked = null) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (gate is { IsSet: false })
        {
            blocked?.Release(); // tells the test the writer is now inside a write that does not return
            gate.Wait();
        }
        if (failAt(inner.Length + buffer.Length) is { } failure) throw failure;
        inner.Write(buffer);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}

public class RobustnessTests
{
    private static Stream Create(string path) => new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 0);

    private static List<JsonElement> Diagnostics(IEnumerable<string> files) =>
        Files.Messages(files).Where(m => m.Topic == RecordingWriter.DiagnosticsTopic).Select(m => JsonDocument.Parse(m.Data).RootElement.Clone()).ToList();

    private static ulong TopicStat(string file, string topic, string field)
    {
        using var reader = McapIndexedReader.Open(file);
        var stats = reader.ReadMetadata(reader.MetadataIndexes.First(m => m.Name == "recorder.topic_stats"));
        return stats.Values.TryGetValue(topic, out var json) ? JsonDocument.Parse(json).RootElement.GetProperty(field).GetUInt64() : 0;
    }

    [Theory]
    [InlineData(DropPolicy.Block)]
    [InlineData(DropPolicy.DropNewest)]
    [InlineData(DropPolicy.DropOldest)]
    public async Task A_stalled_disk_loses_nothing_with_block_and_counts_every_drop_otherwise(DropPolicy policy)
    {
        using var disk = new ManualResetEventSlim(false); // the disk does not answer until released
        using var p = new Pipeline(
            o => new RecordingOptions
            {
                Directory = o.Directory,
                Fsync = FsyncPolicy.Never,
                ChunkSize = 8 * 1024,
                ChunkMaxAge = TimeSpan.FromMilliseconds(20),
                Compression = McapCompression.None,
                DiagnosticsInterval = TimeSpan.FromMilliseconds(20),
                OpenFile = path => new FaultyStream(Create(path), _ => null, gate: disk),
            },
            ingest: new Recorder.Ingest.IngestOptions { SocketPath = null, DropPolicyFor = _ => policy },
            queueBytes: 32 * 1024);
        const int sent = 3000;
        // Release the disk once the queue has pushed back (a stall or a drop), however slow this machine is.
        var release = Task.Run(async () =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            // A real producer task and the real writer thread race here: poll for the queue's pushback.
            while (p.Queue.Stalls == 0 && p.Queue.DroppedTotal == 0 && watch.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(5);
            disk.Set();
        });
        await p.Feed(ProducerStreams.Json("/fast", sent), "fast", segment: 2048, paced: true);
        await release;
        var files = await p.StopAsync();
        var channel = FindChannel(p, "/fast");
        var dropped = p.Queue.Drops(channel);
        var status = p.Writer.Status();
        var written = Files.Messages(files).Count(m => m.Topic == "/fast");

        if (policy == DropPolicy.Block)
        {
            Assert.Equal(0UL, dropped);
            Assert.Equal(sent, written);
            Assert.True(p.Queue.Stalls > 0, "the producer should have been held back");
        }
        else
        {
            Assert.True(dropped > 0, $"a 32 KiB queue in front of a stalled disk must drop under {policy} (total {p.Queue.DroppedTotal}, written {written}, files {files.Count}, channel {channel})");
            Assert.Equal(sent, written + (int)dropped); // every message is either in the file or counted
            Assert.Equal(dropped, status.Topics.Single(t => t.Topic == "/fast").Drops);
            Assert.Equal(dropped, (ulong)files.Sum(f => (long)TopicStat(f, "/fast", "drops")));
            var diagnostics = Diagnostics(files);
            Assert.NotEmpty(diagnostics);
            Assert.Equal(dropped, diagnostics[^1].GetProperty("dropped_total").GetUInt64());
            if (policy == DropPolicy.DropOldest)
            {
                // The newest messages survive: the last one sent is in the file.
                Assert.Contains(Files.Messages(files), m => m.Topic == "/fast" && m.Sequence == sent - 1);
            }
        }
    }

    private static ushort FindChannel(Pipeline p, string topic)
    {
        for (ushort id = 1; id < 100; id++)
            if (p.Registry.Channel(id)?.Topic == topic) return id;
        throw new InvalidOperationException(topic);
    }

    [Fact]
    public async Task Diagnostics_are_written_once_per_interval_with_queue_and_disk_numbers()
    {
        var interval = TimeSpan.FromMilliseconds(100);
        using var p = new Pipeline(o => new RecordingOptions { Directory = o.Directory, Fsync = FsyncPolicy.Never, DiagnosticsInterval = interval },
            receiveTime: Pipeline.FakeClock());
        for (var i = 0; i < 6; i++)
        {
            await p.Feed(ProducerStreams.Json("/a", 10, startSequence: i * 10), $"a{i}");
            await p.AdvanceAsync(interval); // the recording spans six intervals
        }
        await p.AdvanceAsync(interval / 2); // half an interval more: no diagnostics for it
        var files = await p.StopAsync();
        var diagnostics = Diagnostics(files);
        // One per interval that passed, plus the final one at shutdown.
        Assert.Equal(7, diagnostics.Count);
        var last = diagnostics[^1];
        Assert.Equal("recording", last.GetProperty("state").GetString());
        Assert.True(last.GetProperty("disk_free_bytes").GetInt64() > 0);
        Assert.True(last.GetProperty("queue_capacity_bytes").GetInt64() > 0);
        Assert.True(last.GetProperty("topics").GetProperty("/a").GetProperty("messages").GetUInt64() > 0);
        var times = Files.Messages(files).Select(m => m.LogTime).ToList();
        Assert.Equal(times.Order(), times);
    }

    [Fact]
    public async Task A_full_disk_stops_writing_counts_every_message_and_resumes_with_the_gap_recorded()
    {
        var full = false;
        using var p = new Pipeline(o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            MinFreeBytes = 100 * 1024 * 1024,
            FreeBytes = _ => full ? 1024 : 10L * 1024 * 1024 * 1024,
        }, receiveTime: Pipeline.FakeClock());
        await p.Feed(ProducerStreams.Json("/a", 100), "before");
        await p.WriterPassAsync();
        Assert.True(p.Writer.Status().MessagesTotal >= 100); // written before the disk fills
        full = true;
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the next storage check
        Assert.Equal(WriterHealth.DiskFull, p.Writer.Health);
        await p.Feed(ProducerStreams.Json("/a", 50, startSequence: 100), "during");
        await p.WriterPassAsync();
        Assert.Equal(50UL, p.Queue.DroppedTotal); // counted, not written
        Assert.Equal("disk_full", p.Writer.Status().State);
        full = false;
        await p.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.Equal(WriterHealth.Ok, p.Writer.Health);
        await p.Feed(ProducerStreams.Json("/a", 100, startSequence: 150), "after");
        var files = await p.StopAsync();

        var written = Files.Messages(files).Where(m => m.Topic == "/a").Select(m => m.Sequence).ToList();
        var dropped = p.Queue.Drops(FindChannel(p, "/a"));
        Assert.Equal(250, written.Count + (int)dropped);
        Assert.True(50UL == dropped, $"dropped {dropped}, total {p.Queue.DroppedTotal}, channel {FindChannel(p, "/a")}, written {written.Count}, files {files.Count}");
        Assert.Equal(Enumerable.Range(0, 100).Concat(Enumerable.Range(150, 100)).Select(i => (uint)i), written);
        Assert.Equal(2, files.Count);
        Assert.Equal("disk_full", Files.DeviceMetadata(files[1]).Values["previous_file_end_reason"]);
        Assert.Contains("50 messages not written", Files.DeviceMetadata(files[1]).Values["previous_gap"]);
        var events = Files.Messages(files).Where(m => m.Topic == RecordingWriter.EventsTopic).Select(m => (Path.GetFileName(m.File), Encoding.UTF8.GetString(m.Data))).ToList();
        Assert.True(events.Any(e => e.Item1 == Path.GetFileName(files[1]) && e.Item2.Contains("write_gap")), $"no write_gap event in {files[1]}; events: [{string.Join("\n", events)}]");
        // The gap is recorded ahead of everything written after it.
        var second = Files.Messages([files[1]]);
        Assert.True(second.FindIndex(m => m.Topic == RecordingWriter.EventsTopic && Encoding.UTF8.GetString(m.Data).Contains("write_gap")) < second.FindIndex(m => m.Topic == "/a"));
        Assert.Equal(50UL, TopicStat(files[1], "/a", "drops"));
    }

    [Fact]
    public async Task The_write_gap_is_recorded_even_when_the_recorder_stops_the_moment_writing_resumes()
    {
        var full = false;
        Pipeline? pipeline = null;
        // Stops the recorder from the writer's own "writing again" log line: the earliest instant anyone can see it resumed.
        var stopAtResume = new CallbackLogger(id =>
        {
            if (id != 109) return;
            Assert.Equal(WriterHealth.Ok, pipeline!.Writer.Health);
            _ = pipeline.Writer.StopAsync();
        });
        using var p = pipeline = new Pipeline(o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            MinFreeBytes = 100 * 1024 * 1024,
            FreeBytes = _ => Volatile.Read(ref full) ? 1024 : 10L * 1024 * 1024 * 1024,
        }, logger: stopAtResume, receiveTime: Pipeline.FakeClock());
        await p.Feed(ProducerStreams.Json("/a", 10), "before");
        await p.WriterPassAsync();
        Assert.True(p.Writer.Status().MessagesTotal >= 10);
        Volatile.Write(ref full, true);
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the next storage check
        Assert.Equal(WriterHealth.DiskFull, p.Writer.Health);
        await p.Feed(ProducerStreams.Json("/a", 5, startSequence: 10), "during");
        await p.WriterPassAsync();
        Assert.Equal(5UL, p.Queue.DroppedTotal);
        Volatile.Write(ref full, false);
        await p.WriterPassAsync();
        p.Time!.Advance(TimeSpan.FromSeconds(1));
        // Not awaited: the recorder stops as writing resumes, and may never reach this pass.
        _ = p.Writer.RunPeriodicWorkAsync();
        await p.Writer.Stopped.WaitAsync(TimeSpan.FromSeconds(30)); // the bound only turns a hang into a failure

        var files = p.Writer.FinishedFiles;
        var gaps = Files.Messages(files).Where(m => m.Topic == RecordingWriter.EventsTopic).Select(m => JsonDocument.Parse(m.Data).RootElement.Clone())
            .Where(e => e.GetProperty("type").GetString() == "write_gap").ToList();
        var gap = Assert.Single(gaps);
        Assert.Equal("5", gap.GetProperty("messages_not_written").GetString());
        Assert.Equal(2, files.Count);
    }

    /// <summary>Calls back with each log entry's event id, on the thread that logs it.</summary>
    private sealed class CallbackLogger(Action<int> onLog) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => onLog(eventId.Id);
    }

    /// <summary>
    /// A pipeline (4 KiB chunks, no compression) whose next file, once armed, fails with ENOSPC
    /// past its first 20 KiB; the files after it are fine. Its clock is fake.
    /// </summary>
    private static (Pipeline Pipeline, Action FailNextFile) PipelineWhoseNextFileRunsOutOfSpace()
    {
        var failNext = new StrongBox<int>();
        // Chunks are cut only between instants: the fake clock moves 1 µs at every reading, so every
        // batch is an instant of its own, as on a real clock, while seconds pass only when the test says.
        var clock = Pipeline.FakeClock();
        clock.AutoAdvanceAmount = TimeSpan.FromMicroseconds(1);
        var p = new Pipeline(receiveTime: clock, configure: o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            ChunkSize = 4 * 1024,
            Compression = McapCompression.None,
            OpenFile = path =>
            {
                var fail = Interlocked.Exchange(ref failNext.Value, 0) == 1;
                return new FaultyStream(Create(path), length => fail && length > 20 * 1024 ? new IOException("No space left on device", 28) : null);
            },
        });
        return (p, () => Volatile.Write(ref failNext.Value, 1));
    }

    [Fact]
    public async Task Enospc_mid_file_is_survived_and_the_cut_off_file_is_finished_validly()
    {
        var (p, failNextFile) = PipelineWhoseNextFileRunsOutOfSpace();
        using var _ = p;
        failNextFile();
        await p.Feed(ProducerStreams.Json("/a", 2000), "a", segment: 1024, paced: true);
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the failure is behind; the next check resumes writing
        Assert.Equal(WriterHealth.Ok, p.Writer.Health);
        Assert.NotEmpty(p.Writer.FinishedFiles); // the cut-off file, finished
        await p.Feed(ProducerStreams.Json("/a", 100, startSequence: 2000), "b");
        var files = await p.StopAsync();

        Assert.True(files.Count >= 2);
        foreach (var file in files) Assert.False(McapDoctor.Check(file).HasErrors, file);
        var written = Files.Messages(files).Count(m => m.Topic == "/a");
        var status = p.Writer.Status();
        var dropped = (int)p.Queue.Drops(FindChannel(p, "/a"));
        Assert.Equal(2100, written + dropped + (int)status.LostInOpenChunks);
        Assert.True(written > 100, "what was on disk before the failure is kept, and writing resumed");
    }

    [Fact]
    public async Task Messages_lost_in_the_open_chunk_at_enospc_are_counted_per_topic()
    {
        var (p, failNextFile) = PipelineWhoseNextFileRunsOutOfSpace();
        using var _ = p;
        failNextFile();
        // Two topics interleaved, so the open chunk at the failure holds messages of both.
        await Task.WhenAll(
            p.Feed(ProducerStreams.Json("/a", 1500), "a", segment: 512, paced: true),
            p.Feed(ProducerStreams.Json("/b", 1500), "b", segment: 512, paced: true));
        await p.AdvanceAsync(TimeSpan.FromSeconds(1)); // the failure is behind; the next check resumes writing
        Assert.Equal(WriterHealth.Ok, p.Writer.Health);
        Assert.NotEmpty(p.Writer.FinishedFiles);
        var files = await p.StopAsync();
        foreach (var file in files) Assert.False(McapDoctor.Check(file).HasErrors, file);

        var status = p.Writer.Status();
        Assert.True(status.LostInOpenChunks > 0, "the failure must have cut off an open chunk, else this test proves nothing");
        var lostSum = 0UL;
        foreach (var topic in new[] { "/a", "/b" })
        {
            var inFiles = (ulong)Files.Messages(files).Count(m => m.Topic == topic);
            var t = status.Topics.Single(s => s.Topic == topic);
            Assert.Equal(t.Messages, inFiles + t.Lost); // "messages" = what the files hold + what is reported lost
            Assert.Equal(1500UL, inFiles + t.Lost + t.Drops); // and nothing else went missing
            lostSum += t.Lost;
        }
        // The aggregate is the sum over every topic (the recorder's own included).
        Assert.Equal(status.LostInOpenChunks, status.Topics.Aggregate(0UL, (sum, t) => sum + t.Lost));
        Assert.True(lostSum <= status.LostInOpenChunks);
    }

    [Fact]
    public async Task A_wedged_disk_is_reported_as_stalled()
    {
        using var gate = new ManualResetEventSlim(true);
        using var blocked = new SemaphoreSlim(0);
        using var p = new Pipeline(o => new RecordingOptions
        {
            Directory = o.Directory,
            Fsync = FsyncPolicy.Never,
            StallThreshold = TimeSpan.FromMilliseconds(200),
            ChunkMaxAge = TimeSpan.FromMilliseconds(20),
            OpenFile = path => new FaultyStream(Create(path), _ => null, gate: gate, blocked: blocked),
        }, receiveTime: Pipeline.FakeClock());
        await p.Feed(ProducerStreams.Json("/a", 10));
        await p.AdvanceAsync(TimeSpan.FromMilliseconds(20)); // the first chunk is cut by age and written
        Assert.Equal("recording", p.Writer.Status().State);
        gate.Reset(); // the disk stops answering
        await p.Feed(ProducerStreams.Json("/a", 10, startSequence: 10));
        await p.WriterPassAsync(); // in the open chunk, not yet on the disk
        p.Time!.Advance(TimeSpan.FromMilliseconds(20));
        var pass = p.WriterPassAsync(); // the chunk cut by age now writes, and does not return
        Assert.True(await blocked.WaitAsync(TimeSpan.FromSeconds(30)), "the writer never reached the disk"); // the bound only turns a hang into a failure
        Assert.False(p.Writer.IsStalled); // inside a write, but not for long yet
        p.Time.Advance(TimeSpan.FromMilliseconds(300));
        Assert.True(p.Writer.IsStalled);
        Assert.Equal("stalled", p.Writer.Status().State);
        var progress = p.Writer.Progress;
        p.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(progress, p.Writer.Progress); // a watchdog sees no progress
        gate.Set();
        await pass;
        Assert.False(p.Writer.IsStalled);
        var files = await p.StopAsync();
        Assert.Equal(20, Files.Messages(files).Count(m => m.Topic == "/a"));
    }
}
