using System.Buffers;
using System.IO.Hashing;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>
/// Serializes whole records (opcode, length, content) into an <see cref="IBufferWriter{T}"/>. Each
/// method sizes the record first and writes it into one span, and returns the record's total length.
/// The writer uses these; they are public so tools can build records (or deliberately bad ones) directly.
/// </summary>
public static class McapRecordSerializer
{
    private const int Prefix = McapConstants.RecordPrefixLength;

    public static int WriteHeader(IBufferWriter<byte> output, Header header)
    {
        var content = Sizes.String(header.Profile) + Sizes.String(header.Library);
        var w = Begin(output, McapOpcode.Header, content, out var span);
        w.String(header.Profile);
        w.String(header.Library);
        return End(output, ref w, span);
    }

    public static int WriteSchema(IBufferWriter<byte> output, Schema schema)
    {
        var content = 2 + Sizes.String(schema.Name) + Sizes.String(schema.Encoding) + 4 + schema.Data.Length;
        var w = Begin(output, McapOpcode.Schema, content, out var span);
        w.U16(schema.Id);
        w.String(schema.Name);
        w.String(schema.Encoding);
        w.U32((uint)schema.Data.Length);
        w.Bytes(schema.Data.Span);
        return End(output, ref w, span);
    }

    public static int WriteChannel(IBufferWriter<byte> output, Channel channel)
    {
        var content = 2 + 2 + Sizes.String(channel.Topic) + Sizes.String(channel.MessageEncoding) + 4 + Sizes.StringMapBody(channel.Metadata);
        var w = Begin(output, McapOpcode.Channel, content, out var span);
        w.U16(channel.Id);
        w.U16(channel.SchemaId);
        w.String(channel.Topic);
        w.String(channel.MessageEncoding);
        w.StringMap(channel.Metadata);
        return End(output, ref w, span);
    }

    /// <summary>The hot path: one span, fixed header, no allocation.</summary>
    public static int WriteMessage(IBufferWriter<byte> output, ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var total = Prefix + McapConstants.MessageHeaderLength + data.Length;
        var span = output.GetSpan(total);
        var w = new SpanWriter(span);
        w.Prefix(McapOpcode.Message, McapConstants.MessageHeaderLength + data.Length);
        w.U16(channelId);
        w.U32(sequence);
        w.U64(logTime);
        w.U64(publishTime);
        w.Bytes(data);
        output.Advance(total);
        return total;
    }

    /// <summary>Writes the chunk record's fixed fields; the caller appends <paramref name="recordsLength"/> bytes of records after it.</summary>
    public static int WriteChunkHeader(IBufferWriter<byte> output, ulong startTime, ulong endTime, ulong uncompressedSize, uint uncompressedCrc, string compression, long recordsLength)
    {
        var fixedPart = 8 + 8 + 8 + 4 + Sizes.String(compression) + 8;
        var span = output.GetSpan(Prefix + fixedPart);
        var w = new SpanWriter(span);
        w.Prefix(McapOpcode.Chunk, fixedPart + recordsLength);
        w.U64(startTime);
        w.U64(endTime);
        w.U64(uncompressedSize);
        w.U32(uncompressedCrc);
        w.String(compression);
        w.U64((ulong)recordsLength);
        output.Advance(w.Position);
        return w.Position;
    }

    /// <summary>MessageIndex from parallel (log time, offset) arrays, in the order given.</summary>
    public static int WriteMessageIndex(IBufferWriter<byte> output, ushort channelId, ReadOnlySpan<ulong> logTimes, ReadOnlySpan<ulong> offsets)
    {
        var content = 2 + 4 + logTimes.Length * 16;
        var w = Begin(output, McapOpcode.MessageIndex, content, out var span);
        w.U16(channelId);
        w.U32((uint)(logTimes.Length * 16));
        for (var i = 0; i < logTimes.Length; i++)
        {
            w.U64(logTimes[i]);
            w.U64(offsets[i]);
        }
        return End(output, ref w, span);
    }

    public static int WriteChunkIndex(IBufferWriter<byte> output, ChunkIndex index)
    {
        var content = 8 * 4 + 4 + index.MessageIndexOffsets.Count * 10 + 8 + Sizes.String(index.Compression) + 8 + 8;
        var w = Begin(output, McapOpcode.ChunkIndex, content, out var span);
        w.U64(index.MessageStartTime);
        w.U64(index.MessageEndTime);
        w.U64(index.ChunkStartOffset);
        w.U64(index.ChunkLength);
        w.U16U64Map(index.MessageIndexOffsets);
        w.U64(index.MessageIndexLength);
        w.String(index.Compression);
        w.U64(index.CompressedSize);
        w.U64(index.UncompressedSize);
        return End(output, ref w, span);
    }

