using System.Buffers.Binary;

namespace Recorder.Mcap.Internal;

/// <summary>Walks records laid out back to back in memory: a chunk's records, or a summary section.</summary>
internal static class RecordIterator
{
    /// <summary>False when the bytes at <paramref name="position"/> are not a whole record.</summary>
    public static bool TryNext(ReadOnlyMemory<byte> records, ref int position, out McapOpcode opcode, out ReadOnlyMemory<byte> content, out int start)
    {
        var span = records.Span;
        start = position;
        opcode = McapOpcode.Invalid;
        content = default;
        if (position < 0 || span.Length - position < McapConstants.RecordPrefixLength) return false;
        opcode = (McapOpcode)span[position];
        var length = BinaryPrimitives.ReadUInt64LittleEndian(span[(position + 1)..]);
        if (length > (ulong)(span.Length - position - McapConstants.RecordPrefixLength)) return false;
        content = records.Slice(position + McapConstants.RecordPrefixLength, (int)length);
        position += McapConstants.RecordPrefixLength + (int)length;
        return true;
    }
}
