namespace Recorder.Recording.Tests;

/// <summary>The keyframe-aligned split's state machine on its own: tracks are plain objects, time is a number.</summary>
public class KeyframeSplitTests
{
    private sealed class Track(string name)
    {
        public override string ToString() => name;
    }

    private static readonly Track Front = new("front"), Rear = new("rear"), Quiet = new("quiet");

    private static HeldFrame Frame(int length) => new(1, 0, 10, 10, new byte[length], length);

    [Fact]
    public void Without_a_track_to_wait_for_the_split_does_not_wait()
    {
        var split = new KeyframeSplit<Track>();
        Assert.False(split.Begin("size", 0, 100, []));
        Assert.False(split.IsPending);
    }

    [Fact]
    public void Frames_stay_in_the_current_file_until_their_tracks_keyframe()
    {
        var split = new KeyframeSplit<Track>();
        Assert.True(split.Begin("duration", 0, 100, [Front, Rear]));
        Assert.Equal(SplitRoute.CurrentFile, split.Route(Front, keyframe: false));
        Assert.Equal(SplitRoute.CurrentFile, split.Route(Quiet, keyframe: true)); // not waited for: it stays
        Assert.Equal(SplitRoute.Hold, split.Route(Front, keyframe: true)); // its GOP now belongs to the next file
        Assert.Equal(SplitRoute.Hold, split.Route(Front, keyframe: false));
        Assert.False(split.IsAwaiting(Front));
        Assert.True(split.IsAwaiting(Rear));
        Assert.Equal(SplitRoute.CurrentFile, split.Route(Rear, keyframe: false));
    }

    [Fact]
    public void The_last_awaited_keyframe_completes_the_split_with_the_held_frames_in_order()
    {
        var split = new KeyframeSplit<Track>();
        split.Begin("command", 5, 100, [Front, Rear]);
        split.Route(Front, keyframe: true);
        Assert.False(split.Hold(Frame(10) with { Sequence = 1 }, maxBytes: 1000));
        Assert.False(split.Hold(Frame(10) with { Sequence = 2 }, maxBytes: 1000));
        Assert.Equal(SplitRoute.Complete, split.Route(Rear, keyframe: true));

        var finished = split.Finish();
        Assert.Equal("command", finished.Reason);
        Assert.Equal(5, finished.StartedTicks);
        Assert.Equal([1u, 2u], finished.Held.Select(h => h.Sequence));
        Assert.Empty(finished.NotReady);
        Assert.False(split.IsPending);
        Assert.Equal(0, split.HeldBytes);
    }

    [Fact]
    public void Held_bytes_past_the_cap_expire_the_split()
    {
        var split = new KeyframeSplit<Track>();
        split.Begin("size", 0, 100, [Front, Rear]);
        split.Route(Front, keyframe: true);
        Assert.False(split.Hold(Frame(600), maxBytes: 1000));
        Assert.True(split.Hold(Frame(600), maxBytes: 1000));
        Assert.Equal([Rear], split.Finish().NotReady); // the track whose keyframe never came is reported
    }

    [Fact]
    public void The_deadline_passes_on_the_clock_it_is_given()
    {
        var split = new KeyframeSplit<Track>();
        Assert.False(split.IsPastDeadline(1_000)); // idle: nothing to expire
        split.Begin("size", 0, 100, [Front]);
        Assert.False(split.IsPastDeadline(99));
        Assert.True(split.IsPastDeadline(100));
    }

    [Fact]
    public void A_finished_split_can_be_followed_by_the_next_one()
    {
        var split = new KeyframeSplit<Track>();
        split.Begin("size", 0, 100, [Front]);
        split.Route(Front, keyframe: true);
        split.Finish();
        Assert.True(split.Begin("duration", 200, 300, [Front]));
        Assert.True(split.IsAwaiting(Front)); // nothing of the last split is left over
        Assert.Throws<InvalidOperationException>(() => split.Begin("command", 200, 300, [Rear]));
    }
}
