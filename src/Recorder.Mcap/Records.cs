namespace Recorder.Mcap;

// Typed views of the records of the specification. Field names follow the spec; times are
// nanoseconds since a user-defined epoch. Records that occur once per file or per chunk are
// classes; Message, which occurs millions of times, is a struct that points into its buffer.

/// <summary>Header (0x01): the first record of every file.</summary>
public sealed record Header(string Profile, string Library);

/// <summary>Footer (0x02): the last record. Offsets are 0 when the section is absent; a CRC of 0 means "not computed".</summary>
public readonly record struct Footer(ulong SummaryStart, ulong SummaryOffsetStart, uint SummaryCrc);

/// <summary>Schema (0x03). Id 0 is never a schema. Encoding "" requires empty data.</summary>
public sealed record Schema(ushort Id, string Name, string Encoding, ReadOnlyMemory<byte> Data)
{
    /// <summary>Structural equality including the data bytes (record equality compares only the memory reference).</summary>
    public bool ContentEquals(Schema other) =>
        Id == other.Id && Name == other.Name && Encoding == other.Encoding && Data.Span.SequenceEqual(other.Data.Span);
}

/// <summary>Channel (0x04). SchemaId 0 means schemaless. Metadata is written in enumeration order.</summary>
public sealed record Channel(ushort Id, ushort SchemaId, string Topic, string MessageEncoding, IReadOnlyDictionary<string, string> Metadata)
{
    public static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    /// <summary>Structural equality including metadata (record equality compares only the dictionary reference).</summary>
    public bool ContentEquals(Channel other) =>
        Id == other.Id && SchemaId == other.SchemaId && Topic == other.Topic && MessageEncoding == other.MessageEncoding
        && MapsEqual(Metadata, other.Metadata);

    internal static bool MapsEqual(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (k, v) in a)
            if (!b.TryGetValue(k, out var w) || w != v) return false;
        return true;
    }
}

/// <summary>Message (0x05). <see cref="Data"/> points into the reader's buffer and is valid until the next read.</summary>
public readonly record struct Message(ushort ChannelId, uint Sequence, ulong LogTime, ulong PublishTime, ReadOnlyMemory<byte> Data);

/// <summary>Chunk (0x06) header fields; <see cref="Records"/> is the (possibly compressed) payload.</summary>
public readonly record struct Chunk(
    ulong MessageStartTime, ulong MessageEndTime, ulong UncompressedSize, uint UncompressedCrc, string Compression,
    ReadOnlyMemory<byte> Records);

/// <summary>One MessageIndex entry: a message's log time and its offset in the uncompressed chunk records.</summary>
public readonly record struct MessageIndexEntry(ulong LogTime, ulong Offset);

/// <summary>MessageIndex (0x07): follows its chunk, one per channel with messages in it.</summary>
public sealed record MessageIndex(ushort ChannelId, IReadOnlyList<MessageIndexEntry> Records);

/// <summary>ChunkIndex (0x08). Lengths include the 9-byte record prefix.</summary>
public sealed record ChunkIndex(
    ulong MessageStartTime, ulong MessageEndTime, ulong ChunkStartOffset, ulong ChunkLength,
    IReadOnlyDictionary<ushort, ulong> MessageIndexOffsets, ulong MessageIndexLength, string Compression,
    ulong CompressedSize, ulong UncompressedSize);

/// <summary>Attachment (0x09). Crc covers log_time through data; 0 means not computed.</summary>
public sealed record Attachment(ulong LogTime, ulong CreateTime, string Name, string MediaType, ReadOnlyMemory<byte> Data, uint Crc = 0);

/// <summary>AttachmentIndex (0x0A). Length includes the record prefix.</summary>
public sealed record AttachmentIndex(ulong Offset, ulong Length, ulong LogTime, ulong CreateTime, ulong DataSize, string Name, string MediaType);

/// <summary>Statistics (0x0B). Note the narrow schema_count (u16). Empty ChannelMessageCounts = not available.</summary>
public sealed record Statistics(
    ulong MessageCount, ushort SchemaCount, uint ChannelCount, uint AttachmentCount, uint MetadataCount, uint ChunkCount,
    ulong MessageStartTime, ulong MessageEndTime, IReadOnlyDictionary<ushort, ulong> ChannelMessageCounts);

/// <summary>Metadata (0x0C): named string pairs, for example the device and operator of a recording.</summary>
public sealed record Metadata(string Name, IReadOnlyDictionary<string, string> Values);

/// <summary>MetadataIndex (0x0D). Length includes the record prefix.</summary>
public sealed record MetadataIndex(ulong Offset, ulong Length, string Name);

/// <summary>SummaryOffset (0x0E): where one opcode's group of summary records lies.</summary>
public readonly record struct SummaryOffset(McapOpcode GroupOpcode, ulong GroupStart, ulong GroupLength);

/// <summary>DataEnd (0x0F): ends the data section. CRC of every byte before it, 0 if not computed.</summary>
public readonly record struct DataEnd(uint DataSectionCrc);
