using System.Buffers;
using System.IO.Hashing;

namespace Recorder.Mcap.Tests;

/// <summary>Chunks that valid writers produce but ours does not: the reader must accept them.</summary>
public class ChunkEdgeCaseTests
{
    private static byte[] FileWithChunk(byte[] compressedRecords, string compression, byte[] uncompressedRecords, ulong? declaredSize = null)
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(output, new Header("", "handmade"));
        McapRecordSerializer.WriteChunkHeader(output, 5, 6, declaredSize ?? (ulong)uncompressedRecords.Length, Crc32.HashToUInt32(uncompressedRecords), compression, compressedRecords.Length);
        output.Write(compressedRecords);
        McapRecordSerializer.WriteDataEnd(output, new DataEnd(0));
        McapRecordSerializer.WriteFooter(output, new Footer(0, 0, 0));
        output.Write(McapConstants.Magic);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] TwoMessages()
    {
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, new Channel(3, 0, "/t", "raw", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(records, 3, 0, 5, 5, [1, 2, 3]);
        McapRecordSerializer.WriteMessage(records, 3, 1, 6, 6, new byte[4000]);
        return records.WrittenSpan.ToArray();
    }

    [Fact]
    public void Zstd_chunk_with_trailing_bytes_after_the_frame_is_read_and_the_next_chunk_too()
    {
        var records = TwoMessages();
        using var compressor = new ZstdSharp.Compressor(3);
        var frame = compressor.Wrap(records).ToArray();
        var padded = frame.Concat(new byte[] { 0, 0, 0 }).ToArray();
        var bytes = FileWithChunk(padded, "zstd", records);
        var messages = SampleFiles.ReadAllStreamed(bytes);
        Assert.Equal(2, messages.Count);
        Assert.Equal(4000, messages[1].Item4.Length);
    }

    [Fact]
    public void Lz4_frame_from_another_encoder_configuration_is_accepted()
    {
        var records = TwoMessages();
        // Independent blocks and a content checksum: options other writers use.
        var settings = new K4os.Compression.LZ4.Streams.LZ4EncoderSettings { ChainBlocks = false, ContentChecksum = true, BlockSize = 64 * 1024 };
        var frame = K4os.Compression.LZ4.Streams.LZ4Frame.Encode(records.AsSpan(), new ArrayBufferWriter<byte>(), settings).WrittenSpan.ToArray();
        Assert.Equal(2, SampleFiles.ReadAllStreamed(FileWithChunk(frame, "lz4", records)).Count);
    }

    [Theory]
    [InlineData("zstd")]
    [InlineData("lz4")]
    public void A_chunk_claiming_a_huge_uncompressed_size_is_refused_without_allocating_what_it_claims(string compression)
    {
        var records = TwoMessages();
        using var zstd = new ZstdSharp.Compressor(3);
        var compressed = compression == "zstd"
            ? zstd.Wrap(records).ToArray()
            : K4os.Compression.LZ4.Streams.LZ4Frame.Encode(records.AsSpan(), new ArrayBufferWriter<byte>(), new K4os.Compression.LZ4.Streams.LZ4EncoderSettings()).WrittenSpan.ToArray();
        const ulong claimed = 200UL << 20; // within the ingest limit (256 MiB), 50 000 times what the chunk holds
        var bytes = FileWithChunk(compressed, compression, records, declaredSize: claimed);
        var options = new McapReaderOptions { MaxUncompressedChunkSize = 256L << 20 };

        // The reader runs on this thread: what it allocates is counted here, whatever else the process does.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<McapException>(() => McapStreamReader.ReadRecords(new MemoryStream(bytes), options).ToList());
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(McapErrorKind.DecompressionFailed, e.Kind);
        Assert.Contains($"decompressed to {records.Length} bytes but declares {claimed}", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 2 << 20, $"{allocated} bytes allocated to refuse a chunk of {records.Length} bytes that claims {claimed}");
    }

    [Fact]
    public void Chunk_declaring_a_different_uncompressed_size_is_a_decompression_error()
    {
        var records = TwoMessages();
        using var compressor = new ZstdSharp.Compressor(1);
        var frame = compressor.Wrap(records).ToArray();
        var output = new ArrayBufferWriter<byte>();
        output.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(output, new Header("", ""));
        McapRecordSerializer.WriteChunkHeader(output, 5, 6, (ulong)records.Length + 10, 0, "zstd", frame.Length);
        output.Write(frame);
        var e = Assert.Throws<McapException>(() => SampleFiles.ReadAllStreamed(output.WrittenSpan.ToArray()));
        Assert.Equal(McapErrorKind.DecompressionFailed, e.Kind);
        Assert.Equal(25, e.Offset);
    }

    [Fact]
    public void Unknown_compression_is_reported_as_unsupported()
    {
        var records = TwoMessages();
        var e = Assert.Throws<McapException>(() => SampleFiles.ReadAllStreamed(FileWithChunk(records, "brotli", records)));
        Assert.Equal(McapErrorKind.UnsupportedCompression, e.Kind);
    }

    [Fact]
    public void Unknown_opcodes_and_trailing_fields_are_skipped()
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(output, new Header("", ""));
        output.Write(new byte[] { 0x80, 3, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9 }); // private record
        var channel = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(channel, new Channel(1, 0, "/t", "raw", Channel.NoMetadata));
        var bytes = channel.WrittenSpan.ToArray();
        BitConverter.TryWriteBytes(bytes.AsSpan(1, 8), (ulong)(bytes.Length - 9 + 2)); // two unknown trailing bytes
        output.Write(bytes);
        output.Write(new byte[] { 0xAB, 0xCD });
        McapRecordSerializer.WriteMessage(output, 1, 0, 1, 1, [7]);
        McapRecordSerializer.WriteDataEnd(output, new DataEnd(0));
        McapRecordSerializer.WriteFooter(output, new Footer(0, 0, 0));
        output.Write(McapConstants.Magic);
        var records = McapStreamReader.ReadRecords(new MemoryStream(output.WrittenSpan.ToArray())).Select(r => r.Opcode).ToList();
        Assert.Equal([McapOpcode.Header, McapOpcode.Channel, McapOpcode.Message, McapOpcode.DataEnd, McapOpcode.Footer], records);
        Assert.Equal("/t", McapStreamReader.ReadRecords(new MemoryStream(output.WrittenSpan.ToArray())).First(r => r.Opcode == McapOpcode.Channel).ToChannel().Topic);
    }
}

