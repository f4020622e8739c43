using System.Text;
using Recorder.Mcap;
using Recorder.Offload;
using Recorder.Recording;
using Recorder.Storage;

namespace Recorder.Tests;

/// <summary>
/// The writer's storage limits go through the recording store, whose ledger is the offload stage:
/// files the depot verified go first, and every deletion is journaled.
/// </summary>
public sealed class OffloadStorageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("recorder-offload-storage-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task At_max_bytes_a_file_verified_in_the_offload_journal_is_deleted_before_older_ones()
    {
        var older = Finished("2024-01-01/dev_20240101T000000Z_0001.mcap");
        var offloaded = Finished("2024-01-02/dev_20240102T000000Z_0002.mcap");
        var newest = Finished("2024-01-03/dev_20240103T000000Z_0003.mcap");
        // Only the middle one is verified; the newest is queued but not verified yet.
        var options = Journal(queued: [offloaded, newest], verified: [offloaded]);
        var deleting = new List<(string Path, string Sha256)>();

        // 300 KB on disk, 250 KB allowed: deleting one file is enough. delete_oldest would take the
        // oldest; the offloaded one must go first instead.
        var finished = await RecordOneFileAsync(250_000, options, service =>
        {
            service.Deleting += (path, sha) => deleting.Add((path, sha));
            Assert.True(service.IsVerified(offloaded));
            Assert.False(service.IsVerified(older));
            Assert.False(service.IsVerified(newest));
        });

        Assert.Single(finished);
        Assert.False(File.Exists(offloaded));
        Assert.True(File.Exists(older));
        Assert.True(File.Exists(newest));
        Assert.Equal([(offloaded, Convert.ToHexStringLower(new byte[32]))], deleting);
    }

    [Fact]
    public async Task A_recording_the_writer_deletes_to_make_room_is_journaled_by_offload()
    {
        var offloaded = Finished("2024-01-02/dev_20240102T000000Z_0002.mcap");
        var older = Finished("2024-01-01/dev_20240101T000000Z_0001.mcap");
        var options = Journal(queued: [offloaded, older], verified: [offloaded]);

        // 200 KB on disk, 50 KB allowed, delete_oldest: both recordings go, the offloaded one first.
        await RecordOneFileAsync(50_000, options);

        Assert.False(File.Exists(offloaded));
        Assert.False(File.Exists(older));
        // Each deletion is in the journal: reopened, it knows neither file any more (the service
        // never started, so no rescan forgot them).
        using var journal = OffloadJournal.Open(options.StatePath, out _);
        Assert.False(journal.TryGetEntry(RecordingCatalog.KeyOf(_root, offloaded), out _));
        Assert.False(journal.TryGetEntry(RecordingCatalog.KeyOf(_root, older), out _));
    }

    [Fact]
    public async Task A_verified_file_that_changed_afterwards_is_not_offloaded()
    {
        var path = Finished("2024-01-02/dev_20240102T000000Z_0002.mcap");
        var options = Journal(queued: [path], verified: [path]);
        await using var service = new OffloadService(options);
        Assert.True(service.IsVerified(path));
        File.AppendAllText(path, "more");
        Assert.False(service.IsVerified(path));
        // Without an offload stage as its ledger, a store counts nothing as offloaded.
        Assert.False(new RecordingStore(_root).IsOffloaded(path));
    }

    private string Finished(string relative)
    {
        var path = Path.Combine(_root, "dev", relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new byte[100_000]);
        return path;
    }

    /// <summary>An offload journal that has <paramref name="queued"/> queued (sha256 all zeros) and <paramref name="verified"/> verified.</summary>
    private OffloadOptions Journal(string[] queued, string[] verified)
    {
        var options = new OffloadOptions { Endpoint = new Uri("https://127.0.0.1:9/files/"), RecordingsDirectory = _root, DeviceId = "dev", Presence = PresenceMode.Manual };
        Directory.CreateDirectory(Path.GetDirectoryName(options.StatePath)!);
        using var journal = OffloadJournal.Open(options.StatePath, out _);
        foreach (var path in queued)
        {
            var key = RecordingCatalog.KeyOf(_root, path);
            var info = new FileInfo(path);
            journal.Append(new QueuedRecord(key, info.Length, (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100, new byte[32], RecordingFileKind.Mcap,
                key, 1, 2, false), durable: false);
            if (verified.Contains(path)) journal.Append(new VerifiedRecord(key, new byte[32]), durable: true);
        }
        return options;
    }

    /// <summary>
    /// Records one message into one file under <c>storage.max_bytes</c> = <paramref name="maxBytes"/>
    /// with <c>when_full: delete_oldest</c>, the offload stage wired as the host wires it (the ledger
    /// of the writer's store; <paramref name="inspect"/> sees it before the writer starts). Returns the finished files.
    /// </summary>
    private async Task<List<string>> RecordOneFileAsync(long maxBytes, OffloadOptions offload, Action<OffloadService>? inspect = null)
    {
        var recording = new RecordingOptions
        {
            Directory = _root,
            Fsync = FsyncPolicy.Never,
            Compression = McapCompression.None,
            MaxBytes = maxBytes,
            DeleteOldestWhenFull = true,
        };
        var queue = new BatchQueue(1 << 20, new RecordingClock());
        var registry = new ChannelRegistry();
        registry.TryGetOrAddChannel("/a", "json", 0, Channel.NoMetadata, out var channel);
        using var writer = new RecordingWriter(recording, queue, registry, new DeviceIdentity("dev", new Dictionary<string, string>()));
        await using var service = new OffloadService(offload, store: writer.Store);
        inspect?.Invoke(service);
        writer.Start();
        var batch = queue.Rent();
        batch.TryAdd(channel, 1, 0, 0, Encoding.UTF8.GetBytes("{\"i\":1}"));
        await queue.EnqueueAsync(batch);
        await writer.StopAsync();
        return writer.FinishedFiles;
    }
}
