using System.Buffers;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>What a recovery kept and where the input stopped being usable.</summary>
public sealed record McapRecoveryResult
{
    /// <summary>True when the input was whole (footer and trailing magic read) and nothing was skipped.</summary>
    public bool InputComplete { get; init; }
    /// <summary>The first input byte that was not recovered; the input length when all of it was.</summary>
    public long ValidUpTo { get; init; }
    public long InputLength { get; init; }
    public ulong Messages { get; init; }
    public int Chunks { get; init; }
    public int ChunksSkipped { get; init; }
    public int Schemas { get; init; }
    public int Channels { get; init; }
    public int Attachments { get; init; }
    public int Metadata { get; init; }
    /// <summary>Messages dropped because their channel was never defined (or conflicted).</summary>
    public int MessagesSkipped { get; init; }
    /// <summary>Records dropped because their fields were malformed although their framing was sound.</summary>
    public int RecordsSkipped { get; init; }
    /// <summary>Why reading stopped early (or the first thing skipped), when that happened.</summary>
    public McapException? Error { get; init; }

    /// <summary>The <c>mcap recover</c> exit classes: 0 nothing lost, 3 recovered with loss, 1 nothing recoverable.</summary>
    public int ExitCode => InputComplete && Error is null && ChunksSkipped == 0 && MessagesSkipped == 0 && RecordsSkipped == 0 ? 0
        : Messages + (ulong)Attachments + (ulong)Metadata + (ulong)Channels > 0 ? 3 : 1;
}

/// <summary>
/// Rebuilds a valid, fully indexed file from a truncated or damaged one. The input is read linearly
/// without trusting its footer, summary or indexes; every whole record before the damage is kept, and
/// a chunk whose framing is intact but whose content is bad (CRC, decompression) is skipped on its
/// own. Output chunk boundaries and compression follow the input's, and every index, the Statistics
/// and all CRCs are computed afresh by <see cref="McapWriter"/> from what was actually written.
/// </summary>
public static class McapRecovery
{
    public static McapRecoveryResult Recover(Stream input, Stream output, McapWriterOptions? writerOptions = null)
    {
        var readerOptions = new McapReaderOptions { EmitChunks = true, ValidateCrcs = true };
        var inputLength = input.CanSeek ? input.Length : -1;
        using var reader = new McapStreamReader(readerOptions);
        McapWriter? writer = null;
        var template = writerOptions ?? new McapWriterOptions();
        var chunks = 0;
        var chunksSkipped = 0;
        var schemas = 0;
        var channels = 0;
        var attachments = 0;
        var metadata = 0;
        var messagesSkipped = 0;
        var recordsSkipped = 0;
        var lastChunk = -1L;
        McapException? error = null;
        var validUpTo = 0L;

        McapWriter Writer(Header? header)
        {
            if (writer is not null) return writer;
            writer = new McapWriter(output, new McapWriterOptions
            {
                Profile = header?.Profile ?? template.Profile,
                Library = header?.Library ?? template.Library,
                Compression = template.Compression,
                CompressionLevel = template.CompressionLevel,
                // Chunks follow the input's boundaries, so never cut one by size.
                ChunkSize = int.MaxValue / 2,
                MinCompressibleSize = template.MinCompressibleSize,
            }, leaveOpen: true);
            return writer;
        }

        using (var window = new StreamWindow(input, 1 << 20))
        {
            while (true)
            {
                var buffer = window.Buffer;
                McapReadStatus status;
                McapRecord record;
                try
                {
                    status = reader.Read(ref buffer, window.EndOfStream, out record);
                }
                catch (McapException e) when (e.Opcode == McapOpcode.Chunk && e.Kind != McapErrorKind.Truncated && e.Kind != McapErrorKind.RecordTooLarge)
                {
                    // The chunk's framing was sound, only its content is bad: skip it and read on.
                    window.Consume(buffer);
                    chunksSkipped++;
                    error ??= e;
                    continue;
                }
                catch (McapException e)
                {
                    error = e;
                    break;
                }
                window.Consume(buffer);
                if (status == McapReadStatus.End) break;
                if (status == McapReadStatus.NeedMoreData)
                {
                    window.Fill();
                    continue;
                }

                if (!record.IsInChunk && record.Opcode != McapOpcode.Chunk && lastChunk >= 0)
                {
                    // Left a chunk: cut ours too, so chunk boundaries match the input's.
                    writer?.Flush();
                    lastChunk = -1;
                }

                try
                {
                    Copy(record);
                }
                catch (McapException e) when (e.Kind is McapErrorKind.InvalidRecord or McapErrorKind.InvalidUtf8)
                {
                    // The record's framing is sound but its fields are not: drop just this record.
                    recordsSkipped++;
                    error ??= e;
                }
                validUpTo = reader.Position;
                // The old summary is not trusted; everything after DataEnd is rebuilt.
                if (record.Opcode is McapOpcode.DataEnd or McapOpcode.Footer) break;
            }
        }

        void Copy(McapRecord record)
        {
            switch (record.Opcode)
            {
                case McapOpcode.Header:
                    Writer(record.ToHeader());
                    break;
                case McapOpcode.Chunk:
                    var chunk = record.ToChunk();
                    var w = Writer(null);
                    if (lastChunk >= 0) w.Flush();
                    lastChunk = record.Offset;
                    w.ChunkCompression = McapConstants.TryParseCompression(chunk.Compression, out var c) ? c : template.Compression;
                    chunks++;
                    break;
                case McapOpcode.Schema:
                    var schema = record.ToSchema();
                    if (schema.Id == 0) break;
                    try { Writer(null).AddSchema(schema); schemas++; }
                    catch (McapException e) when (e.Kind == McapErrorKind.InvalidOperation) { /* first definition wins */ }
                    break;
                case McapOpcode.Channel:
                    try { Writer(null).AddChannel(record.ToChannel()); channels++; }
                    catch (McapException e) when (e.Kind is McapErrorKind.InvalidOperation or McapErrorKind.UnknownReference)
                    {
                        // Conflicting, or its schema is missing: its messages are skipped and counted.
                    }
                    break;
                case McapOpcode.Message:
                    var message = record.ToMessage();
                    try { Writer(null).WriteMessage(message); }
                    catch (McapException e) when (e.Kind == McapErrorKind.InvalidOperation) { messagesSkipped++; }
                    break;
                case McapOpcode.Attachment:
                    Writer(null).WriteAttachment(record.ToAttachment());
                    attachments++;
                    break;
                case McapOpcode.Metadata:
                    Writer(null).WriteMetadata(record.ToMetadata());
                    metadata++;
                    break;
            }
        }

        var w2 = Writer(null);
        var messages = w2.MessageCount;
        w2.Finish();
        var complete = error is null && reader.ReachedDataEnd;
        return new McapRecoveryResult
        {
            InputComplete = complete,
            ValidUpTo = error is null ? (complete && inputLength >= 0 ? inputLength : reader.Position) : Math.Max(validUpTo, error.Offset),
            InputLength = inputLength,
            Messages = messages,
            Chunks = chunks,
            ChunksSkipped = chunksSkipped,
            Schemas = schemas,
            Channels = channels,
            Attachments = attachments,
            Metadata = metadata,
            MessagesSkipped = messagesSkipped,
            RecordsSkipped = recordsSkipped,
            Error = error,
        };
    }
}
