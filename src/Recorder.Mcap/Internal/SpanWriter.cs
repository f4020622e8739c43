using System.Buffers.Binary;
using System.Text;

namespace Recorder.Mcap.Internal;

/// <summary>Writes little-endian fields into a span that the caller sized exactly beforehand.</summary>
internal ref struct SpanWriter
{
    private readonly Span<byte> _span;
    private int _position;

    public SpanWriter(Span<byte> span)
    {
        _span = span;
        _position = 0;
    }

    public readonly int Position => _position;

    public void U8(byte value) => _span[_position++] = value;

    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_span[_position..], value);
        _position += 2;
    }

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_span[_position..], value);
        _position += 4;
    }

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_span[_position..], value);
        _position += 8;
    }

    public void Prefix(McapOpcode opcode, long contentLength)
    {
        U8((byte)opcode);
        U64((ulong)contentLength);
    }

    public void String(string value)
    {
        var length = Encoding.UTF8.GetBytes(value, _span[(_position + 4)..]);
        U32((uint)length);
        _position += length;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_span[_position..]);
        _position += value.Length;
    }

    public void StringMap(IReadOnlyDictionary<string, string> map)
    {
        U32((uint)Sizes.StringMapBody(map));
        foreach (var (key, value) in map)
        {
            String(key);
            String(value);
        }
    }

    /// <summary>Map&lt;u16,u64&gt; with keys in ascending order, so output bytes are deterministic.</summary>
    public void U16U64Map(IReadOnlyDictionary<ushort, ulong> map)
    {
        U32((uint)(map.Count * 10));
        if (map.Count == 1)
        {
            foreach (var (key, value) in map) { U16(key); U64(value); }
            return;
        }
        var keys = new ushort[map.Count];
        var i = 0;
        foreach (var key in map.Keys) keys[i++] = key;
        Array.Sort(keys);
        foreach (var key in keys)
        {
            U16(key);
            U64(map[key]);
        }
    }
}

/// <summary>Encoded sizes of the variable-length field types.</summary>
internal static class Sizes
{
    public static int String(string value) => 4 + Encoding.UTF8.GetByteCount(value);

    public static int StringMapBody(IReadOnlyDictionary<string, string> map)
    {
        var size = 0;
        foreach (var (key, value) in map) size += String(key) + String(value);
        return size;
    }
}
