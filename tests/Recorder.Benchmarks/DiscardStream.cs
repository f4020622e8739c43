namespace Recorder.Benchmarks;

/// <summary>
/// A write-only stream that only counts what it is given, so a benchmark measures the writer and
/// not a growing MemoryStream or the disk. Reusable across invocations through <see cref="Reset"/>.
/// </summary>
public sealed class DiscardStream : Stream
{
    public long BytesWritten { get; private set; }

    public void Reset() => BytesWritten = 0;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => BytesWritten;

    public override long Position
    {
        get => BytesWritten;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        BytesWritten += count;
    }

    public override void Write(ReadOnlySpan<byte> buffer) => BytesWritten += buffer.Length;

    public override void WriteByte(byte value) => BytesWritten++;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
