using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Recorder.Video;

/// <summary>Record types of the .vidx format (proto/frame_index.md).</summary>
internal enum FrameIndexRecordType : byte
{
    Header = 0x01,
    Track = 0x02,
    Frame = 0x03,
}

/// <summary>
/// The byte layout of a .vidx file, in one place: magic, record framing and the three record
/// payloads. See proto/frame_index.md; every number here is in that document.
/// </summary>
internal static class FrameIndexFormat
{
    /// <summary>"\x89VIDX\r\n\x1A": a high byte (not text), the name, and CR LF / ^Z to catch text-mode mangling.</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, (byte)'V', (byte)'I', (byte)'D', (byte)'X', 0x0D, 0x0A, 0x1A];

    public const int MagicLength = 8;

    /// <summary>type u8 + payload_length u32.</summary>
    public const int RecordPrefixLength = 5;

    /// <summary>CRC-32 (ISO-HDLC) over type, payload_length and payload.</summary>
    public const int RecordCrcLength = 4;

    public const int RecordOverhead = RecordPrefixLength + RecordCrcLength;

    /// <summary>A payload longer than this is corruption, not a record (the largest real one is a track record, under 128 KiB).</summary>
    public const int MaxPayloadLength = 1 << 20;

    /// <summary>major u16, minor u16, recording_file str16.</summary>
    public const int HeaderFixedLength = 2 + 2 + 2;

    /// <summary>track_id u16, codec u8, store u8, width u32, height u32, topic str16, stream_file str16.</summary>
    public const int TrackFixedLength = 2 + 1 + 1 + 4 + 4 + 2 + 2;

    /// <summary>track_id u16, keyframe u8, frame_number u64, log_time u64, publish_time u64, gop u32, size u32, offset u64, offset_in_chunk u32.</summary>
    public const int FramePayloadLength = 2 + 1 + 8 + 8 + 8 + 4 + 4 + 8 + 4;

    public const int FrameRecordLength = RecordOverhead + FramePayloadLength;

    /// <summary>Frames the payload already written at <c>record[RecordPrefixLength..]</c>: fills in the prefix and appends the CRC. Returns the record length.</summary>
    public static int Seal(Span<byte> record, FrameIndexRecordType type, int payloadLength)
    {
        record[0] = (byte)type;
        BinaryPrimitives.WriteUInt32LittleEndian(record[1..], (uint)payloadLength);
        var covered = RecordPrefixLength + payloadLength;
        BinaryPrimitives.WriteUInt32LittleEndian(record[covered..], Crc32.HashToUInt32(record[..covered]));
        return covered + RecordCrcLength;
    }

    public static void WriteFramePayload(Span<byte> p, in FrameIndexEntry e)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(p, e.TrackId);
        p[2] = (byte)e.Keyframe;
        BinaryPrimitives.WriteUInt64LittleEndian(p[3..], e.FrameNumber);
        BinaryPrimitives.WriteUInt64LittleEndian(p[11..], e.LogTime);
        BinaryPrimitives.WriteUInt64LittleEndian(p[19..], e.PublishTime);
        BinaryPrimitives.WriteUInt32LittleEndian(p[27..], e.Gop);
        BinaryPrimitives.WriteUInt32LittleEndian(p[31..], e.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(p[35..], e.Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(p[43..], e.OffsetInChunk);
    }

    /// <summary>Width and height are not in frame records: the reader fills them in from the current track record.</summary>
    public static FrameIndexEntry ReadFramePayload(ReadOnlySpan<byte> p) => new(
        TrackId: BinaryPrimitives.ReadUInt16LittleEndian(p),
        FrameNumber: BinaryPrimitives.ReadUInt64LittleEndian(p[3..]),
        LogTime: BinaryPrimitives.ReadUInt64LittleEndian(p[11..]),
        PublishTime: BinaryPrimitives.ReadUInt64LittleEndian(p[19..]),
        Keyframe: (KeyframeKind)p[2],
        Gop: BinaryPrimitives.ReadUInt32LittleEndian(p[27..]),
        Size: BinaryPrimitives.ReadUInt32LittleEndian(p[31..]),
        Offset: BinaryPrimitives.ReadUInt64LittleEndian(p[35..]),
        OffsetInChunk: BinaryPrimitives.ReadUInt32LittleEndian(p[43..]),
        Width: 0,
        Height: 0);

    /// <summary>UTF-8 length of a str16 field, or throws when it does not fit in 65,535 bytes.</summary>
    public static int Str16Length(string? value, string field)
    {
        var length = value is null ? 0 : Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
            throw new ArgumentException($"{field} is {length} UTF-8 bytes; the frame index stores at most {ushort.MaxValue}", field);
        return length;
    }

    /// <summary>Writes u16 length + UTF-8 bytes; returns the bytes written.</summary>
    public static int WriteStr16(Span<byte> destination, string? value)
    {
        var length = value is null ? 0 : Encoding.UTF8.GetBytes(value, destination[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)length);
        return 2 + length;
    }

    /// <summary>Reads a str16 at <paramref name="position"/>; false when it overruns the payload or is not UTF-8.</summary>
    public static bool TryReadStr16(ReadOnlySpan<byte> payload, ref int position, out string value)
    {
        value = "";
        if (payload.Length - position < 2) return false;
        var length = BinaryPrimitives.ReadUInt16LittleEndian(payload[position..]);
        position += 2;
        if (payload.Length - position < length) return false;
        try
        {
            value = Strict.GetString(payload.Slice(position, length));
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        position += length;
        return true;
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
