using System.Text.Json;
using Recorder.Mcap;
using Recorder.Video;

namespace Recorder.Recording.Tests;

/// <summary>The writer and its keyframe-aligned split together, on a fake clock.</summary>
public class KeyframeWaitTests
{
    private static readonly byte[] PFrame = [0, 0, 0, 1, 0x41, 0x9A, 0x02, 0x03]; // one non-IDR slice: no keyframe

    /// <summary>A producer stream of CompressedVideo messages on <paramref name="topic"/>, none of them a keyframe.</summary>
    private static byte[] VideoWithoutKeyframes(string topic, int frames)
    {
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false }, leaveOpen: true))
        {
            var schema = writer.AddSchema(CompressedVideo.SchemaName, CompressedVideo.SchemaEncoding, new byte[] { 1 });
            var channel = writer.AddChannel(topic, CompressedVideo.MessageEncoding, schema);
            var buffer = new byte[CompressedVideo.MaxEncodedLength(0, PFrame.Length)];
            for (var i = 0; i < frames; i++)
            {
                var length = CompressedVideo.Encode(buffer, (ulong)i, [], [], PFrame, VideoCodec.H264);
                writer.WriteMessage(channel, (uint)i, (ulong)i, (ulong)i, buffer.AsSpan(0, length));
            }
        }
        return stream.ToArray();
    }

    [Fact]
    public async Task A_split_waiting_for_a_keyframe_goes_ahead_when_the_wait_runs_out_on_the_writer_clock()
    {
        using var p = new Pipeline(o => o with { KeyframeWait = TimeSpan.FromSeconds(2) }, receiveTime: Pipeline.FakeClock());
        await p.Feed(VideoWithoutKeyframes("/cam", 3), "cam");
        await p.WriterPassAsync();
        p.Queue.EnqueueCommand(new SplitCommand());

        await p.AdvanceAsync(TimeSpan.FromSeconds(1.5));
        Assert.Empty(p.Writer.FinishedFiles); // still waiting for /cam's keyframe
        await p.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.Single(p.Writer.FinishedFiles); // the wait ran out: the split went ahead
        Assert.Equal(1UL, p.Writer.KeyframeWaitsExpired);

        var files = await p.StopAsync();
        Assert.Equal(2, files.Count);
        var expired = Files.Messages([files[1]]).Where(m => m.Topic == RecordingWriter.EventsTopic)
            .Select(m => JsonDocument.Parse(m.Data).RootElement.Clone())
            .Single(e => e.GetProperty("type").GetString() == "keyframe_wait_expired");
        Assert.Equal("/cam", expired.GetProperty("topics").GetString());
        Assert.Equal("2500", expired.GetProperty("waited_ms").GetString()); // measured on the writer's clock
        Assert.Equal("command", Files.DeviceMetadata(files[1]).Values["previous_file_end_reason"]);
    }
}
