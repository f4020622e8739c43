using System.Diagnostics;
using Recorder.Recording;
using Recorder.Video;

namespace Recorder.Ingest.Tests;

/// <summary>
/// A raw H.264 writer's session (<c>ffmpeg -f h264</c> into a FIFO or socket) against the recording
/// stage's intake, on a stream ffmpeg encodes and ffprobe counts. ffmpeg is required (.ci/setup
/// installs it): a missing one fails the test.
/// </summary>
public class AnnexBSessionTests
{
    private static readonly Lazy<byte[]> Clip = new(Encode);

    /// <summary>45 frames of ffmpeg's test pattern, x264, a keyframe every 15, no B-frames.</summary>
    private static byte[] Encode()
    {
        var path = Path.Combine(Path.GetTempPath(), $"recorder-ingest-tests-{Environment.ProcessId}.h264");
        try
        {
            Run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-frames:v", "45", "-pix_fmt", "yuv420p",
                "-c:v", "libx264", "-g", "15", "-bf", "0", "-f", "h264", path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The packets ffprobe finds in the stream: the access units a decoder sees.</summary>
    private static int FfprobePackets(byte[] stream)
    {
        var path = Path.Combine(Path.GetTempPath(), $"recorder-ingest-tests-{Environment.ProcessId}-probe.h264");
        File.WriteAllBytes(path, stream);
        try
        {
            return Run("ffprobe", "-v", "error", "-f", "h264", "-show_packets", "-show_entries", "packet=size", "-of", "csv=p=0", path)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool} (apt-get install ffmpeg; .ci/setup does)");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} exited with {process.ExitCode}: {stderr.Result}");
        return stdout;
    }

    private static TopicInputOptions Camera(FrameStore store = FrameStore.Container) =>
        new("unused.h264", "/camera/front", TopicInputFormat.H264, Store: store);

    [Theory]
    [InlineData(188)]
    [InlineData(64 * 1024)]
    public async Task Each_access_unit_of_an_ffmpeg_stream_is_one_message_on_a_raw_video_channel(int segment)
    {
        var clip = Clip.Value;
        var inbox = new RecordingInbox();
        var stats = await inbox.Feed(RecordingInbox.AnnexB(Camera()), clip, source: "socket:/run/cam.sock#1", segment: segment);

        Assert.Null(stats.RefusedBecause);
        Assert.Equal(FfprobePackets(clip), inbox.Messages.Count);
        Assert.Equal(45, inbox.Messages.Count);
        // The access units tile the stream: nothing lost, nothing duplicated, in order.
        Assert.Equal(clip, inbox.Messages.SelectMany(m => m.Data).ToArray());
        Assert.Equal(Enumerable.Range(1, 45).Select(i => (uint)i), inbox.Messages.Select(m => m.Sequence));
        var channelId = Assert.Single(inbox.Messages.Select(m => m.ChannelId).Distinct());
        var channel = inbox.Registry.Channel(channelId)!;
        Assert.Equal(("/camera/front", "protobuf"), (channel.Topic, channel.MessageEncoding));
        Assert.Equal(CompressedVideo.SchemaName, inbox.Registry.Schema(channel.SchemaId)!.Name);
        Assert.Equal(new RawVideoInput(VideoCodec.H264, FrameStore.Container), inbox.Registry.RawVideo(channelId));
        // Producer time is the arrival of each unit's first byte, on the recording's receive clock.
        var now = inbox.Queue.Now();
        Assert.All(inbox.Messages, m => Assert.Equal((now, now), (m.LogTime, m.PublishTime)));
    }

    [Fact]
    public async Task Sidecar_storage_registers_a_VideoFrameRef_channel_marked_for_the_stream_file()
    {
        var inbox = new RecordingInbox();
        await inbox.Feed(RecordingInbox.AnnexB(Camera(FrameStore.Sidecar)), Clip.Value);

        var channelId = inbox.Messages[0].ChannelId;
        Assert.Equal(VideoFrameRef.SchemaName, inbox.Registry.Schema(inbox.Registry.Channel(channelId)!.SchemaId)!.Name);
        Assert.Equal(new RawVideoInput(VideoCodec.H264, FrameStore.Sidecar), inbox.Registry.RawVideo(channelId));
    }

    [Fact]
    public async Task A_stream_that_is_not_annex_b_is_refused_with_its_offset_and_an_event_and_nothing_is_queued()
    {
        var inbox = new RecordingInbox();
        var mpegTs = new byte[188 * 4];
        for (var i = 0; i < mpegTs.Length; i += 188) mpegTs[i] = 0x47; // what `-f mpegts` would have sent
        var stats = await inbox.Feed(RecordingInbox.AnnexB(Camera()), mpegTs, source: "fifo:/run/cam#1");

        Assert.StartsWith("not a valid h264 Annex B stream at byte ", stats.RefusedBecause);
        Assert.Contains("start code", stats.RefusedBecause);
        Assert.Contains("offset 0", stats.RefusedBecause);
        Assert.Empty(inbox.Messages);
        var refused = Assert.IsType<EventCommand>(Assert.Single(inbox.Commands));
        Assert.Equal(("producer_refused", "fifo:/run/cam#1"), (refused.Type, refused.Fields["producer"]));
    }
}
