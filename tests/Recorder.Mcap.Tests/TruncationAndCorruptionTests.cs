using System.Buffers;
namespace Recorder.Mcap.Tests;

/// <summary>Torn tails and damaged bytes: the typed error, never a crash or a hang; recovery keeps every whole chunk.</summary>
public class TruncationAndCorruptionTests
{
    private static SampleFiles.Written MultiChunk(McapCompression compression) =>
        SampleFiles.Write(new McapWriterOptions { Compression = compression, ChunkSize = 2 * 1024 }, channels: 3, messagesPerChannel: 40, payloadSize: 120);

    /// <summary>Where each chunk ends (the end of its MessageIndex run) and how many messages it and those before it hold.</summary>
    private static List<(long End, int MessagesThrough)> ChunkEnds(byte[] bytes)
    {
        using var reader = new McapIndexedReader(new MemoryStream(bytes));
        var list = new List<(long, int)>();
        var total = 0;
        foreach (var c in reader.ChunkIndexes.OrderBy(c => c.ChunkStartOffset))
        {
            var chunkMessages = 0;
            foreach (var r in McapStreamReader.ReadRecords(new MemoryStream(bytes)))
                if (r.Opcode == McapOpcode.Message && r.ChunkOffset == (long)c.ChunkStartOffset) chunkMessages++;
            total += chunkMessages;
            list.Add(((long)(c.ChunkStartOffset + c.ChunkLength), total));
        }
        return list;
    }

    [Theory]
    [MemberData(nameof(RoundTripTests.Compressions), MemberType = typeof(RoundTripTests))]
    public void Every_byte_prefix_recovers_to_exactly_the_complete_chunks_before_the_cut(McapCompression compression)
    {
        var file = MultiChunk(compression);
        var ends = ChunkEnds(file.Bytes);
        Assert.True(ends.Count >= 8, $"want a multi-chunk file, got {ends.Count} chunks");
        var dataEnd = ends[^1].End;

        for (var cut = 0; cut <= file.Bytes.Length; cut++)
        {
            var input = new MemoryStream(file.Bytes, 0, cut);
            var output = new MemoryStream();
            var result = McapRecovery.Recover(input, output);

            // A chunk survives when the cut falls after its whole Chunk record.
            var expectedMessages = ends.LastOrDefault(e => e.End <= cut).MessagesThrough;
            if (cut >= dataEnd) expectedMessages = file.Messages.Count;
            Assert.True((ulong)expectedMessages == result.Messages, $"cut at {cut}: expected {expectedMessages} messages, recovered {result.Messages}");

            var recovered = SampleFiles.ReadAllStreamed(output.ToArray());
            Assert.Equal(expectedMessages, recovered.Count);
            for (var i = 0; i < recovered.Count; i++)
                Assert.Equal(file.Messages[i].Data, recovered[i].Item4);

            // The output is a whole, indexed file whose Statistics agree with its contents.
            using var reader = new McapIndexedReader(new MemoryStream(output.ToArray()));
            Assert.Equal((ulong)expectedMessages, reader.Statistics!.MessageCount);
            Assert.Equal(expectedMessages, reader.ReadMessages().Count());
            if (cut < file.Bytes.Length && cut < dataEnd) Assert.NotEqual(0, result.ExitCode);
        }
    }

    [Fact]
    public void Truncated_input_throws_truncated_with_the_offset_of_the_cut_record()
    {
        var file = MultiChunk(McapCompression.Zstd);
        var ends = ChunkEnds(file.Bytes);
        var cut = (int)ends[2].End + 5; // five bytes into whatever follows chunk 3's indexes
        var e = Assert.Throws<McapException>(() => SampleFiles.ReadAllStreamed(file.Bytes[..cut]));
        Assert.Equal(McapErrorKind.Truncated, e.Kind);
        Assert.True(e.IsTruncation);
        Assert.Equal(ends[2].End, e.Offset);
    }

    [Theory]
    [InlineData(McapCompression.None)]
    [InlineData(McapCompression.Lz4)]
    [InlineData(McapCompression.Zstd)]
    public void Random_byte_corruption_yields_a_typed_error_or_valid_records_never_a_crash(McapCompression compression)
    {
        var file = MultiChunk(compression);
        var random = new Random(1234);
        var kinds = new HashSet<McapErrorKind>();
        for (var trial = 0; trial < 600; trial++)
        {
            var bytes = (byte[])file.Bytes.Clone();
            var flips = random.Next(1, 4);
            for (var f = 0; f < flips; f++) bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
            try
            {
                var count = 0;
                foreach (var _ in McapStreamReader.ReadRecords(new MemoryStream(bytes), new McapReaderOptions { MaxRecordSize = 1 << 20 }))
                    if (++count > 100_000) Assert.Fail("reader did not terminate");
            }
            catch (McapException e)
            {
                kinds.Add(e.Kind);
            }
            try
            {
                using var reader = new McapIndexedReader(new MemoryStream(bytes));
                foreach (var _ in reader.ReadMessages()) { }
            }
            catch (McapException e)
            {
                kinds.Add(e.Kind);
            }
            // Recovery never throws on bad input.
            McapRecovery.Recover(new MemoryStream(bytes), new MemoryStream());
        }
        Assert.Contains(McapErrorKind.CrcMismatch, kinds);
    }

