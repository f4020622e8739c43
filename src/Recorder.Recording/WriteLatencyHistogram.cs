namespace Recorder.Recording;

/// <summary>
/// How long chunk writes (write + flush/fsync of one chunk) took since start, as cumulative
/// buckets: the shape Prometheus histograms have, so a dashboard can compute quantiles over any
/// window. Written by the writer thread once per chunk (not per message); read racily by status.
/// </summary>
public sealed class WriteLatencyHistogram
{
    /// <summary>Upper bounds in seconds; the last bucket (+Inf) is <see cref="Count"/>.</summary>
    public static readonly double[] BoundsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly long[] _counts = new long[BoundsSeconds.Length];
    private long _count;
    private double _sumSeconds;

    public void Observe(double seconds)
    {
        for (var i = 0; i < BoundsSeconds.Length; i++)
            if (seconds <= BoundsSeconds[i]) Interlocked.Increment(ref _counts[i]);
        Volatile.Write(ref _sumSeconds, Volatile.Read(ref _sumSeconds) + seconds);
        Interlocked.Increment(ref _count);
    }

    /// <summary>A copy: cumulative counts per bound (≤ bound), the total count and the sum.</summary>
    public WriteLatencySnapshot Snapshot()
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++) counts[i] = Interlocked.Read(ref _counts[i]);
        return new WriteLatencySnapshot(counts, Interlocked.Read(ref _count), Volatile.Read(ref _sumSeconds));
    }
}

/// <summary>Cumulative bucket counts for <see cref="WriteLatencyHistogram.BoundsSeconds"/>, the count of all writes and their sum in seconds.</summary>
public sealed record WriteLatencySnapshot(IReadOnlyList<long> CumulativeCounts, long Count, double SumSeconds)
{
    public static readonly WriteLatencySnapshot Empty = new(new long[WriteLatencyHistogram.BoundsSeconds.Length], 0, 0);
}
