using Microsoft.Extensions.Time.Testing;
using Recorder.Storage;

namespace Recorder.Recording.Tests;

/// <summary>The writer's disk-full handling: when storage is looked at again, and what it asks the store for.</summary>
public sealed class DiskFullHandlerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("recorder-diskfull-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Storage_is_looked_at_first_at_once_then_once_per_interval()
    {
        var time = new FakeTimeProvider();
        var handler = new DiskFullHandler(new RecordingStore(_root, () => long.MaxValue), time);
        Assert.True(handler.CheckDue);
        Assert.True(handler.TryMakeRoom(new RecordingOptions { Directory = _root }, 0));
        Assert.False(handler.CheckDue);
        time.Advance(DiskFullHandler.CheckInterval - TimeSpan.FromTicks(1));
        Assert.False(handler.CheckDue);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(handler.CheckDue);
    }

    [Fact]
    public void The_storage_options_are_the_retention_policy()
    {
        var policy = DiskFullHandler.PolicyOf(new RecordingOptions { MaxBytes = 100, MinFreeBytes = 10, DeleteOldestWhenFull = true });
        Assert.Equal(new RetentionPolicy(100, 10, DeleteOldest: true), policy);
    }

    [Fact]
    public void The_file_being_written_counts_and_without_room_the_disk_is_full()
    {
        var free = 1_000L;
        var handler = new DiskFullHandler(new RecordingStore(_root, () => free), new FakeTimeProvider());
        var options = new RecordingOptions { Directory = _root, MaxBytes = 500, MinFreeBytes = 100 };
        Assert.True(handler.TryMakeRoom(options, 500));
        Assert.False(handler.TryMakeRoom(options, 501));
        free = 99;
        Assert.False(handler.TryMakeRoom(options, 0));
    }

    [Fact]
    public async Task The_writer_tells_its_store_of_each_finished_recording()
    {
        var queue = new BatchQueue(1 << 20, new RecordingClock());
        var registry = new ChannelRegistry();
        registry.TryGetOrAddChannel("/a", "json", 0, Recorder.Mcap.Channel.NoMetadata, out var channel);
        using var writer = new RecordingWriter(new RecordingOptions { Directory = _root, Fsync = FsyncPolicy.Never }, queue, registry,
            new DeviceIdentity("dev", new Dictionary<string, string>()));
        writer.Start();
        var batch = queue.Rent();
        batch.TryAdd(channel, 1, 0, 0, "{}"u8);
        Assert.True(await queue.EnqueueAsync(batch));
        await writer.StopAsync();
        Assert.Equal(writer.FinishedFiles, writer.Store.Recordings);
        Assert.Equal(Path.Combine(_root, "dev"), writer.Store.Root);
    }
}
