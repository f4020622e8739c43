namespace Recorder.Video.Tests;

/// <summary>Garbage, truncation and oversized units: clear exceptions or well-defined results, never a hang or a crash.</summary>
public class MalformedInputTests
{
    private static readonly AccessUnitHandler Ignore = (_, in _) => { };

    [Theory]
    [InlineData(new byte[] { 0x47, 0x40, 0x11 }, 0)] // an MPEG-TS packet
    [InlineData(new byte[] { 0, 0, 0, 0x67 }, 3)] // zeros, then no 01
    [InlineData(new byte[] { 0, 1, 0x67 }, 1)] // only one zero before the 01
    [InlineData(new byte[] { 0, 0, 2 }, 2)]
    public void A_stream_that_does_not_begin_with_a_start_code_is_refused_with_the_offset(byte[] stream, int offset)
    {
        var splitter = new AnnexBSplitter(VideoCodec.H264);
        var error = Assert.Throws<InvalidDataException>(() => splitter.Push(stream, 0, Ignore));
        Assert.Contains("start code", error.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {offset}", error.Message, StringComparison.Ordinal);
        // The splitter has failed for good, and says why.
        var later = Assert.Throws<InvalidOperationException>(() => splitter.Push([0, 0, 1, 0x65], 1, Ignore));
        Assert.Contains(error.Message, later.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => splitter.Complete(Ignore));
    }

    [Fact]
    public void Leading_garbage_is_found_when_pushed_one_byte_at_a_time()
    {
        var splitter = new AnnexBSplitter(VideoCodec.H265);
        splitter.Push([0], 0, Ignore);
        splitter.Push([0], 0, Ignore);
        Assert.Throws<InvalidDataException>(() => splitter.Push([0x42], 0, Ignore));
    }

    [Theory]
    [InlineData(VideoCodec.H264)]
    [InlineData(VideoCodec.H265)]
    public void An_access_unit_over_the_maximum_is_refused_before_the_buffer_grows_past_it(VideoCodec codec)
    {
        const int max = 4096;
        var slice = codec == VideoCodec.H265 ? new byte[] { 0x26, 0x01, 0xAF } : [0x65, 0x88];
        var stream = new List<byte>();
        stream.AddRange([0, 0, 0, 1, .. slice]);
        stream.AddRange(Enumerable.Repeat((byte)0x55, max * 4));
        stream.AddRange([0, 0, 0, 1, .. slice]);
        foreach (var segment in new[] { 1, 100, int.MaxValue })
        {
            var splitter = new AnnexBSplitter(codec, max);
            var bytes = stream.ToArray();
            var pushed = 0;
            var error = Assert.Throws<InvalidDataException>(() =>
            {
                while (pushed < bytes.Length)
                {
                    var size = Math.Min(segment, bytes.Length - pushed);
                    pushed += size;
                    splitter.Push(bytes.AsSpan(pushed - size, size), 0, Ignore);
                }
                splitter.Complete(Ignore);
            });
            Assert.Contains("maximum of 4096", error.Message, StringComparison.Ordinal);
            if (segment != int.MaxValue) Assert.True(pushed <= max + segment + 8, $"pushed {pushed} bytes before refusing");
        }
    }

    [Fact]
    public void An_access_unit_of_exactly_the_maximum_is_accepted()
    {
        var clip = Clips.Get("h264_nob");
        var units = Split.Whole(clip.Bytes, clip.Codec);
        var largest = units.Max(u => u.Info.Length);
        Assert.Equal(units.Select(u => u.Info), Split.All(clip.Bytes, clip.Codec, () => 777, maxAccessUnitBytes: largest).Select(u => u.Info with { ArrivalTime = 0 }));
        Assert.Throws<InvalidDataException>(() => Split.All(clip.Bytes, clip.Codec, () => 777, maxAccessUnitBytes: largest - 1));
    }

    [Theory]
    [InlineData("h264_bf")]
    [InlineData("h265_bf")]
    public void A_stream_cut_anywhere_still_splits_into_the_same_leading_access_units(string name)
    {
        var clip = Clips.Get(name);
        var bytes = clip.Bytes;
        var full = Split.Whole(bytes, clip.Codec);
        var random = new Random(5);
        var cuts = Enumerable.Range(0, 40).Select(_ => random.Next(1, bytes.Length))
            .Concat(full.Take(10).SelectMany(u => new[] { (int)u.Info.StreamOffset + 1, (int)u.Info.StreamOffset + 3, (int)u.Info.StreamOffset + 5 }));
        // (A cut inside the first start code leaves only zeros: no AU at all; see Nothing_or_only_zeros_gives_no_access_unit.)
        foreach (var cut in cuts.Where(c => c >= 4))
        {
            var units = Split.Random(bytes.AsSpan(0, cut), clip.Codec, seed: cut, maxSegment: 64);
            // All AUs that end before the cut are unchanged, the rest of the bytes are in the last one(s).
            var complete = full.TakeWhile(u => u.Info.StreamOffset + u.Info.Length < cut - 8).ToList();
            Assert.Equal(complete.Select(u => u.Info), units.Take(complete.Count).Select(u => u.Info with { ArrivalTime = 0 }));
            Assert.Equal(cut, units.Sum(u => (long)u.Info.Length));
        }
    }

    [Theory]
    [InlineData(VideoCodec.H264)]
    [InlineData(VideoCodec.H265)]
    public void Random_nal_soup_splits_the_same_in_any_segmentation_and_tiles_the_input(VideoCodec codec)
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var stream = NalSoup(seed, codec);
            var whole = Split.Whole(stream, codec).Select(u => u.Info).ToList();
            Assert.Equal(stream.Length, whole.Sum(u => (long)u.Length));
            Assert.Equal(whole, Split.OneByte(stream, codec).Select(u => u.Info with { ArrivalTime = 0 }));
            Assert.Equal(whole, Split.Random(stream, codec, seed, maxSegment: 7).Select(u => u.Info with { ArrivalTime = 0 }));
            // Classify reads every unit of every AU without throwing.
            foreach (var unit in Split.Whole(stream, codec))
            {
                AnnexB.Classify(unit.Bytes, codec);
                AnnexB.TryReadResolution(unit.Bytes, codec, out _, out _);
            }
        }
    }

    [Fact]
    public void Nothing_or_only_zeros_gives_no_access_unit()
    {
        var units = new List<AccessUnitInfo>();
        var splitter = new AnnexBSplitter(VideoCodec.H264);
        splitter.Push([0, 0, 0], 1, (_, in info) => units.Add(info));
        splitter.Complete((_, in info) => units.Add(info));
        Assert.Empty(units);
        Assert.Equal(3, splitter.BytesPushed);
        Assert.Throws<InvalidOperationException>(() => splitter.Push([0], 2, Ignore));
    }

    [Fact]
    public void Empty_and_header_only_units_do_not_break_the_split()
    {
        // AUD, empty unit, a slice cut to its header, a slice, a slice, an empty unit at the end. The
        // header-only slice is too short to be told a new picture, so it stays with the AUD; the two
        // whole slices each begin a picture (first_mb_in_slice 0).
        byte[] stream = [0, 0, 0, 1, 9, 0xF0, 0, 0, 1, 0, 0, 1, 0x65, 0, 0, 1, 0x65, 0x88, 0x80, 0, 0, 1, 0x41, 0x9A, 0, 0, 1];
        var whole = Split.Whole(stream, VideoCodec.H264).Select(u => u.Info).ToList();
        Assert.Equal(stream.Length, whole.Sum(u => u.Length));
        Assert.Equal(whole, Split.OneByte(stream, VideoCodec.H264).Select(u => u.Info with { ArrivalTime = 0 }));
        Assert.Equal([(0L, 13), (13L, 6), (19L, 8)], whole.Select(u => (u.StreamOffset, u.Length)));
        Assert.Equal([KeyframeKind.Idr, KeyframeKind.Idr, KeyframeKind.None], whole.Select(u => u.Keyframe));
    }

    /// <summary>Start codes (3- and 4-byte), plausible headers of every type, runs of zeros and random payload.</summary>
    private static byte[] NalSoup(int seed, VideoCodec codec)
    {
        var random = new Random(seed);
        var bytes = new List<byte> { 0, 0, 1 };
        for (var unit = 0; unit < 300; unit++)
        {
            if (codec == VideoCodec.H265) bytes.AddRange([(byte)(random.Next(0, 64) << 1), (byte)random.Next(0, 3)]);
            else bytes.Add((byte)random.Next(0, 256));
            var length = random.Next(0, 40);
            for (var i = 0; i < length; i++)
                bytes.Add(random.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 0x80, _ => (byte)random.Next(256) });
            bytes.AddRange(random.Next(3) switch { 0 => [0, 0, 1], 1 => [0, 0, 0, 1], _ => [0, 0, 0, 0, 0, 1] });
        }
        return bytes.ToArray();
    }
}
