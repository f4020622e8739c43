namespace Recorder.Offload;

/// <summary>
/// In or out of depot range, with hysteresis: <c>enterAfter</c> consecutive successes to enter,
/// <c>leaveAfter</c> consecutive failures to leave. A success resets the failure run and the
/// other way round. Not thread-safe; the service holds its lock.
/// </summary>
public sealed class Hysteresis
{
    private readonly int _enterAfter;
    private readonly int _leaveAfter;

    public Hysteresis(int enterAfter, int leaveAfter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(enterAfter, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(leaveAfter, 1);
        _enterAfter = enterAfter;
        _leaveAfter = leaveAfter;
    }

    public bool InRange { get; private set; }

    /// <summary>The current run of successes (0 after a failure).</summary>
    public int Successes { get; private set; }

    /// <summary>The current run of failures (0 after a success).</summary>
    public int Failures { get; private set; }

    /// <summary>Counts one outcome; returns true when it changed <see cref="InRange"/>.</summary>
    public bool Observe(bool success)
    {
        if (success)
        {
            Successes++;
            Failures = 0;
            if (!InRange && Successes >= _enterAfter)
            {
                InRange = true;
                return true;
            }
        }
        else
        {
            Failures++;
            Successes = 0;
            if (InRange && Failures >= _leaveAfter)
            {
                InRange = false;
                return true;
            }
        }
        return false;
    }

    /// <summary>An operator's decision (<c>recorder offload now</c>, the end of a manual session). Returns true when it changed.</summary>
    public bool Force(bool inRange)
    {
        var changed = InRange != inRange;
        InRange = inRange;
        Successes = 0;
        Failures = 0;
        return changed;
    }
}

/// <summary>Capped exponential backoff with full jitter: attempt n waits a uniform time in [d/2, d], d = min(max, min·2ⁿ⁻¹).</summary>
public static class Backoff
{
    public static TimeSpan Delay(int attempt, TimeSpan min, TimeSpan max, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (attempt < 1) attempt = 1;
        var ceiling = min.Ticks * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(ceiling, max.Ticks);
        return TimeSpan.FromTicks((long)(capped / 2 + random.NextDouble() * capped / 2));
    }
}
