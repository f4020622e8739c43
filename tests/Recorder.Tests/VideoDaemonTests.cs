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
    private static List<(ulong LogTime, byte[] Data)> ContainerFrames(string mcap, string topic, string frameIdExpected = "camera_front")
    {
        using var reader = McapIndexedReader.Open(mcap);
        var frames = new List<(ulong, byte[])>();
        foreach (var m in reader.ReadMessages(topics: [topic]))
        {
            Assert.True(CompressedVideo.TryDecode(m.Message.Data.Span, out var timestamp, out var frameId, out var data, out var format), "a CompressedVideo message");
            Assert.Equal(m.Message.LogTime, timestamp);
            Assert.Equal(frameIdExpected, System.Text.Encoding.UTF8.GetString(frameId));
            Assert.Equal("h264", System.Text.Encoding.UTF8.GetString(format));
            frames.Add((m.Message.LogTime, data.ToArray()));
        }
        return frames;
    }

    private static string EndReason(string mcap)
    {
        using var reader = McapIndexedReader.Open(mcap);
        return Path.GetFileName(mcap) + ": " + string.Join(",", reader.MetadataIndexes.Where(m => m.Name == "recorder.file_end").Select(m => reader.ReadMetadata(m).Values["reason"]));
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
        var status = d.Control("status").GetProperty("result");
        Assert.Equal((ulong)(h264Packets.Count + h265Packets.Count), status.GetProperty("video_frames").GetUInt64());
        Assert.Equal(0UL, status.GetProperty("keyframe_waits_expired").GetUInt64());
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

        // `recorder frames`: one line per frame with its keyframe flag, then the topic summaries;
        // --rebuild regenerates a deleted index from the MCAP alone.
        var live = File.ReadAllBytes(vidxPath);
        File.Delete(vidxPath);
        var cli = new StringWriter();
        Assert.Equal(1, Recorder.Cli.CommandLine.Run(["frames", mcap], cli, cli));
        Assert.Contains("--rebuild", cli.ToString());
        Assert.Equal(0, Recorder.Cli.CommandLine.Run(["frames", "--rebuild", mcap], new StringWriter(), new StringWriter()));
        Assert.Equal(live, File.ReadAllBytes(vidxPath));
        // doctor checks the index against the MCAP: ok as written, an error once it is torn.
        var doctor = new StringWriter();
        Assert.True(Recorder.Cli.CommandLine.Run(["doctor", mcap], doctor, doctor) == 0, doctor.ToString());
        Assert.Contains($"{h264Packets.Count + h265Packets.Count} frames, the same as the MCAP rebuilds to", doctor.ToString());
        File.WriteAllBytes(vidxPath, live[..^20]);
        doctor = new StringWriter();
        Assert.Equal(1, Recorder.Cli.CommandLine.Run(["doctor", mcap], doctor, doctor));
        Assert.Contains("does not match the MCAP: it ends early", doctor.ToString());
        File.WriteAllBytes(vidxPath, live);
        cli = new StringWriter();
        Assert.Equal(0, Recorder.Cli.CommandLine.Run(["frames", mcap, "--topic", FrontTopic], cli, new StringWriter()));
        var lines = cli.ToString().Split('\n');
        Assert.Equal(h264Packets.Count, lines.Count(l => l.StartsWith(FrontTopic + " ", StringComparison.Ordinal)));
        Assert.Equal(h264Packets.Count(p => p.Key), lines.Count(l => l.StartsWith(FrontTopic + " ", StringComparison.Ordinal) && l.Contains(" true ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith(FrontTopic + ": " + h264Packets.Count + " frames, " + h264Packets.Count(p => p.Key) + " keyframes", StringComparison.Ordinal));

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
        foreach (var pause in new[] { 1300, 1600, 1600 })
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

    /// <summary>The clips of notes/video.md §6 (4 s each here) plus odd resolutions: name, ffmpeg arguments, ffprobe format.</summary>
    public static readonly (string Name, string Args, string Format)[] Clips =
    [
        ("h264_nob", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264", "h264"),
        ("h264_bf", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 2 -f h264", "h264"),
        ("h264_aud", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -x264-params aud=1 -f h264", "h264"),
        ("h264_opengop", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 2 -x264-params open-gop=1 -f h264", "h264"),
        ("h264_odd", "-f lavfi -i testsrc=size=642x362:rate=30 -t 2 -pix_fmt yuv420p -c:v libx264 -g 15 -bf 0 -f h264", "h264"),
        ("h265_cra", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx265 -x265-params keyint=30:min-keyint=30:bframes=0:log-level=error -f hevc", "hevc"),
        ("h265_idr", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx265 -x265-params keyint=30:min-keyint=30:bframes=0:open-gop=0:log-level=error -f hevc", "hevc"),
        ("h265_bf", "-f lavfi -i testsrc=size=640x480:rate=30 -t 4 -pix_fmt yuv420p -c:v libx265 -x265-params keyint=30:min-keyint=30:bframes=3:log-level=error -f hevc", "hevc"),
        ("h265_odd", "-f lavfi -i testsrc=size=642x362:rate=30 -t 2 -pix_fmt yuv420p -c:v libx265 -x265-params keyint=15:min-keyint=15:bframes=0:log-level=error -f hevc", "hevc"),
    ];

    [Fact]
    public async Task Every_clip_kind_through_fifos_matches_ffprobe_in_the_file_and_the_index()
    {
        var clips = Clips.Select(c => (c.Name, Path: VideoClips.Make(c.Name + (c.Format == "hevc" ? ".h265" : ".h264"), c.Args), c.Format)).ToList();
        var topics = string.Join("\n", clips.Select(c => $"  - {{ topic: /video/{c.Name}, fifo: ./{c.Name}.fifo, format: {(c.Format == "hevc" ? "h265" : "h264")} }}"));
        using var d = DaemonProcess.Start(fleetExtra: "topics:\n" + topics + "\n", chunk: "{ size: 512KiB, max_age: 200ms, compression: lz4 }");
        d.WaitFor(() => clips.All(c => File.Exists(Path.Combine(d.Root, c.Name + ".fifo"))), TimeSpan.FromSeconds(10), "the FIFOs");
        // All at once, each through its own FIFO, in odd-sized pieces.
        await Task.WhenAll(clips.Select(c => Task.Run(() =>
        {
            using var w = new FileStream(Path.Combine(d.Root, c.Name + ".fifo"), FileMode.Open, FileAccess.Write);
            WriteInPieces(w, File.ReadAllBytes(c.Path), 1777);
        })));
        var expected = clips.ToDictionary(c => "/video/" + c.Name, c => VideoClips.Packets(c.Path, c.Format));
        d.WaitFor(() => expected.All(e => d.TopicCounts().GetValueOrDefault(e.Key) == (ulong)e.Value.Count), TimeSpan.FromSeconds(60), "every frame of every clip");
        Assert.Equal(0, d.Stop());

        var mcap = Assert.Single(d.FinishedFiles());
        var index = FrameIndex.ReadFile(Path.ChangeExtension(mcap, ".vidx"));
        Assert.Null(index.StopReason);
        using var reader = McapIndexedReader.Open(mcap);
        using var frameReader = new FrameReader(mcap, index);
        foreach (var (name, path, format) in clips)
        {
            var topic = "/video/" + name;
            var packets = expected[topic];
            var clip = File.ReadAllBytes(path);
            var track = index.FindTrack(topic)!;
            var entries = index.FramesOf(track.TrackId).ToList();
            var messages = reader.ReadMessages(topics: [topic]).ToList();
            Assert.Equal(packets.Count, messages.Count);
            Assert.Equal(packets.Count, entries.Count);
            var (w, h) = name.EndsWith("_odd", StringComparison.Ordinal) ? (642u, 362u) : (640u, 480u);
            Assert.Equal((w, h), (track.Width, track.Height));
            var stored = new List<byte[]>();
            for (var i = 0; i < packets.Count; i++)
            {
                Assert.True(CompressedVideo.TryDecode(messages[i].Message.Data.Span, out _, out _, out var data, out _));
                stored.Add(data.ToArray());
                var (pos, size, key) = packets[i];
                // HEVC: ffmpeg leaves the next unit's zero_byte at the end of a packet (notes/video.md §5).
                var slack = format == "hevc" ? 1 : 0;
                Assert.True(Math.Abs(data.Length - size) <= slack, $"{topic} frame {i}: {data.Length} B, ffprobe {size} B");
                Assert.Equal(key, entries[i].IsKeyframe);
                Assert.Equal((uint)data.Length, entries[i].Size);
                Assert.Equal(messages[i].Message.LogTime, entries[i].LogTime);
                // The index finds the bytes without scanning: chunk offset + offset in the chunk.
                Assert.True(frameReader.ReadFrame(entries[i]).Span.SequenceEqual(data), $"{topic} frame {i} read through the index");
            }
            // The frames together are the clip, byte for byte (parameter sets were already on every keyframe).
            Assert.Equal(clip, Concat(stored));
        }
        // B-frames are flagged in the log (Foxglove does not play them).
        Assert.Contains("/video/h264_bf", d.Output.Split('\n').First(l => l.Contains("B-frames", StringComparison.Ordinal) && l.Contains("h264_bf", StringComparison.Ordinal)));
        using var input = File.OpenRead(mcap);
        using var rebuilt = new MemoryStream();
        FrameIndexRebuilder.Rebuild(input, rebuilt, Path.GetFileName(mcap));
        Assert.Equal(File.ReadAllBytes(Path.ChangeExtension(mcap, ".vidx")), rebuilt.ToArray());
    }

    [Fact]
    public async Task Export_video_starts_at_a_keyframe_and_keeps_the_recorded_timing()
    {
        const int Fps = 30;
        var h264 = VideoClips.Make("h264_export.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 3 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264");
        var packets = VideoClips.Packets(h264, "h264");
        using var d = DaemonProcess.Start(fleetExtra: $"topics:\n  - {{ topic: {FrontTopic}, socket: ./front.sock, format: h264 }}\n");
        var socket = Path.Combine(d.Root, "front.sock");
        d.WaitFor(() => File.Exists(socket), TimeSpan.FromSeconds(10), "the socket");
        await Task.Run(() =>
        {
            // One access unit every 1/30 s, as a camera would send them.
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(socket));
            using var stream = new NetworkStream(s);
            var clip = File.ReadAllBytes(h264);
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < packets.Count; i++)
            {
                var due = TimeSpan.FromSeconds((double)i / Fps) - watch.Elapsed;
                if (due > TimeSpan.Zero) Thread.Sleep(due);
                stream.Write(clip, (int)packets[i].Pos, packets[i].Size);
                stream.Flush();
            }
        });
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault(FrontTopic) == (ulong)packets.Count, TimeSpan.FromSeconds(30), "every frame");
        Assert.Equal(0, d.Stop());
        var mcap = Assert.Single(d.FinishedFiles());

        var mp4 = Path.Combine(d.Root, "front.mp4");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.True(Recorder.Cli.CommandLine.Run(["export-video", mcap, "--topic", FrontTopic, "-o", mp4], stdout, stderr) == 0, stderr.ToString());
        Assert.Contains($"exported {packets.Count} frames", stdout.ToString());
        var (frames, duration) = VideoClips.Mp4FramesAndDuration(mp4);
        Assert.Equal(packets.Count, frames);
        // The export keeps the RECORDED timing: its duration is the span of the frames' log times plus
        // one frame's display time (at most the longest gap between two recorded frames). The
        // recorded times are arrival stamps, so they are not compared with the pacing above: under
        // load the sender's real-time pacing slips, and that is not what this test is about.
        var index = FrameIndex.ReadFile(Path.ChangeExtension(mcap, ".vidx"));
        var all = index.FramesOf(index.FindTrack(FrontTopic)!.TrackId);
        var span = (all[^1].LogTime - all[0].LogTime) / 1e9;
        var longestGap = 0.0;
        for (var i = 1; i < all.Count; i++) longestGap = Math.Max(longestGap, (all[i].LogTime - all[i - 1].LogTime) / 1e9);
        const double Rounding = 0.002; // the container's time base
        Assert.True(duration >= span - Rounding && duration <= span + longestGap + Rounding,
            $"duration {duration:0.000} s, the recorded span {span:0.000} s (+ at most {longestGap:0.000} s for the last frame)");

        // From a time inside the second GOP: the export starts at that GOP's keyframe.
        var start = all[45].LogTime;
        var part = Path.Combine(d.Root, "part.mp4");
        Assert.Equal(0, Recorder.Cli.CommandLine.Run(["export-video", mcap, "--topic", FrontTopic, "-o", part, "--start",
            start.ToString(CultureInfo.InvariantCulture), "--end", all[75].LogTime.ToString(CultureInfo.InvariantCulture)], new StringWriter(), new StringWriter()));
        Assert.Equal(76 - 30, VideoClips.Mp4FramesAndDuration(part).Frames);
        Assert.Equal(0, VideoClips.Decode(part, "mov", out var errors, out _));
        Assert.True(errors.Length == 0, errors);

        // Without ffmpeg on PATH: a clear error, nothing else.
        var saved = Environment.GetEnvironmentVariable("PATH");
        try
        {
            Environment.SetEnvironmentVariable("PATH", d.Root);
            var missing = new StringWriter();
            Assert.Equal(1, Recorder.Cli.CommandLine.Run(["export-video", mcap, "--topic", FrontTopic, "-o", part], new StringWriter(), missing));
            Assert.Contains("needs the ffmpeg command", missing.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", saved);
        }
    }

    [Fact]
    public async Task A_sigkill_leaves_an_index_whose_every_entry_points_at_written_bytes_and_restart_rebuilds_it()
    {
        var h264 = VideoClips.Make("h264_crash.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 6 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264");
        var h265 = VideoClips.Make("h265_crash.h265", "-f lavfi -i testsrc=size=320x240:rate=30 -t 6 -pix_fmt yuv420p -c:v libx265 -x265-params keyint=30:bframes=0:log-level=error -f hevc");
        var root = Directory.CreateTempSubdirectory("recorder-video-crash-").FullName;
        var fleet = $"topics:\n  - {{ topic: {FrontTopic}, fifo: ./front.h264, format: h264 }}\n  - {{ topic: {RearTopic}, fifo: ./rear.h265, format: h265, store: sidecar }}\n";
        try
        {
            using (var d = DaemonProcess.Start(fleetExtra: fleet, root: root, chunk: "{ size: 32KiB, max_age: 100ms, compression: zstd }"))
            {
                d.KeepRoot = true;
                d.WaitFor(() => File.Exists(Path.Combine(root, "front.h264")) && File.Exists(Path.Combine(root, "rear.h265")), TimeSpan.FromSeconds(10), "the FIFOs");
                var writers = new[] { (File: "front.h264", Clip: h264), (File: "rear.h265", Clip: h265) }.Select(x => Task.Run(() =>
                {
                    try
                    {
                        using var w = new FileStream(Path.Combine(root, x.File), FileMode.Open, FileAccess.Write);
                        WriteInPieces(w, File.ReadAllBytes(x.Clip), 1500, pace: TimeSpan.FromSeconds(6), frames: 180);
                    }
                    catch (IOException)
                    {
                        // The daemon died under us.
                    }
                })).ToArray();
                await Task.Delay(2500);
                d.Kill();
                await Task.WhenAll(writers);
                File.Delete(d.ControlSocket);
            }

            // What the kill left: .active files. Every index entry before the torn tail points at bytes on disk.
            var activeIndex = Directory.EnumerateFiles(root, "*.vidx.active", SearchOption.AllDirectories).Single();
            var activeMcap = activeIndex.Replace(".vidx.active", ".mcap.active", StringComparison.Ordinal);
            var index = FrameIndex.ReadFile(activeIndex);
            Assert.True(index.Frames.Count > 10, $"frames indexed before the kill: {index.Frames.Count}");
            using (var reader = new Recorder.Mcap.McapRandomAccessReader(File.OpenRead(activeMcap)))
            {
                foreach (var entry in index.Frames)
                {
                    var track = index.Tracks[entry.TrackId];
                    if (track.Store != FrameStore.Container) continue;
                    var record = reader.ReadChunkRecord((long)entry.Offset, entry.OffsetInChunk);
                    Assert.Equal(McapOpcode.Message, record.Opcode);
                }
            }
            foreach (var cut in new[] { 1, 7, 30 })
            {
                // A torn tail loses only the torn entry.
                // (From the end of the last whole record: the kill itself may have left a torn one.)
                var bytes = File.ReadAllBytes(activeIndex);
                var torn = FrameIndex.Parse(bytes.AsSpan(0, (int)index.ValidBytes - cut));
                Assert.Equal(index.Frames.Count - 1, torn.Frames.Count);
                Assert.NotNull(torn.StopReason);
            }

            using (var restarted = DaemonProcess.Start(fleetExtra: fleet, root: root))
            {
                restarted.KeepRoot = true;
                Assert.Equal(0, restarted.Stop());
                Assert.Contains("Recovered unfinished file", restarted.Output);
                Assert.DoesNotContain("Could not recover", restarted.Output);
            }
            var files = Directory.EnumerateFiles(Path.Combine(root, "rec"), "*", SearchOption.AllDirectories).ToList();
            Assert.DoesNotContain(files, f => f.EndsWith(".active", StringComparison.Ordinal));
            var recovered = activeMcap[..^".active".Length];
            var doctor = new StringWriter();
            Assert.True(Recorder.Cli.CommandLine.Run(["doctor", recovered], doctor, doctor) == 0, doctor.ToString());
            var recoveredIndex = FrameIndex.ReadFile(Path.ChangeExtension(recovered, ".vidx"));
            Assert.Null(recoveredIndex.StopReason);
            // Recovery rewrote the MCAP (offsets moved): the index was rebuilt from it, and reads back right.
            using var rebuilt = new MemoryStream();
            using (var input = File.OpenRead(recovered)) FrameIndexRebuilder.Rebuild(input, rebuilt, Path.GetFileName(recovered));
            Assert.Equal(File.ReadAllBytes(Path.ChangeExtension(recovered, ".vidx")), rebuilt.ToArray());
            Assert.True(recoveredIndex.Frames.Count >= index.Frames.Count - 2);
            using var frames = new FrameReader(recovered, recoveredIndex);
            var rear = recoveredIndex.FindTrack(RearTopic)!;
            Assert.True(File.Exists(frames.StreamFilePath(rear)), "the sidecar stream got its final name");
            foreach (var entry in recoveredIndex.Frames) Assert.True(frames.ReadFrame(entry).Length == entry.Size);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_split_whose_keyframe_never_comes_proceeds_after_the_wait_and_says_so()
    {
        // One GOP for the whole clip: after the first frame no keyframe comes again.
        var h264 = VideoClips.Make("h264_onegop.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 5 -pix_fmt yuv420p -c:v libx264 -g 1000 -bf 0 -sc_threshold 0 -f h264");
        var packets = VideoClips.Packets(h264, "h264");
        Assert.Single(packets, p => p.Key);
        using var d = DaemonProcess.Start(fleetExtra: $"topics:\n  - {{ topic: {FrontTopic}, fifo: ./front.h264, format: h264 }}\n",
            recording: "  split: { keyframe_wait: 1s }", chunk: "{ size: 64KiB, max_age: 100ms, compression: none }");
        var fifo = Path.Combine(d.Root, "front.h264");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");
        var writer = Task.Run(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            WriteInPieces(w, File.ReadAllBytes(h264), 2048, pace: TimeSpan.FromSeconds(5), frames: packets.Count);
        });
        await Task.Delay(1500);
        var asked = Stopwatch.StartNew();
        Assert.True(d.Control("split").GetProperty("ok").GetBoolean());
        d.WaitFor(() => d.FinishedFiles().Count == 1, TimeSpan.FromSeconds(10), "the split to go ahead");
        Assert.InRange(asked.Elapsed.TotalSeconds, 0.9, 5);
        await writer;
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault(FrontTopic) == (ulong)packets.Count, TimeSpan.FromSeconds(30), "every frame");
        Assert.Equal(0, d.Stop());

        var files = d.FinishedFiles();
        Assert.True(files.Count == 2, string.Join("; ", files.Select(EndReason)) + "\n" + d.Output);
        Assert.Equal(packets.Count, files.Sum(f => ContainerFrames(f, FrontTopic, frameIdExpected: "").Count)); // nothing lost
        using var second = McapIndexedReader.Open(files[1]);
        var events = second.ReadMessages(topics: ["/recorder/events"]).Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Data.Span)).ToList();
        Assert.Contains(events, e => e.Contains("keyframe_wait_expired", StringComparison.Ordinal) && e.Contains(FrontTopic, StringComparison.Ordinal));
        Assert.Contains("without a keyframe", d.Output);
        var secondIndex = FrameIndex.ReadFile(Path.ChangeExtension(files[1], ".vidx"));
        Assert.Equal(0u, secondIndex.Frames[0].Gop); // starts mid-GOP, and the index says so
    }

    /// <summary>Removes the SPS and PPS NAL units (types 7 and 8) from an H.264 access unit.</summary>
    private static byte[] WithoutParameterSets(byte[] au)
    {
        var starts = new List<int>();
        for (var i = 0; i + 2 < au.Length; i++)
            if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1) starts.Add(i + 3);
        var kept = new List<byte>();
        for (var n = 0; n < starts.Count; n++)
        {
            // A unit runs from its start code (with a zero_byte, if any) to the next one's.
            var from = n == 0 ? 0 : starts[n] - 3 - (au[starts[n] - 4] == 0 ? 1 : 0);
            var to = n + 1 < starts.Count ? starts[n + 1] - 3 - (au[starts[n + 1] - 4] == 0 ? 1 : 0) : au.Length;
            var type = au[starts[n]] & 0x1F;
            if (type is not (7 or 8)) kept.AddRange(au.AsSpan(from, to - from).ToArray());
        }
        return [.. kept];
    }

    [Fact]
    public async Task Keyframes_always_carry_parameter_sets_even_when_the_encoder_sent_them_once()
    {
        // Two cameras that send SPS/PPS only before their first keyframe, one with access unit delimiters.
        var clips = new[]
        {
            (Topic: "/camera/plain", Clip: VideoClips.Make("h264_ps.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 3 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264")),
            (Topic: "/camera/aud", Clip: VideoClips.Make("h264_ps_aud.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 3 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -x264-params aud=1 -f h264")),
        };
        using var d = DaemonProcess.Start(fleetExtra: "topics:\n" + string.Join("\n", clips.Select((c, i) => $"  - {{ topic: {c.Topic}, fifo: ./cam{i}.h264, format: h264, frame_id: camera_front }}")) + "\n");
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < clips.Length; i++)
        {
            var packets = VideoClips.Packets(clips[i].Clip, "h264");
            var bytes = File.ReadAllBytes(clips[i].Clip);
            var stripped = Concat(packets.Select((p, n) => n == 0 ? bytes.AsSpan((int)p.Pos, p.Size).ToArray() : WithoutParameterSets(bytes.AsSpan((int)p.Pos, p.Size).ToArray())));
            counts[clips[i].Topic] = packets.Count;
            var fifo = Path.Combine(d.Root, $"cam{i}.h264");
            d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");
            await Task.Run(() =>
            {
                using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                WriteInPieces(w, stripped, 4096);
            });
        }
        d.WaitFor(() => counts.All(c => d.TopicCounts().GetValueOrDefault(c.Key) == (ulong)c.Value), TimeSpan.FromSeconds(30), "every frame");
        Assert.Equal(0, d.Stop());
        var mcap = Assert.Single(d.FinishedFiles());
        foreach (var (topic, _) in clips)
        {
            var frames = ContainerFrames(mcap, topic);
            Assert.Equal(counts[topic], frames.Count);
            var keyframes = frames.Select((f, n) => (f.Data, n)).Where(f => AnnexB.Classify(f.Data, VideoCodec.H264).IsKeyframe).ToList();
            Assert.Equal(counts[topic] / 30, keyframes.Count);
            foreach (var (data, n) in keyframes)
            {
                Assert.True(AnnexB.Classify(data, VideoCodec.H264).HasParameterSets, $"{topic} keyframe {n} carries SPS and PPS");
                var firstType = data[data.AsSpan().IndexOf((byte[])[0, 0, 1]) + 3] & 0x1F;
                Assert.Equal(topic == "/camera/aud" ? 9 : 7, firstType); // after the delimiter, which stays first
            }
            // The last GOP alone decodes: its keyframe carries what it needs.
            var lastGop = Path.Combine(d.Root, topic.Replace('/', '_') + ".h264");
            File.WriteAllBytes(lastGop, Concat(frames.Skip(keyframes[^1].n).Select(f => f.Data)));
            Assert.Equal(0, VideoClips.Decode(lastGop, "h264", out var errors, out var decoded));
            Assert.True(errors.Length == 0, errors);
            Assert.Equal(frames.Count - keyframes[^1].n, decoded);
        }
    }

    [Fact]
    public async Task Sidecar_recordings_split_by_their_whole_size_and_are_deleted_whole_at_the_storage_limit()
    {
        // ~80 KB/s of video (noise keeps it from compressing away) in a sidecar stream; recordings of
        // ~64 KiB and more (stream included, up to the next keyframe), 200 KiB kept.
        var h264 = VideoClips.Make("h264_storage.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 6 -vf noise=alls=25:allf=t -pix_fmt yuv420p -c:v libx264 -crf 30 -g 15 -bf 0 -f h264");
        var packets = VideoClips.Packets(h264, "h264");
        using var d = DaemonProcess.Start(fleetExtra: $$"""
            topics:
              - { topic: {{RearTopic}}, fifo: ./rear.h264, format: h264, store: sidecar }
            storage: { max_bytes: 200KiB, min_free_bytes: 0, when_full: delete_oldest }
            """, recording: "  split: { size: 64KiB, keyframe_wait: 2s }", chunk: "{ size: 16KiB, max_age: 100ms, compression: none }");
        var fifo = Path.Combine(d.Root, "rear.h264");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");
        await Task.Run(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            WriteInPieces(w, File.ReadAllBytes(h264), 2048, pace: TimeSpan.FromSeconds(6), frames: packets.Count);
        });
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault(RearTopic) == (ulong)packets.Count, TimeSpan.FromSeconds(30), "every frame");
        Assert.Equal(0, d.Stop());
        Assert.Contains("Deleted", d.Output); // the limit was reached: oldest recordings went

        var all = Directory.EnumerateFiles(d.Recordings, "*", SearchOption.AllDirectories).ToList();
        var mcaps = all.Where(f => f.EndsWith(".mcap", StringComparison.Ordinal)).ToList();
        Assert.True(mcaps.Count >= 2, $"{mcaps.Count} recordings left");
        foreach (var file in all)
        {
            // No orphans: every index and stream still has its recording.
            var stem = Path.GetFileName(file).Split('.')[0];
            Assert.True(mcaps.Any(m => Path.GetFileNameWithoutExtension(m) == stem), $"{Path.GetFileName(file)} outlived its recording");
        }
        foreach (var mcap in mcaps.Order(StringComparer.Ordinal).SkipLast(1))
        {
            // Splits count the stream: each recording (MCAP + stream + index) is about split.size.
            var group = all.Where(f => Path.GetFileName(f).StartsWith(Path.GetFileNameWithoutExtension(mcap) + ".", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
            Assert.InRange(group, 64 * 1024, 64 * 1024 + 100 * 1024);
            var index = FrameIndex.ReadFile(Path.ChangeExtension(mcap, ".vidx"));
            Assert.True(index.Frames[0].IsKeyframe, $"{Path.GetFileName(mcap)} starts with a keyframe");
            using var frames = new FrameReader(mcap, index);
            var stream = frames.StreamFilePath(index.FindTrack(RearTopic)!);
            Assert.Equal(new FileInfo(stream).Length, index.Frames.Sum(f => (long)f.Size));
        }
        Assert.True(all.Sum(f => new FileInfo(f).Length) <= (200 + 164) * 1024, "within max_bytes, give or take the open recording");
    }

    [Fact]
    public async Task A_stream_that_is_not_annex_b_is_refused_and_costs_nothing_else()
    {
        var h264 = VideoClips.Make("h264_after_garbage.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -t 2 -pix_fmt yuv420p -c:v libx264 -g 30 -bf 0 -f h264");
        var packets = VideoClips.Packets(h264, "h264");
        using var d = DaemonProcess.Start(fleetExtra: $"topics:\n  - {{ topic: {FrontTopic}, fifo: ./front.h264, format: h264, frame_id: camera_front }}\n");
        var fifo = Path.Combine(d.Root, "front.h264");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the FIFO");
        var other = SocketProducer.Send(d.IngestSocket, "/imu", 2000, chunked: false, pauseEvery: 100);
        // A writer that sends text instead of video: refused, the FIFO reopens for the next writer.
        await Task.Run(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            w.Write("GET / HTTP/1.1\r\nthis is not video\r\n"u8);
        });
        await Task.Delay(500);
        await Task.Run(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            WriteInPieces(w, File.ReadAllBytes(h264), 4096);
        });
        await other;
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault(FrontTopic) == (ulong)packets.Count && d.TopicCounts().GetValueOrDefault("/imu") == 2000,
            TimeSpan.FromSeconds(30), "the good writer's frames and the other producer");
        Assert.True(d.IsRunning);
        Assert.Equal(0, d.Stop());
        Assert.Contains("not a valid h264 Annex B stream at byte", d.Output);

        var mcap = Assert.Single(d.FinishedFiles());
        Assert.Equal(packets.Count, ContainerFrames(mcap, FrontTopic).Count);
        using var reader = McapIndexedReader.Open(mcap);
        var events = reader.ReadMessages(topics: ["/recorder/events"]).Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Data.Span)).ToList();
        Assert.Single(events, e => e.Contains("producer_refused", StringComparison.Ordinal) && e.Contains("Annex B", StringComparison.Ordinal));
        Assert.Equal(2000, reader.ReadMessages(topics: ["/imu"]).Count());
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

    /// <summary>An MP4's video frame count and duration, from ffprobe.</summary>
    public static (int Frames, double Duration) Mp4FramesAndDuration(string path)
    {
        var (code, output, error) = Run("ffprobe", ["-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries", "stream=nb_read_packets,duration", "-of", "compact=p=0", path]);
        Assert.True(code == 0, $"ffprobe failed: {error}");
        var fields = output.Trim().Split('|').Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        return (int.Parse(fields["nb_read_packets"], CultureInfo.InvariantCulture), double.Parse(fields["duration"], CultureInfo.InvariantCulture));
    }

    /// <summary>Decodes a raw stream with ffmpeg: its exit code, what it complained about, and how many frames it decoded.</summary>
    public static int Decode(string path, string format, out string errors, out int frames)
    {
        var (code, output, error) = Run("ffmpeg", ["-v", "error", "-f", format, "-i", path, "-f", "framecrc", "-"]);
        errors = error.Trim();
        frames = output.Split('\n').Count(l => l.Length > 0 && !l.StartsWith('#'));
        return code;
    }

    /// <summary>Runs ffmpeg or ffprobe in the clip directory (NodeInterop.Run is the suite's process runner).</summary>
    private static (int Code, string Stdout, string Stderr) Run(string file, string[] args) => NodeInterop.Run(file, args, Cache, TimeSpan.FromMinutes(3));
}