    [Fact]
    public void A_chunk_with_a_bad_crc_is_skipped_and_the_chunks_after_it_are_recovered()
    {
        var file = MultiChunk(McapCompression.None);
        using var index = new McapIndexedReader(new MemoryStream(file.Bytes));
        var victim = index.ChunkIndexes[3];
        var bytes = (byte[])file.Bytes.Clone();
        bytes[(int)(victim.ChunkStartOffset + victim.ChunkLength) - 10] ^= 0xFF; // inside the records, CRC now wrong

        var e = Assert.Throws<McapException>(() => SampleFiles.ReadAllStreamed(bytes));
        Assert.Equal(McapErrorKind.CrcMismatch, e.Kind);
        Assert.Equal((long)victim.ChunkStartOffset, e.Offset);
        Assert.Equal(McapOpcode.Chunk, e.Opcode);

        var output = new MemoryStream();
        var result = McapRecovery.Recover(new MemoryStream(bytes), output);
        Assert.Equal(1, result.ChunksSkipped);
        Assert.Equal(3, result.ExitCode);
        var victimMessages = file.Messages.Count - SampleFiles.ReadAllStreamed(output.ToArray()).Count;
        Assert.InRange(victimMessages, 1, 40);
        Assert.Equal((ulong)(file.Messages.Count - victimMessages), result.Messages);
    }

    [Fact]
    public void Oversized_record_length_is_refused_before_any_allocation()
    {
        var file = MultiChunk(McapCompression.None);
        var bytes = (byte[])file.Bytes.Clone();
        // The Header record's length at offset 9: claim 1 TiB.
        BitConverter.TryWriteBytes(bytes.AsSpan(9, 8), 1UL << 40);
        var e = Assert.Throws<McapException>(() => SampleFiles.ReadAllStreamed(bytes));
        Assert.Equal(McapErrorKind.RecordTooLarge, e.Kind);
        Assert.Equal(8, e.Offset);
    }

    [Fact]
    public void Bad_magic_is_its_own_error_kind()
    {
        var e = Assert.Throws<McapException>(() => SampleFiles.ReadAllStreamed("not an mcap file at all"u8.ToArray()));
        Assert.Equal(McapErrorKind.BadMagic, e.Kind);
        Assert.Equal(0, e.Offset);
    }

    [Fact]
    public void Complete_file_recovers_with_exit_code_zero_and_identical_messages()
    {
        var file = MultiChunk(McapCompression.Lz4);
        var output = new MemoryStream();
        var result = McapRecovery.Recover(new MemoryStream(file.Bytes), output);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(1, result.Attachments);
        Assert.Equal(1, result.Metadata);
        using var reader = new McapIndexedReader(new MemoryStream(output.ToArray()));
        Assert.Equal(ChunkEnds(file.Bytes).Count, reader.ChunkIndexes.Count);
        Assert.All(reader.ChunkIndexes, c => Assert.Equal("lz4", c.Compression));
    }

    [Fact]
    public void Nothing_recoverable_exits_one()
    {
        var result = McapRecovery.Recover(new MemoryStream([1, 2, 3]), new MemoryStream());
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(McapErrorKind.Truncated, result.Error!.Kind);
    }
}

/// <summary>Index fields at their extremes: the indexed reader answers with McapException, never an overflow or range error.</summary>
public class LyingIndexTests
{
    private static byte[] FileWithPatchedChunkIndex(Func<ChunkIndex, ChunkIndex> patch)
    {
        var file = SampleFiles.Write(new McapWriterOptions { ChunkSize = 4 * 1024, Compression = McapCompression.None }, channels: 2, messagesPerChannel: 50);
        using var original = new McapIndexedReader(new MemoryStream(file.Bytes));
        // Rebuild the summary with one patched ChunkIndex; CRC 0 means "not computed".
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var dataEnd = file.Bytes.AsSpan(0, (int)original.Footer.SummaryStart);
        output.Write(dataEnd);
        var summaryStart = output.WrittenCount;
        for (var i = 0; i < original.ChunkIndexes.Count; i++)
            McapRecordSerializer.WriteChunkIndex(output, i == 0 ? patch(original.ChunkIndexes[i]) : original.ChunkIndexes[i]);
        foreach (var c in original.Channels.Values) McapRecordSerializer.WriteChannel(output, c);
        McapRecordSerializer.WriteFooter(output, new Footer((ulong)summaryStart, 0, 0));
        output.Write(McapConstants.Magic);
        return output.WrittenSpan.ToArray();
    }

    public static TheoryData<string> Patches => new() { "chunk_start_offset", "chunk_length", "message_index_length", "message_index_offset", "entry_offset" };

    [Theory]
    [MemberData(nameof(Patches))]
    public void Extreme_index_values_give_a_typed_error(string field)
    {
        var bytes = FileWithPatchedChunkIndex(c => field switch
        {
            "chunk_start_offset" => c with { ChunkStartOffset = ulong.MaxValue },
            "chunk_length" => c with { ChunkLength = ulong.MaxValue },
            "message_index_length" => c with { MessageIndexLength = ulong.MaxValue },
            "message_index_offset" => c with { MessageIndexOffsets = c.MessageIndexOffsets.ToDictionary(p => p.Key, _ => ulong.MaxValue) },
            _ => c with { ChunkStartOffset = c.ChunkStartOffset + 1 },
        });
        using var reader = new McapIndexedReader(new MemoryStream(bytes));
        var e = Assert.Throws<McapException>(() => reader.ReadMessages().ToList());
        Assert.Contains(e.Kind, new[] { McapErrorKind.InvalidRecord, McapErrorKind.RecordTooLarge });
    }
}
