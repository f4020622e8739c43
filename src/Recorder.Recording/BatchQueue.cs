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
    private TaskCompletionSource? _space;
    private long _bytes;
    private ulong _lastStamp;
    private int _lastEpoch;
    private bool _completed;

    public BatchQueue(long capacityBytes, RecordingClock clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        CapacityBytes = capacityBytes;
        _clock = clock;
    }

    public long CapacityBytes { get; }

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
        lock (_lock) return _pool.Count > 0 ? _pool.Pop() : new MessageBatch();
    }

    public void Return(MessageBatch batch)
    {
        batch.Clear();
        batch.Command = null;
        batch.ClockStep = null;
        lock (_lock)
            if (_pool.Count < 64) _pool.Push(batch);
    }

    /// <summary>Queues a batch (or a command), waiting while the queue is full. An empty queue always admits one item.</summary>
    public async ValueTask EnqueueAsync(MessageBatch batch, CancellationToken cancellationToken = default)
    {
        var stalled = false;
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_completed) throw new OperationCanceledException("the recorder is stopping");
                if (_bytes == 0 || _bytes + batch.QueueBytes <= CapacityBytes)
                {
                    Stamp(batch);
                    _items.Enqueue(batch);
                    _bytes += batch.QueueBytes;
                    Monitor.Pulse(_lock);
                    return;
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

    /// <summary>The writer's side: the next item, waiting up to <paramref name="timeout"/>. False on timeout or when completed and drained.</summary>
    public bool TryDequeue(TimeSpan timeout, out MessageBatch batch)
    {
        lock (_lock)
        {
            if (_items.Count == 0 && !_completed && timeout > TimeSpan.Zero) Monitor.Wait(_lock, timeout);
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
