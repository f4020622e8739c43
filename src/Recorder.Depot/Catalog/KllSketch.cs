using System.Buffers.Binary;

namespace Recorder.Depot.Catalog;

/// <summary>
/// A KLL quantile sketch (Karnin, Lang, Liberty 2016): a stack of compactors, level h holding
/// items of weight 2^h. When the sketch is full, the lowest full level is sorted and every other
/// item (odd or even positions, by a coin flip) moves up one level with twice the weight. Level
/// capacities shrink geometrically below the top (c = 2/3), never under <see cref="MinWidth"/>,
/// so the sketch holds about k / (1 − c) = 3k items whatever the stream's length.
/// <para>
/// Error: the normalized rank error of a quantile is, with high probability, at most about
/// <see cref="RankErrorBound"/>(k) = 2.446 / k^0.9433 (Apache DataSketches' fit of KLL's error at
/// 99 % confidence; 0.0165 at the default k = 200). Two sketches merge exactly into one with the
/// same guarantee over the union (the compactors are concatenated level by level, then compacted).
/// The coin flips come from a seeded generator kept in the sketch, so the same input gives the
/// same sketch (and the same answers) every time.
/// </para>
/// <para>Serialized form (little-endian; see proto/depot_catalog.md): see <see cref="Serialize"/>.</para>
/// </summary>
public sealed class KllSketch
{
    /// <summary>The default size parameter: 0.0165 rank error, about 600 doubles (5 KB) per sketch.</summary>
    public const int DefaultK = 200;

    /// <summary>No level is narrower than this (as in DataSketches): short levels would compact too often and add error.</summary>
    public const int MinWidth = 8;

    private const double Shrink = 2.0 / 3.0;
    private const byte FormatVersion = 1;

    private readonly List<List<double>> _levels = [[]];
    private ulong _random;
    private int _capacityTotal;

    public KllSketch(int k = DefaultK, ulong seed = 0x9E3779B97F4A7C15UL)
    {
        if (k < MinWidth || k > 65535) throw new ArgumentOutOfRangeException(nameof(k), $"k is from {MinWidth} to 65535, not {k}");
        K = k;
        _random = seed == 0 ? 1 : seed;
        _capacityTotal = Capacity(0);
    }

    /// <summary>The size parameter.</summary>
    public int K { get; }

    /// <summary>How many values the sketch has seen (over all merges).</summary>
    public long Count { get; private set; }

    public double Min { get; private set; } = double.NaN;
    public double Max { get; private set; } = double.NaN;

    /// <summary>How many items are retained (memory is about 8 bytes each).</summary>
    public int Retained => _levels.Sum(l => l.Count);

    /// <summary>The rank error bound for a sketch of size k: 2.446 / k^0.9433 (DataSketches' KLL fit, 99 % confidence).</summary>
    public static double RankErrorBound(int k) => 2.446 / Math.Pow(k, 0.9433);

    /// <summary>Adds one value (NaN is ignored: it has no rank).</summary>
    public void Add(double value)
    {
        if (double.IsNaN(value)) return;
        if (Count == 0 || value < Min) Min = value;
        if (Count == 0 || value > Max) Max = value;
        Count++;
        _levels[0].Add(value);
        if (Retained >= _capacityTotal) Compress();
    }

