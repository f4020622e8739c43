namespace Recorder.Recording;

/// <summary>
/// The bounded queue between ingest and the writer, counted in bytes. Producers await space (the
/// backpressure reaches their socket or FIFO); the single writer thread blocks for items. Every
/// item is stamped at enqueue, under the lock, with the receive clock, so stamps are in queue
/// order: the writer sees non-decreasing log times within a clock epoch.
/// </summary>
public sealed class BatchQueue
{
    private readonly object _lock = new();
    private readonly Queue<MessageBatch> _items = new();
    private readonly Stack<MessageBatch> _pool = new();
    private readonly RecordingClock _clock;
    private readonly TimeProvider _time;
    // The writer's timed wait: one timer, re-armed per wait (no allocation), that wakes the monitor when it
    // fires. It lives as long as the queue (the process); disarmed between waits, it holds nothing.
    private ITimer? _waitTimer;
    private long _waitsStarted;
    private long _waitsExpired;
    private int _waiting;
    private TaskCompletionSource? _space;
    private long _bytes;
    private ulong[] _drops = new ulong[64];
    private ulong[] _refused = new ulong[64];
    private ulong _droppedTotal;
    private ulong _lastStamp;
    private int _lastEpoch;
    private bool _completed;

    /// <param name="time">
    /// What the writer's timed waits (<see cref="TryDequeue"/>) run on: by default the receive
    /// clock's, so the whole recording stage runs on one clock (a fake one in tests).
    /// </param>
    public BatchQueue(long capacityBytes, RecordingClock clock, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        CapacityBytes = capacityBytes;
        _clock = clock;
        _time = time ?? clock.Time;
        Memory = new BatchMemory(capacityBytes);
    }

    public long CapacityBytes { get; }

    /// <summary>The slab every batch of this queue is built in: sized by the capacity, so the queue's bound is the memory's bound.</summary>
    public BatchMemory Memory { get; }

    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    public int Depth
    {
        get { lock (_lock) return _items.Count; }
    }

    /// <summary>Times a producer had to wait for space: visible backpressure.</summary>
    public long Stalls { get; private set; }

    public RecordingClock Clock => _clock;

    public MessageBatch Rent()
    {
        lock (_lock) return _pool.Count > 0 ? _pool.Pop() : new MessageBatch(Memory);
    }

    public void Return(MessageBatch batch)
    {
        batch.Clear();
        batch.Command = null;
        batch.ClockStep = null;
        lock (_lock)
            if (_pool.Count < 64) _pool.Push(batch);
    }

