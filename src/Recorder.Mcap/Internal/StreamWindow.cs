using System.Buffers;

namespace Recorder.Mcap.Internal;

/// <summary>
/// A pooled window over a Stream for the synchronous read loops: hand <see cref="Buffer"/> to a
/// <see cref="McapStreamReader"/>, <see cref="Consume"/> what it sliced off, and <see cref="Fill"/>
/// when it needs more. The window grows when a single record is larger than it.
/// </summary>
internal sealed class StreamWindow(Stream stream, int initialSize) : IDisposable
{
    private byte[] _window = ArrayPool<byte>.Shared.Rent(initialSize);
    private int _start;
    private int _end;

    public bool EndOfStream { get; private set; }

    public ReadOnlySequence<byte> Buffer => new(_window, _start, _end - _start);

    /// <summary>Records that the reader left <paramref name="remaining"/> unconsumed.</summary>
    public void Consume(ReadOnlySequence<byte> remaining) => _start = _end - (int)remaining.Length;

    /// <summary>Reads more. Only call when the reader asked for more data: earlier records' memory is reused.</summary>
    public void Fill()
    {
        if (_start > 0)
        {
            Array.Copy(_window, _start, _window, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _window.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_window.Length * 2);
            Array.Copy(_window, bigger, _end);
            ArrayPool<byte>.Shared.Return(_window);
            _window = bigger;
        }
        var read = stream.Read(_window, _end, _window.Length - _end);
        if (read == 0) EndOfStream = true;
        _end += read;
    }

    public void Dispose()
    {
        var window = _window;
        _window = [];
        if (window.Length > 0) ArrayPool<byte>.Shared.Return(window);
    }
}
