using Recorder.Mcap;
using Index = Recorder.Video.FrameIndex;

namespace Recorder.Video.Tests.FrameIndex;

/// <summary>
/// <c>recorder frames --rebuild</c>: the index rebuilt from the MCAP alone equals, byte for byte, the
/// one written live. The "live" side here does what the recording writer does: it numbers each video
/// frame with FrameIndexer.Next when the message is written (using the keyframe kind and resolution
/// it knows from how the test built the access unit), and appends it once McapWriter reports the
/// chunk cut (ChunkCount grew; LastChunkStart, LastMessageOffsetInChunk).
/// <para>Needs the video-core branch: the rebuild calls CompressedVideo.TryDecode, AnnexB.Classify,
/// AnnexB.TryReadResolution and VideoFrameRef.TryDecode, and the live side VideoFrameRef.Encode.</para>
/// </summary>
[Trait("needs", "video-core")]
public class RebuildTests
{
    /// <summary>The live recorder's side: MCAP writer plus index, appending frames as their chunks land.</summary>
    private sealed class LiveRecording
    {
        private readonly McapWriter _mcap;
        private readonly FrameIndexWriter _vidx;
        private readonly FrameIndexer _indexer;
        private readonly List<(FrameIndexEntry Entry, bool Sidecar)> _pending = new();
        private readonly bool _chunked;
        private readonly ushort _front, _rear, _imu, _diag, _jsonVideo;
        public readonly MemoryStream Mcap = new();
        public readonly MemoryStream Vidx = new();
        public readonly List<byte[]> FrontAccessUnits = new();
        public readonly List<byte[]> RearStream = new();
        private ulong _rearOffset;

        public LiveRecording(McapWriterOptions options)
        {
            _chunked = options.UseChunks;
            _mcap = new McapWriter(Mcap, options, leaveOpen: true);
            _vidx = new FrameIndexWriter(Vidx, "rec.mcap", leaveOpen: true);
            _indexer = new FrameIndexer(_vidx);
            // Schema data does not matter to the rebuild (it matches name and encoding); a placeholder keeps this test off the descriptor code.
            var video = _mcap.AddSchema(CompressedVideo.SchemaName, CompressedVideo.SchemaEncoding, "descriptor"u8.ToArray());
            var frameRef = _mcap.AddSchema(VideoFrameRef.SchemaName, "protobuf", "descriptor"u8.ToArray());
            var other = _mcap.AddSchema("other.Thing", "protobuf", "descriptor"u8.ToArray());
            var jsonVideo = _mcap.AddSchema(CompressedVideo.SchemaName, "jsonschema", "{}"u8.ToArray());
            _imu = _mcap.AddChannel("/imu", "raw");
            _front = _mcap.AddChannel("/cam/front", CompressedVideo.MessageEncoding, video);
            _diag = _mcap.AddChannel("/diag", "protobuf", other);
            _rear = _mcap.AddChannel("/cam/rear", "protobuf", frameRef);
            _jsonVideo = _mcap.AddChannel("/cam/json", "json", jsonVideo);
        }

        public void Front(ulong t, byte[] au, KeyframeKind kind, uint width, uint height)
        {
            FrontAccessUnits.Add(au);
            var message = TestVideo.CompressedVideo(t, "front", au, "h264");
            Write(_front, t, message, () => _indexer.Next("/cam/front", VideoCodec.H264, FrameStore.Container, null, t, t + 1, kind, (uint)au.Length, width, height));
        }

        public void Rear(ulong t, byte[] au, KeyframeKind kind, uint width, uint height)
        {
            RearStream.Add(au);
            var fields = new VideoFrameRefFields((ulong)RearStream.Count - 1, t, t + 1, kind, _rearOffset, (uint)au.Length, VideoCodec.H265, width, height);
            var message = new byte[VideoFrameRef.MaxEncodedLength(9)];
            var length = VideoFrameRef.Encode(message, fields, "rear.h265"u8);
            var offset = _rearOffset;
            _rearOffset += (ulong)au.Length;
            Write(_rear, t, message.AsSpan(0, length).ToArray(),
                () => _indexer.Next("/cam/rear", VideoCodec.H265, FrameStore.Sidecar, "rear.h265", t, t + 1, kind, (uint)au.Length, width, height) with { Offset = offset },
                sidecar: true);
        }

