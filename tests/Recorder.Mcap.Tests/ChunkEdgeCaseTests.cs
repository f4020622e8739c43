using System.Buffers;
using System.IO.Hashing;

namespace Recorder.Mcap.Tests;

/// <summary>Chunks that valid writers produce but ours does not: the reader must accept them.</summary>
public class ChunkEdgeCaseTests
{
    private static byte[] FileWithChunk(byte[] compressedRecords, string compression, byte[] uncompressedRecords)
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(output, new Header("", "handmade"));
        McapRecordSerializer.WriteChunkHeader(output, 5, 6, (ulong)uncompressedRecords.Length, Crc32.HashToUInt32(uncompressedRecords), compression, compressedRecords.Length);
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
