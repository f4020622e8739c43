using Recorder.Storage;

namespace Recorder.Storage.Tests;

/// <summary>Recorder.Storage: the recording layout shared by the recorder and the depot.</summary>
public sealed class RecordingLayoutTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 27, 8, 0, 5, TimeSpan.Zero);

    [Fact]
    public void A_recording_is_named_after_device_start_and_sequence_under_its_utc_day()
    {
        Assert.Equal("rt-0042_20261127T080005Z_0007.mcap", RecordingLayout.McapFileName("rt-0042", Start, 7));
        Assert.Equal("2026-11-27", RecordingLayout.DateDirectory(Start.ToOffset(TimeSpan.FromHours(-10))));
        Assert.Equal("rt-0042/2026-11-27/x.mcap", RecordingLayout.RelativePath("rt-0042", "2026-11-27", "x.mcap"));
    }

    [Theory]
    [InlineData("a_20261127T080005Z_0001.mcap", RecordingFileKind.Mcap)]
    [InlineData("a_20261127T080005Z_0001.vidx", RecordingFileKind.Vidx)]
    [InlineData("a_20261127T080005Z_0001.camera.front.h265", RecordingFileKind.Stream)]
    [InlineData("a_20261127T080005Z_0001.mcap.active", null)]
    [InlineData("notes.txt", null)]
    public void The_kind_follows_the_extension(string name, RecordingFileKind? kind) => Assert.Equal(kind, RecordingLayout.KindOf(name));

    [Theory]
    [InlineData("a_b_20261127T080005Z_0001.camera_front.h264", "a_b_20261127T080005Z_0001.mcap", true)]
    [InlineData("a_b_20261127T080005Z_0001.vidx", "a_b_20261127T080005Z_0001.mcap", true)]
    [InlineData("a_b_20261127T080005Z_0001.mcap", "a_b_20261127T080005Z_0001.mcap", true)]
    [InlineData("a_b_20261127T080005Z_00012.vidx", "a_b_20261127T080005Z_0001.mcap", false)]
    [InlineData("a_b_20261127T080005Z_0002.camera.h264", "a_b_20261127T080005Z_0001.mcap", false)]
    [InlineData("a_b_20261127T080005Z_0001.vidx", "a_b_20261127T080005Z_0001.vidx", false)]
    public void Companions_belong_to_their_mcap_only(string file, string mcap, bool belongs) => Assert.Equal(belongs, RecordingLayout.BelongsTo(file, mcap));

    [Fact]
    public void The_day_comes_from_the_name_then_the_start_time_then_the_fallback()
    {
        var fallback = new DateTimeOffset(2030, 1, 2, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal("2026-11-27", RecordingLayout.DateDirectoryOf("dev_x_20261127T235959Z_0001.mcap", 1, fallback));
        Assert.Equal("2026-11-27", RecordingLayout.DateDirectoryOf("free-name.mcap", 1_795_766_400_000_000_000, fallback));
        Assert.Equal("2030-01-02", RecordingLayout.DateDirectoryOf("free-name.mcap", 0, fallback));
        Assert.Null(RecordingLayout.StartOf("dev_20261340T000000Z_0001.mcap"));
    }

    [Theory]
    [InlineData("rt-0042", true)]
    [InlineData("a.b_c-d", true)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("-flag", false)]
    [InlineData("../up", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    public void Only_plain_names_are_safe_as_a_path_segment(string name, bool safe) => Assert.Equal(safe, RecordingLayout.IsSafeName(name));

    [Fact]
    public void A_durable_write_replaces_the_file_whole_and_leaves_no_temporary()
    {
        var dir = Directory.CreateTempSubdirectory("layout-").FullName;
        try
        {
            var path = Path.Combine(dir, "state");
            DurableFile.WriteAllBytes(path, "one"u8);
            DurableFile.WriteAllBytes(path, "two"u8);
            Assert.Equal("two", File.ReadAllText(path));
            Assert.Equal([path], Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_file_being_written_carries_the_active_suffix_until_it_is_renamed()
    {
        var active = RecordingLayout.ActivePath("/r/dev/2026-11-27/a_20261127T080005Z_0001.mcap");
        Assert.Equal("/r/dev/2026-11-27/a_20261127T080005Z_0001.mcap.active", active);
        Assert.True(RecordingLayout.IsActive(active));
        Assert.Equal("/r/dev/2026-11-27/a_20261127T080005Z_0001.mcap", RecordingLayout.FinalPath(active));
        Assert.False(RecordingLayout.IsActive(RecordingLayout.FinalPath(active)));
        Assert.Throws<ArgumentException>(() => RecordingLayout.FinalPath("/r/x.mcap"));
    }

    [Fact]
    public void Companions_are_named_after_their_recording()
    {
        const string mcap = "/r/dev/2026-11-27/a_20261127T080005Z_0001.mcap";
        Assert.Equal("/r/dev/2026-11-27/a_20261127T080005Z_0001.vidx", RecordingLayout.VidxPath(mcap));
        Assert.Equal("/r/dev/2026-11-27/a_20261127T080005Z_0001.camera_front.h265", RecordingLayout.StreamPath(mcap, "camera_front", h265: true));
        Assert.Equal("/r/dev/2026-11-27/a_20261127T080005Z_0001.camera_front.h264", RecordingLayout.StreamPath(mcap, "camera_front", h265: false));
        Assert.True(RecordingLayout.BelongsTo(Path.GetFileName(RecordingLayout.StreamPath(mcap, "camera_front", true)), Path.GetFileName(mcap)));
        Assert.True(RecordingLayout.IsRecordingFile(RecordingLayout.VidxPath(mcap)));
        Assert.False(RecordingLayout.IsRecordingFile(RecordingLayout.ActivePath(mcap)));
    }

    [Fact]
    public void The_kind_byte_of_the_offload_journal_is_the_kind()
    {
        Assert.Equal(0, (byte)RecordingFileKind.Mcap);
        Assert.Equal(1, (byte)RecordingFileKind.Vidx);
        Assert.Equal(2, (byte)RecordingFileKind.Stream);
        Assert.True(RecordingLayout.IsDefinedKind(2));
        Assert.False(RecordingLayout.IsDefinedKind(3));
        Assert.Equal("stream", RecordingLayout.KindName(RecordingFileKind.Stream));
        Assert.Throws<ArgumentOutOfRangeException>(() => RecordingLayout.KindName((RecordingFileKind)3));
    }
}
