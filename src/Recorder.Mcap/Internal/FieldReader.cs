using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Recorder.Mcap.Internal;

/// <summary>
/// Reads the fields of one record's content in order. Every read is bounds-checked against the record
/// length, so a lying length field yields an <see cref="McapErrorKind.InvalidRecord"/>, never an
/// IndexOutOfRangeException. Bytes left over at the end are unknown trailing fields and are ignored.
/// </summary>
internal ref struct FieldReader
{
    private readonly ReadOnlySpan<byte> _content;
    private readonly McapOpcode _opcode;
    private readonly long _recordOffset;
    private int _position;

    public FieldReader(ReadOnlySpan<byte> content, McapOpcode opcode, long recordOffset)
    {
        _content = content;
        _opcode = opcode;
        _recordOffset = recordOffset;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _content.Length - _position;

    private ReadOnlySpan<byte> Take(int length, string field)
    {
        if ((uint)length > (uint)(_content.Length - _position))
            ThrowHelper.FieldOverrun(_opcode, _recordOffset, field);
        var span = _content.Slice(_position, length);
        _position += length;
        return span;
    }

    public byte U8(string field) => Take(1, field)[0];
    public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));
    public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));
    public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    /// <summary>A u32 length, checked against what is left so a huge value cannot overflow.</summary>
    private int Length32(string field)
    {
        var length = U32(field);
        if (length > (uint)Remaining) ThrowHelper.FieldOverrun(_opcode, _recordOffset, field);
        return (int)length;
    }

    public string String(string field)
    {
        var bytes = Take(Length32(field), field);
        return Decode(bytes, field);
    }

    public string Decode(ReadOnlySpan<byte> bytes, string field)
    {
        if (!Utf8.IsValid(bytes))
            ThrowHelper.Throw(McapErrorKind.InvalidUtf8, $"field '{field}' is not valid UTF-8", _recordOffset, _opcode);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>u32-prefixed bytes; returns the range within the content.</summary>
    public Range BytesU32(string field)
    {
        var length = Length32(field);
        var start = _position;
        _position += length;
        return new Range(start, start + length);
    }

    /// <summary>u64-prefixed bytes; returns the range within the content.</summary>
    public Range BytesU64(string field)
    {
        var length = U64(field);
        if (length > (ulong)Remaining) ThrowHelper.FieldOverrun(_opcode, _recordOffset, field);
        var start = _position;
        _position += (int)length;
        return new Range(start, start + (int)length);
    }

    /// <summary>Starts an Array or Map: a u32 BYTE length. Returns the position where it ends.</summary>
    public int BeginCollection(string field)
    {
        var length = Length32(field);
        return _position + length;
    }

    public Dictionary<string, string> StringMap(string field)
    {
        var end = BeginCollection(field);
        var map = new Dictionary<string, string>();
        while (_position < end)
        {
            var key = String(field);
            var value = String(field);
            if (_position > end) ThrowHelper.FieldOverrun(_opcode, _recordOffset, field);
            map[key] = value;
        }
        return map;
    }

    public Dictionary<ushort, ulong> U16U64Map(string field)
    {
        var end = BeginCollection(field);
        if ((end - _position) % 10 != 0)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"field '{field}' length is not a multiple of 10", _recordOffset, _opcode);
        var map = new Dictionary<ushort, ulong>((end - _position) / 10);
        while (_position < end) map[U16(field)] = U64(field);
        return map;
    }
}
