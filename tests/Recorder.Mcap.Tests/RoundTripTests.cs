using System.Buffers;

namespace Recorder.Mcap.Tests;

public class RoundTripTests
{
    public static TheoryData<McapCompression> Compressions => new() { McapCompression.None, McapCompression.Lz4, McapCompression.Zstd };

    private static void AssertSameMessages(List<(ushort, uint, ulong, byte[])> expected, List<(ushort, uint, ulong, byte[])> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Item1, actual[i].Item1);
            Assert.Equal(expected[i].Item2, actual[i].Item2);
            Assert.Equal(expected[i].Item3, actual[i].Item3);
            Assert.Equal(expected[i].Item4, actual[i].Item4);
        }
    }

    [Theory]
    [MemberData(nameof(Compressions))]
    public void Many_chunks_and_channels_round_trip_through_the_streaming_reader(McapCompression compression)
    {
        var file = SampleFiles.Write(new McapWriterOptions { Compression = compression, ChunkSize = 16 * 1024 }, channels: 12, messagesPerChannel: 150);
        var read = SampleFiles.ReadAllStreamed(file.Bytes);
        AssertSameMessages(file.Messages.Select(m => (m.Channel, m.Sequence, m.LogTime, m.Data)).ToList(), read);

        var chunks = McapStreamReader.ReadRecords(new MemoryStream(file.Bytes), new McapReaderOptions { EmitChunks = true })
            .Where(r => r.Opcode == McapOpcode.Chunk).Select(r => r.ToChunk().Compression).ToList();
        Assert.True(chunks.Count > 20, $"expected many chunks, got {chunks.Count}");
        Assert.All(chunks, c => Assert.Equal(McapConstants.CompressionName(compression), c));
    }

    [Theory]
    [MemberData(nameof(Compressions))]
    public void Indexed_reader_returns_every_message_schema_channel_attachment_and_metadata(McapCompression compression)
    {
        var file = SampleFiles.Write(new McapWriterOptions { Compression = compression, ChunkSize = 32 * 1024 }, channels: 5, messagesPerChannel: 300);
        using var reader = new McapIndexedReader(new MemoryStream(file.Bytes));
        Assert.Equal(file.Schemas.Count, reader.Schemas.Count);
        foreach (var s in file.Schemas) Assert.True(reader.Schemas[s.Id].ContentEquals(s));
        foreach (var c in file.Channels) Assert.True(reader.Channels[c.Id].ContentEquals(c));

        var read = reader.ReadMessages().Select(m => (m.Message.ChannelId, m.Message.Sequence, m.Message.LogTime, m.Message.Data.ToArray())).ToList();
        AssertSameMessages(file.Messages.Select(m => (m.Channel, m.Sequence, m.LogTime, m.Data)).ToList(), read);

        var stats = reader.Statistics!;
        Assert.Equal((ulong)file.Messages.Count, stats.MessageCount);
        Assert.Equal((uint)reader.ChunkIndexes.Count, stats.ChunkCount);
        Assert.Equal(1u, stats.AttachmentCount);
        Assert.Equal(1u, stats.MetadataCount);
        foreach (var c in file.Channels) Assert.Equal(300UL, stats.ChannelMessageCounts[c.Id]);

        var attachment = reader.ReadAttachment(Assert.Single(reader.AttachmentIndexes));
        Assert.Equal(file.Attachments[0].Data.ToArray(), attachment.Data.ToArray());
        Assert.NotEqual(0u, attachment.Crc);
        var metadata = reader.ReadMetadata(Assert.Single(reader.MetadataIndexes));
        Assert.Equal("veh-042", metadata.Values["device_id"]);
    }

    [Fact]
    public void Indexed_reader_filters_by_topic_and_inclusive_time_range()
    {
        var file = SampleFiles.Write(new McapWriterOptions { ChunkSize = 8 * 1024 }, channels: 3, messagesPerChannel: 100);
        using var reader = new McapIndexedReader(new MemoryStream(file.Bytes));
        var start = file.Messages[30].LogTime;
        var end = file.Messages[200].LogTime;
        var got = reader.ReadMessages(start, end, ["/sensor/1"]).Select(m => (m.Message.LogTime, m.Channel.Topic)).ToList();
        var expected = file.Messages.Where(m => m.Channel == file.Channels[1].Id && m.LogTime >= start && m.LogTime <= end)
            .Select(m => (m.LogTime, "/sensor/1")).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, got);
    }

    [Fact]
    public void Overlapping_chunks_are_read_in_log_time_order_with_ties_in_file_order()
    {
        // Random log times: every chunk spans most of the range, so all chunks overlap.
        var file = SampleFiles.Write(new McapWriterOptions { ChunkSize = 4 * 1024 }, channels: 3, messagesPerChannel: 400, monotonic: false, seed: 7);
        using var reader = new McapIndexedReader(new MemoryStream(file.Bytes));
        Assert.True(reader.ChunkIndexes.Count > 10);
        var expected = file.Messages.Select((m, i) => (m, i)).OrderBy(p => p.m.LogTime).ThenBy(p => p.i)
            .Select(p => (p.m.Channel, p.m.Sequence, p.m.LogTime)).ToList();
        var actual = reader.ReadMessages().Select(m => (m.Message.ChannelId, m.Message.Sequence, m.Message.LogTime)).ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Chunk_without_message_index_is_scanned_by_the_indexed_reader()
    {
        var file = SampleFiles.Write(new McapWriterOptions { ChunkSize = 8 * 1024, EnableMessageIndex = false }, channels: 2, messagesPerChannel: 100, monotonic: false);
        using var reader = new McapIndexedReader(new MemoryStream(file.Bytes));
        Assert.All(reader.ChunkIndexes, c => Assert.Empty(c.MessageIndexOffsets));
        var actual = reader.ReadMessages().Select(m => m.Message.LogTime).ToList();
        Assert.Equal(file.Messages.Select(m => m.LogTime).Order().ToList(), actual);
    }

    [Fact]
    public void Unchunked_file_without_summary_is_read_linearly_in_log_time_order()
    {
        var file = SampleFiles.Write(new McapWriterOptions { UseChunks = false, EnableSummary = false }, channels: 2, messagesPerChannel: 50, monotonic: false);
        using var reader = new McapIndexedReader(new MemoryStream(file.Bytes));
        Assert.Equal(0UL, reader.Footer.SummaryStart);
        var actual = reader.ReadMessages().Select(m => m.Message.LogTime).ToList();
        Assert.Equal(file.Messages.Select(m => m.LogTime).Order().ToList(), actual);
    }

    [Fact]
    public void Small_or_incompressible_chunks_are_stored_uncompressed_unless_forced()
    {
        var small = SampleFiles.Write(new McapWriterOptions { Compression = McapCompression.Zstd, ChunkSize = 512 }, channels: 1, messagesPerChannel: 3, payloadSize: 100);
        using (var reader = new McapIndexedReader(new MemoryStream(small.Bytes)))
            Assert.All(reader.ChunkIndexes, c => Assert.Equal("", c.Compression));

        var forced = SampleFiles.Write(new McapWriterOptions { Compression = McapCompression.Lz4, ChunkSize = 512, ForceCompression = true }, channels: 1, messagesPerChannel: 3, payloadSize: 100);
        using (var reader = new McapIndexedReader(new MemoryStream(forced.Bytes)))
            Assert.All(reader.ChunkIndexes, c => Assert.Equal("lz4", c.Compression));
        Assert.Equal(3, SampleFiles.ReadAllStreamed(forced.Bytes).Count);

        var noise = new byte[64 * 1024];
        new Random(3).NextBytes(noise);
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, new McapWriterOptions { Compression = McapCompression.Zstd }, leaveOpen: true))
        {
            var ch = writer.AddChannel("/noise", "raw");
            writer.WriteMessage(ch, 0, 1, 1, noise);
        }
        using (var reader = new McapIndexedReader(new MemoryStream(stream.ToArray())))
            Assert.Equal("", Assert.Single(reader.ChunkIndexes).Compression);
    }

    [Fact]
    public void A_message_larger_than_the_chunk_size_gets_a_chunk_of_its_own()
    {
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, new McapWriterOptions { ChunkSize = 1024, Compression = McapCompression.None }, leaveOpen: true))
        {
            var ch = writer.AddChannel("/big", "raw");
            writer.WriteMessage(ch, 0, 1, 1, new byte[100]);
            writer.WriteMessage(ch, 1, 2, 2, new byte[10_000]);
            writer.WriteMessage(ch, 2, 3, 3, new byte[100]);
        }
        using var reader = new McapIndexedReader(new MemoryStream(stream.ToArray()));
        Assert.Equal(2, reader.ChunkIndexes.Count);
        Assert.Equal([1UL, 2UL, 3UL], reader.ReadMessages().Select(m => m.Message.LogTime));
    }

    [Fact]
    public void Flush_cuts_a_chunk_and_puts_every_message_so_far_on_the_stream()
    {
        var stream = new MemoryStream();
        var writer = new McapWriter(stream, new McapWriterOptions { Compression = McapCompression.None }, leaveOpen: true);
        var ch = writer.AddChannel("/a", "raw");
        writer.WriteMessage(ch, 0, 10, 10, [1, 2, 3]);
        Assert.True(writer.PendingChunkBytes > 0, "the message should wait in the open chunk");
        writer.Flush();
        Assert.Equal(0, writer.PendingChunkBytes);
        var prefix = stream.ToArray();
        var seen = new List<ulong>();
        foreach (var r in McapStreamReader.ReadRecords(new MemoryStream(prefix)))
            if (r.Opcode == McapOpcode.Message) seen.Add(r.ToMessage().LogTime);
        Assert.Equal([10UL], seen);
        writer.Finish();
    }

    [Fact]
    public async Task Pipe_reader_yields_the_same_records_as_the_stream_reader()
    {
        var file = SampleFiles.Write(new McapWriterOptions { Compression = McapCompression.Lz4, ChunkSize = 8 * 1024 });
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(minimumSegmentSize: 512));
        var feed = Task.Run(async () =>
        {
            var random = new Random(5);
            for (var i = 0; i < file.Bytes.Length;)
            {
                var n = Math.Min(random.Next(1, 3000), file.Bytes.Length - i);
                await pipe.Writer.WriteAsync(file.Bytes.AsMemory(i, n));
                i += n;
            }
            await pipe.Writer.CompleteAsync();
        });
        var count = 0;
        await foreach (var r in McapStreamReader.ReadRecordsAsync(pipe.Reader))
            if (r.Opcode == McapOpcode.Message) Assert.Equal(file.Messages[count++].Data, r.ToMessage().Data.ToArray());
        await feed;
        Assert.Equal(file.Messages.Count, count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_size_segments_give_the_same_records(int seed)
    {
        var file = SampleFiles.Write(new McapWriterOptions { Compression = McapCompression.Zstd, ChunkSize = 4 * 1024 }, seed: seed);
        var expected = SampleFiles.ReadAllStreamed(file.Bytes);
        var random = new Random(seed);
        // A multi-segment sequence with random boundaries, grown a random amount at a time.
        var got = new List<(ushort, uint, ulong, byte[])>();
        using var reader = new McapStreamReader();
        var available = 0;
        var consumed = 0;
        while (true)
        {
            var buffer = Segments.Split(file.Bytes.AsMemory(consumed, available - consumed), random);
            var status = reader.Read(ref buffer, available == file.Bytes.Length, out var record);
            consumed = available - (int)buffer.Length;
            if (status == McapReadStatus.End) break;
            if (status == McapReadStatus.NeedMoreData)
            {
                available = Math.Min(file.Bytes.Length, available + random.Next(1, 5000));
                continue;
            }
            if (record.Opcode == McapOpcode.Message)
            {
                var m = record.ToMessage();
                got.Add((m.ChannelId, m.Sequence, m.LogTime, m.Data.ToArray()));
            }
        }
        AssertSameMessages(expected, got);
        Assert.True(reader.ReachedFooter);
    }
}

/// <summary>Builds a ReadOnlySequence of many segments from one block of memory.</summary>
public static class Segments
{
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    public static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> memory, Random random)
    {
        if (memory.Length < 2) return new ReadOnlySequence<byte>(memory);
        var first = new Segment(memory[..1], 0);
        var last = first;
        var position = 1;
        while (position < memory.Length)
        {
            var n = Math.Min(random.Next(1, 700), memory.Length - position);
            last = last.Append(memory.Slice(position, n));
            position += n;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
