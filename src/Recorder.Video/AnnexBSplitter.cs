using System.Diagnostics.CodeAnalysis;

namespace Recorder.Video;

/// <summary>
/// Splits a raw Annex B elementary stream, pushed in arbitrary segments, into access units
/// (H.264 7.4.1.2.3, H.265 7.4.2.4.4). An AU is complete when the next one's first NAL arrives, so
/// it is reported one AU late, or at <see cref="Complete"/>. No allocation per AU once the internal
/// buffer has grown to the largest AU.
/// </summary>
/// <remarks>
/// <para>
/// An AU runs from its first unit's start code (the zero_byte of a 4-byte start code included: Annex
/// B gives that byte to the unit it precedes) to the next AU's first byte, so the AUs tile the
/// stream exactly. Zeros before the first start code (leading_zero_8bits) belong to the first AU.
/// </para>
/// <para>
/// Copies: an AU that lies wholly inside one pushed segment is handed out as a slice of that
/// segment. Only the AU still open when a push ends is copied, once, into an internal buffer that
/// grows to the largest such AU and is then reused.
/// </para>
/// <para>
/// Malformed input: a stream whose first non-zero bytes are not a start code, or an AU longer than
/// <see cref="MaxAccessUnitBytes"/>, throws <see cref="InvalidDataException"/>. Neither can be
/// resynchronised without guessing where the encoder's AUs are, so the splitter then fails for good:
/// every later call throws <see cref="InvalidOperationException"/> naming the first failure (start a
/// new splitter at the next keyframe to carry on). So does an exception thrown by the handler. A
/// truncated unit is not detectable in Annex B (it simply ends at the next start code) and stays in
/// its AU.
/// </para>
/// </remarks>
public sealed class AnnexBSplitter
{
    private enum State : byte
    {
        AwaitingStartCode,
        Splitting,
        Completed,
        Failed,
    }

    /// <summary>
    /// How many pushes back a unit's first byte can lie from the push that completes its start
    /// code: zero_byte, 00, 00 and 01 in four 1-byte pushes.
    /// </summary>
    private const int ArrivalHistory = 4;

    private readonly VideoCodec _codec;
    private readonly int _maxAccessUnitBytes;
    private readonly int _decisionBytes;
    private NalClassifier _classifier;
    private State _state;
    private string? _failure;

    private long _bytesPushed;
    private int _leadingZeros;
    private ulong _firstArrival;
    private readonly long[] _arrivalStarts = new long[ArrivalHistory];
    private readonly ulong[] _arrivalTimes = new ulong[ArrivalHistory];
    private int _arrivalCount;

    // The open access unit. Between pushes all of its bytes are in _buffer; during a push they are
    // either there (Window.InBuffer) or in the pushed segment.
    private byte[] _buffer = [];
    private int _buffered;
    private long _auStart;
    private ulong _auArrival;

    // The latest unit: its start code has been seen, its end has not.
    private long _unitStart;
    private long _payloadStart;
    private bool _unitDecided;
    private ulong _unitArrival;

    /// <summary>Every position before this one has been checked for a start code beginning there.</summary>
    private long _scanFrom;

