using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Recorder.Mcap;
using Recorder.Mcap.Tests;
using Recorder.Video;

namespace Recorder.Tests;

/// <summary>
/// Video end to end: clips made by ffmpeg go through a FIFO or a per-topic socket into the running
/// daemon; the recorded frames and the `.vidx` are checked against `ffprobe -show_packets`
/// (frame count, sizes, keyframe flags), @mcap/core + protobufjs decode the CompressedVideo
/// messages with the embedded schema, and ffmpeg decodes each file's frames on their own.
/// </summary>
public sealed class VideoDaemonTests
{
    private const string FrontTopic = "/camera/front";
    private const string RearTopic = "/camera/rear";

    private static byte[] Concat(IEnumerable<byte[]> parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>The frames of one topic in a recording, in file order: (log time, Annex B bytes).</summary>
    private static List<(ulong LogTime, byte[] Data)> ContainerFrames(string mcap, string topic)
    {
        using var reader = McapIndexedReader.Open(mcap);
        var frames = new List<(ulong, byte[])>();
        foreach (var m in reader.ReadMessages(topics: [topic]))
        {
            Assert.True(CompressedVideo.TryDecode(m.Message.Data.Span, out var timestamp, out var frameId, out var data, out var format), "a CompressedVideo message");
            Assert.Equal(m.Message.LogTime, timestamp);
            Assert.Equal("camera_front", System.Text.Encoding.UTF8.GetString(frameId));
            Assert.Equal("h264", System.Text.Encoding.UTF8.GetString(format));
            frames.Add((m.Message.LogTime, data.ToArray()));
        }
        return frames;
    }

    private static void WriteInPieces(Stream output, byte[] clip, int piece, TimeSpan? pace = null, int frames = 0)
    {
        var watch = Stopwatch.StartNew();
        for (var offset = 0; offset < clip.Length; offset += piece)
        {
            output.Write(clip, offset, Math.Min(piece, clip.Length - offset));
            if (pace is { } total && frames > 0)
            {
                // Real time: the clip's duration spread over its bytes.
                var due = total * ((double)(offset + piece) / clip.Length);
                var wait = due - watch.Elapsed;
                if (wait > TimeSpan.Zero) Thread.Sleep(wait);
            }
        }
        output.Flush();
    }

    private static void SendToSocket(string path, byte[] clip)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        using var stream = new NetworkStream(socket);
        WriteInPieces(stream, clip, 3000);
    }

    [Fact]
    public async Task H264_over_a_fifo_and_H265_sidecar_over_a_socket_match_ffprobe_and_the_index()
    {
        var h264 = VideoClips.Make("h264_nob.h264", "-f lavfi -i testsrc=size=640x480:rate=30 -t 3 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264");
        var h265 = VideoClips.Make("h265_nob.h265", "-f lavfi -i testsrc=size=320x240:rate=30 -t 3 -pix_fmt yuv420p -c:v libx265 -x265-params keyint=30:min-keyint=30:bframes=0:log-level=error -f hevc");
        var h264Packets = VideoClips.Packets(h264, "h264");
        var h265Packets = VideoClips.Packets(h265, "hevc");

        using var d = DaemonProcess.Start(fleetExtra: $$"""
            topics:
              - { topic: {{FrontTopic}}, fifo: ./front.h264, format: h264, frame_id: camera_front, tags: { sensitivity: pii } }
              - { topic: {{RearTopic}}, socket: ./rear.sock, format: h265, store: sidecar }
            """, chunk: "{ size: 256KiB, max_age: 200ms, compression: zstd }");
        var fifo = Path.Combine(d.Root, "front.h264");
        var socket = Path.Combine(d.Root, "rear.sock");
        d.WaitFor(() => File.Exists(fifo) && File.Exists(socket), TimeSpan.FromSeconds(10), "the video inputs");

        var front = Task.Run(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            WriteInPieces(w, File.ReadAllBytes(h264), 4096);
        });
        var rear = Task.Run(() => SendToSocket(socket, File.ReadAllBytes(h265)));
        await Task.WhenAll(front, rear);
        d.WaitFor(() =>
        {
            var counts = d.TopicCounts();
            return counts.GetValueOrDefault(FrontTopic) == (ulong)h264Packets.Count && counts.GetValueOrDefault(RearTopic) == (ulong)h265Packets.Count;
        }, TimeSpan.FromSeconds(30), "every frame to be recorded");
        Assert.Equal(0, d.Stop());
        Assert.Empty(d.ActiveFiles());

