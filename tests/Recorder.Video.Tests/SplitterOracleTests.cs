namespace Recorder.Video.Tests;

/// <summary>Our access units against ffprobe's packets on real x264/x265 clips.</summary>
public class SplitterOracleTests
{
    public static TheoryData<string> SplitClips => new()
    {
        "h264_nob", "h264_bf", "h264_aud", "h264_opengop", "h265_cra", "h265_idr", "h265_bf", "h264_642x362", "h265_642x362",
    };

    [Theory]
    [MemberData(nameof(SplitClips))]
    public void Access_units_match_ffprobe_packets_in_position_size_and_key_flag(string name)
    {
        var clip = Clips.Get(name);
        var units = Split.Whole(clip.Bytes, clip.Codec);
        AssertMatchesFfprobe(clip, units);
    }

    [Theory]
    [MemberData(nameof(SplitClips))]
    public void Access_units_are_the_same_when_pushed_in_random_size_segments(string name)
    {
        var clip = Clips.Get(name);
        var expected = Split.Whole(clip.Bytes, clip.Codec).Select(u => u.Info).ToList();
        foreach (var seed in new[] { 1, 2, 3 })
            Assert.Equal(expected, Split.Random(clip.Bytes, clip.Codec, seed, maxSegment: seed == 3 ? 16 : 8192).Select(u => u.Info with { ArrivalTime = 0 }).ToList(),
                new InfoIgnoringArrival());
    }

    [Theory]
    [MemberData(nameof(SplitClips))]
    public void Access_units_are_the_same_when_pushed_one_byte_at_a_time(string name)
    {
        var clip = Clips.Get(name);
        var units = Split.OneByte(clip.Bytes, clip.Codec);
        AssertMatchesFfprobe(clip, units);
    }

    [Theory]
    [InlineData("h264_bf")]
    [InlineData("h264_opengop")]
    [InlineData("h265_bf")]
    [InlineData("h264_nob")]
    [InlineData("h265_cra")]
    public void B_slices_are_flagged_exactly_on_the_frames_ffmpeg_decodes_as_B(string name)
    {
        var clip = Clips.Get(name);
        var units = Split.Whole(clip.Bytes, clip.Codec);
        var probeB = Ffprobe.BFramePositions(clip.Path, clip.Codec);
        var ours = units.Where(u => u.Info.HasBSlices).Select(u => FfprobePosition(clip.Codec, u)).ToHashSet();
        Assert.Equal(probeB.Order(), ours.Order());
        if (name.Contains("_bf", StringComparison.Ordinal)) Assert.NotEmpty(ours);
        if (name.Contains("nob", StringComparison.Ordinal) || name.Contains("cra", StringComparison.Ordinal)) Assert.Empty(ours);
    }

    [Fact]
    public void Open_gop_h264_has_one_idr_and_recovery_point_keyframes()
    {
        var clip = Clips.Get("h264_opengop");
        var keys = Split.Whole(clip.Bytes, clip.Codec).Where(u => u.Info.IsKeyframe).Select(u => u.Info.Keyframe).ToList();
        Assert.Equal([KeyframeKind.Idr, KeyframeKind.RecoveryPoint, KeyframeKind.RecoveryPoint, KeyframeKind.RecoveryPoint], keys);
    }

    [Fact]
    public void X265_default_keyframes_are_one_idr_then_cra()
    {
        var clip = Clips.Get("h265_cra");
        var keys = Split.Whole(clip.Bytes, clip.Codec).Where(u => u.Info.IsKeyframe).Select(u => u.Info.Keyframe).ToList();
        Assert.Equal([KeyframeKind.Idr, KeyframeKind.Cra, KeyframeKind.Cra, KeyframeKind.Cra], keys);
    }

    [Fact]
    public void X265_without_open_gop_writes_idr_nal_types_and_no_cra()
    {
        var clip = Clips.Get("h265_idr");
        var bytes = clip.Bytes;
        var types = new List<int>();
        foreach (var unit in new NalUnitEnumerator(bytes)) types.Add((bytes[unit.PayloadStart] >> 1) & 0x3F);
        Assert.DoesNotContain(21, types);
        Assert.Contains(types, t => t is 19 or 20);
        var keys = Split.Whole(bytes, clip.Codec).Where(u => u.Info.IsKeyframe).Select(u => u.Info.Keyframe).ToList();
        Assert.Equal([KeyframeKind.Idr, KeyframeKind.Idr, KeyframeKind.Idr, KeyframeKind.Idr], keys);
    }

