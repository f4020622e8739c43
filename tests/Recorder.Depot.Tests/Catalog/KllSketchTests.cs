using Recorder.Depot.Catalog;
using Xunit.Abstractions;

namespace Recorder.Depot.Tests.Catalog;

/// <summary>The KLL sketch on its own: rank error against its stated bound over many seeds (deterministic), exact merge bookkeeping, serialization.</summary>
public sealed class KllSketchTests(ITestOutputHelper output)
{
    private static readonly double[] Probes = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

    /// <summary>The worst normalized rank error of the sketch's quantiles against the exact sorted data: distance from q to [rank(&lt; v), rank(≤ v)].</summary>
    internal static double WorstRankError(Func<double, double> quantile, double[] sorted, IEnumerable<double> probes)
    {
        var worst = 0.0;
        foreach (var q in probes)
        {
            var v = quantile(q);
            var below = LowerBound(sorted, v);
            var atOrBelow = UpperBound(sorted, v);
            var lo = (double)below / sorted.Length;
            var hi = (double)atOrBelow / sorted.Length;
            var error = q < lo ? lo - q : q > hi ? q - hi : 0;
            worst = Math.Max(worst, error);
        }
        return worst;
    }

    private static int LowerBound(double[] a, double v)
    {
        int lo = 0, hi = a.Length;
        while (lo < hi) { var m = (lo + hi) / 2; if (a[m] < v) lo = m + 1; else hi = m; }
        return lo;
    }

    private static int UpperBound(double[] a, double v)
    {
        int lo = 0, hi = a.Length;
        while (lo < hi) { var m = (lo + hi) / 2; if (a[m] <= v) lo = m + 1; else hi = m; }
        return lo;
    }

    [Fact]
    public void Rank_error_stays_within_the_stated_bound_over_many_seeds()
    {
        var bound = KllSketch.RankErrorBound(KllSketch.DefaultK);
        Assert.InRange(bound, 0.016, 0.017); // 2.446 / 200^0.9433
        const int n = 50_000;
        var worst = 0.0;
        var errors = new List<double>();
        for (var seed = 1; seed <= 60; seed++)
        {
            var random = new Random(seed);
            var sketch = new KllSketch(seed: (ulong)seed * 7919);
            var values = new double[n];
            for (var i = 0; i < n; i++)
            {
                // Uniform for half the seeds, a skewed (exponential) stream in sorted runs for the rest: the sketch must not depend on order or shape.
                values[i] = seed % 2 == 0 ? random.NextDouble() * 2 - 1 : -Math.Log(1 - random.NextDouble());
                if (seed % 4 == 1 && i > 0 && i % 1000 != 0) values[i] = values[i - 1] + random.NextDouble() * 1e-3;
            }
            foreach (var v in values) sketch.Add(v);
            Array.Sort(values);
            var error = WorstRankError(sketch.Quantile, values, Probes);
            errors.Add(error);
            worst = Math.Max(worst, error);
            Assert.Equal(n, sketch.Count);
            Assert.Equal(values[0], sketch.Min);
            Assert.Equal(values[^1], sketch.Max);
            Assert.InRange(sketch.Retained, 1, 3 * KllSketch.DefaultK + 8 * 20); // bounded memory, whatever n
        }
        output.WriteLine($"KLL k={KllSketch.DefaultK}: worst rank error over 60 seeds × {Probes.Length} quantiles = {worst:0.#####} (mean of per-seed worst {errors.Average():0.#####}); stated bound {bound:0.#####}");
        Assert.True(worst <= bound, $"rank error {worst} exceeds the stated bound {bound}");
        Assert.True(worst > 0, "a sketch of 50,000 values in ~600 slots cannot be exact: a zero error means the test measured nothing");
    }

    [Fact]
    public void Merged_sketches_answer_for_the_union_within_the_bound()
    {
        var bound = KllSketch.RankErrorBound(KllSketch.DefaultK);
        var worst = 0.0;
        for (var seed = 1; seed <= 20; seed++)
        {
            var random = new Random(1000 + seed);
            var parts = Enumerable.Range(0, 5).Select(p => new KllSketch(seed: (ulong)(seed * 10 + p))).ToArray();
            var all = new List<double>();
            for (var p = 0; p < parts.Length; p++)
            {
                // Parts of different sizes and ranges, as days and devices are.
                var count = 3_000 * (p + 1);
                for (var i = 0; i < count; i++)
                {
                    var v = random.NextDouble() * 2 - 1 + p * 0.25;
                    parts[p].Add(v);
                    all.Add(v);
                }
            }
            var merged = new KllSketch(seed: (ulong)seed);
            foreach (var part in parts) merged.Merge(part);
            Assert.Equal(all.Count, merged.Count);
            var sorted = all.Order().ToArray();
            Assert.Equal(sorted[0], merged.Min);
            Assert.Equal(sorted[^1], merged.Max);
            Assert.Equal(3_000 * 3, parts[2].Count); // merging leaves its sources unchanged
            worst = Math.Max(worst, WorstRankError(merged.Quantile, sorted, Probes));
        }
        output.WriteLine($"merged (5 parts, 45,000 values): worst rank error over 20 seeds = {worst:0.#####}; bound {bound:0.#####}");
        Assert.True(worst <= bound, $"merged rank error {worst} exceeds {bound}");
        Assert.Throws<ArgumentException>(() => new KllSketch(100).Merge(new KllSketch(200)));
    }

    [Fact]
    public void Serialization_round_trips_exactly_and_refuses_damage()
    {
        var sketch = new KllSketch(seed: 42);
        var random = new Random(7);
        for (var i = 0; i < 30_000; i++) sketch.Add(random.NextDouble());
        var bytes = sketch.Serialize();
        var back = KllSketch.Deserialize(bytes);
        Assert.Equal(bytes, back.Serialize());
        foreach (var q in Probes) Assert.Equal(sketch.Quantile(q), back.Quantile(q));
        Assert.Equal((sketch.Count, sketch.Min, sketch.Max, sketch.K), (back.Count, back.Min, back.Max, back.K));
        // Both continue identically (the generator state travels with the sketch).
        for (var i = 0; i < 10_000; i++) { var v = random.NextDouble(); sketch.Add(v); back.Add(v); }
        Assert.Equal(sketch.Serialize(), back.Serialize());
        output.WriteLine($"serialized size for 40,000 values: {bytes.Length} bytes");

        Assert.Throws<InvalidDataException>(() => KllSketch.Deserialize(bytes.AsSpan(0, bytes.Length - 3)));
        Assert.Throws<InvalidDataException>(() => KllSketch.Deserialize([.. bytes, 0]));
        var wrongVersion = bytes.ToArray();
        wrongVersion[0] = 9;
        Assert.Throws<InvalidDataException>(() => KllSketch.Deserialize(wrongVersion));
        Assert.Throws<InvalidDataException>(() => KllSketch.Deserialize([1, 2]));
        var empty = KllSketch.Deserialize(new KllSketch().Serialize());
        Assert.Equal(0, empty.Count);
        Assert.True(double.IsNaN(empty.Quantile(0.5)));
    }
}
