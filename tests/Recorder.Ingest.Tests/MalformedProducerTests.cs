using System.Buffers;
using Recorder.Mcap;

using Recorder.Recording;
using Recorder.Recording.Tests;

namespace Recorder.Ingest.Tests;

/// <summary>A malformed stream closes that producer with a specific reason; what it sent before stays; others are unaffected.</summary>
public class MalformedProducerTests
{
    private static byte[] Truncated(byte[] stream) => stream[..(stream.Length - 7)];

    private static byte[] BadMagic() => "GARBAGE!not mcap at all"u8.ToArray();

    private static byte[] Oversized()
    {
        var good = ProducerStreams.Json("/x", 5);
        var w = new ArrayBufferWriter<byte>();
        w.Write(good.AsSpan(0, good.Length - 8 - 29 - 13)); // up to before DataEnd (no summary)
        w.Write(new byte[] { 0x05, 0, 0, 0, 0, 0, 0, 0, 0x40 }); // a Message claiming 2^62 bytes
        return w.WrittenSpan.ToArray();
    }

    private static byte[] UnknownChannel()
    {
        var w = new ArrayBufferWriter<byte>();
        w.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(w, new Header("", "evil"));
        McapRecordSerializer.WriteChannel(w, new Channel(1, 0, "/x", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(w, 1, 0, 1, 1, "{}"u8);
        McapRecordSerializer.WriteMessage(w, 9, 1, 2, 2, "{}"u8);
        return w.WrittenSpan.ToArray();
    }

    private static byte[] NonUtf8Topic()
    {
        var w = new ArrayBufferWriter<byte>();
        w.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(w, new Header("", ""));
        var channel = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(channel, new Channel(1, 0, "/ok", "json", Channel.NoMetadata));
        var bytes = channel.WrittenSpan.ToArray();
        bytes[9 + 2 + 2 + 4 + 1] = 0xFF; // a byte of the topic
        w.Write(bytes);
        return w.WrittenSpan.ToArray();
    }

    private static byte[] BadCrc()
    {
        var good = ProducerStreams.Json("/x", 50, chunked: true);
        var bytes = (byte[])good.Clone();
        bytes[200] ^= 0x55; // inside the first chunk's records
        return bytes;
    }

    /// <summary>A zstd chunk of one small message that declares 200 MiB uncompressed (within the default 256 MiB limit).</summary>
    private static byte[] ChunkClaimingMoreThanItHolds()
    {
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, new Channel(1, 0, "/x", "json", Channel.NoMetadata));
        McapRecordSerializer.WriteMessage(records, 1, 0, 1, 1, "{}"u8);
        using var zstd = new ZstdSharp.Compressor(3);
        var compressed = zstd.Wrap(records.WrittenSpan).ToArray();
        var w = new ArrayBufferWriter<byte>();
        w.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(w, new Header("", "liar"));
        McapRecordSerializer.WriteChunkHeader(w, 1, 1, 200UL << 20, 0, "zstd", compressed.Length);
        w.Write(compressed);
        return w.WrittenSpan.ToArray();
    }

    public static TheoryData<string, string> Cases => new()
    {
        { "chunk_claiming_more", "bad compressed chunk at byte 29: zstd chunk decompressed to " },
        { "bad_magic", "not an MCAP stream" },
        { "truncated", "stream ended mid-record" },
        { "oversized", "oversized record" },
        { "unknown_channel", "message on undeclared channel 9" },
        { "non_utf8_topic", "invalid UTF-8 in Channel" },
        { "bad_crc", "CRC mismatch in Chunk" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Malformed_stream_is_refused_with_its_reason_and_others_are_unaffected(string kind, string reason)
    {
        using var p = new Pipeline();
        var bad = kind switch
        {
            "bad_magic" => BadMagic(),
            "truncated" => Truncated(ProducerStreams.Json("/x", 20, chunked: false)),
            "oversized" => Oversized(),
            "unknown_channel" => UnknownChannel(),
            "non_utf8_topic" => NonUtf8Topic(),
            "chunk_claiming_more" => ChunkClaimingMoreThanItHolds(),
            _ => BadCrc(),
        };
        var good = p.Feed(ProducerStreams.Json("/good", 1000), "good", segment: 512);
        var stats = await p.Feed(bad, "bad", segment: 64);
        await good;
        var files = await p.StopAsync();

        Assert.NotNull(stats.RefusedBecause);
        Assert.Contains(reason, stats.RefusedBecause);
        var messages = Files.Messages(files);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (uint)i), messages.Where(m => m.Topic == "/good").Select(m => m.Sequence));
        // The refusal is in the file too: never silent.
        Assert.Contains(messages, m => m.Topic == RecordingWriter.EventsTopic && System.Text.Encoding.UTF8.GetString(m.Data).Contains("producer_refused"));
        if (kind == "unknown_channel") Assert.Single(messages, m => m.Topic == "/x");
        if (kind == "truncated") Assert.True(messages.Count(m => m.Topic == "/x") >= 18);
    }
}

/// <summary>Thousands of mutated producer streams: every one ends its own session; none escapes, none harms the others.</summary>
public class FuzzedProducerTests
{
    [Fact]
    public async Task Three_thousand_fuzzed_streams_never_escape_their_session_and_a_good_producer_is_untouched()
    {
        using var p = new Pipeline(ingest: new Recorder.Ingest.IngestOptions { SocketPath = null, MaxRecordSize = 1 << 20, MaxUncompressedChunkSize = 4 << 20 });
        var seeds = new[]
        {
            ProducerStreams.Json("/fuzz", 30),
            ProducerStreams.Json("/fuzz", 60, chunked: true, compression: McapCompression.Zstd),
            ProducerStreams.Json("/fuzz", 60, chunked: true, compression: McapCompression.Lz4),
        };
        var good = p.Feed(ProducerStreams.Json("/good", 3000), "good", segment: 256, paced: true);
        var random = new Random(4242);
        var refused = 0;
        for (var i = 0; i < 3000; i++)
        {
            var stats = await p.Feed(StreamMutator.Mutate(seeds[i % seeds.Length], random), $"fuzz{i}", segment: random.Next(1, 512));
            if (stats.RefusedBecause is not null) refused++;
        }
        await good;
        var files = await p.StopAsync();
        Assert.True(refused > 1000, $"only {refused} of 3000 mutated streams were refused");
        Assert.Equal(WriterHealth.Ok, p.Writer.Health);
        var goodSeqs = Files.Messages(files).Where(m => m.Topic == "/good").Select(m => m.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, 3000).Select(i => (uint)i), goodSeqs);
        foreach (var file in files) Assert.False(McapDoctor.Check(file).HasErrors, file);
    }
}