    public AnnexBSplitter(VideoCodec codec, int maxAccessUnitBytes = 64 * 1024 * 1024)
    {
        if (codec is not (VideoCodec.H264 or VideoCodec.H265)) throw new ArgumentOutOfRangeException(nameof(codec), codec, "unknown codec");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAccessUnitBytes, 16);
        _codec = codec;
        _maxAccessUnitBytes = maxAccessUnitBytes;
        _classifier = new NalClassifier(codec);
        _decisionBytes = _classifier.DecisionBytes;
    }

    public VideoCodec Codec => _codec;

    /// <summary>The largest access unit accepted; a larger one is refused (a malformed or hostile stream).</summary>
    public int MaxAccessUnitBytes => _maxAccessUnitBytes;

    /// <summary>Bytes pushed so far.</summary>
    public long BytesPushed => _bytesPushed;

    /// <summary>
    /// Pushes the next bytes of the stream, which arrived at <paramref name="arrivalTime"/>; calls
    /// <paramref name="onAccessUnit"/> for each AU completed by them. Throws <see cref="InvalidDataException"/>
    /// when an AU exceeds the maximum size or the stream does not start with a start code.
    /// </summary>
    public void Push(ReadOnlySpan<byte> data, ulong arrivalTime, AccessUnitHandler onAccessUnit)
    {
        ArgumentNullException.ThrowIfNull(onAccessUnit);
        ThrowIfNotAccepting();
        if (data.IsEmpty) return;
        // Between pushes the open AU is wholly in the buffer.
        var window = new Window(data, _bytesPushed) { InBuffer = _state == State.Splitting };
        _bytesPushed += data.Length;
        RememberArrival(window.Base, arrivalTime);
        try
        {
            if (_state == State.AwaitingStartCode && !FindStreamStart(ref window)) return;
            while (NextStartCode(ref window) is var startCode and >= 0)
                OnStartCode(startCode, ref window, onAccessUnit);
            _scanFrom = Math.Max(_scanFrom, window.End - 2);
            // The open unit's first bytes are known to be its own once no start code can begin
            // among them: decide now rather than when the unit ends, which keeps latency to one AU.
            if (!_unitDecided && _scanFrom > _payloadStart + _decisionBytes)
            {
                CopyUpTo(_payloadStart + _decisionBytes, ref window);
                Decide(Slice(_payloadStart, _payloadStart + _decisionBytes, in window), ref window, onAccessUnit);
            }
            var openLength = (_unitDecided ? window.End : _unitStart) - _auStart;
            if (openLength > _maxAccessUnitBytes) ThrowTooLarge(openLength);
            KeepOpenAccessUnit(ref window);
        }
        catch (Exception e) when (Fail(e))
        {
            throw; // not reached: Fail records the failure and lets the exception pass
        }
    }

    /// <summary>End of stream: reports the last AU, if any.</summary>
    public void Complete(AccessUnitHandler onAccessUnit)
    {
        ArgumentNullException.ThrowIfNull(onAccessUnit);
        ThrowIfNotAccepting();
        if (_state == State.AwaitingStartCode)
        {
            // Nothing but zeros (or nothing): no unit, no AU.
            _state = State.Completed;
            _buffered = 0;
            return;
        }
        try
        {
            var window = new Window([], _bytesPushed) { InBuffer = true };
            var finished = Slice(_payloadStart, window.End, in window);
            if (!_unitDecided)
            {
                Decide(finished[..Math.Min(_decisionBytes, finished.Length)], ref window, onAccessUnit);
                finished = Slice(_payloadStart, window.End, in window);
            }
            _classifier.Add(finished);
            EmitAccessUnit(window.End, ref window, onAccessUnit);
            _state = State.Completed;
        }
        catch (Exception e) when (Fail(e))
        {
            throw;
        }
    }

    /// <summary>The pushed segment and where the open AU's bytes are.</summary>
    private ref struct Window(ReadOnlySpan<byte> data, long start)
    {
        public readonly ReadOnlySpan<byte> Data = data;
        /// <summary>Stream position of Data[0].</summary>
        public readonly long Base = start;
        public readonly long End => Base + Data.Length;
        /// <summary>The open AU starts in _buffer, which holds it up to _auStart + _buffered; else it starts inside Data.</summary>
        public bool InBuffer;
    }

    /// <summary>Skips leading zeros up to the first start code; false while only zeros have come.</summary>
    private bool FindStreamStart(ref Window window)
    {
        var data = window.Data;
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == 0)
            {
                _leadingZeros++;
                continue;
            }
            if (data[i] != 1 || _leadingZeros < 2) ThrowNoStartCode(window.Base + i, data[i]);
            _state = State.Splitting;
            _auStart = _unitStart = 0;
            _auArrival = _unitArrival = _firstArrival;
            _payloadStart = _scanFrom = window.Base + i + 1;
            window.InBuffer = _buffered > 0;
            return true;
        }
        // Only zeros so far: keep them, they are the first AU's leading_zero_8bits.
        if ((long)_buffered + data.Length > _maxAccessUnitBytes) ThrowTooLarge((long)_buffered + data.Length);
        Append(data);
        return false;
    }

    /// <summary>The next start code at or after _scanFrom, including one split across pushes; -1 if none.</summary>
    private long NextStartCode(ref Window window)
    {
        // A start code that began in an earlier push: at most the last two bytes held.
        while (_scanFrom < window.Base)
        {
            if (_scanFrom + 2 >= window.End) return -1;
            if (ByteAt(_scanFrom, in window) == 0 && ByteAt(_scanFrom + 1, in window) == 0 && ByteAt(_scanFrom + 2, in window) == 1)
                return _scanFrom;
            _scanFrom++;
        }
        var found = AnnexBScan.FindStartCode(window.Data, (int)(_scanFrom - window.Base));
        return found < 0 ? -1 : window.Base + found;
    }

    /// <summary>A start code at <paramref name="startCode"/> ends the open unit and opens the next.</summary>
    private void OnStartCode(long startCode, ref Window window, AccessUnitHandler onAccessUnit)
    {
        var unitStart = startCode - 1 >= _payloadStart && ByteAt(startCode - 1, in window) == 0 ? startCode - 1 : startCode;
        if (!_unitDecided)
        {
            // Decide before copying the rest of the unit: if it starts the next AU, the current one
            // is handed out first and the unit need not be copied at all.
            var headEnd = Math.Min(unitStart, _payloadStart + _decisionBytes);
            CopyUpTo(headEnd, ref window);
            Decide(Slice(_payloadStart, headEnd, in window), ref window, onAccessUnit);
        }
        CopyUpTo(startCode + 3, ref window);
        _classifier.Add(Slice(_payloadStart, unitStart, in window));
        if (unitStart - _auStart > _maxAccessUnitBytes) ThrowTooLarge(unitStart - _auStart);

        _unitStart = unitStart;
        _payloadStart = _scanFrom = startCode + 3;
        _unitDecided = false;
        _unitArrival = ArrivalOf(unitStart);
    }

    /// <summary>Decides from its first bytes whether the open unit begins the next AU; if so, the current one is complete.</summary>
    private void Decide(scoped ReadOnlySpan<byte> head, ref Window window, AccessUnitHandler onAccessUnit)
    {
        _unitDecided = true;
        if (_classifier.Flags.HasVcl && _classifier.StartsAccessUnit(head))
            EmitAccessUnit(_unitStart, ref window, onAccessUnit);
    }

    /// <summary>Reports the open AU as ending at <paramref name="end"/>, where the next one begins.</summary>
    private void EmitAccessUnit(long end, ref Window window, AccessUnitHandler onAccessUnit)
    {
        var length = end - _auStart;
        if (length > _maxAccessUnitBytes) ThrowTooLarge(length);
        var flags = _classifier.Flags;
        var info = new AccessUnitInfo(_auStart, (int)length, flags.Keyframe(_codec), flags.HasParameterSets(_codec), flags.HasBSlices, _auArrival);
        onAccessUnit(Slice(_auStart, end, in window), in info);

        _classifier.Flags = default;
        if (window.InBuffer)
        {
            if (end >= window.Base)
            {
                // The next AU lies in the pushed segment: no need to copy it.
                window.InBuffer = false;
                _buffered = 0;
            }
            else
            {
                // It began in an earlier push (a start code split across pushes): a few bytes move down.
                var keep = (int)(_auStart + _buffered - end);
                _buffer.AsSpan((int)(end - _auStart), keep).CopyTo(_buffer);
                _buffered = keep;
            }
        }
        _auStart = end;
        _auArrival = _unitArrival;
    }

    /// <summary>Between pushes the open AU lives in the buffer: copy what is not there yet.</summary>
    private void KeepOpenAccessUnit(ref Window window)
    {
        if (window.InBuffer)
        {
            CopyUpTo(window.End, ref window);
        }
        else
        {
            _buffered = 0;
            Append(window.Data[(int)(_auStart - window.Base)..]);
        }
    }

    /// <summary>While the open AU is in the buffer, extends it with the pushed bytes before <paramref name="position"/>.</summary>
    private void CopyUpTo(long position, ref Window window)
    {
        if (!window.InBuffer) return;
        var held = _auStart + _buffered;
        position = Math.Min(position, window.End);
        if (position > held) Append(window.Data[(int)(held - window.Base)..(int)(position - window.Base)]);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var needed = _buffered + bytes.Length;
        if (needed > _buffer.Length)
        {
            // Room for a maximum AU plus the next unit's start code and first bytes, never more.
            var limit = _maxAccessUnitBytes + 64;
            if (needed > limit) ThrowTooLarge(needed);
            var grown = new byte[(int)Math.Min(limit, Math.Max(needed, Math.Max(4096, 2L * _buffer.Length)))];
            _buffer.AsSpan(0, _buffered).CopyTo(grown);
            _buffer = grown;
        }
        bytes.CopyTo(_buffer.AsSpan(_buffered));
        _buffered = needed;
    }

    private byte ByteAt(long position, scoped in Window window) =>
        window.InBuffer && position < _auStart + _buffered ? _buffer[position - _auStart] : window.Data[(int)(position - window.Base)];

    /// <summary>Stream bytes [from, to), all inside the open AU's buffer or all inside the pushed segment.</summary>
    private ReadOnlySpan<byte> Slice(long from, long to, scoped in Window window) =>
        window.InBuffer
            ? _buffer.AsSpan((int)(from - _auStart), (int)(to - from))
            : window.Data.Slice((int)(from - window.Base), (int)(to - from));

    private void RememberArrival(long start, ulong time)
    {
        if (_arrivalCount == 0) _firstArrival = time;
        _arrivalStarts[_arrivalCount % ArrivalHistory] = start;
        _arrivalTimes[_arrivalCount % ArrivalHistory] = time;
        _arrivalCount++;
    }

    /// <summary>The arrival time of the push that delivered the byte at <paramref name="position"/> (one of the last few).</summary>
    private ulong ArrivalOf(long position)
    {
        var count = Math.Min(_arrivalCount, ArrivalHistory);
        for (var back = 1; back <= count; back++)
        {
            var slot = (_arrivalCount - back) % ArrivalHistory;
            if (_arrivalStarts[slot] <= position) return _arrivalTimes[slot];
        }
        return _arrivalTimes[_arrivalCount % ArrivalHistory];
    }

    private bool Fail(Exception e)
    {
        _state = State.Failed;
        _failure = e.Message;
        return false;
    }

    private void ThrowIfNotAccepting()
    {
        if (_state == State.Failed) ThrowFailed(_failure);
        if (_state == State.Completed) ThrowCompleted();
    }

    [DoesNotReturn]
    private static void ThrowFailed(string? reason) =>
        throw new InvalidOperationException($"The Annex B splitter failed earlier and accepts no more data: {reason}");

    [DoesNotReturn]
    private static void ThrowCompleted() =>
        throw new InvalidOperationException("The Annex B splitter was completed and accepts no more data.");

    [DoesNotReturn]
    private static void ThrowNoStartCode(long offset, byte value) =>
        throw new InvalidDataException(
            $"Not an Annex B stream: byte 0x{value:X2} at offset {offset} comes before the first start code (00 00 01); the stream must begin with a start code.");

    [DoesNotReturn]
    private void ThrowTooLarge(long length) =>
        throw new InvalidDataException(
            $"Access unit at stream offset {_auStart} is at least {length} bytes, more than the maximum of {_maxAccessUnitBytes}: not a video stream of the expected codec ({_codec.Name()}), or a corrupt one.");
}
