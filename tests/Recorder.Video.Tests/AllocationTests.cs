namespace Recorder.Video.Tests;

public class AllocationTests
{
    /// <summary>Split, classify, look up parameter sets and encode every AU: no allocation per AU once warmed up.</summary>
    [Theory]
    [InlineData("h264_opengop")]
    [InlineData("h265_bf")]
    public void The_hot_path_allocates_nothing_per_access_unit(string name)
    {
        var clip = Clips.Get(name);
        var stream = clip.Bytes;
        var output = new byte[1 << 20];
        var frameId = "camera"u8.ToArray();
        var cache = new ParameterSetCache(clip.Codec);
        var count = 0;
        long written = 0;
        AccessUnitHandler handler = (au, in info) =>
        {
            count++;
            var classified = AnnexB.Classify(au, clip.Codec);
            if (classified.HasParameterSets) cache.Observe(au);
            var prefix = info.IsKeyframe ? cache.MissingFrom(au) : [];
            written += CompressedVideo.Encode(output, info.ArrivalTime, frameId, prefix, au, clip.Codec);
            var fields = new VideoFrameRefFields((ulong)count, info.ArrivalTime, 0, info.Keyframe, (ulong)info.StreamOffset, (uint)info.Length, clip.Codec, 0, 0);
            written += VideoFrameRef.Encode(output, fields, frameId);
        };
        var splitter = new AnnexBSplitter(clip.Codec);
        Run(splitter, stream, handler, rounds: 2); // warm-up: the buffer grows to the largest AU, the JIT settles
        var before = GC.GetAllocatedBytesForCurrentThread();
        var countBefore = count;
        Run(splitter, stream, handler, rounds: 5);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(count - countBefore >= 5 * Clips.Frames);
        Assert.Equal(0, allocated);
        Assert.True(written > 0);
    }

    private static void Run(AnnexBSplitter splitter, byte[] stream, AccessUnitHandler handler, int rounds)
    {
        // The same clip again and again, in uneven pushes, as one long stream.
        for (var round = 0; round < rounds; round++)
            for (var offset = 0; offset < stream.Length; offset += 1500)
                splitter.Push(stream.AsSpan(offset, Math.Min(1500, stream.Length - offset)), (ulong)offset, handler);
    }
}