        var mcap = Assert.Single(d.FinishedFiles());
        var vidxPath = Path.ChangeExtension(mcap, ".vidx");
        Assert.True(File.Exists(vidxPath), "a recording with video has a .vidx beside it");

        // Container: one CompressedVideo per access unit, byte-identical to the clip's AUs.
        var frames = ContainerFrames(mcap, FrontTopic);
        Assert.Equal(h264Packets.Count, frames.Count);
        var clipBytes = File.ReadAllBytes(h264);
        for (var i = 0; i < frames.Count; i++)
        {
            var (pos, size, _) = h264Packets[i];
            Assert.True(clipBytes.AsSpan((int)pos, size).SequenceEqual(frames[i].Data), $"frame {i} differs from ffprobe's packet at {pos} ({size} B)");
            if (i > 0) Assert.True(frames[i].LogTime >= frames[i - 1].LogTime, "frames in arrival order");
        }

        // The index against ffprobe: count, sizes, keyframe flags.
        using var indexStream = File.OpenRead(vidxPath);
        var index = FrameIndex.Read(indexStream);
        Assert.Null(index.StopReason);
        Assert.Equal(Path.GetFileName(mcap), index.RecordingFile);
        var frontTrack = index.Tracks.Values.Single(t => t.Topic == FrontTopic);
        Assert.Equal((VideoCodec.H264, FrameStore.Container, 640u, 480u), (frontTrack.Codec, frontTrack.Store, frontTrack.Width, frontTrack.Height));
        var frontEntries = index.Frames.Where(f => f.TrackId == frontTrack.TrackId).ToList();
        Assert.Equal(h264Packets.Select(p => (p.Size, p.Key)), frontEntries.Select(e => ((int)e.Size, e.IsKeyframe)));
        Assert.Equal(frames.Select(f => f.LogTime), frontEntries.Select(e => e.LogTime));
        Assert.Equal(Enumerable.Range(0, frontEntries.Count).Select(i => (ulong)i), frontEntries.Select(e => e.FrameNumber));
        Assert.Equal(1u, frontEntries[0].Gop); // the first frame is a keyframe: GOP 1
        Assert.Equal(h264Packets.Count(p => p.Key), (int)frontEntries[^1].Gop);

        // Sidecar: the stream file holds the clip byte for byte; the index points into it.
        var rearTrack = index.Tracks.Values.Single(t => t.Topic == RearTopic);
        Assert.Equal((VideoCodec.H265, FrameStore.Sidecar, 320u, 240u), (rearTrack.Codec, rearTrack.Store, rearTrack.Width, rearTrack.Height));
        var streamFile = Path.Combine(Path.GetDirectoryName(mcap)!, rearTrack.StreamFile!);
        Assert.Equal(File.ReadAllBytes(h265), File.ReadAllBytes(streamFile));
        var rearEntries = index.Frames.Where(f => f.TrackId == rearTrack.TrackId).ToList();
        Assert.Equal(h265Packets.Count, rearEntries.Count);
        for (var i = 0; i < rearEntries.Count; i++)
        {
            // ffmpeg's hevc parser leaves the 4-byte start code's zero_byte at the end of the previous
            // packet; the spec puts it at the start of the next (notes/video.md §5): allow that one byte.
            var (pos, size, key) = h265Packets[i];
            Assert.True(Math.Abs((long)rearEntries[i].Offset - pos) <= 1 && Math.Abs((long)rearEntries[i].Size - size) <= 1, $"rear frame {i}: ours {rearEntries[i].Offset}+{rearEntries[i].Size}, ffprobe {pos}+{size}");
            Assert.Equal(key, rearEntries[i].IsKeyframe);
        }
        Assert.Equal(0, VideoClips.Decode(streamFile, "hevc", out var rearErrors, out var rearDecoded));
        Assert.True(rearErrors.Length == 0, rearErrors);
        Assert.Equal(h265Packets.Count, rearDecoded);

