using System.Buffers.Binary;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>
/// Reads single records of a seekable MCAP file by position, as an external index (a frame index,
/// a MessageIndex) names them: a top-level record by its file offset, or a record inside a chunk by
/// the chunk's file offset and the record's offset in the chunk's uncompressed records. The last
/// chunk read stays decompressed, so reading the messages of one chunk in turn decompresses it once.
/// Every check of the streaming reader applies (record size caps, chunk CRC, decompressed size).
/// </summary>
public sealed class McapRandomAccessReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly McapReaderOptions _options;
    private readonly ChunkCodec _codec = new();
    private readonly PooledBuffer _raw = new(0);
    private readonly PooledBuffer _decompressed = new(0);
    private long _cachedChunk = -1;
    private ReadOnlyMemory<byte> _cachedRecords;

    public McapRandomAccessReader(Stream stream, McapReaderOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek) throw new ArgumentException("random access needs a seekable stream", nameof(stream));
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? McapReaderOptions.Default;
    }

    public static McapRandomAccessReader Open(string path, McapReaderOptions? options = null) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.RandomAccess), options);

    /// <summary>The top-level record at <paramref name="offset"/>. Its content is valid until the next call.</summary>
    public McapRecord ReadRecord(long offset)
    {
        var (opcode, content) = ReadTopLevel(offset);
        return new McapRecord(opcode, content, offset, -1);
    }

    /// <summary>
    /// The uncompressed records of the Chunk record at <paramref name="chunkOffset"/> (CRC checked).
    /// Valid until a call that reads a different chunk.
    /// </summary>
    public ReadOnlyMemory<byte> ReadChunkRecords(long chunkOffset)
    {
        if (chunkOffset == _cachedChunk) return _cachedRecords;
        _cachedChunk = -1;
        var (opcode, content) = ReadTopLevel(chunkOffset);
        if (opcode != McapOpcode.Chunk)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"expected a Chunk record, found {opcode}", chunkOffset, opcode);
        var chunk = McapRecordParser.ParseChunk(content, chunkOffset);
        var records = McapStreamReader.DecompressChunk(chunk, chunkOffset, _codec, _decompressed, _options);
        if (chunk.Compression.Length == 0)
        {
            // Uncompressed: the records are a slice of _raw, which the next top-level read reuses; move them.
            records.Span.CopyTo(_decompressed.Resize(records.Length));
            records = _decompressed.WrittenMemory;
        }
        _cachedRecords = records;
        _cachedChunk = chunkOffset;
        return records;
    }

    /// <summary>
    /// The record at <paramref name="offsetInChunk"/> inside the chunk at <paramref name="chunkOffset"/>.
    /// Its <see cref="McapRecord.Offset"/> is <paramref name="offsetInChunk"/> and its
    /// <see cref="McapRecord.ChunkOffset"/> is <paramref name="chunkOffset"/>.
    /// </summary>
    public McapRecord ReadChunkRecord(long chunkOffset, long offsetInChunk)
    {
        var records = ReadChunkRecords(chunkOffset);
        if (offsetInChunk < 0 || offsetInChunk >= records.Length)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord,
                $"offset {offsetInChunk} lies outside the chunk's {records.Length} uncompressed bytes", chunkOffset, McapOpcode.Chunk);
        var position = (int)offsetInChunk;
        if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out _) || opcode == McapOpcode.Invalid)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"no whole record at chunk offset {offsetInChunk}", chunkOffset, McapOpcode.Chunk);
        return new McapRecord(opcode, content, offsetInChunk, chunkOffset);
    }

    private (McapOpcode, ReadOnlyMemory<byte>) ReadTopLevel(long offset)
    {
        var fileLength = _stream.Length;
        if (offset < 0 || offset > fileLength - McapConstants.RecordPrefixLength)
            ThrowHelper.Throw(McapErrorKind.Truncated, $"no record prefix at offset {offset} of a {fileLength}-byte file", offset);
        Span<byte> prefix = stackalloc byte[McapConstants.RecordPrefixLength];
        _stream.Position = offset;
        _stream.ReadExactly(prefix);
        var opcode = (McapOpcode)prefix[0];
        var length = BinaryPrimitives.ReadUInt64LittleEndian(prefix[1..]);
        if (opcode == McapOpcode.Invalid)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, "opcode 0x00 is invalid", offset, opcode);
        if (length > (ulong)_options.MaxRecordSize)
            ThrowHelper.Throw(McapErrorKind.RecordTooLarge,
                $"record declares {length} content bytes, more than the maximum {_options.MaxRecordSize}", offset, opcode);
        if ((long)length > fileLength - offset - McapConstants.RecordPrefixLength)
            ThrowHelper.Throw(McapErrorKind.Truncated,
                $"record declares {length} content bytes but the file ends after {fileLength - offset - McapConstants.RecordPrefixLength}", offset, opcode);
        var content = _raw.Resize((int)length);
        _stream.ReadExactly(content);
        return (opcode, _raw.WrittenMemory);
    }

    public void Dispose()
    {
        _raw.Dispose();
        _decompressed.Dispose();
        _codec.Dispose();
        if (!_leaveOpen) _stream.Dispose();
    }
}
