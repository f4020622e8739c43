namespace Recorder.Video;

/// <summary>
/// The latest VPS/SPS/PPS seen on one stream. Many hardware encoders send them once; a keyframe
/// written without them (or the first one of a new file) gets the cached copies prepended, so that
/// every stored keyframe decodes on its own.
/// </summary>
/// <remarks>
/// Per kind, the cache holds the units of that kind from the latest AU that carried any: an AU
/// with SPS 0 and SPS 1 replaces both, a later AU with only SPS 1 leaves only SPS 1. Cached units
/// are stored with 4-byte start codes. Not thread-safe: one cache per stream.
/// </remarks>
public sealed class ParameterSetCache(VideoCodec codec)
{
    private const int Vps = 0, Sps = 1, Pps = 2, Kinds = 3;
    private static ReadOnlySpan<byte> StartCode => [0, 0, 0, 1];

    private readonly byte[][] _cached = [[], [], []];
    private readonly int[] _cachedLength = new int[Kinds];
    private byte[] _missing = [];

    public VideoCodec Codec => codec;

    /// <summary>Remembers the parameter sets the AU carries.</summary>
    public void Observe(ReadOnlySpan<byte> accessUnit)
    {
        Span<bool> replaced = stackalloc bool[Kinds];
        foreach (var unit in new NalUnitEnumerator(accessUnit))
        {
            var nal = TrimTrailingZeros(accessUnit[unit.PayloadStart..unit.End]);
            var kind = KindOf(nal);
            if (kind < 0) continue;
            if (!replaced[kind])
            {
                replaced[kind] = true;
                _cachedLength[kind] = 0;
            }
            Append(ref _cached[kind], ref _cachedLength[kind], StartCode);
            Append(ref _cached[kind], ref _cachedLength[kind], nal);
        }
    }

    /// <summary>True once every parameter set a decoder needs has been seen.</summary>
    public bool IsComplete => _cachedLength[Sps] > 0 && _cachedLength[Pps] > 0 && (codec != VideoCodec.H265 || _cachedLength[Vps] > 0);

    /// <summary>
    /// Annex B bytes (start codes included) of the cached parameter sets the AU lacks; empty when it
    /// lacks none or none are cached. In decoding order: VPS, SPS, PPS. The span is valid until the
    /// next call.
    /// </summary>
    public ReadOnlySpan<byte> MissingFrom(ReadOnlySpan<byte> accessUnit)
    {
        Span<bool> present = stackalloc bool[Kinds];
        foreach (var unit in new NalUnitEnumerator(accessUnit))
        {
            var kind = KindOf(accessUnit[unit.PayloadStart..unit.End]);
            if (kind >= 0) present[kind] = true;
        }
        var length = 0;
        for (var kind = 0; kind < Kinds; kind++)
            if (!present[kind]) Append(ref _missing, ref length, _cached[kind].AsSpan(0, _cachedLength[kind]));
        return _missing.AsSpan(0, length);
    }

    private int KindOf(ReadOnlySpan<byte> nal)
    {
        if (nal.IsEmpty) return -1;
        if (codec == VideoCodec.H265)
        {
            return ((nal[0] >> 1) & 0x3F) switch
            {
                NalClassifier.H265TypeVps => Vps,
                NalClassifier.H265TypeSps => Sps,
                NalClassifier.H265TypePps => Pps,
                _ => -1,
            };
        }
        return (nal[0] & 0x1F) switch
        {
            NalClassifier.H264TypeSps => Sps,
            NalClassifier.H264TypePps => Pps,
            _ => -1,
        };
    }

    /// <summary>trailing_zero_8bits are stream padding, not part of the unit: do not copy them around.</summary>
    private static ReadOnlySpan<byte> TrimTrailingZeros(ReadOnlySpan<byte> nal) => nal[..(nal.LastIndexOfAnyExcept((byte)0) + 1)];

    private static void Append(ref byte[] buffer, ref int length, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (length + bytes.Length > buffer.Length)
        {
            var grown = new byte[Math.Max(length + bytes.Length, Math.Max(64, buffer.Length * 2))];
            buffer.AsSpan(0, length).CopyTo(grown);
            buffer = grown;
        }
        bytes.CopyTo(buffer.AsSpan(length));
        length += bytes.Length;
    }
}
