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
/// Messages from one producer, copied out of its read buffer into blocks of the queue's
/// <see cref="BatchMemory"/>, so the queue moves (and counts) blocks, not messages. Entries:
/// channel u16, sequence u32, producer log time u64, publish time u64, length u32, data; an entry
/// never spans two blocks. The queue stamps the batch with one receive time: its messages arrived
/// together, in one read.
/// </summary>
public sealed class MessageBatch
{
    public const int EntryHeaderLength = 26;
    /// <summary>The most a batch grows to for many small messages; a single larger message gets a batch of its own size.</summary>
    public const int MaxCapacity = 128 * 1024;

    /// <summary>The first block: most reads carry a few KiB, and the queue counts blocks, not content.</summary>
    public const int DefaultCapacity = BatchMemory.SmallBlock;

    private readonly BatchMemory _memory;
    private Segment[] _segments = new Segment[4];
    private int _segmentCount;
    private int _queueBytes;
    private int _length;

    private struct Segment
    {
        public Block Block;
        public int Used;
    }

    internal MessageBatch(BatchMemory memory) => _memory = memory;

    public int Count { get; private set; }

    /// <summary>Bytes of entries (headers and data) held.</summary>
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

    /// <summary>
    /// For messages that arrived inside a producer's chunk: the chunk's message_end_time (producer
    /// clock); 0 for messages sent one by one. Under receive timestamps the writer places each message
    /// at the arrival minus its producer-time distance to the chunk's end (see proto/ingest.md).
    /// </summary>
    public ulong ChunkEndTime { get; set; }

    /// <summary>What the queue may do with this batch when it is full (one policy per batch: producers keep one batch per policy).</summary>
    public DropPolicy Policy { get; set; }

    /// <summary>A control item instead of messages.</summary>
    public RecorderCommand? Command { get; set; }

    /// <summary>Bytes this batch holds against the queue's capacity: its blocks, not just its content, so the queue bounds memory.</summary>
    public int QueueBytes => _queueBytes;

    /// <summary>False when the message does not fit; an empty batch always takes it (a block of its own size for a large message).</summary>
    public bool TryAdd(ushort channelId, uint sequence, ulong producerLogTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var needed = EntryHeaderLength + data.Length;
        Span<byte> span;
        if (_segmentCount > 0 && _segments[_segmentCount - 1] is { Block.Size: <= BatchMemory.LargeBlock } last && last.Block.Size - last.Used >= needed)
        {
            ref var current = ref _segments[_segmentCount - 1];
            span = current.Block.Span.Slice(current.Used, needed);
            current.Used += needed;
        }
        else
        {
            // After the first block, grow by 32 KiB at least: fewer blocks per batch.
            var size = BatchMemory.BlockSizeFor(Math.Max(needed, _segmentCount == 0 ? 0 : BatchMemory.MediumBlock));
            if (Count > 0 && (long)_queueBytes + size > MaxCapacity) return false;
            var block = _memory.Rent(size);
            if (_segmentCount == _segments.Length) Array.Resize(ref _segments, _segments.Length * 2);
            _segments[_segmentCount++] = new Segment { Block = block, Used = needed };
            _queueBytes += block.Size;
            span = block.Span[..needed];
        }
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

    /// <summary>Empties the batch and gives its blocks back to the queue's memory at once.</summary>
    public void Clear()
    {
        for (var i = 0; i < _segmentCount; i++)
        {
            _memory.Return(_segments[i].Block);
            _segments[i] = default;
        }
        _segmentCount = 0;
        _queueBytes = 0;
        _length = 0;
        Count = 0;
        Source = "";
        Policy = DropPolicy.Block;
        ChunkEndTime = 0;
    }

    public Enumerator GetEnumerator() => new(this);

    public readonly ref struct Entry(ushort channelId, uint sequence, ulong producerLogTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        public ushort ChannelId { get; } = channelId;
        public uint Sequence { get; } = sequence;
        public ulong ProducerLogTime { get; } = producerLogTime;
        public ulong PublishTime { get; } = publishTime;
        public ReadOnlySpan<byte> Data { get; } = data;
    }

    public ref struct Enumerator
    {
        private readonly MessageBatch _batch;
        private ReadOnlySpan<byte> _span;
        private int _segment;
        private int _next;
        private Entry _current;

        internal Enumerator(MessageBatch batch)
        {
            _batch = batch;
            _segment = -1;
        }

        public readonly Entry Current => _current;

        public bool MoveNext()
        {
            while (_next >= _span.Length)
            {
                if (++_segment >= _batch._segmentCount) return false;
                ref var segment = ref _batch._segments[_segment];
                _span = segment.Block.Span[..segment.Used];
                _next = 0;
            }
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
