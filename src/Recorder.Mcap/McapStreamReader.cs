using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>What one call to <see cref="McapStreamReader.Read"/> produced.</summary>
public enum McapReadStatus
{
    /// <summary>A record is in the out parameter.</summary>
    Record,
    /// <summary>The buffer holds no whole record; call again with more bytes. Nothing was consumed.</summary>
    NeedMoreData,
    /// <summary>The stream is over: after the trailing magic, or cleanly at a record boundary at end of input.</summary>
    End,
}

/// <summary>
/// Reads MCAP incrementally from buffers the caller supplies (a <see cref="PipeReader"/>'s, or any
/// other), in the System.IO.Pipelines style: an incomplete record leaves the buffer untouched and
/// returns <see cref="McapReadStatus.NeedMoreData"/>, never throws. Chunks are decompressed and their
/// records yielded in place, so at most one chunk is held in memory. Unknown opcodes and unknown
/// trailing fields are skipped; every non-zero CRC is checked; record sizes are capped.
/// <para>Malformed input throws <see cref="McapException"/>; a stream that ends inside a record throws
/// one of kind <see cref="McapErrorKind.Truncated"/> when the caller says the input is final.</para>
/// </summary>
public sealed class McapStreamReader : IDisposable
{
    private enum Phase { Magic, Records, InChunk, TrailingMagic, Done }

    private readonly McapReaderOptions _options;
    private readonly Crc32 _crc = new();
    private readonly PooledBuffer _scratch = new(0);
    private readonly PooledBuffer _chunkBuffer = new(0);
    private readonly ChunkCodec _codec = new();
    private Phase _phase;
    private bool _inSummary;
    // Section CRC bytes not hashed yet: a run of whole records at the start of _hashSource. Hashing
    // them in one pass per read (not per record) keeps the vectorized CRC path: for 100-byte records
    // the per-record hash halved throughput.
    private ReadOnlySequence<byte> _hashSource;
    private long _hashLength;
    private ReadOnlyMemory<byte> _chunkRecords;
    private int _chunkPosition;
    private long _chunkOffset;

    public McapStreamReader(McapReaderOptions? options = null)
    {
        _options = options ?? McapReaderOptions.Default;
        _phase = _options.ExpectMagic ? Phase.Magic : Phase.Records;
    }

    /// <summary>Absolute offset of the next unread byte of the outer stream.</summary>
    public long Position { get; private set; }

    /// <summary>True once the Footer and trailing magic have been read: the stream was complete.</summary>
    public bool ReachedFooter { get; private set; }

    /// <summary>True once DataEnd has been read: what follows is summary.</summary>
    public bool ReachedDataEnd => _inSummary;

    /// <summary>True while records of a chunk are being yielded.</summary>
    public bool InChunk => _phase == Phase.InChunk;

    /// <summary>
    /// Reads the next record. Consumed bytes are sliced off <paramref name="buffer"/>; the record's
    /// content stays valid until the next call (or until the caller releases the buffer's memory).
    /// </summary>
    /// <param name="isFinalBlock">No more bytes will come: an incomplete record is then a truncation.</param>
    public McapReadStatus Read(ref ReadOnlySequence<byte> buffer, bool isFinalBlock, out McapRecord record)
    {
        while (true)
        {
            switch (_phase)
            {
                case Phase.Magic:
                    if (!TryReadMagic(ref buffer, isFinalBlock, leading: true)) { record = default; return McapReadStatus.NeedMoreData; }
                    _phase = Phase.Records;
                    continue;

                case Phase.InChunk:
                    if (TryReadChunkRecord(out record)) return McapReadStatus.Record;
                    _chunkRecords = default;
                    _phase = Phase.Records;
                    continue;

                case Phase.Records:
                    var status = ReadTopLevel(ref buffer, isFinalBlock, out record);
                    if (status == null) continue;
                    return status.Value;

                case Phase.TrailingMagic:
                    if (!TryReadMagic(ref buffer, isFinalBlock, leading: false)) { record = default; return McapReadStatus.NeedMoreData; }
                    _phase = Phase.Done;
                    ReachedFooter = true;
                    record = default;
                    return McapReadStatus.End;

                default:
                    record = default;
                    return McapReadStatus.End;
            }
        }
    }

