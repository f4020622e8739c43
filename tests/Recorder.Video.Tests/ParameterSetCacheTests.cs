namespace Recorder.Video.Tests;

public class ParameterSetCacheTests
{
    [Theory]
    [InlineData("h264_nob")]
    [InlineData("h264_bf")]
    [InlineData("h265_idr")]
    public void Stripped_keyframes_decode_on_their_own_once_the_cached_sets_are_prepended(string name)
    {
        var clip = Clips.Get(name);
        var units = Split.Whole(clip.Bytes, clip.Codec);
        var cache = new ParameterSetCache(clip.Codec);
        cache.Observe(units[0].Bytes);
        Assert.True(cache.IsComplete);

        // A hardware-encoder-like stream: parameter sets only on the first keyframe.
        var stripped = units.Select((u, i) => i == 0 ? u.Bytes : StripParameterSets(u.Bytes, clip.Codec)).ToList();
        var gopStarts = units.Select((u, i) => (u, i)).Where(x => x.u.Info.IsKeyframe).Select(x => x.i).ToList();
        Assert.Equal(4, gopStarts.Count);
        var lastGop = gopStarts[^1];
        var gop = stripped.Skip(lastGop).ToList();

        // Control: the last GOP alone, as stripped, has no SPS/PPS and does not decode.
        var withoutSets = Clips.TempPath($"{name}-gop-stripped");
        File.WriteAllBytes(withoutSets, gop.SelectMany(b => b).ToArray());
        var (brokenFrames, brokenErrors) = Ffprobe.Decode(withoutSets, clip.Codec);
        Assert.True(brokenFrames < gop.Count || brokenErrors.Length > 0, "the stripped GOP decoded without parameter sets: the test proves nothing");

        // The same GOP with MissingFrom prepended to its keyframe decodes cleanly, every frame.
        var prefix = cache.MissingFrom(gop[0]).ToArray();
        Assert.NotEmpty(prefix);
        Assert.True(AnnexB.Classify([.. prefix, .. gop[0]], clip.Codec).HasParameterSets);
        var restored = Clips.TempPath($"{name}-gop-restored");
        File.WriteAllBytes(restored, [.. prefix, .. gop.SelectMany(b => b)]);
        var (frames, errors) = Ffprobe.Decode(restored, clip.Codec);
        Assert.Equal("", errors);
        Assert.Equal(gop.Count, frames);

        // The whole stream, every stripped keyframe restored from the cache: all frames, no errors.
        var whole = new List<byte>();
        foreach (var (bytes, i) in stripped.Select((b, i) => (b, i)))
        {
            if (units[i].Info.IsKeyframe) whole.AddRange(cache.MissingFrom(bytes).ToArray());
            whole.AddRange(bytes);
        }
        var wholePath = Clips.TempPath($"{name}-restored");
        File.WriteAllBytes(wholePath, whole.ToArray());
        var (allFrames, allErrors) = Ffprobe.Decode(wholePath, clip.Codec);
        Assert.Equal("", allErrors);
        Assert.Equal(units.Count, allFrames);
    }

    [Fact]
    public void Nothing_is_missing_from_an_access_unit_that_carries_its_sets_or_when_nothing_is_cached()
    {
        var clip = Clips.Get("h265_cra");
        var units = Split.Whole(clip.Bytes, clip.Codec);
        var cache = new ParameterSetCache(clip.Codec);
        Assert.False(cache.IsComplete);
        Assert.True(cache.MissingFrom(units[1].Bytes).IsEmpty);
        cache.Observe(units[0].Bytes);
        Assert.True(cache.MissingFrom(units[0].Bytes).IsEmpty);
        Assert.True(cache.MissingFrom(units[30].Bytes).IsEmpty);
        // A non-keyframe lacks all three, in VPS, SPS, PPS order.
        var missing = cache.MissingFrom(units[1].Bytes).ToArray();
        var types = new List<int>();
        foreach (var unit in new NalUnitEnumerator(missing)) types.Add((missing[unit.PayloadStart] >> 1) & 0x3F);
        Assert.Equal([32, 33, 34], types);
    }

    [Fact]
    public void Only_the_sets_the_access_unit_lacks_are_returned()
    {
        var clip = Clips.Get("h264_nob");
        var units = Split.Whole(clip.Bytes, clip.Codec);
        var cache = new ParameterSetCache(clip.Codec);
        cache.Observe(units[0].Bytes);
        var withoutPps = RemoveUnits(units[30].Bytes, clip.Codec, type => type == 8);
        var missing = cache.MissingFrom(withoutPps).ToArray();
        Assert.Equal(8, missing[4] & 0x1F);
        Assert.Equal(0, new NalUnitEnumerator(missing).Count() - 1);
    }

    private static byte[] StripParameterSets(byte[] au, VideoCodec codec) =>
        RemoveUnits(au, codec, type => codec == VideoCodec.H265 ? type is 32 or 33 or 34 : type is 7 or 8);

    private static byte[] RemoveUnits(byte[] au, VideoCodec codec, Func<int, bool> remove)
    {
        var kept = new List<byte>();
        foreach (var unit in new NalUnitEnumerator(au))
        {
            var type = codec == VideoCodec.H265 ? (au[unit.PayloadStart] >> 1) & 0x3F : au[unit.PayloadStart] & 0x1F;
            if (!remove(type)) kept.AddRange(au.AsSpan(unit.Start, unit.End - unit.Start).ToArray());
        }
        return kept.ToArray();
    }
}

internal static class NalUnitEnumeratorExtensions
{
    public static int Count(this NalUnitEnumerator enumerator)
    {
        var count = 0;
        while (enumerator.MoveNext()) count++;
        return count;
    }
}
