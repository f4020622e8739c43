namespace Recorder.Mcap;

/// <summary>
/// One raw record as a reader found it. <see cref="Content"/> points into the reader's buffers and
/// is valid only until the next read; parse it (or copy it) before reading on.
/// </summary>
public readonly struct McapRecord(McapOpcode opcode, ReadOnlyMemory<byte> content, long offset, long chunkOffset)
{
    public McapOpcode Opcode { get; } = opcode;

    /// <summary>The record's content: the bytes after the opcode and length.</summary>
    public ReadOnlyMemory<byte> Content { get; } = content;

    /// <summary>
    /// For a top-level record, its absolute file offset. For a record inside a chunk, its offset
    /// within the chunk's uncompressed records (the value a MessageIndex stores).
    /// </summary>
    public long Offset { get; } = offset;

    /// <summary>The file offset of the enclosing Chunk record, or -1 for a top-level record.</summary>
    public long ChunkOffset { get; } = chunkOffset;

    public bool IsInChunk => ChunkOffset >= 0;

    /// <summary>Whole record length including the 9-byte prefix.</summary>
    public long Length => McapConstants.RecordPrefixLength + Content.Length;

    /// <summary>The offset to name in errors: the record itself, or its chunk.</summary>
    private long ErrorOffset => IsInChunk ? ChunkOffset : Offset;

    public Header ToHeader() => McapRecordParser.ParseHeader(Content.Span, ErrorOffset);
    public Footer ToFooter() => McapRecordParser.ParseFooter(Content.Span, ErrorOffset);
    public Schema ToSchema() => McapRecordParser.ParseSchema(Content, ErrorOffset);
    public Channel ToChannel() => McapRecordParser.ParseChannel(Content.Span, ErrorOffset);
    public Message ToMessage() => McapRecordParser.ParseMessage(Content, ErrorOffset);
    public Chunk ToChunk() => McapRecordParser.ParseChunk(Content, ErrorOffset);
    public MessageIndex ToMessageIndex() => McapRecordParser.ParseMessageIndex(Content.Span, ErrorOffset);
    public ChunkIndex ToChunkIndex() => McapRecordParser.ParseChunkIndex(Content.Span, ErrorOffset);
    public Attachment ToAttachment() => McapRecordParser.ParseAttachment(Content, ErrorOffset);
    public AttachmentIndex ToAttachmentIndex() => McapRecordParser.ParseAttachmentIndex(Content.Span, ErrorOffset);
    public Statistics ToStatistics() => McapRecordParser.ParseStatistics(Content.Span, ErrorOffset);
    public Metadata ToMetadata() => McapRecordParser.ParseMetadata(Content.Span, ErrorOffset);
    public MetadataIndex ToMetadataIndex() => McapRecordParser.ParseMetadataIndex(Content.Span, ErrorOffset);
    public SummaryOffset ToSummaryOffset() => McapRecordParser.ParseSummaryOffset(Content.Span, ErrorOffset);
    public DataEnd ToDataEnd() => McapRecordParser.ParseDataEnd(Content.Span, ErrorOffset);

    public override string ToString() => $"{Opcode} @{Offset}{(IsInChunk ? $" in chunk @{ChunkOffset}" : "")} ({Content.Length} B)";
}

/// <summary>Limits and checks of the readers. Defaults suit files; the daemon tightens them for producers.</summary>
public sealed class McapReaderOptions
{
    /// <summary>Largest record accepted (content bytes). Longer ones fail with <see cref="McapErrorKind.RecordTooLarge"/>.</summary>
    public long MaxRecordSize { get; init; } = 512L * 1024 * 1024;

    /// <summary>Largest declared uncompressed chunk accepted, so a lying header cannot exhaust memory.</summary>
    public long MaxUncompressedChunkSize { get; init; } = 512L * 1024 * 1024;

    /// <summary>Check every non-zero CRC: chunks, attachments, the data section and the summary.</summary>
    public bool ValidateCrcs { get; init; } = true;

    /// <summary>Yield each Chunk record (before its contents) as well. Off by default: readers see the contents only.</summary>
    public bool EmitChunks { get; init; }

    /// <summary>Yield records with opcodes this library does not know. Off: they are skipped, as the spec requires.</summary>
    public bool EmitUnknownRecords { get; init; }

    /// <summary>Expect the leading magic. Off for streams that start directly with records.</summary>
    public bool ExpectMagic { get; init; } = true;

    internal static readonly McapReaderOptions Default = new();
}
