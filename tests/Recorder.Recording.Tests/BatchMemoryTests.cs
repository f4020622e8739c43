namespace Recorder.Recording.Tests;

/// <summary>The queue's slab: bounded by the queue's capacity, reused, and oversize messages handled on their own.</summary>
public class BatchMemoryTests
{
    [Fact]
    public void The_slab_never_holds_more_than_its_capacity_and_overflow_is_counted_and_given_back()
    {
        var memory = new BatchMemory(1 << 20); // 8 superblocks
        var blocks = new List<Block>();
        for (var i = 0; i < 200; i++) blocks.Add(memory.Rent(i % 3 == 0 ? 100 : i % 3 == 1 ? 20_000 : 100_000));
        Assert.True(memory.ResidentSlabBytes <= memory.CapacityBytes);
        Assert.Equal(memory.CapacityBytes, memory.ResidentSlabBytes);
        Assert.True(memory.OverflowBlocks > 0);
        Assert.True(memory.SlabBytesInUse <= memory.CapacityBytes);
        // Every block is distinct memory.
        Assert.Equal(blocks.Count, blocks.Select(b => b.Address).Distinct().Count());
        foreach (var block in blocks) memory.Return(block);
        Assert.Equal(0, memory.SlabBytesInUse);
        Assert.Equal(0, memory.SeparateBytesInUse);
    }

    [Fact]
    public void Freed_blocks_are_reused_so_memory_follows_the_deepest_use_not_the_traffic()
    {
        var memory = new BatchMemory(256L << 20);
        for (var round = 0; round < 10_000; round++)
        {
            var a = memory.Rent(8000);
            var b = memory.Rent(30_000);
            var c = memory.Rent(120_000);
            a.Span.Fill(1);
            b.Span.Fill(2);
            c.Span.Fill(3);
            memory.Return(b);
            memory.Return(a);
            memory.Return(c);
        }
        Assert.Equal(3 * 128 * 1024, memory.ResidentSlabBytes); // one superblock per size, reused
        Assert.Equal(0, memory.OverflowBlocks);
    }

    [Fact]
    public void Blocks_of_one_superblock_are_all_used_before_another_is_touched()
    {
        var memory = new BatchMemory(64L << 20);
        var small = Enumerable.Range(0, 16).Select(_ => memory.Rent(100)).ToList();
        Assert.Equal(128 * 1024, memory.ResidentSlabBytes);
        var more = memory.Rent(100);
        Assert.Equal(2 * 128 * 1024, memory.ResidentSlabBytes);
        memory.Return(more);
        foreach (var b in small) memory.Return(b);
        // An emptied superblock serves another size next.
        var large = memory.Rent(100_000);
        var large2 = memory.Rent(100_000);
        Assert.Equal(2 * 128 * 1024, memory.ResidentSlabBytes);
        memory.Return(large);
        memory.Return(large2);
    }

    [Fact]
    public void Oversize_blocks_count_against_the_capacity_by_giving_back_idle_slab_pages()
    {
        var memory = new BatchMemory(4L << 20);
        var blocks = Enumerable.Range(0, 32).Select(_ => memory.Rent(100_000)).ToList();
        Assert.Equal(4L << 20, memory.ResidentSlabBytes);
        foreach (var b in blocks) memory.Return(b);
        var big = memory.Rent(3 << 20);
        Assert.Equal(1, memory.OversizeBlocks);
        Assert.True(memory.ResidentSlabBytes + memory.SeparateBytesInUse <= memory.CapacityBytes);
        big.Span.Fill(7);
        memory.Return(big);
        Assert.Equal(0, memory.SeparateBytesInUse);
    }

    [Fact]
    public void A_stream_of_large_messages_reuses_its_mappings()
    {
        var memory = new BatchMemory(256L << 20);
        for (var i = 0; i < 100; i++)
        {
            var a = memory.Rent((1 << 20) + 26);
            a.Span.Fill(1);
            memory.Return(a);
        }
        Assert.Equal(100, memory.OversizeBlocks);
        Assert.Equal(0, memory.SeparateBytesInUse);
        Assert.Equal((1 << 20) + 4096, memory.SpareBytes);
        var many = Enumerable.Range(0, 64).Select(_ => memory.Rent(1 << 20)).ToList();
        foreach (var b in many) memory.Return(b);
        Assert.True(memory.SpareBytes <= 8L << 20);
    }

