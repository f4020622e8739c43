using Index = Recorder.Video.FrameIndex;

namespace Recorder.Video.Tests.FrameIndex;

/// <summary>FrameReader on sidecar tracks: the raw stream file beside the MCAP (needs nothing from the MCAP itself).</summary>
public sealed class FrameReaderSidecarTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"frame-reader-{Guid.NewGuid():N}");

    public FrameReaderSidecarTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Index IndexFor(string streamFile, IEnumerable<(ulong Offset, uint Size)> frames)
    {
        var output = new MemoryStream();
        using (var writer = new FrameIndexWriter(output, "rec.mcap", leaveOpen: true))
        {
            var indexer = new FrameIndexer(writer);
            ulong t = 0;
            foreach (var (offset, size) in frames)
                indexer.Append(indexer.Next("/cam", VideoCodec.H264, FrameStore.Sidecar, streamFile, t, t++, KeyframeKind.None, size, 0, 0) with { Offset = offset });
        }
        return Index.Parse(output.ToArray());
    }

    [Fact]
    public void Sidecar_frames_are_read_from_the_stream_file_at_their_offsets()
    {
        var aus = new[] { TestVideo.IdrAccessUnit(640, 480), TestVideo.PAccessUnit(seed: 3), TestVideo.PAccessUnit(200, seed: 4) };
        File.WriteAllBytes(Path.Combine(_dir, "rec.cam.h264"), aus.SelectMany(a => a).ToArray());
        var offsets = new List<(ulong, uint)>();
        ulong position = 0;
        foreach (var au in aus) { offsets.Add((position, (uint)au.Length)); position += (ulong)au.Length; }
        var index = IndexFor("rec.cam.h264", offsets);

        using var reader = new FrameReader(Path.Combine(_dir, "rec.mcap"), index);
        // Backwards, so each read seeks.
        for (var i = aus.Length - 1; i >= 0; i--)
            Assert.Equal(aus[i], reader.ReadFrame(index.Frames[i]).ToArray());
    }

    [Fact]
    public void An_entry_past_the_end_of_the_stream_file_is_reported_as_a_stale_index()
    {
        File.WriteAllBytes(Path.Combine(_dir, "s.h264"), new byte[100]);
        var index = IndexFor("s.h264", [(90, 20)]);
        using var reader = new FrameReader(Path.Combine(_dir, "rec.mcap"), index);
        Assert.Contains("rebuild", Assert.Throws<InvalidDataException>(() => reader.ReadFrame(index.Frames[0])).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../outside.h264")]
    [InlineData("/etc/passwd")]
    public void A_stream_file_outside_the_recording_directory_is_refused(string name)
    {
        var index = IndexFor(name, [(0, 1)]);
        using var reader = new FrameReader(Path.Combine(_dir, "rec.mcap"), index);
        Assert.Throws<InvalidDataException>(() => reader.ReadFrame(index.Frames[0]));
    }
}
