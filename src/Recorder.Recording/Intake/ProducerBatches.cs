namespace Recorder.Recording;

/// <summary>
/// A producer's open batches, one per drop policy, so the queue can apply each topic's policy to a
/// whole batch. Messages keep their order within a policy; a read's batches are queued together.
/// <para>Part of <see cref="IRecordingIntake"/>'s contract, opened with
/// <see cref="IRecordingIntake.OpenProducer"/>. Sealed and built on the queue directly: <see cref="Add"/>
/// is the per-message path, a direct call that copies into the batch's block and allocates nothing.
/// Used by one session at a time.</para>
/// </summary>
public sealed class ProducerBatches
{
    private readonly BatchQueue _queue;
    private readonly string _source;
    private readonly MessageBatch?[] _open = new MessageBatch?[3];
    private readonly List<MessageBatch> _ready = new();

    internal ProducerBatches(BatchQueue queue, string source)
    {
        _queue = queue;
        _source = source;
    }

    /// <summary>
    /// Adds a message; a batch that fills up is set aside for <see cref="QueueReadyAsync"/>.
    /// <paramref name="chunkEndTime"/>: for a message that arrived inside a producer's chunk, the
    /// chunk's message_end_time (0 otherwise); a batch holds messages of one chunk only, so the
    /// writer can place each at its producer's offset before the chunk's arrival.
    /// </summary>
    public void Add(DropPolicy policy, ushort channelId, uint sequence, ulong producerLogTime, ulong publishTime, ReadOnlySpan<byte> data, ulong chunkEndTime = 0)
    {
        var batch = _open[(int)policy] ??= Rent(policy, chunkEndTime);
        if (batch.ChunkEndTime == chunkEndTime && batch.TryAdd(channelId, sequence, producerLogTime, publishTime, data)) return;
        _ready.Add(batch);
        batch = _open[(int)policy] = Rent(policy, chunkEndTime);
        batch.TryAdd(channelId, sequence, producerLogTime, publishTime, data);
    }

    public bool HasReady => _ready.Count > 0;

    /// <summary>Queues the batches that filled up (waiting for space under the block policy).</summary>
    public async ValueTask QueueReadyAsync(CancellationToken cancellationToken)
    {
        foreach (var batch in _ready) await Queue(batch, cancellationToken).ConfigureAwait(false);
        _ready.Clear();
    }

    /// <summary>Queues everything: the full batches, then the open ones.</summary>
    public async ValueTask QueueAllAsync(CancellationToken cancellationToken)
    {
        await QueueReadyAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < _open.Length; i++)
        {
            if (_open[i] is not { IsEmpty: false } batch) continue;
            _open[i] = null;
            await Queue(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask Queue(MessageBatch batch, CancellationToken cancellationToken)
    {
        // A dropped batch (queue full under a drop policy) was counted by the queue and comes back to us.
        if (!await _queue.EnqueueAsync(batch, cancellationToken).ConfigureAwait(false)) _queue.Return(batch);
    }

    private MessageBatch Rent(DropPolicy policy, ulong chunkEndTime)
    {
        var batch = _queue.Rent();
        batch.Source = _source;
        batch.Policy = policy;
        batch.ChunkEndTime = chunkEndTime;
        return batch;
    }

    /// <summary>Returns unqueued batches to the pool (their messages were never accepted).</summary>
    public void Release()
    {
        foreach (var batch in _ready) _queue.Return(batch);
        _ready.Clear();
        for (var i = 0; i < _open.Length; i++)
        {
            if (_open[i] is { } batch) _queue.Return(batch);
            _open[i] = null;
        }
    }
}