    [Theory]
    [MemberData(nameof(SplitClips))]
    public void Every_keyframe_of_an_x264_or_x265_clip_carries_its_parameter_sets_and_classify_agrees(string name)
    {
        var clip = Clips.Get(name);
        foreach (var unit in Split.Whole(clip.Bytes, clip.Codec))
        {
            if (unit.Info.IsKeyframe) Assert.True(unit.Info.HasParameterSets, Split.Describe(unit.Info));
            var classified = AnnexB.Classify(unit.Bytes, clip.Codec);
            Assert.Equal(unit.Info with { StreamOffset = 0, ArrivalTime = 0 }, classified);
        }
    }

    [Fact]
    public void Arrival_time_is_that_of_the_push_that_delivered_the_first_byte()
    {
        var clip = Clips.Get("h264_bf");
        var bytes = clip.Bytes;
        var random = new Random(7);
        var starts = new List<long>();
        // Tiny segments so that start codes and zero_bytes land in earlier pushes than the headers.
        var units = Split.All(bytes, clip.Codec, () => random.Next(1, 5), segmentStarts: starts);
        foreach (var unit in units)
        {
            var segment = starts.BinarySearch(unit.Info.StreamOffset);
            if (segment < 0) segment = ~segment - 1;
            Assert.Equal((ulong)segment, unit.Info.ArrivalTime);
        }
    }

    [Theory]
    [MemberData(nameof(SplitClips))]
    public void Access_units_tile_the_stream_and_hand_out_its_bytes(string name)
    {
        var clip = Clips.Get(name);
        var bytes = clip.Bytes;
        long expectedOffset = 0;
        foreach (var unit in Split.Random(bytes, clip.Codec, seed: 11, maxSegment: 1000))
        {
            Assert.Equal(expectedOffset, unit.Info.StreamOffset);
            Assert.True(bytes.AsSpan((int)unit.Info.StreamOffset, unit.Info.Length).SequenceEqual(unit.Bytes));
            expectedOffset += unit.Info.Length;
        }
        Assert.Equal(bytes.Length, expectedOffset);
    }

    /// <summary>
    /// ffmpeg's hevc parser leaves a 4-byte start code's zero_byte at the end of the previous packet
    /// (shared/notes/video.md section 5); Annex B, and we, give it to the next AU. Its H.264 parser
    /// splits as the spec does.
    /// </summary>
    private static long FfprobePosition(VideoCodec codec, Split.Unit unit) =>
        codec == VideoCodec.H265 && unit.Info.StreamOffset > 0 && unit.Bytes.AsSpan().StartsWith((byte[])[0, 0, 0, 1])
            ? unit.Info.StreamOffset + 1
            : unit.Info.StreamOffset;

    private static void AssertMatchesFfprobe(Clip clip, List<Split.Unit> units)
    {
        var packets = Ffprobe.Packets(clip.Path, clip.Codec);
        Assert.Equal(Clips.Frames, packets.Count);
        Assert.Equal(packets.Count, units.Count);
        var fileLength = new FileInfo(clip.Path).Length;
        for (var i = 0; i < units.Count; i++)
        {
            var position = FfprobePosition(clip.Codec, units[i]);
            var end = i + 1 < units.Count ? FfprobePosition(clip.Codec, units[i + 1]) : fileLength;
            var ours = new ProbePacket(position, (int)(end - position), units[i].Info.IsKeyframe);
            Assert.True(packets[i] == ours, $"{clip.Name} AU {i}: ffprobe {packets[i]}, ours {ours} ({Split.Describe(units[i].Info)})");
        }
        if (clip.Codec == VideoCodec.H264)
        {
            // No adjustment at all for H.264.
            Assert.Equal(packets.Select(p => (p.Pos, p.Size)), units.Select(u => (u.Info.StreamOffset, u.Info.Length)));
        }
    }

    private sealed class InfoIgnoringArrival : IEqualityComparer<AccessUnitInfo>
    {
        public bool Equals(AccessUnitInfo x, AccessUnitInfo y) => x with { ArrivalTime = 0 } == y with { ArrivalTime = 0 };
        public int GetHashCode(AccessUnitInfo obj) => (obj with { ArrivalTime = 0 }).GetHashCode();
    }
}