    /// <summary>Merges <paramref name="other"/> into this sketch (it is left unchanged). The k's must match.</summary>
    public void Merge(KllSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.K != K) throw new ArgumentException($"cannot merge a sketch of k={other.K} into one of k={K}", nameof(other));
        if (other.Count == 0) return;
        while (_levels.Count < other._levels.Count) Grow();
        for (var h = 0; h < other._levels.Count; h++) _levels[h].AddRange(other._levels[h]);
        Min = Count == 0 ? other.Min : Math.Min(Min, other.Min);
        Max = Count == 0 ? other.Max : Math.Max(Max, other.Max);
        Count += other.Count;
        while (Retained >= _capacityTotal) Compress();
    }

    /// <summary>The normalized rank of <paramref name="value"/>: the estimated fraction of values ≤ it.</summary>
    public double Rank(double value)
    {
        if (Count == 0) return double.NaN;
        long weight = 0;
        for (var h = 0; h < _levels.Count; h++)
            foreach (var item in _levels[h])
                if (item <= value) weight += 1L << h;
        return (double)weight / TotalWeight();
    }

    /// <summary>The estimated q-quantile (0 ≤ q ≤ 1): the smallest retained value whose rank reaches q; the exact min and max at 0 and 1.</summary>
    public double Quantile(double q)
    {
        if (Count == 0) return double.NaN;
        if (q <= 0) return Min;
        if (q >= 1) return Max;
        var items = new List<(double Value, long Weight)>(Retained);
        for (var h = 0; h < _levels.Count; h++)
            foreach (var item in _levels[h]) items.Add((item, 1L << h));
        items.Sort((a, b) => a.Value.CompareTo(b.Value));
        var target = q * TotalWeight();
        long cumulative = 0;
        foreach (var (value, weight) in items)
        {
            cumulative += weight;
            if (cumulative >= target) return value;
        }
        return Max;
    }

    // Compaction conserves weight (2p items of weight 2^h become p of weight 2^(h+1); an odd one stays), so the retained weight is the count.
    private long TotalWeight() => Count;

    private int Capacity(int level)
    {
        var depth = _levels.Count - level - 1;
        return Math.Max(MinWidth, (int)Math.Ceiling(Math.Pow(Shrink, depth) * K));
    }

    private void Grow()
    {
        _levels.Add([]);
        _capacityTotal = 0;
        for (var h = 0; h < _levels.Count; h++) _capacityTotal += Capacity(h);
    }

    private void Compress()
    {
        for (var h = 0; h < _levels.Count; h++)
        {
            if (_levels[h].Count < Capacity(h)) continue;
            if (h + 1 == _levels.Count) Grow();
            Compact(_levels[h], _levels[h + 1]);
            if (Retained < _capacityTotal) break;
        }
    }

    /// <summary>Sorts the level and moves every other item up (odd or even positions by a coin flip); an odd item out stays.</summary>
    private void Compact(List<double> level, List<double> up)
    {
        level.Sort();
        var keepLast = level.Count % 2 == 1;
        var last = keepLast ? level[^1] : 0;
        var pairs = level.Count / 2;
        var offset = (int)(NextRandom() & 1);
        for (var i = 0; i < pairs; i++) up.Add(level[2 * i + offset]);
        level.Clear();
        if (keepLast) level.Add(last);
    }

    private ulong NextRandom()
    {
        // xorshift64*: small, fast, and its state serializes with the sketch so answers stay reproducible.
        _random ^= _random >> 12;
        _random ^= _random << 25;
        _random ^= _random >> 27;
        return _random * 0x2545F4914F6CDD1DUL;
    }

    /// <summary>
    /// The sketch as bytes: version (u8 = 1), k (u16), level count (u8), count (i64), min (f64),
    /// max (f64), generator state (u64), then per level its item count (u32) and items (f64 each).
    /// </summary>
    public byte[] Serialize()
    {
        var size = 1 + 2 + 1 + 8 + 8 + 8 + 8 + _levels.Sum(l => 4 + 8 * l.Count);
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        span[0] = FormatVersion;
        BinaryPrimitives.WriteUInt16LittleEndian(span[1..], (ushort)K);
        span[3] = checked((byte)_levels.Count);
        BinaryPrimitives.WriteInt64LittleEndian(span[4..], Count);
        BinaryPrimitives.WriteDoubleLittleEndian(span[12..], Min);
        BinaryPrimitives.WriteDoubleLittleEndian(span[20..], Max);
        BinaryPrimitives.WriteUInt64LittleEndian(span[28..], _random);
        var at = 36;
        foreach (var level in _levels)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)level.Count);
            at += 4;
            foreach (var item in level)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(span[at..], item);
                at += 8;
            }
        }
        return bytes;
    }

    /// <summary>Reads what <see cref="Serialize"/> wrote; anything else is an <see cref="InvalidDataException"/>.</summary>
    public static KllSketch Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 36) throw new InvalidDataException($"a KLL sketch is at least 36 bytes, got {bytes.Length}");
        if (bytes[0] != FormatVersion) throw new InvalidDataException($"KLL sketch format {bytes[0]} is not known (this build reads {FormatVersion})");
        var k = BinaryPrimitives.ReadUInt16LittleEndian(bytes[1..]);
        if (k < MinWidth) throw new InvalidDataException($"KLL sketch k={k} is below {MinWidth}");
        var sketch = new KllSketch(k);
        var levels = bytes[3];
        if (levels == 0) throw new InvalidDataException("a KLL sketch has at least one level");
        while (sketch._levels.Count < levels) sketch.Grow();
        sketch.Count = BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]);
        sketch.Min = BinaryPrimitives.ReadDoubleLittleEndian(bytes[12..]);
        sketch.Max = BinaryPrimitives.ReadDoubleLittleEndian(bytes[20..]);
        sketch._random = BinaryPrimitives.ReadUInt64LittleEndian(bytes[28..]);
        var at = 36;
        foreach (var level in sketch._levels)
        {
            if (bytes.Length < at + 4) throw new InvalidDataException("the KLL sketch is cut short");
            var n = BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]);
            at += 4;
            if ((ulong)bytes.Length < (ulong)at + 8UL * n) throw new InvalidDataException("the KLL sketch is cut short");
            for (var i = 0; i < n; i++, at += 8) level.Add(BinaryPrimitives.ReadDoubleLittleEndian(bytes[at..]));
        }
        if (at != bytes.Length) throw new InvalidDataException($"the KLL sketch has {bytes.Length - at} bytes after its last level");
        return sketch;
    }
}