    private bool TryReadMagic(ref ReadOnlySequence<byte> buffer, bool isFinalBlock, bool leading)
    {
        if (buffer.Length < McapConstants.MagicLength)
        {
            if (isFinalBlock)
                ThrowHelper.Throw(McapErrorKind.Truncated,
                    leading ? "input ended before the 8-byte magic" : "input ended before the trailing magic", Position);
            return false;
        }
        Span<byte> magic = stackalloc byte[McapConstants.MagicLength];
        buffer.Slice(0, McapConstants.MagicLength).CopyTo(magic);
        if (!magic.SequenceEqual(McapConstants.Magic))
            ThrowHelper.Throw(McapErrorKind.BadMagic,
                leading ? "not an MCAP stream (bad leading magic)" : "bad trailing magic after the footer", Position);
        if (leading && _options.ValidateCrcs) _crc.Append(magic);
        buffer = buffer.Slice(McapConstants.MagicLength);
        Position += McapConstants.MagicLength;
        return true;
    }

    /// <summary>Returns null to continue the loop (a skipped record or a chunk entered), else the status.</summary>
    private McapReadStatus? ReadTopLevel(ref ReadOnlySequence<byte> buffer, bool isFinalBlock, out McapRecord record)
    {
        record = default;
        const int prefixLength = McapConstants.RecordPrefixLength;
        if (buffer.Length < prefixLength)
        {
            FlushHash();
            if (!isFinalBlock) return McapReadStatus.NeedMoreData;
            if (buffer.IsEmpty) { _phase = Phase.Done; return McapReadStatus.End; }
            ThrowHelper.Throw(McapErrorKind.Truncated, $"input ended {buffer.Length} bytes into a record prefix", Position);
        }

        Span<byte> prefix = stackalloc byte[prefixLength];
        var first = buffer.FirstSpan;
        if (first.Length >= prefixLength) first[..prefixLength].CopyTo(prefix);
        else buffer.Slice(0, prefixLength).CopyTo(prefix);
        var opcode = (McapOpcode)prefix[0];
        var length = BinaryPrimitives.ReadUInt64LittleEndian(prefix[1..]);
        var offset = Position;
        if (opcode == McapOpcode.Invalid)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, "opcode 0x00 is invalid", offset, opcode);
        if (length > (ulong)_options.MaxRecordSize)
            ThrowHelper.Throw(McapErrorKind.RecordTooLarge,
                $"record declares {length} content bytes, more than the maximum {_options.MaxRecordSize}", offset, opcode);
        var total = prefixLength + (long)length;
        if (buffer.Length < total)
        {
            FlushHash();
            if (isFinalBlock)
                ThrowHelper.Throw(McapErrorKind.Truncated,
                    $"record declares {length} content bytes but the input ends after {buffer.Length - prefixLength}", offset, opcode);
            return McapReadStatus.NeedMoreData;
        }

        var atRecord = buffer;
        // Fast path: the whole record lies in the first segment (the common case) — no sequence slicing.
        var content = buffer.First.Length >= total
            ? buffer.First.Slice(prefixLength, (int)length)
            : Contiguous(buffer.Slice(prefixLength, (long)length));
        buffer = buffer.Slice(total);
        Position += total;
        if (opcode is not (McapOpcode.DataEnd or McapOpcode.Footer)) PendHash(atRecord, total);