        public void Other(ulong t, int size)
        {
            var data = new byte[size];
            new Random((int)t).NextBytes(data);
            Write(_imu, t, data, null);
            Write(_diag, t, data.AsSpan(0, size / 2).ToArray(), null);
            Write(_jsonVideo, t, "{}"u8.ToArray(), null);
        }

        private void Write(ushort channel, ulong t, byte[] data, Func<FrameIndexEntry>? next, bool sidecar = false)
        {
            var chunks = _mcap.ChunkCount;
            _mcap.WriteMessage(channel, 0, t, t + 1, data);
            if (next is not null)
            {
                var entry = next();
                if (!_chunked)
                {
                    entry = sidecar ? entry : entry with { Offset = (ulong)_mcap.LastMessageFileOffset, OffsetInChunk = uint.MaxValue };
                    _indexer.Append(entry);
                    return;
                }
                _pending.Add((sidecar ? entry : entry with { OffsetInChunk = (uint)_mcap.LastMessageOffsetInChunk }, sidecar));
            }
            if (_mcap.ChunkCount != chunks) Drain();
        }

        public void Flush()
        {
            var chunks = _mcap.ChunkCount;
            _mcap.Flush();
            if (_mcap.ChunkCount != chunks) Drain();
            _vidx.Flush();
        }

        /// <summary>A chunk was cut: every pending frame is in it (container) or only waited for it (sidecar, keeping its stream offset).</summary>
        private void Drain()
        {
            foreach (var (entry, sidecar) in _pending)
                _indexer.Append(sidecar ? entry : entry with { Offset = (ulong)_mcap.LastChunkStart });
            _pending.Clear();
        }

        public void Finish()
        {
            Flush();
            _mcap.Finish();
            _vidx.Dispose();
        }
    }

    /// <summary>
    /// A recording: /cam/front (CompressedVideo H.264) starts with ten P frames (GOP 0), then an IDR every 10
    /// frames, switches from 640x480 to 1280x720 at frame 30; /cam/rear (VideoFrameRef, H.265 in a
    /// sidecar stream) appears later; unrelated channels in between; a flush now and then.
    /// </summary>
    private static LiveRecording Record(McapWriterOptions options)
    {
        var live = new LiveRecording(options);
        for (var i = 0; i < 50; i++)
        {
            var t = 1_000_000_000UL + (ulong)i * 33_000_000;
            live.Other(t, 40 + i);
            var key = i >= 2 && i % 10 == 0;
            var (w, h) = i < 30 ? (640, 480) : (1280, 720);
            live.Front(t + 1, key ? TestVideo.IdrAccessUnit(w, h, 500 + i, (byte)i) : TestVideo.PAccessUnit(100 + i, (byte)i),
                key ? KeyframeKind.Idr : KeyframeKind.None, key ? (uint)w : 0, key ? (uint)h : 0);
            if (i >= 5)
            {
                var rearKey = i % 15 == 5;
                live.Rear(t + 2, rearKey ? new byte[] { 0, 0, 0, 1, 0x2A, 0x01, 0xAF } : new byte[] { 0, 0, 0, 1, 0x02, 0x01, 0xD0 },
                    rearKey ? KeyframeKind.Cra : KeyframeKind.None, rearKey ? 320u : 0, rearKey ? 240u : 0);
            }
            if (i % 17 == 16) live.Flush();
        }
        live.Finish();
        return live;
    }

    public static TheoryData<string> Variants => new() { "none", "zstd", "lz4", "unchunked" };

