namespace Recorder.Recording;

/// <summary>
/// The recorder's receive clock: wall-clock time (ns since the Unix epoch) carried forward by the
/// monotonic clock, so it never runs backwards even when NTP steps the system clock. Steps are
/// detected by comparing against the wall clock now and then; a forward step re-anchors at once,
/// a backward step re-anchors too but starts a new <see cref="Epoch"/>, and the writer starts a
/// new file for the new epoch, so log_time never goes backwards within a file.
/// </summary>
public sealed class RecordingClock
{
    private readonly TimeProvider _time;
    private readonly long _checkIntervalTicks;
    private readonly ulong _stepThresholdNs;
    private long _anchorTicks;
    private ulong _anchorNs;
    private long _lastCheckTicks;

    public RecordingClock(TimeProvider? time = null, TimeSpan? stepThreshold = null, TimeSpan? checkInterval = null)
    {
        _time = time ?? TimeProvider.System;
        _stepThresholdNs = (ulong)(stepThreshold ?? TimeSpan.FromMilliseconds(100)).Ticks * 100;
        _checkIntervalTicks = (long)((checkInterval ?? TimeSpan.FromMilliseconds(250)).TotalSeconds * _time.TimestampFrequency);
        Anchor();
    }

    /// <summary>The clock underneath: the recording stage keeps all its intervals by it (a fake one in tests).</summary>
    public TimeProvider Time => _time;

    /// <summary>Bumped by every backward step: times of different epochs must not share a file.</summary>
    public int Epoch { get; private set; }

    /// <summary>The last step seen, for the writer to record as an event. Cleared by <see cref="TakeStep"/>.</summary>
    public ClockStep? PendingStep { get; private set; }

    private static ulong WallNs(DateTimeOffset now) => (ulong)(now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    private void Anchor()
    {
        _anchorTicks = _time.GetTimestamp();
        _anchorNs = WallNs(_time.GetUtcNow());
        _lastCheckTicks = _anchorTicks;
    }

    /// <summary>Now, in ns since the Unix epoch. Not thread-safe: the queue calls it under its lock.</summary>
    public ulong Now()
    {
        var ticks = _time.GetTimestamp();
        if (ticks - _lastCheckTicks >= _checkIntervalTicks) CheckForStep(ticks);
        return _anchorNs + Elapsed(ticks);
    }

    private ulong Elapsed(long ticks) => (ulong)((ticks - _anchorTicks) * (1_000_000_000.0 / _time.TimestampFrequency));

    private void CheckForStep(long ticks)
    {
        _lastCheckTicks = ticks;
        var ours = _anchorNs + Elapsed(ticks);
        var wall = WallNs(_time.GetUtcNow());
        var delta = (long)(wall - ours);
        if ((ulong)Math.Abs(delta) < _stepThresholdNs) return;
        Anchor();
        if (delta < 0) Epoch++;
        PendingStep = new ClockStep(ours, wall, delta, Epoch);
    }

    public ClockStep? TakeStep()
    {
        var step = PendingStep;
        PendingStep = null;
        return step;
    }
}

/// <summary>The system clock moved by <see cref="DeltaNs"/> (positive: forward) relative to the monotonic clock.</summary>
public sealed record ClockStep(ulong BeforeNs, ulong AfterNs, long DeltaNs, int Epoch);
