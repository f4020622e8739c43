using System.Buffers;

namespace Recorder.Mcap.Internal;

/// <summary>
/// A growable byte buffer rented from the array pool, reused across chunks so the steady state
/// allocates nothing. It grows by doubling and only shrinks when disposed.
/// </summary>
internal sealed class PooledBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _array;
    private int _count;

    public PooledBuffer(int initialCapacity = 4096) => _array = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 256));

    public int Count => _count;
    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _count);
    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _count);
    public Span<byte> WritableSpan => _array.AsSpan(0, _count);

    public void Clear() => _count = 0;

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_array.Length - _count)) throw new ArgumentOutOfRangeException(nameof(count));
        _count += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_count);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_count);
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_array.AsSpan(_count));
        _count += bytes.Length;
    }

    /// <summary>Makes the written length exactly <paramref name="length"/>, growing as needed (contents past the old count are undefined).</summary>
    public Span<byte> Resize(int length)
    {
        _count = 0;
        Ensure(length);
        _count = length;
        return _array.AsSpan(0, length);
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_array.Length - _count >= sizeHint) return;
        var needed = (long)_count + sizeHint;
        var size = Math.Max(needed, (long)_array.Length * 2);
        if (size > Array.MaxLength) size = Math.Max(needed, Array.MaxLength);
        if (size > Array.MaxLength) throw new OutOfMemoryException("buffer would exceed the maximum array length");
        var bigger = ArrayPool<byte>.Shared.Rent((int)size);
        _array.AsSpan(0, _count).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }

    public void Dispose()
    {
        var array = _array;
        _array = [];
        _count = 0;
        if (array.Length > 0) ArrayPool<byte>.Shared.Return(array);
    }
}
