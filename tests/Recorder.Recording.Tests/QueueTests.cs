using Microsoft.Extensions.Time.Testing;

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
        // EnqueueAsync runs up to its wait before returning: the stall is counted and the task pending now.
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, queue.Stalls);
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

    /// <summary>A queue whose timed waits run on a fake clock, and the writer's wait on it started on another thread.</summary>
    private static (BatchQueue Queue, FakeTimeProvider Time) FakeTimed()
    {
        var time = new FakeTimeProvider();
        return (new BatchQueue(1 << 20, new RecordingClock(time), time), time);
    }

    private static Task<(bool Dequeued, MessageBatch? Batch)> StartWriterWait(BatchQueue queue, TimeSpan timeout)
    {
        var wait = Task.Run(() => (queue.TryDequeue(timeout, out var batch), (MessageBatch?)batch));
        // The bound only turns a hang into a failure: the waiter parks at once.
        Assert.True(SpinWait.SpinUntil(() => queue.WriterWaiting || wait.IsCompleted, TimeSpan.FromSeconds(30)), "the writer's wait never started");
        Assert.False(wait.IsCompleted);
        return wait;
    }

    [Fact]
    public async Task A_timed_dequeue_on_an_empty_queue_ends_when_the_queue_clock_passes_its_timeout()
    {
        var (queue, time) = FakeTimed();
        // An hour of the fake clock: a wait on the real clock would fail the bound below.
        var wait = StartWriterWait(queue, TimeSpan.FromHours(1));

        time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromTicks(1));
        Assert.False(wait.IsCompleted); // nothing can wake it before its timer fires
        Assert.True(queue.WriterWaiting);
        time.Advance(TimeSpan.FromTicks(1));
        var (dequeued, _) = await wait.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(dequeued);
        Assert.False(queue.WriterWaiting);
    }

    [Fact]
    public async Task Each_timed_dequeue_waits_its_own_full_timeout()
    {
        var (queue, time) = FakeTimed();
        var first = StartWriterWait(queue, TimeSpan.FromHours(1));
        time.Advance(TimeSpan.FromHours(1));
        Assert.False((await first.WaitAsync(TimeSpan.FromSeconds(30))).Dequeued);

        // The one timer is re-armed from now, not left at the first wait's deadline.
        var second = StartWriterWait(queue, TimeSpan.FromHours(3));
        time.Advance(TimeSpan.FromHours(2));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromHours(1));
        Assert.False((await second.WaitAsync(TimeSpan.FromSeconds(30))).Dequeued);
    }

    [Fact]
    public async Task A_timed_dequeue_takes_an_item_queued_while_it_waits_without_the_clock_moving()
    {
        var (queue, _) = FakeTimed();
        var wait = StartWriterWait(queue, TimeSpan.FromHours(1));

        var batch = Batch(queue, DropPolicy.Block, 3, 2, 10);
        Assert.True(await queue.EnqueueAsync(batch));
        var (dequeued, taken) = await wait.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(dequeued);
        Assert.Same(batch, taken);
        Assert.Equal([3, 3], Entries(taken!));
    }

    [Fact]
    public async Task Completing_the_queue_ends_a_timed_dequeue_without_the_clock_moving()
    {
        var (queue, _) = FakeTimed();
        var wait = StartWriterWait(queue, TimeSpan.FromHours(1));

        queue.Complete();
        Assert.False((await wait.WaitAsync(TimeSpan.FromSeconds(30))).Dequeued);
        Assert.True(queue.IsCompletedAndEmpty);
    }
}
