using System.Buffers;
using System.IO.Hashing;

namespace Recorder.Mcap.Internal;

/// <summary>
/// The writer's only path to its stream: buffers small records, passes large spans straight
/// through, keeps the absolute position, and runs the section CRC over every byte as it is
/// committed. Any stream failure is captured in <see cref="Failure"/> and surfaces as
/// <see cref="McapErrorKind.WriterFailed"/>.
/// </summary>
internal sealed class OutputSink : IBufferWriter<byte>, IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _buffered;
    private readonly Crc32 _crc = new();

    public OutputSink(Stream stream, int bufferSize)
    {
        _stream = stream;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
    }

    /// <summary>Bytes committed so far, buffered or written: the file offset of the next byte.</summary>
    public long Position { get; private set; }

    public bool CrcEnabled { get; set; }

    public Exception? Failure { get; private set; }

    // The running CRC is _crcBefore (bytes folded in by WriteWithCrc) followed by what _crc has seen since.
    private uint _crcBefore;
    private long _crcRunLength;

    public uint CurrentCrc => Crc32Combine.Combine(_crcBefore, _crc.GetCurrentHashAsUInt32(), _crcRunLength);

    public void ResetCrc(bool enabled)
    {
        _crc.Reset();
        _crcBefore = 0;
        _crcRunLength = 0;
        CrcEnabled = enabled;
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> whose CRC-32 the caller already has (an uncompressed chunk's
    /// records): the running CRC takes it by combination instead of hashing the bytes a second time.
    /// </summary>
    public void WriteWithCrc(ReadOnlySpan<byte> bytes, uint crcOfBytes)
    {
        if (!CrcEnabled)
        {
            Write(bytes);
            return;
        }
        _crcBefore = CurrentCrc;
        _crc.Reset();
        _crcRunLength = 0;
        CrcEnabled = false;
        try
        {
            Write(bytes);
        }
        finally
        {
            CrcEnabled = true;
        }
        _crcBefore = Crc32Combine.Combine(_crcBefore, crcOfBytes, bytes.Length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_buffer.Length - _buffered < sizeHint)
        {
            FlushBuffer();
            if (sizeHint > _buffer.Length)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(sizeHint);
            }
        }
        return _buffer.AsSpan(_buffered);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        GetSpan(sizeHint);
        return _buffer.AsMemory(_buffered);
    }

    public void Advance(int count)
    {
        if (CrcEnabled)
        {
            _crc.Append(_buffer.AsSpan(_buffered, count));
            _crcRunLength += count;
        }
        _buffered += count;
        Position += count;
    }

    /// <summary>Copies small spans into the buffer; writes large ones (chunk payloads, attachments) directly.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= _buffer.Length - _buffered)
        {
            bytes.CopyTo(_buffer.AsSpan(_buffered));
            Advance(bytes.Length);
            return;
        }
        FlushBuffer();
        if (CrcEnabled)
        {
            _crc.Append(bytes);
            _crcRunLength += bytes.Length;
        }
        try
        {
            _stream.Write(bytes);
        }
        catch (Exception e)
        {
            Fail(e);
        }
        Position += bytes.Length;
    }

    public void FlushBuffer()
    {
        if (_buffered == 0) return;
        try
        {
            _stream.Write(_buffer, 0, _buffered);
        }
        catch (Exception e)
        {
            Fail(e);
        }
        _buffered = 0;
    }

    /// <summary>Writes the buffer out and flushes the stream; with <paramref name="toDisk"/>, fsyncs a FileStream.</summary>
    public void Flush(bool toDisk)
    {
        FlushBuffer();
        try
        {
            if (toDisk && _stream is FileStream file) file.Flush(flushToDisk: true);
            else _stream.Flush();
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private void Fail(Exception e)
    {
        Failure = e;
        _buffered = 0;
        ThrowHelper.Throw(McapErrorKind.WriterFailed, $"writing to the output failed: {e.Message}", Position, inner: e);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }
}