    /// <summary>
    /// Queues a batch, following its <see cref="MessageBatch.Policy"/> when the queue is full: block
    /// waits for space; drop_newest drops this batch; drop_oldest evicts the oldest queued drop_oldest
    /// batches (or, when there are none, this one). Every dropped message is counted per channel.
    /// An empty queue always admits one item. Returns false when the batch was dropped (it then
    /// belongs to the caller again).
    /// </summary>
    public async ValueTask<bool> EnqueueAsync(MessageBatch batch, CancellationToken cancellationToken = default)
    {
        var stalled = false;
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_completed) throw new OperationCanceledException("the recorder is stopping");
                if (!Fits(batch) && batch.Policy == DropPolicy.DropOldest) EvictOldest(batch.QueueBytes);
                if (Fits(batch))
                {
                    Stamp(batch);
                    _items.Enqueue(batch);
                    _bytes += batch.QueueBytes;
                    Monitor.Pulse(_lock);
                    return true;
                }
                if (batch.Policy != DropPolicy.Block)
                {
                    CountDrops(batch);
                    return false;
                }
                if (!stalled)
                {
                    stalled = true;
                    Stalls++;
                }
                wait = (_space ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool Fits(MessageBatch batch) => _bytes == 0 || _bytes + batch.QueueBytes <= CapacityBytes;

    /// <summary>Drops queued drop_oldest batches, oldest first, until <paramref name="needed"/> bytes fit (or none are left).</summary>
    private void EvictOldest(int needed)
    {
        if (!_items.Any(b => b.Policy == DropPolicy.DropOldest && b.Command is null)) return;
        var kept = new Queue<MessageBatch>(_items.Count);
        while (_items.TryDequeue(out var item))
        {
            if (_bytes + needed > CapacityBytes && item.Policy == DropPolicy.DropOldest && item.Command is null)
            {
                _bytes -= item.QueueBytes;
                CountDrops(item);
                item.Clear();
                if (_pool.Count < 64) _pool.Push(item);
                continue;
            }
            kept.Enqueue(item);
        }
        while (kept.TryDequeue(out var item)) _items.Enqueue(item);
    }

    private void CountDrops(MessageBatch batch)
    {
        foreach (var entry in batch)
        {
            if (entry.ChannelId >= _drops.Length) Array.Resize(ref _drops, Math.Max(entry.ChannelId + 1, _drops.Length * 2));
            _drops[entry.ChannelId]++;
            _droppedTotal++;
        }
    }

    /// <summary>Messages dropped on a channel so far (queue full under a drop policy, or a writer that cannot write).</summary>
    public ulong Drops(ushort channelId)
    {
        lock (_lock) return channelId < _drops.Length ? _drops[channelId] : 0;
    }

    public ulong DroppedTotal
    {
        get { lock (_lock) return _droppedTotal; }
    }

    /// <summary>
    /// Counts a message ingest refused on a channel (a line that is not JSON): it never reached the
    /// queue, but it is reported per topic beside the drops (status, diagnostics, topic_stats).
    /// </summary>
    public void CountRefused(ushort channelId)
    {
        lock (_lock)
        {
            if (channelId >= _refused.Length) Array.Resize(ref _refused, Math.Max(channelId + 1, _refused.Length * 2));
            _refused[channelId]++;
        }
    }

    /// <summary>Messages refused on a channel so far (<see cref="CountRefused"/>).</summary>
    public ulong Refused(ushort channelId)
    {
        lock (_lock) return channelId < _refused.Length ? _refused[channelId] : 0;
    }

    /// <summary>Counts a batch the writer could not write (full disk), after its first <paramref name="skip"/> entries (those it did write): never silent.</summary>
    public void CountUnwritten(MessageBatch batch, int skip = 0)
    {
        lock (_lock)
        {
            var n = 0;
            foreach (var entry in batch)
                if (n++ >= skip) CountDrop(entry.ChannelId, 1);
        }
    }

    /// <summary>Counts <paramref name="count"/> messages of one channel the writer could not write.</summary>
    public void CountUnwritten(ushort channelId, ulong count)
    {
        lock (_lock) CountDrop(channelId, count);
    }

    private void CountDrop(ushort channelId, ulong count)
    {
        if (channelId >= _drops.Length) Array.Resize(ref _drops, Math.Max(channelId + 1, _drops.Length * 2));
        _drops[channelId] += count;
        _droppedTotal += count;
    }

    /// <summary>Queues a command without waiting for space: control must get through a full queue.</summary>
    public void EnqueueCommand(RecorderCommand command)
    {
        var item = Rent();
        item.Command = command;
        lock (_lock)
        {
            if (_completed) return;
            Stamp(item);
            _items.Enqueue(item);
            _bytes += item.QueueBytes;
            Monitor.Pulse(_lock);
        }
    }

    private void Stamp(MessageBatch batch)
    {
        var now = _clock.Now();
        var epoch = _clock.Epoch;
        if (epoch != _lastEpoch)
        {
            _lastEpoch = epoch;
            _lastStamp = 0;
        }
        if (now < _lastStamp) now = _lastStamp;
        _lastStamp = now;
        batch.ReceiveTime = now;
        batch.Epoch = epoch;
        // The step travels with the first item after it, so the writer records it in order.
        batch.ClockStep = _clock.TakeStep();
    }

    /// <summary>The receive clock now, in the same order as the stamps (for the writer's reorder watermark).</summary>
    public ulong Now()
    {
        lock (_lock)
        {
            var now = _clock.Now();
            return now < _lastStamp ? _lastStamp : now;
        }
    }

    /// <summary>
    /// The writer's side (one thread): the next item, waiting up to <paramref name="timeout"/> of the
    /// queue's <see cref="TimeProvider"/>. False on timeout or when completed and drained.
    /// </summary>
    public bool TryDequeue(TimeSpan timeout, out MessageBatch batch)
    {
        lock (_lock)
        {
            if (_items.Count == 0 && !_completed && timeout > TimeSpan.Zero) WaitForItem(timeout);
            if (_items.Count == 0)
            {
                batch = null!;
                return false;
            }
            batch = _items.Dequeue();
            _bytes -= batch.QueueBytes;
            if (_space is { } space)
            {
                _space = null;
                space.TrySetResult();
            }
            return true;
        }
    }

    /// <summary>
    /// Waits under the lock until an item comes, the queue completes or the timeout passes on the
    /// queue's clock (the timer's callback pulses the monitor). A callback left over from an earlier
    /// wait can only end this one early, which the caller takes as a timeout.
    /// </summary>
    private void WaitForItem(TimeSpan timeout)
    {
        _waitTimer ??= _time.CreateTimer(static state => ((BatchQueue)state!).WaitExpired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var wait = ++_waitsStarted;
        _waiting = 1;
        _waitTimer.Change(timeout, Timeout.InfiniteTimeSpan);
        try
        {
            while (_items.Count == 0 && !_completed && _waitsExpired < wait) Monitor.Wait(_lock);
        }
        finally
        {
            _waiting = 0;
            _waitTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    private void WaitExpired()
    {
        lock (_lock)
        {
            _waitsExpired = _waitsStarted;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Whether the writer is waiting in <see cref="TryDequeue"/> now (for tests that advance a fake clock under it).</summary>
    internal bool WriterWaiting
    {
        get { lock (_lock) return _waiting != 0; }
    }

    /// <summary>No more items: waiting producers are released with cancellation, the writer drains what is queued.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            Monitor.PulseAll(_lock);
            _space?.TrySetResult();
            _space = null;
        }
    }

    public bool IsCompletedAndEmpty
    {
        get { lock (_lock) return _completed && _items.Count == 0; }
    }
}