    /// <summary>Writes an attachment; the CRC is computed here when <paramref name="computeCrc"/>, else written as 0.</summary>
    public static int WriteAttachment(IBufferWriter<byte> output, Attachment attachment, bool computeCrc)
    {
        var content = 8 + 8 + Sizes.String(attachment.Name) + Sizes.String(attachment.MediaType) + 8 + attachment.Data.Length + 4;
        var w = Begin(output, McapOpcode.Attachment, content, out var span);
        w.U64(attachment.LogTime);
        w.U64(attachment.CreateTime);
        w.String(attachment.Name);
        w.String(attachment.MediaType);
        w.U64((ulong)attachment.Data.Length);
        w.Bytes(attachment.Data.Span);
        w.U32(computeCrc ? Crc32.HashToUInt32(span[Prefix..w.Position]) : 0);
        return End(output, ref w, span);
    }

    public static int WriteAttachmentIndex(IBufferWriter<byte> output, AttachmentIndex index)
    {
        var content = 8 * 5 + Sizes.String(index.Name) + Sizes.String(index.MediaType);
        var w = Begin(output, McapOpcode.AttachmentIndex, content, out var span);
        w.U64(index.Offset);
        w.U64(index.Length);
        w.U64(index.LogTime);
        w.U64(index.CreateTime);
        w.U64(index.DataSize);
        w.String(index.Name);
        w.String(index.MediaType);
        return End(output, ref w, span);
    }

    public static int WriteStatistics(IBufferWriter<byte> output, Statistics statistics)
    {
        var content = 8 + 2 + 4 * 4 + 8 + 8 + 4 + statistics.ChannelMessageCounts.Count * 10;
        var w = Begin(output, McapOpcode.Statistics, content, out var span);
        w.U64(statistics.MessageCount);
        w.U16(statistics.SchemaCount);
        w.U32(statistics.ChannelCount);
        w.U32(statistics.AttachmentCount);
        w.U32(statistics.MetadataCount);
        w.U32(statistics.ChunkCount);
        w.U64(statistics.MessageStartTime);
        w.U64(statistics.MessageEndTime);
        w.U16U64Map(statistics.ChannelMessageCounts);
        return End(output, ref w, span);
    }

    public static int WriteMetadata(IBufferWriter<byte> output, Metadata metadata)
    {
        var content = Sizes.String(metadata.Name) + 4 + Sizes.StringMapBody(metadata.Values);
        var w = Begin(output, McapOpcode.Metadata, content, out var span);
        w.String(metadata.Name);
        w.StringMap(metadata.Values);
        return End(output, ref w, span);
    }

    public static int WriteMetadataIndex(IBufferWriter<byte> output, MetadataIndex index)
    {
        var content = 8 + 8 + Sizes.String(index.Name);
        var w = Begin(output, McapOpcode.MetadataIndex, content, out var span);
        w.U64(index.Offset);
        w.U64(index.Length);
        w.String(index.Name);
        return End(output, ref w, span);
    }

    public static int WriteSummaryOffset(IBufferWriter<byte> output, SummaryOffset summaryOffset)
    {
        var w = Begin(output, McapOpcode.SummaryOffset, 1 + 8 + 8, out var span);
        w.U8((byte)summaryOffset.GroupOpcode);
        w.U64(summaryOffset.GroupStart);
        w.U64(summaryOffset.GroupLength);
        return End(output, ref w, span);
    }

    public static int WriteDataEnd(IBufferWriter<byte> output, DataEnd dataEnd)
    {
        var w = Begin(output, McapOpcode.DataEnd, 4, out var span);
        w.U32(dataEnd.DataSectionCrc);
        return End(output, ref w, span);
    }

    public static int WriteFooter(IBufferWriter<byte> output, Footer footer)
    {
        var w = Begin(output, McapOpcode.Footer, McapConstants.FooterContentLength, out var span);
        w.U64(footer.SummaryStart);
        w.U64(footer.SummaryOffsetStart);
        w.U32(footer.SummaryCrc);
        return End(output, ref w, span);
    }

    private static SpanWriter Begin(IBufferWriter<byte> output, McapOpcode opcode, int contentLength, out Span<byte> span)
    {
        span = output.GetSpan(Prefix + contentLength)[..(Prefix + contentLength)];
        var w = new SpanWriter(span);
        w.Prefix(opcode, contentLength);
        return w;
    }

    private static int End(IBufferWriter<byte> output, ref SpanWriter w, Span<byte> span)
    {
        if (w.Position != span.Length)
            throw new InvalidOperationException($"record size mismatch: wrote {w.Position} of {span.Length}");
        output.Advance(w.Position);
        return w.Position;
    }
}
