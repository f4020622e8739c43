namespace Recorder.Storage.Tests;

/// <summary>The catalog of finished recordings on a disk.</summary>
public sealed class RecordingCatalogTests : IDisposable
{
    private readonly Disk _disk = new();

    public void Dispose() => _disk.Dispose();

    [Fact]
    public void Finished_recordings_are_listed_oldest_first_without_active_files_or_hidden_directories()
    {
        var second = _disk.Recording("2026-11-28", "dev_20261128T000000Z_0002");
        var first = _disk.Recording("2026-11-27", "dev_20261127T235959Z_0001");
        File.Move(_disk.Recording("2026-11-28", "dev_20261128T010000Z_0003"), RecordingLayout.ActivePath(Path.Combine(_disk.Root, "dev", "2026-11-28", "dev_20261128T010000Z_0003.mcap")));
        var hidden = Path.Combine(_disk.Root, ".offload");
        Directory.CreateDirectory(hidden);
        File.WriteAllBytes(Path.Combine(hidden, "x.mcap"), [1]);
        Disk.Companion(RecordingLayout.VidxPath(first), 10);

        Assert.Equal([first, second], RecordingCatalog.FinishedRecordings(_disk.Root));
        Assert.Equal([first, RecordingLayout.VidxPath(first), second], RecordingCatalog.Scan(_disk.Root));
    }

    [Fact]
    public void The_companions_of_a_recording_are_its_index_and_its_streams_only()
    {
        var mcap = _disk.Recording("2026-11-27", "dev_20261127T000000Z_0001");
        // A recording whose name extends this one's stem: its streams are its own.
        var longer = Path.Combine(Path.GetDirectoryName(mcap)!, "dev_20261127T000000Z_0001.x.mcap");
        File.Copy(mcap, longer);
        var vidx = Disk.Companion(RecordingLayout.VidxPath(mcap), 10);
        var front = Disk.Companion(RecordingLayout.StreamPath(mcap, "camera.front", h265: false), 10);
        var theirs = Disk.Companion(RecordingLayout.StreamPath(longer, "rear", h265: true), 10);
        Disk.Companion(Path.ChangeExtension(mcap, ".txt"), 10);

        var (finished, active) = RecordingCatalog.Companions(mcap);
        Assert.Equal([front, vidx], finished);
        Assert.False(active);
        Assert.Equal([theirs], RecordingCatalog.Companions(longer).Finished);

        Disk.Companion(RecordingLayout.ActivePath(RecordingLayout.StreamPath(mcap, "rear", h265: true)), 10);
        Assert.True(RecordingCatalog.Companions(mcap).Active);
    }

    [Fact]
    public void A_recording_occupies_its_mcap_and_its_companions()
    {
        var mcap = _disk.Recording("2026-11-27", "dev_20261127T000000Z_0001");
        Disk.Companion(RecordingLayout.VidxPath(mcap), 1_000);
        Disk.Companion(RecordingLayout.StreamPath(mcap, "cam", h265: false), 20_000);
        Assert.Equal(new FileInfo(mcap).Length + 21_000, RecordingCatalog.RecordingBytes(mcap));
    }

    [Fact]
    public void An_mcap_without_its_trailing_magic_and_its_streams_are_not_finished()
    {
        var mcap = _disk.Recording("2026-11-27", "dev_20261127T000000Z_0001", startNs: 5_000_000_000);
        var stream = Disk.Companion(RecordingLayout.StreamPath(mcap, "cam", h265: false), 100);
        var described = RecordingCatalog.Describe(_disk.Root, stream);
        Assert.NotNull(described);
        Assert.Equal(RecordingFileKind.Stream, described.Kind);
        Assert.Equal("dev/2026-11-27/dev_20261127T000000Z_0001.mcap", described.GroupKey);
        Assert.Equal(5_000_000_000UL, described.StartNs);

        var bytes = File.ReadAllBytes(mcap);
        File.WriteAllBytes(mcap, bytes[..^1]);
        Assert.Null(RecordingCatalog.Describe(_disk.Root, mcap));
        Assert.Null(RecordingCatalog.Describe(_disk.Root, stream));
    }
}