        // The rebuilt index equals the live one byte for byte.
        using (var input = File.OpenRead(mcap))
        using (var rebuilt = new MemoryStream())
        {
            FrameIndexRebuilder.Rebuild(input, rebuilt, Path.GetFileName(mcap));
            Assert.True(File.ReadAllBytes(vidxPath).AsSpan().SequenceEqual(rebuilt.ToArray()), "the rebuilt index differs from the live one");
        }

        // Foxglove's reader and protobufjs decode the messages with the schema embedded in the file.
        var decoded = NodeInterop.DecodeProtobuf(mcap);
        var frontDecoded = decoded["topics"]![FrontTopic]!;
        Assert.Equal("foxglove.CompressedVideo", (string?)frontDecoded["schema"]);
        var decodedFrames = frontDecoded["frames"]!.AsArray();
        Assert.Equal(frames.Count, decodedFrames.Count);
        for (var i = 0; i < frames.Count; i++)
        {
            Assert.Equal("h264", (string?)decodedFrames[i]!["format"]);
            Assert.Equal("camera_front", (string?)decodedFrames[i]!["frameId"]);
            Assert.Equal(Convert.ToBase64String(frames[i].Data), (string?)decodedFrames[i]!["dataBase64"]);
        }
        var rearDecodedFrames = decoded["topics"]![RearTopic]!["frames"]!.AsArray();
        Assert.Equal(h265Packets.Count, rearDecodedFrames.Count);
        Assert.Equal(rearTrack.StreamFile, (string?)rearDecodedFrames[0]!["stream_file"]);

        // And ffmpeg decodes the recorded H.264 frames as they are.
        var recorded = Path.Combine(d.Root, "front-recorded.h264");
        File.WriteAllBytes(recorded, Concat(frames.Select(f => f.Data)));
        Assert.Equal(0, VideoClips.Decode(recorded, "h264", out var errors, out var decodedCount));
        Assert.True(errors.Length == 0, errors);
        Assert.Equal(h264Packets.Count, decodedCount);
    }

    [Fact]
    public async Task Splits_wait_for_keyframes_so_every_file_decodes_on_its_own()
    {
        // 1 s GOPs at 30 fps, sent in real time; splits land mid-GOP.
        var h264 = VideoClips.Make("h264_split.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 6 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264");
        var packets = VideoClips.Packets(h264, "h264");
        using var d = DaemonProcess.Start(fleetExtra: $$"""
            topics:
              - { topic: {{FrontTopic}}, fifo: ./front.h264, format: h264, frame_id: camera_front }
            """, recording: "  split: { keyframe_wait: 3s }", chunk: "{ size: 64KiB, max_age: 100ms, compression: none }");
        var fifo = Path.Combine(d.Root, "front.h264");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");
        var writer = Task.Run(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            WriteInPieces(w, File.ReadAllBytes(h264), 2048, pace: TimeSpan.FromSeconds(6), frames: packets.Count);
        });
        foreach (var pause in new[] { 1300, 1400, 1500 })
        {
            await Task.Delay(pause);
            Assert.True(d.Control("split").GetProperty("ok").GetBoolean());
        }
        await writer;
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault(FrontTopic) == (ulong)packets.Count, TimeSpan.FromSeconds(30), "every frame");
        Assert.Equal(0, d.Stop());

        var files = d.FinishedFiles();
        Assert.True(files.Count >= 4, $"three splits make four files, got {files.Count}");
        var total = 0;
        foreach (var file in files)
        {
            var frames = ContainerFrames(file, FrontTopic);
            if (frames.Count == 0) continue;
            total += frames.Count;
            Assert.True(AnnexB.Classify(frames[0].Data, VideoCodec.H264).IsKeyframe, $"{Path.GetFileName(file)} starts {FrontTopic} with a keyframe");
            var alone = Path.Combine(d.Root, Path.GetFileNameWithoutExtension(file) + ".h264");
            File.WriteAllBytes(alone, Concat(frames.Select(f => f.Data)));
            Assert.Equal(0, VideoClips.Decode(alone, "h264", out var errors, out var decoded));
            Assert.True(errors.Length == 0, $"{Path.GetFileName(file)}: {errors}");
            Assert.Equal(frames.Count, decoded);

            using var index = File.OpenRead(Path.ChangeExtension(file, ".vidx"));
            var entries = FrameIndex.Read(index).Frames;
            Assert.Equal(frames.Count, entries.Count);
            Assert.True(entries[0].IsKeyframe);
            Assert.Equal(1u, entries[0].Gop);
        }
        Assert.Equal(packets.Count, total); // every frame in exactly one file
    }
}

