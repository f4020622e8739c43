namespace Recorder.Video;

/// <summary>
/// One NAL unit inside an Annex B buffer. <see cref="Start"/> is where its byte_stream_nal_unit
/// begins (the zero_byte of a 4-byte start code included), <see cref="PayloadStart"/> its first
/// header byte, <see cref="End"/> the next unit's <see cref="Start"/> or the buffer's end.
/// </summary>
internal readonly record struct NalUnit(int Start, int PayloadStart, int End)
{
    public int PayloadLength => End - PayloadStart;
}

/// <summary>Walks the NAL units of a whole Annex B buffer (one access unit or a stream file).</summary>
internal ref struct NalUnitEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _nextStartCode;
    private int _unitStart;

    public NalUnitEnumerator(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _nextStartCode = AnnexBScan.FindStartCode(buffer, 0);
    }

    public NalUnit Current { get; private set; }

    public readonly NalUnitEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_nextStartCode < 0) return false;
        var payloadStart = _nextStartCode + 3;
        var following = AnnexBScan.FindStartCode(_buffer, payloadStart);
        // Zeros before the first start code (leading_zero_8bits) belong to the first unit.
        var end = following < 0 ? _buffer.Length : AnnexBScan.UnitStart(_buffer, following, payloadStart);
        Current = new NalUnit(_unitStart, payloadStart, end);
        _unitStart = end;
        _nextStartCode = following;
        return true;
    }
}

internal static class AnnexBScan
{
    private static ReadOnlySpan<byte> StartCode => [0, 0, 1];

    /// <summary>The position of the next 00 00 01 at or after <paramref name="from"/>, or -1.</summary>
    public static int FindStartCode(ReadOnlySpan<byte> buffer, int from)
    {
        if (from >= buffer.Length) return -1;
        var found = buffer[from..].IndexOf(StartCode);
        return found < 0 ? -1 : from + found;
    }

    /// <summary>
    /// Where the unit whose start code is at <paramref name="startCode"/> begins: one byte earlier
    /// when that byte is a zero_byte (Annex B gives it to the following unit), but never inside the
    /// previous unit's start code or header (<paramref name="previousPayloadStart"/>).
    /// </summary>
    public static int UnitStart(ReadOnlySpan<byte> buffer, int startCode, int previousPayloadStart) =>
        startCode - 1 >= previousPayloadStart && buffer[startCode - 1] == 0 ? startCode - 1 : startCode;
}
