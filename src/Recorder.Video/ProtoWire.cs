using System.Diagnostics.CodeAnalysis;

namespace Recorder.Video;

/// <summary>The few protobuf wire-format pieces our two hand-written messages need.</summary>
internal static class ProtoWire
{
    public const int WireVarint = 0;
    public const int WireFixed64 = 1;
    public const int WireLengthDelimited = 2;
    public const int WireFixed32 = 5;

    /// <summary>The longest varint (a 64-bit value).</summary>
    public const int MaxVarintLength = 10;

    public static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    public static void WriteVarint(Span<byte> destination, ref int position, ulong value)
    {
        while (value >= 0x80)
        {
            destination[position++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[position++] = (byte)value;
    }

    public static void WriteTag(Span<byte> destination, ref int position, int field, int wireType) =>
        WriteVarint(destination, ref position, (ulong)((field << 3) | wireType));

    /// <summary>A varint field, left out when 0 (proto3 scalars have no presence).</summary>
    public static void WriteVarintField(Span<byte> destination, ref int position, int field, ulong value)
    {
        if (value == 0) return;
        WriteTag(destination, ref position, field, WireVarint);
        WriteVarint(destination, ref position, value);
    }

    /// <summary>A string or bytes field, left out when empty.</summary>
    public static void WriteBytesField(Span<byte> destination, ref int position, int field, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty) return;
        WriteTag(destination, ref position, field, WireLengthDelimited);
        WriteVarint(destination, ref position, (ulong)value.Length);
        value.CopyTo(destination[position..]);
        position += value.Length;
    }

    public static bool TryReadVarint(ReadOnlySpan<byte> source, scoped ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < source.Length; shift += 7)
        {
            var b = source[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return shift < 63 || b <= 1;
        }
        return false;
    }

    /// <summary>Reads a field's tag; false at the end or on a malformed tag.</summary>
    public static bool TryReadTag(ReadOnlySpan<byte> source, scoped ref int position, out int field, out int wireType)
    {
        field = wireType = 0;
        if (!TryReadVarint(source, ref position, out var tag) || tag > uint.MaxValue) return false;
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        return field > 0;
    }

    public static bool TryReadLengthDelimited(ReadOnlySpan<byte> source, scoped ref int position, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadVarint(source, ref position, out var length) || length > (ulong)(source.Length - position)) return false;
        value = source.Slice(position, (int)length);
        position += (int)length;
        return true;
    }

    /// <summary>Skips an unknown field's value; false for groups (not in proto3) or truncated input.</summary>
    public static bool TrySkip(ReadOnlySpan<byte> source, scoped ref int position, int wireType)
    {
        switch (wireType)
        {
            case WireVarint:
                return TryReadVarint(source, ref position, out _);
            case WireFixed64:
                return Advance(source, ref position, 8);
            case WireFixed32:
                return Advance(source, ref position, 4);
            case WireLengthDelimited:
                return TryReadLengthDelimited(source, ref position, out _);
            default:
                return false;
        }
    }

    private static bool Advance(ReadOnlySpan<byte> source, scoped ref int position, int count)
    {
        if (source.Length - position < count) return false;
        position += count;
        return true;
    }

    [DoesNotReturn]
    public static void ThrowDestinationTooSmall(int needed, int available) =>
        throw new ArgumentException($"The destination holds {available} bytes but the message needs up to {needed}: size it with MaxEncodedLength.", "destination");
}
