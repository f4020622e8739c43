namespace Recorder.Offload;

/// <summary>
/// Cancels a request when no byte has moved for the timeout. Every block written or read kicks
/// it; there is no total timeout, so a large upload on a slow link is never cut for being long.
/// </summary>
internal sealed class InactivityWatchdog : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _cts;
    private readonly ITimer _timer;
    private long _last;

    public InactivityWatchdog(TimeSpan timeout, TimeProvider time, CancellationToken outer)
    {
        _timeout = timeout;
        _time = time;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _last = time.GetTimestamp();
        var period = TimeSpan.FromTicks(Math.Max(timeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10));
        _timer = time.CreateTimer(static s => ((InactivityWatchdog)s!).Check(), this, period, period);
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>True once the watchdog (not the caller) cancelled.</summary>
    public bool Fired { get; private set; }

    public void Kick() => Volatile.Write(ref _last, _time.GetTimestamp());

    private void Check()
    {
        if (_cts.IsCancellationRequested || _time.GetElapsedTime(Volatile.Read(ref _last)) < _timeout) return;
        Fired = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        _cts.Dispose();
    }
}
