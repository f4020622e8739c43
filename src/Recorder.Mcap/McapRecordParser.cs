using System.Buffers.Binary;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>
/// Turns a record's content (the bytes after opcode and length) into its typed form. Every parser
/// tolerates unknown trailing bytes, as the specification requires, and reports malformed content
/// as an <see cref="McapException"/> naming the record's offset.
/// </summary>
public static class McapRecordParser
{
    public static Header ParseHeader(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.Header, offset);
        return new Header(r.String("profile"), r.String("library"));
    }

    public static Footer ParseFooter(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.Footer, offset);
        return new Footer(r.U64("summary_start"), r.U64("summary_offset_start"), r.U32("summary_crc"));
    }

    public static Schema ParseSchema(ReadOnlyMemory<byte> content, long offset = -1)
    {
        var r = new FieldReader(content.Span, McapOpcode.Schema, offset);
        var id = r.U16("id");
        var name = r.String("name");
        var encoding = r.String("encoding");
        var data = r.BytesU32("data");
        return new Schema(id, name, encoding, content[data]);
    }

    public static Channel ParseChannel(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.Channel, offset);
        var id = r.U16("id");
        var schemaId = r.U16("schema_id");
        var topic = r.String("topic");
        var encoding = r.String("message_encoding");
        var metadata = r.StringMap("metadata");
        return new Channel(id, schemaId, topic, encoding, metadata);
    }

    /// <summary>Allocation-free: the message's data is a slice of <paramref name="content"/>.</summary>
    public static Message ParseMessage(ReadOnlyMemory<byte> content, long offset = -1)
    {
        var span = content.Span;
        if (span.Length < McapConstants.MessageHeaderLength)
            ThrowHelper.FieldOverrun(McapOpcode.Message, offset, "publish_time");
        return new Message(
            BinaryPrimitives.ReadUInt16LittleEndian(span),
            BinaryPrimitives.ReadUInt32LittleEndian(span[2..]),
            BinaryPrimitives.ReadUInt64LittleEndian(span[6..]),
            BinaryPrimitives.ReadUInt64LittleEndian(span[14..]),
            content[McapConstants.MessageHeaderLength..]);
    }

    public static Chunk ParseChunk(ReadOnlyMemory<byte> content, long offset = -1)
    {
        var r = new FieldReader(content.Span, McapOpcode.Chunk, offset);
        var start = r.U64("message_start_time");
        var end = r.U64("message_end_time");
        var uncompressedSize = r.U64("uncompressed_size");
        var crc = r.U32("uncompressed_crc");
        var compression = r.String("compression");
        var records = r.BytesU64("records");
        return new Chunk(start, end, uncompressedSize, crc, compression, content[records]);
    }

    public static MessageIndex ParseMessageIndex(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.MessageIndex, offset);
        var channelId = r.U16("channel_id");
        var end = r.BeginCollection("records");
        if ((end - r.Position) % 16 != 0)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, "field 'records' length is not a multiple of 16", offset, McapOpcode.MessageIndex);
        var entries = new MessageIndexEntry[(end - r.Position) / 16];
        for (var i = 0; i < entries.Length; i++)
            entries[i] = new MessageIndexEntry(r.U64("records"), r.U64("records"));
        return new MessageIndex(channelId, entries);
    }

    public static ChunkIndex ParseChunkIndex(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.ChunkIndex, offset);
        return new ChunkIndex(
            r.U64("message_start_time"), r.U64("message_end_time"), r.U64("chunk_start_offset"), r.U64("chunk_length"),
            r.U16U64Map("message_index_offsets"), r.U64("message_index_length"), r.String("compression"),
            r.U64("compressed_size"), r.U64("uncompressed_size"));
    }

    public static Attachment ParseAttachment(ReadOnlyMemory<byte> content, long offset = -1)
    {
        var r = new FieldReader(content.Span, McapOpcode.Attachment, offset);
        var logTime = r.U64("log_time");
        var createTime = r.U64("create_time");
        var name = r.String("name");
        var mediaType = r.String("media_type");
        var data = r.BytesU64("data");
        var crc = r.U32("crc");
        return new Attachment(logTime, createTime, name, mediaType, content[data], crc);
    }

    /// <summary>The number of content bytes an attachment's CRC covers (log_time through data).</summary>
    internal static int AttachmentCrcCoverage(ReadOnlySpan<byte> content, long offset)
    {
        var r = new FieldReader(content, McapOpcode.Attachment, offset);
        r.U64("log_time");
        r.U64("create_time");
        r.BytesU32("name");
        r.BytesU32("media_type");
        r.BytesU64("data");
        return r.Position;
    }

    public static AttachmentIndex ParseAttachmentIndex(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.AttachmentIndex, offset);
        return new AttachmentIndex(
            r.U64("offset"), r.U64("length"), r.U64("log_time"), r.U64("create_time"), r.U64("data_size"),
            r.String("name"), r.String("media_type"));
    }

    public static Statistics ParseStatistics(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.Statistics, offset);
        return new Statistics(
            r.U64("message_count"), r.U16("schema_count"), r.U32("channel_count"), r.U32("attachment_count"),
            r.U32("metadata_count"), r.U32("chunk_count"), r.U64("message_start_time"), r.U64("message_end_time"),
            r.U16U64Map("channel_message_counts"));
    }

    public static Metadata ParseMetadata(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.Metadata, offset);
        return new Metadata(r.String("name"), r.StringMap("metadata"));
    }

    public static MetadataIndex ParseMetadataIndex(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.MetadataIndex, offset);
        return new MetadataIndex(r.U64("offset"), r.U64("length"), r.String("name"));
    }

    public static SummaryOffset ParseSummaryOffset(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.SummaryOffset, offset);
        return new SummaryOffset((McapOpcode)r.U8("group_opcode"), r.U64("group_start"), r.U64("group_length"));
    }

    public static DataEnd ParseDataEnd(ReadOnlySpan<byte> content, long offset = -1)
    {
        var r = new FieldReader(content, McapOpcode.DataEnd, offset);
        return new DataEnd(r.U32("data_section_crc"));
    }
}
