namespace Recorder.Storage.Tests;

/// <summary>
/// The one retention policy: quota and minimum free space, offloaded recordings first, then with
/// delete_oldest the oldest, each recording deleted whole, and every deletion told to the ledger.
/// </summary>
public sealed class RetentionTests : IDisposable
{
    private readonly Disk _disk = new();
    private readonly RecordingLedger _ledger = new();

    public void Dispose() => _disk.Dispose();

    private RecordingStore Store(Func<long>? freeBytes = null)
    {
        var store = new RecordingStore(_disk.Root, freeBytes ?? (() => long.MaxValue)) { Ledger = _ledger };
        store.Scan();
        return store;
    }

    private (string Oldest, string Middle, string Newest) ThreeRecordings() => (
        _disk.Recording("2026-11-27", "dev_20261127T000000Z_0001"),
        _disk.Recording("2026-11-28", "dev_20261128T000000Z_0002"),
        _disk.Recording("2026-11-29", "dev_20261129T000000Z_0003"));

    [Fact]
    public void Within_the_limits_nothing_is_deleted()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        var store = Store();
        Assert.True(store.MakeRoom(new RetentionPolicy(_disk.Used() + 100, 0, DeleteOldest: true), bytesInProgress: 100));
        Assert.Equal([oldest, middle, newest], store.Recordings);
        Assert.Empty(_ledger.Events);
    }

    [Fact]
    public void Over_the_quota_an_offloaded_recording_goes_before_older_ones()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        _ledger.Offloaded.Add(middle);
        var store = Store();
        var size = new FileInfo(middle).Length;
        // One recording's worth over: deleting one is enough.
        Assert.True(store.MakeRoom(new RetentionPolicy(_disk.Used() - size, 0, DeleteOldest: true), bytesInProgress: 0));
        Assert.False(File.Exists(middle));
        Assert.Equal([oldest, newest], store.Recordings);
    }

    [Fact]
    public void With_delete_oldest_the_oldest_go_after_the_offloaded_ones()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        _ledger.Offloaded.Add(newest);
        var store = Store();
        var size = new FileInfo(oldest).Length;
        Assert.True(store.MakeRoom(new RetentionPolicy(_disk.Used() - 2 * size, 0, DeleteOldest: true), bytesInProgress: 0));
        Assert.Equal([middle], store.Recordings);
        Assert.Equal(["deleting dev_20261129T000000Z_0003.mcap", "deleted dev_20261129T000000Z_0003.mcap",
            "deleting dev_20261127T000000Z_0001.mcap", "deleted dev_20261127T000000Z_0001.mcap"], _ledger.Events);
    }

    [Fact]
    public void Without_delete_oldest_only_offloaded_recordings_go_and_the_store_says_it_is_full()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        _ledger.Offloaded.Add(middle);
        var store = Store();
        Assert.False(store.MakeRoom(new RetentionPolicy(1, 0, DeleteOldest: false), bytesInProgress: 0));
        Assert.Equal([oldest, newest], store.Recordings);
        Assert.True(File.Exists(oldest) && File.Exists(newest));
    }

    [Fact]
    public void The_recording_being_written_counts_against_the_quota()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        var store = Store();
        var used = _disk.Used();
        Assert.True(store.MakeRoom(new RetentionPolicy(used + 1_000, 0, DeleteOldest: true), bytesInProgress: 1_000));
        Assert.True(store.MakeRoom(new RetentionPolicy(used + 1_000, 0, DeleteOldest: true), bytesInProgress: 1_001));
        Assert.Equal([middle, newest], store.Recordings);
        Assert.False(File.Exists(oldest));
    }

    [Fact]
    public void Below_the_minimum_free_space_recordings_go_until_it_is_free_again()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        var size = new FileInfo(oldest).Length;
        // A volume just big enough for the three recordings and a bit: free space is what they leave.
        var capacity = _disk.Used() + size / 2;
        var store = Store(() => capacity - _disk.Used());
        Assert.True(store.MakeRoom(new RetentionPolicy(0, 2 * size, DeleteOldest: true), bytesInProgress: 0));
        Assert.Equal([newest], store.Recordings);
        Assert.False(File.Exists(oldest) || File.Exists(middle));
    }

    [Fact]
    public void An_unknown_free_space_is_no_reason_to_delete()
    {
        ThreeRecordings();
        var store = Store(() => -1);
        Assert.True(store.MakeRoom(new RetentionPolicy(0, long.MaxValue, DeleteOldest: true), bytesInProgress: 0));
        Assert.Equal(3, store.Recordings.Count);
    }

    [Fact]
    public void A_recording_is_deleted_as_a_unit_companions_first_and_the_mcap_last()
    {
        var (oldest, middle, _) = ThreeRecordings();
        Disk.Companion(RecordingLayout.VidxPath(oldest), 100);
        Disk.Companion(RecordingLayout.StreamPath(oldest, "cam", h265: false), 50_000);
        var neighbour = Disk.Companion(RecordingLayout.VidxPath(middle), 100);
        var store = Store();
        Assert.True(store.MakeRoom(new RetentionPolicy(_disk.Used() - 1, 0, DeleteOldest: true), bytesInProgress: 0));
        Assert.Equal(["deleting dev_20261127T000000Z_0001.cam.h264", "deleted dev_20261127T000000Z_0001.cam.h264",
            "deleting dev_20261127T000000Z_0001.vidx", "deleted dev_20261127T000000Z_0001.vidx",
            "deleting dev_20261127T000000Z_0001.mcap", "deleted dev_20261127T000000Z_0001.mcap"], _ledger.Events);
        Assert.True(File.Exists(neighbour));
        Assert.DoesNotContain(_disk.Files(), f => f.StartsWith("dev_20261127T000000Z_0001", StringComparison.Ordinal));
    }

    [Fact]
    public void The_companions_count_in_what_a_recording_occupies()
    {
        var (oldest, _, _) = ThreeRecordings();
        Disk.Companion(RecordingLayout.StreamPath(oldest, "cam", h265: true), 50_000);
        var store = Store();
        Assert.Equal(_disk.Used(), store.RecordingsBytes);
    }

    [Fact]
    public void A_finished_recording_told_by_the_writer_is_the_newest()
    {
        var (oldest, middle, newest) = ThreeRecordings();
        var store = new RecordingStore(_disk.Root) { Ledger = _ledger };
        store.Add(newest);
        store.Add(oldest);
        store.Add(middle);
        Assert.Equal([newest, oldest, middle], store.Recordings);
        store.Clear();
        Assert.Empty(store.Recordings);
        // Forgotten recordings are never deleted to make room.
        Assert.False(store.MakeRoom(new RetentionPolicy(1, 0, DeleteOldest: true), bytesInProgress: 2));
        Assert.True(File.Exists(oldest));
    }

    [Fact]
    public void A_recording_deleted_for_its_ledger_goes_as_the_files_it_names()
    {
        var (oldest, _, _) = ThreeRecordings();
        var vidx = Disk.Companion(RecordingLayout.VidxPath(oldest), 100);
        var unverified = Disk.Companion(RecordingLayout.StreamPath(oldest, "cam", h265: false), 100);
        var store = Store();
        Assert.True(store.Delete(oldest, [oldest, vidx]));
        Assert.True(File.Exists(unverified));
        Assert.Equal(["deleting dev_20261127T000000Z_0001.vidx", "deleted dev_20261127T000000Z_0001.vidx",
            "deleting dev_20261127T000000Z_0001.mcap", "deleted dev_20261127T000000Z_0001.mcap"], _ledger.Events);
        Assert.Equal(2, store.Recordings.Count);
    }

    [Fact]
    public void A_detached_ledger_hears_of_no_more_deletions_and_nothing_counts_as_offloaded()
    {
        var (oldest, middle, _) = ThreeRecordings();
        _ledger.Offloaded.Add(middle);
        var store = Store();
        var other = new RecordingLedger();
        store.Detach(other); // not the store's ledger: changes nothing
        Assert.True(store.IsOffloaded(middle));
        store.Detach(_ledger);
        Assert.Null(store.Ledger);
        Assert.False(store.IsOffloaded(middle));
        Assert.True(store.Delete(oldest));
        Assert.Empty(_ledger.Events);
    }
}
