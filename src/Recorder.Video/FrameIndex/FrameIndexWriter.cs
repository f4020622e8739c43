using System.Buffers.Binary;

namespace Recorder.Video;

/// <summary>
/// Appends a .vidx frame index (proto/frame_index.md): the magic and header record at construction,
/// then track and frame records. Records are encoded into an internal buffer that goes to the stream
/// when full and at <see cref="Flush"/>; writing a frame allocates nothing. Each record carries its
/// own CRC, so a crash at any byte loses at most the record being written (and whatever was still
/// buffered: call <see cref="Flush"/> at the durability points of the recording).
/// <para>After an I/O error the writer is failed and every further call throws.</para>
/// <para>Use <see cref="FrameIndexer"/> to turn frames into records; this class only lays out bytes.</para>
/// </summary>
public sealed class FrameIndexWriter : IDisposable
{
    private const int BufferSize = 16 * 1024;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private byte[] _buffer = new byte[BufferSize];
    private int _count;
    private Exception? _failure;
    private bool _disposed;

    public FrameIndexWriter(Stream output, string recordingFileName, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(recordingFileName);
        var nameLength = FrameIndexFormat.Str16Length(recordingFileName, nameof(recordingFileName));
        _output = output;
        _leaveOpen = leaveOpen;
        RecordingFileName = recordingFileName;

        FrameIndexFormat.Magic.CopyTo(_buffer);
        _count = FrameIndexFormat.MagicLength;
        var record = _buffer.AsSpan(_count, FrameIndexFormat.RecordOverhead + FrameIndexFormat.HeaderFixedLength + nameLength);
        var payload = record[FrameIndexFormat.RecordPrefixLength..];
        BinaryPrimitives.WriteUInt16LittleEndian(payload, FrameIndex.MajorVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(payload[2..], FrameIndex.MinorVersion);
        var length = 4 + FrameIndexFormat.WriteStr16(payload[4..], recordingFileName);
        _count += FrameIndexFormat.Seal(record, FrameIndexRecordType.Header, length);
        BytesWritten = _count;
    }

    /// <summary>The name stored in the header: the recording's file name (X.mcap for X.vidx).</summary>
    public string RecordingFileName { get; }

    /// <summary>Bytes written so far, buffered ones included: the index file's length after the next <see cref="Flush"/>.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Frame records written so far.</summary>
    public long FrameCount { get; private set; }

    /// <summary>Appends a track record: a new track, or new information (resolution) for a known one. The latest record for an id wins.</summary>
    public void WriteTrack(ushort trackId, string topic, VideoCodec codec, FrameStore store, uint width, uint height, string? streamFile)
    {
        EnsureUsable();
        ArgumentNullException.ThrowIfNull(topic);
        if (trackId == 0) throw new ArgumentOutOfRangeException(nameof(trackId), "track id 0 is reserved");
        var topicLength = FrameIndexFormat.Str16Length(topic, nameof(topic));
        var fileLength = FrameIndexFormat.Str16Length(streamFile, nameof(streamFile));
        var payloadLength = FrameIndexFormat.TrackFixedLength + topicLength + fileLength;
        var record = Reserve(FrameIndexFormat.RecordOverhead + payloadLength);
        var p = record[FrameIndexFormat.RecordPrefixLength..];
        BinaryPrimitives.WriteUInt16LittleEndian(p, trackId);
        p[2] = (byte)codec;
        p[3] = (byte)store;
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], width);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], height);
        var position = 12;
        position += FrameIndexFormat.WriteStr16(p[position..], topic);
        position += FrameIndexFormat.WriteStr16(p[position..], streamFile);
        Commit(FrameIndexFormat.Seal(record, FrameIndexRecordType.Track, position));
    }

    /// <summary>Appends a frame record. Width and height are not stored per frame (track records carry them). Allocation-free.</summary>
    public void WriteFrame(in FrameIndexEntry entry)
    {
        EnsureUsable();
        var record = Reserve(FrameIndexFormat.FrameRecordLength);
        FrameIndexFormat.WriteFramePayload(record[FrameIndexFormat.RecordPrefixLength..], entry);
        Commit(FrameIndexFormat.Seal(record, FrameIndexRecordType.Frame, FrameIndexFormat.FramePayloadLength));
        FrameCount++;
    }

    /// <summary>
    /// Hands buffered records to the stream and flushes it; with <paramref name="toDisk"/> a FileStream
    /// is also fsynced. Call it right after the MCAP writer's own durability point.
    /// </summary>
    public void Flush(bool toDisk = false)
    {
        EnsureUsable();
        try
        {
            WriteBuffer();
            if (toDisk && _output is FileStream file) file.Flush(flushToDisk: true);
            else _output.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
        {
            _failure = e;
            throw new IOException($"writing the frame index failed: {e.Message}", e);
        }
    }

    /// <summary>Flushes what is buffered (not to disk) and closes the stream unless leaveOpen. A failed writer just closes.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            if (_failure is null) Flush();
        }
        finally
        {
            _disposed = true;
            _buffer = [];
            if (!_leaveOpen) _output.Dispose();
        }
    }

    private Span<byte> Reserve(int length)
    {
        if (_buffer.Length - _count < length)
        {
            Flush(toDisk: false);
            if (_buffer.Length < length) _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        }
        return _buffer.AsSpan(_count, length);
    }

    private void Commit(int length)
    {
        _count += length;
        BytesWritten += length;
    }

    private void WriteBuffer()
    {
        if (_count == 0) return;
        _output.Write(_buffer, 0, _count);
        _count = 0;
    }

    private void EnsureUsable()
    {
        if (_disposed) ThrowDisposed();
        if (_failure is not null) ThrowFailed(_failure);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(FrameIndexWriter));

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowFailed(Exception failure) =>
        throw new IOException($"the frame index writer failed earlier: {failure.Message}", failure);
}