/// <summary>Test clips made by ffmpeg (cached per test run) and the ffprobe/ffmpeg oracle.</summary>
public static class VideoClips
{
    private static readonly string Cache = Directory.CreateTempSubdirectory("recorder-clips-").FullName;
    private static readonly Lock Gate = new();

    /// <summary>Runs `ffmpeg -y ARGS OUT` once per name; a missing ffmpeg fails the test with the reason.</summary>
    public static string Make(string name, string arguments)
    {
        lock (Gate)
        {
            var path = Path.Combine(Cache, name);
            if (File.Exists(path)) return path;
            var (code, _, error) = Run("ffmpeg", ["-v", "error", "-y", .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries), path]);
            Assert.True(code == 0, $"ffmpeg could not make {name} (install it: apt-get install ffmpeg): {error}");
            return path;
        }
    }

    /// <summary>ffprobe's packets of a raw stream: position, size, keyframe flag.</summary>
    public static List<(long Pos, int Size, bool Key)> Packets(string path, string format)
    {
        var (code, output, error) = Run("ffprobe", ["-v", "error", "-f", format, "-show_packets", "-show_entries", "packet=pos,size,flags", "-of", "compact=p=0", path]);
        Assert.True(code == 0, $"ffprobe failed: {error}");
        var packets = new List<(long, int, bool)>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('|').Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
            packets.Add((long.Parse(fields["pos"], CultureInfo.InvariantCulture), int.Parse(fields["size"], CultureInfo.InvariantCulture), fields["flags"].StartsWith('K')));
        }
        return packets;
    }

    /// <summary>Decodes a raw stream with ffmpeg: its exit code, what it complained about, and how many frames it decoded.</summary>
    public static int Decode(string path, string format, out string errors, out int frames)
    {
        var (code, _, error) = Run("ffmpeg", ["-v", "error", "-f", format, "-i", path, "-f", "framecrc", "-"], out var output);
        errors = error.Trim();
        frames = output.Split('\n').Count(l => l.Length > 0 && !l.StartsWith('#'));
        return code;
    }

    private static (int Code, string Stdout, string Stderr) Run(string file, string[] args) => Run(file, args, out _);

    private static (int Code, string Stdout, string Stderr) Run(string file, string[] args, out string stdout)
    {
        var (code, output, error) = NodeInterop.Run(file, args, Cache, TimeSpan.FromMinutes(3));
        stdout = output;
        return (code, output, error);
    }
}
