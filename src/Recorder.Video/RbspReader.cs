namespace Recorder.Video;

/// <summary>
/// Reads the bits of a NAL unit's payload (RBSP) from its escaped form, dropping each emulation
/// prevention byte (the 03 of 00 00 03) as it passes. Running out of bytes never throws: reads
/// return 0 and <see cref="Overrun"/> turns true, so parsers of untrusted headers check once at the end.
/// </summary>
internal ref struct RbspReader
{
    private readonly ReadOnlySpan<byte> _escaped;
    private int _next;
    private int _zeros;
    private int _current;
    private int _bitsLeft;

    /// <param name="escaped">The NAL bytes after its header, still escaped.</param>
    public RbspReader(ReadOnlySpan<byte> escaped) => _escaped = escaped;

    /// <summary>A read went past the end, or an Exp-Golomb code was longer than 32 bits: the fields read are not to be trusted.</summary>
    public bool Overrun { get; private set; }

    /// <summary>One RBSP byte; only valid while the reader is byte-aligned (SEI headers).</summary>
    public int ReadByte() => (int)ReadBits(8);

    /// <summary>Index in the escaped bytes of the next byte to load: where a byte-aligned reader stands.</summary>
    public readonly int BytePosition => _next;

    public uint ReadBit()
    {
        if (_bitsLeft == 0 && !LoadByte()) return 0;
        _bitsLeft--;
        return (uint)(_current >> _bitsLeft) & 1;
    }

    public uint ReadBits(int count)
    {
        uint value = 0;
        for (var i = 0; i < count; i++) value = (value << 1) | ReadBit();
        return value;
    }

    public void Skip(int bits)
    {
        for (var i = 0; i < bits; i++) ReadBit();
    }

    public bool ReadFlag() => ReadBit() != 0;

    /// <summary>ue(v): unsigned Exp-Golomb.</summary>
    public uint ReadUnsignedGolomb()
    {
        var leadingZeros = 0;
        while (ReadBit() == 0)
        {
            // A 32-bit code has at most 31 leading zeros; more means garbage or the end of the data.
            if (Overrun || ++leadingZeros > 31) { Overrun = true; return 0; }
        }
        return leadingZeros == 0 ? 0 : (uint)((1UL << leadingZeros) - 1 + ReadBits(leadingZeros));
    }

    /// <summary>se(v): signed Exp-Golomb.</summary>
    public int ReadSignedGolomb()
    {
        var code = ReadUnsignedGolomb();
        return (code & 1) != 0 ? (int)((code + 1) / 2) : -(int)(code / 2);
    }

    private bool LoadByte()
    {
        if (_next < _escaped.Length && _zeros >= 2 && _escaped[_next] == 3)
        {
            _next++;
            _zeros = 0;
        }
        if (_next >= _escaped.Length)
        {
            Overrun = true;
            return false;
        }
        _current = _escaped[_next++];
        _zeros = _current == 0 ? _zeros + 1 : 0;
        _bitsLeft = 8;
        return true;
    }
}
