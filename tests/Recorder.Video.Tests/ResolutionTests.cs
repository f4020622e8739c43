namespace Recorder.Video.Tests;

public class ResolutionTests
{
    [Theory]
    [InlineData("h264_642x362")]
    [InlineData("h264_320x240")]
    [InlineData("h264_1920x1080")]
    [InlineData("h264_642x362_422")]
    [InlineData("h264_642x364_interlaced")]
    [InlineData("h264_642x362_cqm")]
    [InlineData("h264_nob")]
    [InlineData("h265_642x362")]
    [InlineData("h265_320x240")]
    [InlineData("h265_1920x1080")]
    [InlineData("h265_642x362_422")]
    [InlineData("h265_cra")]
    public void Resolution_from_the_sps_matches_ffprobe_after_cropping(string name)
    {
        var clip = Clips.Get(name);
        var first = Split.Whole(clip.Bytes, clip.Codec)[0];
        Assert.True(AnnexB.TryReadResolution(first.Bytes, clip.Codec, out var width, out var height));
        Assert.Equal(Ffprobe.Resolution(clip.Path, clip.Codec), (width, height));
    }

    [Fact]
    public void An_access_unit_without_an_sps_has_no_resolution()
    {
        var clip = Clips.Get("h264_nob");
        var second = Split.Whole(clip.Bytes, clip.Codec)[1];
        Assert.False(AnnexB.TryReadResolution(second.Bytes, clip.Codec, out var width, out var height));
        Assert.Equal((0, 0), (width, height));
    }

    [Theory]
    [InlineData(VideoCodec.H264)]
    [InlineData(VideoCodec.H265)]
    public void A_truncated_sps_is_refused_not_misread(VideoCodec codec)
    {
        var clip = Clips.Get(codec == VideoCodec.H265 ? "h265_642x362" : "h264_642x362");
        var first = Split.Whole(clip.Bytes, clip.Codec)[0].Bytes;
        foreach (var unit in new NalUnitEnumerator(first))
        {
            var type = codec == VideoCodec.H265 ? (first[unit.PayloadStart] >> 1) & 0x3F : first[unit.PayloadStart] & 0x1F;
            if (type != (codec == VideoCodec.H265 ? 33 : 7)) continue;
            // Every cut short of the cropping fields; none may throw or report a size.
            for (var cut = unit.PayloadStart + 1; cut < unit.PayloadStart + 6; cut++)
                Assert.False(AnnexB.TryReadResolution(first.AsSpan(0, cut), codec, out _, out _));
            return;
        }
        Assert.Fail("no SPS in the first AU");
    }
}
