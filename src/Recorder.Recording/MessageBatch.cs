using System.Buffers;
using System.Buffers.Binary;

namespace Recorder.Recording;

/// <summary>What happens to a topic's messages when the queue to the writer is full.</summary>
public enum DropPolicy
{
    /// <summary>Wait for space: backpressure reaches the producer's socket or FIFO. Nothing is lost.</summary>
    Block,
    /// <summary>Make room by dropping the oldest queued messages of drop_oldest topics; each is counted.</summary>
    DropOldest,
    /// <summary>Drop the incoming messages; each is counted.</summary>
    DropNewest,
}

/// <summary>
/// Messages from one producer, copied out of its read buffer into one pooled block, so the queue
/// moves (and counts) blocks, not messages. Entries: channel u16, sequence u32, producer log time
/// u64, publish time u64, length u32, data. The queue stamps the batch with one receive time:
/// its messages arrived together, in one read.
/// </summary>
public sealed class MessageBatch
{
    public const int EntryHeaderLength = 26;
    /// <summary>The most a batch grows to for many small messages; a single larger message gets a batch of its own size.</summary>
    public const int MaxCapacity = 128 * 1024;

    /// <summary>Batches start small: most reads carry a few KiB, and the queue counts capacity, not content.</summary>
    public const int DefaultCapacity = 8 * 1024;

    private byte[] _buffer;
    private int _length;

    public MessageBatch(int capacity = DefaultCapacity) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    public int Count { get; private set; }
    public int Length => _length;
    public bool IsEmpty => Count == 0;

    /// <summary>Who sent it, for per-producer accounting and logs.</summary>
    public string Source { get; set; } = "";

    /// <summary>Set by the queue at enqueue: the recorder's receive time for every message in the batch.</summary>
    public ulong ReceiveTime { get; internal set; }

    /// <summary>Set by the queue: the clock epoch the receive time belongs to.</summary>
    public int Epoch { get; internal set; }

    /// <summary>Set by the queue on the first item stamped after the system clock stepped.</summary>
    public ClockStep? ClockStep { get; internal set; }

    /// <summary>What the queue may do with this batch when it is full (one policy per batch: producers keep one batch per policy).</summary>
    public DropPolicy Policy { get; set; }

    /// <summary>A control item instead of messages.</summary>
    public RecorderCommand? Command { get; set; }

    /// <summary>Bytes this batch holds against the queue's capacity: its memory, not just its content, so the queue bounds RSS.</summary>
    public int QueueBytes => _buffer.Length;

    /// <summary>False when the message does not fit; an empty batch always takes it (growing for a large message).</summary>
    public bool TryAdd(ushort channelId, uint sequence, ulong producerLogTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var needed = EntryHeaderLength + data.Length;
        if (_buffer.Length - _length < needed)
        {
            var wanted = _length + needed;
            if (Count > 0 && wanted > MaxCapacity) return false;
            // Grow by doubling (pooled), so memory follows what a read actually brought.
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(wanted, Math.Min(_buffer.Length * 2, MaxCapacity)));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var span = _buffer.AsSpan(_length, needed);
        BinaryPrimitives.WriteUInt16LittleEndian(span, channelId);
        BinaryPrimitives.WriteUInt32LittleEndian(span[2..], sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(span[6..], producerLogTime);
        BinaryPrimitives.WriteUInt64LittleEndian(span[14..], publishTime);
        BinaryPrimitives.WriteInt32LittleEndian(span[22..], data.Length);
        data.CopyTo(span[EntryHeaderLength..]);
        _length += needed;
        Count++;
        return true;
    }

    public void Clear()
    {
        _length = 0;
        Count = 0;
        Source = "";
        Policy = DropPolicy.Block;
        // Pooled batches go back to the small size: the queue counts their capacity.
        if (_buffer.Length > DefaultCapacity)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(DefaultCapacity);
        }
    }

    public Enumerator GetEnumerator() => new(_buffer.AsSpan(0, _length));

    public readonly ref struct Entry(ushort channelId, uint sequence, ulong producerLogTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        public ushort ChannelId { get; } = channelId;
        public uint Sequence { get; } = sequence;
        public ulong ProducerLogTime { get; } = producerLogTime;
        public ulong PublishTime { get; } = publishTime;
        public ReadOnlySpan<byte> Data { get; } = data;
    }

    public ref struct Enumerator(ReadOnlySpan<byte> span)
    {
        private readonly ReadOnlySpan<byte> _span = span;
        private int _next;
        private Entry _current;

        public readonly Entry Current => _current;

        public bool MoveNext()
        {
            if (_next >= _span.Length) return false;
            var s = _span[_next..];
            var length = BinaryPrimitives.ReadInt32LittleEndian(s[22..]);
            _current = new Entry(BinaryPrimitives.ReadUInt16LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[2..]),
                BinaryPrimitives.ReadUInt64LittleEndian(s[6..]), BinaryPrimitives.ReadUInt64LittleEndian(s[14..]),
                s.Slice(EntryHeaderLength, length));
            _next += EntryHeaderLength + length;
            return true;
        }
    }
}