        switch (opcode)
        {
            case McapOpcode.Chunk:
                FlushHash(); // before anything that may throw and be skipped by a caller
                EnterChunk(content, offset);
                if (!_options.EmitChunks) return null;
                break;
            case McapOpcode.Attachment:
                if (_options.ValidateCrcs) CheckAttachmentCrc(content.Span, offset);
                break;
            case McapOpcode.DataEnd:
                FlushHash();
                if (_inSummary) _crc.Append(atRecord.Slice(0, total).ToArray()); // a second DataEnd is just a summary record
                EndDataSection(content.Span, offset);
                break;
            case McapOpcode.Footer:
                FlushHash();
                if (_options.ValidateCrcs)
                {
                    // The summary CRC stops before the Footer's own summary_crc field.
                    _crc.Append(prefix);
                    _crc.Append(content.Span[..Math.Min(content.Length, 16)]);
                }
                CheckSummaryCrc(content.Span, offset);
                _phase = Phase.TrailingMagic;
                break;
            default:
                if (!McapConstants.IsKnown(opcode) && !_options.EmitUnknownRecords) return null;
                break;
        }
        record = new McapRecord(opcode, content, offset, -1);
        return McapReadStatus.Record;
    }

    /// <summary>The record content as one memory block: a slice when it lies in one segment, else a copy in scratch.</summary>
    private ReadOnlyMemory<byte> Contiguous(ReadOnlySequence<byte> content)
    {
        if (content.IsSingleSegment) return content.First;
        var span = _scratch.Resize(checked((int)content.Length));
        content.CopyTo(span);
        return _scratch.WrittenMemory;
    }

    private void PendHash(in ReadOnlySequence<byte> atRecord, long total)
    {
        if (!_options.ValidateCrcs) return;
        if (_hashLength == 0) _hashSource = atRecord;
        _hashLength += total;
    }

    /// <summary>Hashes the pending run. Called before the caller may release the buffer (need more, end) and before checks.</summary>
    private void FlushHash()
    {
        if (_hashLength == 0) return;
        foreach (var segment in _hashSource.Slice(0, _hashLength)) _crc.Append(segment.Span);
        _hashLength = 0;
        _hashSource = default;
    }

    private void EndDataSection(ReadOnlySpan<byte> content, long offset)
    {
        var dataEnd = McapRecordParser.ParseDataEnd(content, offset);
        if (_options.ValidateCrcs && dataEnd.DataSectionCrc != 0 && !_inSummary)
        {
            var actual = _crc.GetCurrentHashAsUInt32();
            if (actual != dataEnd.DataSectionCrc)
                ThrowHelper.Throw(McapErrorKind.CrcMismatch,
                    $"data section CRC is {actual:x8} but DataEnd says {dataEnd.DataSectionCrc:x8}", offset, McapOpcode.DataEnd);
        }
        _inSummary = true;
        _crc.Reset();
    }

    private void CheckSummaryCrc(ReadOnlySpan<byte> content, long offset)
    {
        var footer = McapRecordParser.ParseFooter(content, offset);
        // Without DataEnd the summary CRC has no defined start; only check it when DataEnd was seen.
        if (!_options.ValidateCrcs || footer.SummaryCrc == 0 || !_inSummary) return;
        var actual = _crc.GetCurrentHashAsUInt32();
        if (actual != footer.SummaryCrc)
            ThrowHelper.Throw(McapErrorKind.CrcMismatch,
                $"summary CRC is {actual:x8} but the Footer says {footer.SummaryCrc:x8}", offset, McapOpcode.Footer);
    }

    private static void CheckAttachmentCrc(ReadOnlySpan<byte> content, long offset)
    {
        var covered = McapRecordParser.AttachmentCrcCoverage(content, offset);
        if (content.Length < covered + 4) ThrowHelper.FieldOverrun(McapOpcode.Attachment, offset, "crc");
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(content[covered..]);
        if (stored == 0) return;
        var actual = Crc32.HashToUInt32(content[..covered]);
        if (actual != stored)
            ThrowHelper.Throw(McapErrorKind.CrcMismatch, $"attachment CRC is {actual:x8} but the record says {stored:x8}", offset, McapOpcode.Attachment);
    }

    private void EnterChunk(ReadOnlyMemory<byte> content, long offset)
    {
        var chunk = McapRecordParser.ParseChunk(content, offset);
        _chunkRecords = DecompressChunk(chunk, offset, _codec, _chunkBuffer, _options);
        _chunkPosition = 0;
        _chunkOffset = offset;
        _phase = Phase.InChunk;
    }

    /// <summary>
    /// Decompresses (or, uncompressed, just slices) a chunk's records and checks their CRC. Shared with
    /// the indexed reader and doctor so every path applies the same limits.
    /// </summary>
    internal static ReadOnlyMemory<byte> DecompressChunk(Chunk chunk, long offset, ChunkCodec codec, PooledBuffer buffer, McapReaderOptions options)
    {
        if (chunk.UncompressedSize > (ulong)options.MaxUncompressedChunkSize || chunk.UncompressedSize > int.MaxValue)
            ThrowHelper.Throw(McapErrorKind.RecordTooLarge,
                $"chunk declares {chunk.UncompressedSize} uncompressed bytes, more than the maximum {options.MaxUncompressedChunkSize}", offset, McapOpcode.Chunk);
        ReadOnlyMemory<byte> records;
        if (chunk.Compression.Length == 0)
        {
            if ((ulong)chunk.Records.Length != chunk.UncompressedSize)
                ThrowHelper.Throw(McapErrorKind.InvalidRecord,
                    $"uncompressed chunk holds {chunk.Records.Length} bytes but declares {chunk.UncompressedSize}", offset, McapOpcode.Chunk);
            records = chunk.Records;
        }
        else
        {
            // Into memory that grows with the real output: the declared size is only an upper bound.
            codec.Decompress(chunk.Compression, chunk.Records, buffer, (int)chunk.UncompressedSize, offset);
            records = buffer.WrittenMemory;
        }
        if (options.ValidateCrcs && chunk.UncompressedCrc != 0)
        {
            var actual = Crc32.HashToUInt32(records.Span);
            if (actual != chunk.UncompressedCrc)
                ThrowHelper.Throw(McapErrorKind.CrcMismatch,
                    $"chunk CRC is {actual:x8} but the record says {chunk.UncompressedCrc:x8}", offset, McapOpcode.Chunk);
        }
        return records;
    }

    private bool TryReadChunkRecord(out McapRecord record)
    {
        var span = _chunkRecords.Span;
        while (_chunkPosition < span.Length)
        {
            if (!RecordIterator.TryNext(_chunkRecords, ref _chunkPosition, out var opcode, out var content, out var start))
                AbandonChunk(McapErrorKind.InvalidRecord,
                    $"a record inside the chunk overruns it at chunk offset {_chunkPosition}");
            if (opcode == McapOpcode.Invalid)
                AbandonChunk(McapErrorKind.InvalidRecord, $"opcode 0x00 inside the chunk at chunk offset {start}");
            if (!McapConstants.IsKnown(opcode) && !_options.EmitUnknownRecords) continue;
            record = new McapRecord(opcode, content, start, _chunkOffset);
            return true;
        }
        record = default;
        return false;
    }

    /// <summary>Leaves the chunk before throwing, so a caller that catches can read on after it.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void AbandonChunk(McapErrorKind kind, string message)
    {
        _phase = Phase.Records;
        _chunkRecords = default;
        ThrowHelper.Throw(kind, message, _chunkOffset, McapOpcode.Chunk);
    }

    public void Dispose()
    {
        _scratch.Dispose();
        _chunkBuffer.Dispose();
        _codec.Dispose();
    }

    /// <summary>
    /// Reads every record of a stream. Each record is valid until the enumeration moves on.
    /// A stream that ends inside a record throws a Truncated <see cref="McapException"/>.
    /// </summary>
    public static IEnumerable<McapRecord> ReadRecords(Stream stream, McapReaderOptions? options = null, int readSize = 64 * 1024)
    {
        using var reader = new McapStreamReader(options);
        using var window = new StreamWindow(stream, readSize);
        while (true)
        {
            var buffer = window.Buffer;
            var status = reader.Read(ref buffer, window.EndOfStream, out var record);
            window.Consume(buffer);
            if (status == McapReadStatus.End) yield break;
            if (status == McapReadStatus.Record) yield return record;
            else window.Fill();
        }
    }

    /// <summary>Reads every record from a pipe. Each record is valid until the enumeration moves on.</summary>
    public static async IAsyncEnumerable<McapRecord> ReadRecordsAsync(PipeReader pipe, McapReaderOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new McapStreamReader(options);
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            McapReadStatus status;
            while (true)
            {
                status = reader.Read(ref buffer, result.IsCompleted, out var record);
                if (status != McapReadStatus.Record) break;
                yield return record;
            }
            pipe.AdvanceTo(buffer.Start, buffer.End);
            if (status == McapReadStatus.End) yield break;
        }
    }
}