public class Lz4FrameWriterTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(100_000)]
    [InlineData(9 * 1024 * 1024 + 17)] // three blocks
    public void Frames_decode_with_a_standard_lz4_frame_reader(int length)
    {
        var random = new Random(length);
        var data = new byte[length];
        for (var i = 0; i < length; i++) data[i] = (byte)(i % 97 == 0 ? random.Next(256) : i / 1000);
        AssertRoundTrip(data);
        random.NextBytes(data); // incompressible: blocks are stored raw
        AssertRoundTrip(data);
    }

    private static void AssertRoundTrip(byte[] data)
    {
        using var frame = new Internal.PooledBuffer();
        Internal.Lz4FrameWriter.Encode(data, frame);
        Assert.True(frame.Count <= Internal.Lz4FrameWriter.MaximumLength(data.Length));
        var decoded = K4os.Compression.LZ4.Streams.LZ4Frame.Decode(frame.WrittenSpan, new ArrayBufferWriter<byte>(), 0).WrittenSpan.ToArray();
        Assert.Equal(data, decoded);
    }
}

public class CompressionCliOracleTests
{
    /// <summary>The reference lz4 and zstd command-line tools decode our chunk payloads (installed by .ci/setup).</summary>
    [Theory]
    [InlineData("lz4", McapCompression.Lz4)]
    [InlineData("zstd", McapCompression.Zstd)]
    public void Reference_cli_decodes_our_compressed_chunks(string tool, McapCompression compression)
    {
        var file = SampleFiles.Write(new McapWriterOptions { Compression = compression, ForceCompression = true, ChunkSize = 64 * 1024 }, channels: 3, messagesPerChannel: 300);
        using var reader = new McapIndexedReader(new MemoryStream(file.Bytes));
        var dir = Directory.CreateTempSubdirectory("cli-oracle-").FullName;
        try
        {
            foreach (var index in reader.ChunkIndexes)
            {
                var record = file.Bytes.AsMemory((int)index.ChunkStartOffset + McapConstants.RecordPrefixLength, (int)index.ChunkLength - McapConstants.RecordPrefixLength);
                var chunk = McapRecordParser.ParseChunk(record);
                Assert.Equal(McapConstants.CompressionName(compression), chunk.Compression);
                var input = Path.Combine(dir, "chunk.bin");
                File.WriteAllBytes(input, chunk.Records.ToArray());
                var output = Path.Combine(dir, "chunk.out");
                string[] args = tool == "lz4" ? ["-d", "-q", "-f", input, output] : ["-d", "-q", "-f", "-o", output, input];
                var (code, _, error) = NodeInterop.Run(tool, args, dir, TimeSpan.FromSeconds(30));
                Assert.True(code == 0, $"{tool} -d failed: {error}");
                var decoded = File.ReadAllBytes(output);
                Assert.Equal(chunk.UncompressedSize, (ulong)decoded.Length);
                Assert.Equal(chunk.UncompressedCrc, System.IO.Hashing.Crc32.HashToUInt32(decoded));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