    private static McapWriterOptions Options(string variant) => variant switch
    {
        "unchunked" => new McapWriterOptions { UseChunks = false },
        "none" => new McapWriterOptions { ChunkSize = 2048, Compression = McapCompression.None },
        "zstd" => new McapWriterOptions { ChunkSize = 2048, Compression = McapCompression.Zstd, ForceCompression = true },
        _ => new McapWriterOptions { ChunkSize = 2048, Compression = McapCompression.Lz4, ForceCompression = true },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Rebuilt_index_equals_the_live_index_byte_for_byte(string variant)
    {
        var live = Record(Options(variant));
        var mcap = live.Mcap.ToArray();
        var rebuilt = new MemoryStream();
        var result = FrameIndexRebuilder.Rebuild(new MemoryStream(mcap), rebuilt, "rec.mcap");

        Assert.Null(result.McapError);
        Assert.Equal(0, result.SkippedMessages);
        Assert.Equal(2, result.Tracks);
        Assert.Equal(50 + 45, result.Frames);
        Assert.Equal(live.Vidx.ToArray(), rebuilt.ToArray());
        if (variant != "unchunked") Assert.True(new McapIndexedReader(new MemoryStream(mcap)).ChunkIndexes.Count > 5, "the test wants several chunks");

        var index = Index.Parse(rebuilt.ToArray());
        Assert.Null(index.StopReason);
        Assert.Equal((1280u, 720u), (index.Tracks[1].Width, index.Tracks[1].Height));
        Assert.Equal([0u, 0u, 1u, 1u, 2u], new[] { 0, 9, 10, 19, 20 }.Select(i => index.FramesOf(1)[i].Gop)); // GOP 0 until the IDR at frame 10
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Frames_read_back_through_the_index_are_the_access_units_written(string variant)
    {
        var live = Record(Options(variant));
        var dir = Path.Combine(Path.GetTempPath(), $"rebuild-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var mcapPath = Path.Combine(dir, "rec.mcap");
            File.WriteAllBytes(mcapPath, live.Mcap.ToArray());
            File.WriteAllBytes(Path.Combine(dir, "rear.h265"), live.RearStream.SelectMany(a => a).ToArray());
            var index = Index.Parse(live.Vidx.ToArray());
            using var reader = new FrameReader(mcapPath, index);
            var front = index.FramesOf(index.FindTrack("/cam/front")!.TrackId);
            for (var i = 0; i < front.Count; i++) Assert.Equal(live.FrontAccessUnits[i], reader.ReadFrame(front[i]).ToArray());
            var rear = index.FramesOf(index.FindTrack("/cam/rear")!.TrackId);
            for (var i = rear.Count - 1; i >= 0; i--) Assert.Equal(live.RearStream[i], reader.ReadFrame(rear[i]).ToArray());

            // export-video: the keyframe before start through end.
            var seek = index.FramesForRange("/cam/front", front[25].LogTime, front[33].LogTime);
            Assert.Equal(front[20], seek[0]);
            Assert.Equal(front[33], seek[^1]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_crashed_recording_rebuilds_to_a_prefix_of_the_live_index()
    {
        var live = Record(Options("zstd"));
        var mcap = live.Mcap.ToArray();
        var full = live.Vidx.ToArray();
        var chunks = new McapIndexedReader(new MemoryStream(mcap)).ChunkIndexes;
        var cut = (int)chunks[chunks.Count / 2].ChunkStartOffset + 20; // inside a chunk
        var rebuilt = new MemoryStream();
        var result = FrameIndexRebuilder.Rebuild(new MemoryStream(mcap, 0, cut), rebuilt, "rec.mcap");
        Assert.Equal(McapErrorKind.Truncated, result.McapError!.Kind);
        var bytes = rebuilt.ToArray();
        Assert.True(bytes.Length > 100 && bytes.Length < full.Length);
        Assert.Equal(full.AsSpan(0, bytes.Length).ToArray(), bytes);
    }
}
