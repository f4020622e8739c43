namespace Recorder.Offload;

/// <summary>
/// A token bucket shared by every upload: <c>offload.bandwidth</c> bytes per second in total,
/// with a burst of 50 ms worth (at least 64 KiB), so the link, not a burst, sets the pace. 0 is unlimited.
/// </summary>
public sealed class BandwidthLimiter
{
    private readonly long _bytesPerSecond;
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private double _tokens;
    private long _last;

    public BandwidthLimiter(long bytesPerSecond, TimeProvider? time = null)
    {
        _bytesPerSecond = bytesPerSecond;
        _time = time ?? TimeProvider.System;
        _last = _time.GetTimestamp();
        _tokens = Burst;
    }

    public long BytesPerSecond => _bytesPerSecond;

    private double Burst => Math.Max(_bytesPerSecond / 20.0, 64 * 1024);

    /// <summary>Waits until <paramref name="bytes"/> may be sent. Never waits when unlimited.</summary>
    public async ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        if (_bytesPerSecond <= 0) return;
        while (true)
        {
            TimeSpan wait;
            lock (_lock)
            {
                var now = _time.GetTimestamp();
                _tokens = Math.Min(Burst, _tokens + _time.GetElapsedTime(_last, now).TotalSeconds * _bytesPerSecond);
                _last = now;
                if (_tokens >= bytes || _tokens >= Burst)
                {
                    _tokens -= bytes;
                    return;
                }
                wait = TimeSpan.FromSeconds((bytes - _tokens) / _bytesPerSecond);
            }
            await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }
}
