namespace Recorder.Mcap.Tests;

/// <summary>
/// McapWriter's LastChunkStart / LastMessageOffsetInChunk / LastMessageFileOffset (what a live
/// external index records) and McapRandomAccessReader (what reads a message back through them).
/// </summary>
public class RandomAccessTests
{
    private sealed record Written(uint Sequence, long ChunkStart, long OffsetInChunk, long FileOffset);

    /// <summary>Writes messages of varied sizes on three channels; returns the file and where the writer said each message went.</summary>
    private static (byte[] File, List<Written> Messages) Write(McapWriterOptions options, int count = 300)
    {
        var stream = new MemoryStream();
        var writer = new McapWriter(stream, options, leaveOpen: true);
        var schema = writer.AddSchema("test.Blob", "jsonschema", "{}"u8.ToArray());
        var channels = new[] { writer.AddChannel("/a", "json", schema), writer.AddChannel("/b", "raw"), writer.AddChannel("/c", "raw") };
        var written = new List<Written>();
        var pending = new List<(uint Sequence, long OffsetInChunk)>();
        var random = new Random(7);
        for (uint i = 0; i < count; i++)
        {
            var chunkBefore = writer.ChunkCount;
            var data = new byte[random.Next(1, 700)];
            random.NextBytes(data);
            data[0] = (byte)i;
            writer.WriteMessage(channels[i % 3], i, 1000 + i, 2000 + i, data);
            if (!options.UseChunks)
            {
                Assert.Equal(-1, writer.LastMessageOffsetInChunk);
                written.Add(new Written(i, -1, -1, writer.LastMessageFileOffset));
                continue;
            }
            Assert.Equal(-1, writer.LastMessageFileOffset);
            pending.Add((i, writer.LastMessageOffsetInChunk));
            if (writer.ChunkCount != chunkBefore) Drain();
            if (i % 97 == 96)
            {
                chunkBefore = writer.ChunkCount;
                writer.Flush();
                if (writer.ChunkCount != chunkBefore) Drain();
            }
        }
        var last = writer.ChunkCount;
        writer.Flush();
        if (writer.ChunkCount != last) Drain();
        Assert.Empty(pending);
        writer.Finish();
        return (stream.ToArray(), written);

        void Drain()
        {
            foreach (var (sequence, offset) in pending) written.Add(new Written(sequence, writer.LastChunkStart, offset, -1));
            pending.Clear();
        }
    }

    public static TheoryData<string> Compressions => new() { "none", "zstd", "lz4", "unchunked" };

    private static McapWriterOptions Options(string compression) => compression switch
    {
        "unchunked" => new McapWriterOptions { UseChunks = false },
        "none" => new McapWriterOptions { ChunkSize = 4096, Compression = McapCompression.None },
        "zstd" => new McapWriterOptions { ChunkSize = 4096, Compression = McapCompression.Zstd, ForceCompression = true },
        _ => new McapWriterOptions { ChunkSize = 4096, Compression = McapCompression.Lz4, ForceCompression = true },
    };

    [Theory]
    [MemberData(nameof(Compressions))]
    public void Writer_offsets_are_where_the_streaming_reader_finds_each_message(string compression)
    {
        var (file, written) = Write(Options(compression));
        var found = new List<Written>();
        foreach (var record in McapStreamReader.ReadRecords(new MemoryStream(file)))
        {
            if (record.Opcode != McapOpcode.Message) continue;
            var message = record.ToMessage();
            found.Add(record.IsInChunk
                ? new Written(message.Sequence, record.ChunkOffset, record.Offset, -1)
                : new Written(message.Sequence, -1, -1, record.Offset));
        }
        Assert.Equal(300, found.Count);
        Assert.Equal(found, written);
        if (compression != "unchunked") Assert.True(written.Select(w => w.ChunkStart).Distinct().Count() > 10, "the test wants many chunks");
    }

    [Theory]
    [MemberData(nameof(Compressions))]
    public void Random_access_reads_each_message_back_through_the_writer_offsets(string compression)
    {
        var (file, written) = Write(Options(compression));
        using var reader = new McapRandomAccessReader(new MemoryStream(file));
        // Out of order, so the chunk cache is exercised both ways.
        foreach (var w in written.OrderBy(w => (w.Sequence * 7919) % 300))
        {
            var record = w.FileOffset >= 0 ? reader.ReadRecord(w.FileOffset) : reader.ReadChunkRecord(w.ChunkStart, w.OffsetInChunk);
            Assert.Equal(McapOpcode.Message, record.Opcode);
            var message = record.ToMessage();
            Assert.Equal(w.Sequence, message.Sequence);
            Assert.Equal(1000 + w.Sequence, message.LogTime);
            Assert.Equal((byte)w.Sequence, message.Data.Span[0]);
            Assert.Equal(w.FileOffset >= 0 ? -1 : w.ChunkStart, record.ChunkOffset);
        }
    }

    [Fact]
    public void Before_anything_is_written_the_offsets_are_minus_one()
    {
        using var writer = new McapWriter(new MemoryStream());
        Assert.Equal(-1, writer.LastChunkStart);
        Assert.Equal(-1, writer.LastMessageOffsetInChunk);
        Assert.Equal(-1, writer.LastMessageFileOffset);
    }

    [Fact]
    public void Random_access_reports_a_wrong_offset_instead_of_reading_garbage()
    {
        var (file, written) = Write(Options("zstd"), count: 30);
        using var reader = new McapRandomAccessReader(new MemoryStream(file));
        var first = written[0];
        Assert.Equal(McapErrorKind.InvalidRecord, Assert.Throws<McapException>(() => reader.ReadChunkRecord(8, 0)).Kind); // the Header, not a Chunk
        Assert.Equal(McapErrorKind.InvalidRecord, Assert.Throws<McapException>(() => reader.ReadChunkRecord(first.ChunkStart, 1 << 30)).Kind);
        Assert.Equal(McapErrorKind.Truncated, Assert.Throws<McapException>(() => reader.ReadRecord(file.Length - 3)).Kind);
        // Still usable afterwards.
        Assert.Equal(McapOpcode.Message, reader.ReadChunkRecord(first.ChunkStart, first.OffsetInChunk).Opcode);
    }

    [Fact]
    public void Random_access_checks_the_chunk_crc()
    {
        var (file, written) = Write(Options("none"), count: 30);
        var w = written[0];
        // Flip a byte of the first message's data inside the uncompressed chunk.
        file[w.ChunkStart + 9 + 8 + 8 + 8 + 4 + 4 + 8 + w.OffsetInChunk + 9 + 22] ^= 0xFF;
        using var reader = new McapRandomAccessReader(new MemoryStream(file));
        Assert.Equal(McapErrorKind.CrcMismatch, Assert.Throws<McapException>(() => reader.ReadChunkRecord(w.ChunkStart, w.OffsetInChunk)).Kind);
    }
}
