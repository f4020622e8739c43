using Index = Recorder.Video.FrameIndex;

namespace Recorder.Video.Tests.FrameIndex;

public class FramesForSeekTests
{
    /// <summary>
    /// Two interleaved tracks. /a: frames at t = 10, 20, ..., 200; keyframes at 30 (IDR), 90 (recovery point)
    /// and 150 (IDR); 10 and 20 are GOP 0. Two frames share t = 120. /b: frames at t = 15, 35, ..., keyframe every 4th.
    /// </summary>
    private static Index Build()
    {
        var output = new MemoryStream();
        using (var writer = new FrameIndexWriter(output, "x.mcap", leaveOpen: true))
        {
            var indexer = new FrameIndexer(writer);
            ulong offset = 0;
            for (var i = 1; i <= 20; i++)
            {
                var t = (ulong)i * 10;
                var key = t switch { 30 => KeyframeKind.Idr, 90 => KeyframeKind.RecoveryPoint, 150 => KeyframeKind.Idr, _ => KeyframeKind.None };
                if (t == 130) t = 120; // a duplicate timestamp
                indexer.Append(indexer.Next("/a", VideoCodec.H264, FrameStore.Sidecar, "a.h264", t, t, key, 100, 0, 0) with { Offset = offset });
                offset += 100;
                if (i % 2 == 0)
                {
                    var b = (ulong)i * 10 - 5;
                    indexer.Append(indexer.Next("/b", VideoCodec.H265, FrameStore.Sidecar, "b.h265", b, b,
                        i % 8 == 2 ? KeyframeKind.Cra : KeyframeKind.None, 10, 0, 0));
                }
            }
        }
        return Index.Parse(output.ToArray());
    }

    private static ulong[] Times(ArraySegment<FrameIndexEntry> frames) => frames.Select(f => f.LogTime).ToArray();

    [Fact]
    public void Seek_before_the_first_frame_finds_nothing()
    {
        Assert.Equal(0, Build().FramesForSeek("/a", 5).Count);
    }

    [Fact]
    public void Seek_before_the_first_keyframe_finds_nothing_decodable()
    {
        var index = Build();
        Assert.Equal(0, index.FramesForSeek("/a", 20).Count);
        Assert.Equal(0, index.FramesForSeek("/a", 29).Count);
    }

    [Fact]
    public void Seek_exactly_at_a_keyframe_is_that_keyframe_alone()
    {
        var index = Build();
        Assert.Equal([30UL], Times(index.FramesForSeek("/a", 30)));
        Assert.Equal([150UL], Times(index.FramesForSeek("/a", 150)));
        Assert.Equal(KeyframeKind.RecoveryPoint, Assert.Single(index.FramesForSeek("/a", 90)).Keyframe);
    }

    [Fact]
    public void Seek_between_keyframes_runs_from_the_previous_keyframe_through_time()
    {
        var index = Build();
        Assert.Equal([30UL, 40, 50, 60], Times(index.FramesForSeek("/a", 65)));
        Assert.Equal([90UL, 100, 110, 120, 120], Times(index.FramesForSeek("/a", 120))); // both frames at 120
        Assert.Equal([90UL, 100, 110, 120, 120, 140], Times(index.FramesForSeek("/a", 149)));
    }

    [Fact]
    public void Seek_after_the_last_frame_runs_from_the_last_keyframe_to_the_end()
    {
        Assert.Equal([150UL, 160, 170, 180, 190, 200], Times(Build().FramesForSeek("/a", 10_000)));
    }

    [Fact]
    public void Interleaved_tracks_are_searched_separately()
    {
        var index = Build();
        var b = index.FramesForSeek("/b", 120);
        Assert.All(b, f => Assert.Equal(index.FindTrack("/b")!.TrackId, f.TrackId));
        // /b keyframes at t = 15, 95, 175 (i = 2, 10, 18).
        Assert.Equal([95UL, 115], Times(b));
        Assert.Equal([15UL], Times(index.FramesForSeek("/b", 15)));
        Assert.Equal(0, index.FramesForSeek("/b", 14).Count);
        Assert.Equal(0, index.FramesForSeek("/c", 100).Count);
    }

    [Fact]
    public void A_range_starts_at_the_keyframe_before_start_or_else_the_first_one_after()
    {
        var index = Build();
        Assert.Equal([30UL, 40, 50, 60, 70, 80, 90, 100], Times(index.FramesForRange("/a", 45, 100)));
        Assert.Equal([30UL, 40], Times(index.FramesForRange("/a", 0, 40)));   // nothing decodable before 30
        Assert.Equal(0, index.FramesForRange("/a", 0, 25).Count);
        Assert.Equal(0, index.FramesForRange("/a", 100, 50).Count);
    }

    [Fact]
    public void Seek_results_are_slices_not_copies()
    {
        var index = Build();
        var seek = index.FramesForSeek("/a", 65);
        Assert.Same(index.FramesOf(seek[0].TrackId).Array, seek.Array);
    }
}
