namespace Recorder.Recording.Tests;

/// <summary>File naming and the size/duration split decision, on their own.</summary>
public sealed class FileRotationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("recorder-rotation-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    // 2026-11-27T12:34:56.789Z in ns since the Unix epoch.
    private static readonly ulong Start = (ulong)(new DateTimeOffset(2026, 11, 27, 12, 34, 56, 789, TimeSpan.Zero) - DateTimeOffset.UnixEpoch).Ticks * 100;

    [Fact]
    public void A_file_is_named_by_device_start_and_sequence_in_its_UTC_day()
    {
        var rotation = new FileRotation(_root, "dev-1");
        var first = rotation.NextFile(Start);
        Assert.Equal(Path.Combine(_root, "2026-11-27", "dev-1_20261127T123456Z_0001.mcap"), first);
        Assert.True(Directory.Exists(Path.GetDirectoryName(first)));
        Assert.EndsWith("_0002.mcap", rotation.NextFile(Start));
        Assert.Equal(2, rotation.Sequence);
    }

    [Fact]
    public void Names_taken_by_finished_or_unfinished_files_are_skipped()
    {
        var day = Directory.CreateDirectory(Path.Combine(_root, "2026-11-27")).FullName;
        File.WriteAllText(Path.Combine(day, "dev-1_20261127T123456Z_0001.mcap"), "");
        File.WriteAllText(Path.Combine(day, "dev-1_20261127T123456Z_0002.mcap.active"), "");
        var rotation = new FileRotation(_root, "dev-1");
        Assert.EndsWith("_0003.mcap", rotation.NextFile(Start));
        Assert.Equal(3, rotation.Sequence);
    }

    [Fact]
    public void A_file_ends_by_size_or_by_duration_whichever_comes_first()
    {
        var options = new RecordingOptions { Directory = _root, SplitSize = 1000, SplitDuration = TimeSpan.FromSeconds(60) };
        var rotation = new FileRotation(_root, "dev-1");
        rotation.Opened(Start, epoch: 3);
        Assert.Equal((Start, 3), (rotation.FileStartTime, rotation.FileEpoch));
        Assert.Null(rotation.SplitDue(options, 999, Start + 59_999_999_999));
        Assert.Equal("size", rotation.SplitDue(options, 1000, Start + 1));
        Assert.Equal("duration", rotation.SplitDue(options, 10, Start + 60_000_000_000));
        Assert.Equal("size", rotation.SplitDue(options, 5000, Start + 60_000_000_000)); // both: size is named
    }

    [Fact]
    public void A_message_older_than_the_files_start_never_ends_it_by_duration()
    {
        var options = new RecordingOptions { Directory = _root, SplitDuration = TimeSpan.FromSeconds(1) };
        var rotation = new FileRotation(_root, "dev-1");
        rotation.Opened(Start, epoch: 0);
        Assert.Null(rotation.SplitDue(options, 0, Start - 5_000_000_000)); // released late from the reorder window
    }
}
