namespace Recorder.Recording;

/// <summary>What to do with a video frame while a split is pending.</summary>
internal enum SplitRoute
{
    /// <summary>Into the file being finished: its track's keyframe has not come yet (or the track is not waited for).</summary>
    CurrentFile,

    /// <summary>Held for the next file: its track's keyframe came, others are still awaited.</summary>
    Hold,

    /// <summary>The last awaited keyframe: open the next file now (the held frames first), then write this frame there.</summary>
    Complete,
}

/// <summary>A video frame held for the next file (a pooled copy: the caller returns <see cref="Data"/> to the pool).</summary>
internal readonly record struct HeldFrame(ushort ChannelId, uint Sequence, ulong LogTime, ulong PublishTime, byte[] Data, int Length);

/// <summary>How a split ended: the frames held for the new file, and the tracks whose keyframe never came.</summary>
internal sealed record FinishedSplit<TTrack>(string Reason, long StartedTicks, IReadOnlyList<HeldFrame> Held, IReadOnlyList<TTrack> NotReady);

/// <summary>
/// The keyframe-aligned split, as a state machine of its own. Idle until <see cref="Begin"/>; then
/// each awaited video track keeps writing to the current file until its next keyframe, from which
/// on its frames are held for the next file; the last awaited keyframe completes the split. A split
/// expires when its deadline passes on the writer's clock or its held bytes pass their cap, and
/// goes ahead then without the missing keyframes. It decides; the writer opens files and writes.
/// </summary>
/// <typeparam name="TTrack">The writer's handle for a video track (compared by reference).</typeparam>
internal sealed class KeyframeSplit<TTrack> where TTrack : class
{
    private List<TTrack> _waiting = new();
    private List<TTrack> _ready = new();
    private List<HeldFrame> _held = new();

    /// <summary>The reason of the pending split (size, duration, command…); null while idle.</summary>
    public string? Reason { get; private set; }

    public bool IsPending => Reason is not null;

    public long StartedTicks { get; private set; }
    public long DeadlineTicks { get; private set; }
    public long HeldBytes { get; private set; }

    /// <summary>The log time of the first held frame, if any: the next file starts no later.</summary>
    public ulong? FirstHeldLogTime => _held.Count > 0 ? _held[0].LogTime : null;

    /// <summary>
    /// Starts a split that waits for the keyframes of <paramref name="tracks"/> until
    /// <paramref name="deadlineTicks"/>. False (and still idle) when there is no track to wait for:
    /// the caller splits at once.
    /// </summary>
    public bool Begin(string reason, long nowTicks, long deadlineTicks, IReadOnlyList<TTrack> tracks)
    {
        if (IsPending) throw new InvalidOperationException("a split is already pending");
        if (tracks.Count == 0) return false;
        Reason = reason;
        StartedTicks = nowTicks;
        DeadlineTicks = deadlineTicks;
        for (var i = 0; i < tracks.Count; i++) _waiting.Add(tracks[i]);
        return true;
    }

    /// <summary>True while <paramref name="track"/>'s keyframe is awaited: only then does a frame's kind matter.</summary>
    public bool IsAwaiting(TTrack track) => _waiting.Contains(track);

    /// <summary>Where a frame of <paramref name="track"/> goes; a keyframe moves its track from waiting to ready.</summary>
    public SplitRoute Route(TTrack track, bool keyframe)
    {
        if (_ready.Contains(track)) return SplitRoute.Hold;
        // Still the old file's GOP until this track's keyframe (and a track not waited for stays there).
        if (!keyframe || !_waiting.Remove(track)) return SplitRoute.CurrentFile;
        if (_waiting.Count == 0) return SplitRoute.Complete;
        _ready.Add(track);
        return SplitRoute.Hold;
    }

    /// <summary>Keeps a frame for the next file. True when the held bytes now exceed <paramref name="maxBytes"/>: the split must go ahead (expired).</summary>
    public bool Hold(HeldFrame frame, long maxBytes)
    {
        _held.Add(frame);
        HeldBytes += frame.Length;
        return HeldBytes > maxBytes;
    }

    /// <summary>True once the deadline has passed: the keyframes did not come in time.</summary>
    public bool IsPastDeadline(long nowTicks) => IsPending && nowTicks >= DeadlineTicks;

    /// <summary>Ends the pending split (completed, expired, or cut short by a file closing for another reason) and returns to idle.</summary>
    public FinishedSplit<TTrack> Finish()
    {
        var finished = new FinishedSplit<TTrack>(Reason ?? throw new InvalidOperationException("no split is pending"), StartedTicks, _held, _waiting);
        Reason = null;
        HeldBytes = 0;
        _held = new List<HeldFrame>();
        _waiting = new List<TTrack>();
        _ready.Clear();
        return finished;
    }
}
