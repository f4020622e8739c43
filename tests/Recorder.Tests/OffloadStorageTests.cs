using System.Text;
using Recorder.Daemon;
using Recorder.Mcap;
using Recorder.Offload;
using Recorder.Recording;
using Recorder.Storage;

namespace Recorder.Tests;

/// <summary>
/// The writer's storage limits go through the recording store, whose ledger is the offload stage:
/// files the depot verified go first, and every deletion is journaled.
/// </summary>
public class OffloadStorageTests
{
    [Fact]
    public async Task At_max_bytes_a_file_verified_in_the_offload_journal_is_deleted_before_older_ones()
    {
        var root = Directory.CreateTempSubdirectory("recorder-offload-storage-").FullName;
        try
        {
            var older = Finished(root, "2024-01-01/dev_20240101T000000Z_0001.mcap");
            var offloaded = Finished(root, "2024-01-02/dev_20240102T000000Z_0002.mcap");
            var newest = Finished(root, "2024-01-03/dev_20240103T000000Z_0003.mcap");
            var options = new OffloadOptions
            {
                Endpoint = new Uri("https://127.0.0.1:9/files/"),
                RecordingsDirectory = root,
                DeviceId = "dev",
                Presence = PresenceMode.Manual,
            };
            Directory.CreateDirectory(Path.GetDirectoryName(options.StatePath)!);
            using (var journal = OffloadJournal.Open(options.StatePath, out _))
            {
                foreach (var path in new[] { offloaded, newest })
                {
                    var key = RecordingCatalog.KeyOf(root, path);
                    var info = new FileInfo(path);
                    var sha = new byte[32];
                    journal.Append(new QueuedRecord(key, info.Length, (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100, sha, RecordingFileKind.Mcap,
                        key, 1, 2, false), durable: false);
                    // Only the middle one is verified; the newest is queued but not verified yet.
                    if (path == offloaded) journal.Append(new VerifiedRecord(key, sha), durable: true);
                }
            }
            // 300 KB on disk, 250 KB allowed: deleting one file is enough. delete_oldest would take the
            // oldest; the offloaded one must go first instead.
            var recording = new RecordingOptions
            {
                Directory = root,
                Fsync = FsyncPolicy.Never,
                Compression = McapCompression.None,
                MaxBytes = 250_000,
                DeleteOldestWhenFull = true,
            };
            var queue = new BatchQueue(1 << 20, new RecordingClock());
            var registry = new ChannelRegistry();
            registry.TryGetOrAddChannel("/a", "json", 0, Channel.NoMetadata, out var channel);
            var deleting = new List<(string Path, string Sha256)>();
            using (var writer = new RecordingWriter(recording, queue, registry, new DeviceIdentity("dev", new Dictionary<string, string>())))
            {
                // As the host wires them: the offload stage is the ledger of the writer's store.
                await using var service = new OffloadService(options, store: writer.Store);
                service.Deleting += (path, sha) => deleting.Add((path, sha));
                Assert.True(service.IsVerified(offloaded));
                Assert.False(service.IsVerified(older));
                Assert.False(service.IsVerified(newest));
                writer.Start();
                var batch = queue.Rent();
                batch.TryAdd(channel, 1, 0, 0, Encoding.UTF8.GetBytes("{\"i\":1}"));
                await queue.EnqueueAsync(batch);
                await writer.StopAsync();
                Assert.Single(writer.FinishedFiles);
            }
            Assert.False(File.Exists(offloaded));
            Assert.True(File.Exists(older));
            Assert.True(File.Exists(newest));
            Assert.Equal([(offloaded, Convert.ToHexStringLower(new byte[32]))], deleting);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_recording_the_writer_deletes_to_make_room_is_journaled_by_offload()
    {
        var root = Directory.CreateTempSubdirectory("recorder-offload-storage-").FullName;
        try
        {
            var offloaded = Finished(root, "2024-01-02/dev_20240102T000000Z_0002.mcap");
            var older = Finished(root, "2024-01-01/dev_20240101T000000Z_0001.mcap");
            var options = new OffloadOptions { Endpoint = new Uri("https://127.0.0.1:9/files/"), RecordingsDirectory = root, DeviceId = "dev", Presence = PresenceMode.Manual };
            Directory.CreateDirectory(Path.GetDirectoryName(options.StatePath)!);
            var offloadedKey = RecordingCatalog.KeyOf(root, offloaded);
            var olderKey = RecordingCatalog.KeyOf(root, older);
            using (var journal = OffloadJournal.Open(options.StatePath, out _))
            {
                foreach (var (path, key) in new[] { (offloaded, offloadedKey), (older, olderKey) })
                {
                    var info = new FileInfo(path);
                    journal.Append(new QueuedRecord(key, info.Length, (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100, new byte[32], RecordingFileKind.Mcap, key, 1, 2, false), false);
                }
                journal.Append(new VerifiedRecord(offloadedKey, new byte[32]), true);
            }
            // 200 KB on disk, 50 KB allowed, delete_oldest: both recordings go, the offloaded one first.
            var recording = new RecordingOptions { Directory = root, Fsync = FsyncPolicy.Never, Compression = McapCompression.None, MaxBytes = 50_000, DeleteOldestWhenFull = true };
            var queue = new BatchQueue(1 << 20, new RecordingClock());
            var registry = new ChannelRegistry();
            registry.TryGetOrAddChannel("/a", "json", 0, Channel.NoMetadata, out var channel);
            using (var writer = new RecordingWriter(recording, queue, registry, new DeviceIdentity("dev", new Dictionary<string, string>())))
            {
                await using (new OffloadService(options, store: writer.Store))
                {
                    writer.Start();
                    var batch = queue.Rent();
                    batch.TryAdd(channel, 1, 0, 0, Encoding.UTF8.GetBytes("{\"i\":1}"));
                    await queue.EnqueueAsync(batch);
                    await writer.StopAsync();
                }
            }
            Assert.False(File.Exists(offloaded));
            Assert.False(File.Exists(older));
            // Each deletion is in the journal: the entries are gone, and the records are on disk.
            using var reopened = OffloadJournal.Open(options.StatePath, out _);
            Assert.False(reopened.TryGetEntry(offloadedKey, out _));
            Assert.False(reopened.TryGetEntry(olderKey, out _));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_verified_file_that_changed_afterwards_is_not_offloaded()
    {
        var root = Directory.CreateTempSubdirectory("recorder-offload-storage-").FullName;
        try
        {
            var path = Finished(root, "2024-01-02/dev_20240102T000000Z_0002.mcap");
            var options = new OffloadOptions { Endpoint = new Uri("https://127.0.0.1:9/files/"), RecordingsDirectory = root, DeviceId = "dev", Presence = PresenceMode.Manual };
            Directory.CreateDirectory(Path.GetDirectoryName(options.StatePath)!);
            using (var journal = OffloadJournal.Open(options.StatePath, out _))
            {
                var key = RecordingCatalog.KeyOf(root, path);
                var info = new FileInfo(path);
                journal.Append(new QueuedRecord(key, info.Length, (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100, new byte[32], RecordingFileKind.Mcap, key, 1, 2, false), false);
                journal.Append(new VerifiedRecord(key, new byte[32]), true);
            }
            await using var service = new OffloadService(options);
            Assert.True(service.IsVerified(path));
            File.AppendAllText(path, "more");
            Assert.False(service.IsVerified(path));
            // Without an offload stage as its ledger, a store counts nothing as offloaded.
            Assert.False(new RecordingStore(root).IsOffloaded(path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string Finished(string root, string relative)
    {
        var path = Path.Combine(root, "dev", relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new byte[100_000]);
        return path;
    }
}
