namespace Recorder.Recording.Tests;

public class QueueTests
{
    private static MessageBatch Batch(BatchQueue queue, DropPolicy policy, ushort channel, int messages, int size = 1000)
    {
        var batch = queue.Rent();
        batch.Policy = policy;
        for (var i = 0; i < messages; i++) batch.TryAdd(channel, (uint)i, 0, 0, new byte[size]);
        return batch;
    }

    [Fact]
    // The queue counts a batch's memory (8 KiB at least, doubling), not just its content.
    public async Task Drop_newest_drops_the_incoming_batch_and_counts_its_messages()
    {
        var queue = new BatchQueue(20_000, new RecordingClock());
        Assert.True(await queue.EnqueueAsync(Batch(queue, DropPolicy.DropNewest, 5, 8)));
        Assert.False(await queue.EnqueueAsync(Batch(queue, DropPolicy.DropNewest, 5, 4)));
        Assert.Equal(4UL, queue.Drops(5));
        Assert.Equal(1, queue.Depth);
    }

    [Fact]
    public async Task Drop_oldest_evicts_queued_batches_of_its_policy_oldest_first()
    {
        var queue = new BatchQueue(30_000, new RecordingClock());
        Assert.True(await queue.EnqueueAsync(Batch(queue, DropPolicy.DropOldest, 5, 4)));
        Assert.True(await queue.EnqueueAsync(Batch(queue, DropPolicy.Block, 6, 2)));
        Assert.True(await queue.EnqueueAsync(Batch(queue, DropPolicy.DropOldest, 5, 3)));
        Assert.True(await queue.EnqueueAsync(Batch(queue, DropPolicy.DropOldest, 7, 4))); // evicts the first /5 batch
        Assert.Equal(4UL, queue.Drops(5));
        Assert.Equal(0UL, queue.Drops(6));
        Assert.Equal(3, queue.Depth);
        Assert.True(queue.TryDequeue(TimeSpan.Zero, out var first));
        Assert.Equal(6, Entries(first)[0]); // the block batch kept its place at the front
    }

    private static List<ushort> Entries(MessageBatch batch)
    {
        var list = new List<ushort>();
        foreach (var e in batch) list.Add(e.ChannelId);
        return list;
    }

    [Fact]
    public async Task Block_waits_for_space_and_counts_a_stall()
    {
        var queue = new BatchQueue(20_000, new RecordingClock());
        Assert.True(await queue.EnqueueAsync(Batch(queue, DropPolicy.Block, 5, 8)));
        var waiting = queue.EnqueueAsync(Batch(queue, DropPolicy.Block, 5, 8)).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        Assert.True(queue.TryDequeue(TimeSpan.Zero, out _));
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, queue.Stalls);
        Assert.Equal(0UL, queue.DroppedTotal);
    }

    [Fact]
    public async Task Stamps_never_go_backwards_in_queue_order()
    {
        var queue = new BatchQueue(1 << 20, new RecordingClock());
        for (var i = 0; i < 100; i++) await queue.EnqueueAsync(Batch(queue, DropPolicy.Block, 1, 1, 10));
        ulong last = 0;
        while (queue.TryDequeue(TimeSpan.Zero, out var b))
        {
            Assert.True(b.ReceiveTime >= last);
            last = b.ReceiveTime;
        }
    }
}