    [Fact]
    public void A_batch_spans_blocks_in_order_and_a_large_message_gets_a_batch_of_its_own()
    {
        var queue = new BatchQueue(16L << 20, new RecordingClock());
        var batch = queue.Rent();
        var sizes = new List<int>();
        var random = new Random(1);
        for (var i = 0; ; i++)
        {
            var size = random.Next(0, 6000);
            var data = new byte[size];
            Array.Fill(data, (byte)i);
            if (!batch.TryAdd((ushort)(i % 7), (uint)i, (ulong)i, (ulong)i * 2, data)) break;
            sizes.Add(size);
        }
        Assert.True(batch.QueueBytes <= MessageBatch.MaxCapacity);
        var n = 0;
        foreach (var entry in batch)
        {
            Assert.Equal((ushort)(n % 7), entry.ChannelId);
            Assert.Equal((uint)n, entry.Sequence);
            Assert.Equal((ulong)n * 2, entry.PublishTime);
            Assert.Equal(sizes[n], entry.Data.Length);
            Assert.All(entry.Data.ToArray(), b => Assert.Equal((byte)n, b));
            n++;
        }
        Assert.Equal(sizes.Count, n);
        Assert.False(batch.TryAdd(1, 0, 0, 0, new byte[1 << 20]));
        queue.Return(batch);
        Assert.Equal(0, queue.Memory.SlabBytesInUse);

        var large = queue.Rent();
        var payload = new byte[3 << 20];
        new Random(2).NextBytes(payload);
        Assert.True(large.TryAdd(9, 1, 0, 0, payload));
        Assert.True(large.QueueBytes >= payload.Length);
        Assert.Equal(large.QueueBytes, queue.Memory.SeparateBytesInUse);
        Assert.False(large.TryAdd(9, 2, 0, 0, new byte[10])); // nothing rides along with an oversize message
        foreach (var entry in large) Assert.True(entry.Data.SequenceEqual(payload));
        queue.Return(large);
        Assert.Equal(0, queue.Memory.SeparateBytesInUse);
    }

    [Fact]
    public async Task Under_saturation_with_drops_the_batch_memory_stays_within_the_queue_and_every_message_is_counted()
    {
        var queue = new BatchQueue(2L << 20, new RecordingClock());
        long sent = 0, written = 0;
        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            var payload = new byte[p == 3 ? 300_000 : 100 + p * 3000];
            for (var i = 0; i < 400; i++)
            {
                var batch = queue.Rent();
                batch.Policy = p % 2 == 0 ? DropPolicy.DropOldest : DropPolicy.DropNewest;
                var count = 0;
                while (count < 40 && batch.TryAdd((ushort)(p + 1), (uint)i, 0, 0, payload)) count++;
                Interlocked.Add(ref sent, count);
                if (!await queue.EnqueueAsync(batch)) queue.Return(batch);
            }
        })).ToArray();
        long peak = 0, peakSlab = 0;
        var consumer = Task.Run(() =>
        {
            while (!producers.All(t => t.IsCompleted) || queue.Depth > 0)
            {
                var total = queue.Memory.ResidentSlabBytes + queue.Memory.SeparateBytesInUse;
                if (total > peak) peak = total;
                if (queue.Memory.ResidentSlabBytes > peakSlab) peakSlab = queue.Memory.ResidentSlabBytes;
                if (!queue.TryDequeue(TimeSpan.FromMilliseconds(10), out var b)) continue;
                Thread.Sleep(1); // a slow disk
                written += b.Count;
                queue.Return(b);
            }
        });
        await Task.WhenAll(producers);
        await consumer;
        Assert.True(queue.DroppedTotal > 0);
        Assert.Equal((ulong)sent, (ulong)written + queue.DroppedTotal);
        // The slab never exceeds the queue. Large messages live outside it, in the queue's byte count, and
        // push idle slab pages out; only slab blocks still partly in use can stay besides them. In flight
        // outside the queue: a batch being filled per producer and the one being written.
        Assert.True(peakSlab <= queue.CapacityBytes, $"slab {peakSlab}");
        Assert.True(peak <= 2 * queue.CapacityBytes + 5 * (300_000 + 4096), $"peak {peak}");
        Assert.Equal(0, queue.Memory.SlabBytesInUse);
        Assert.Equal(0, queue.Memory.SeparateBytesInUse);
    }
}
