namespace Recorder.Video;

// TEMPORARY: replaced by the frame-index branch.
public sealed class FrameIndexWriter(Stream output, string recordingFileName) : IDisposable
{
    public Stream Output => output;
    public string RecordingFile => recordingFileName;
    public void Flush(bool toDisk) => throw new NotImplementedException();
    public void Dispose() => throw new NotImplementedException();
}

public sealed class FrameIndexer(FrameIndexWriter writer)
{
    public FrameIndexWriter Writer => writer;
    public FrameIndexEntry Next(string topic, VideoCodec codec, FrameStore store, string? streamFile, ulong logTime, ulong publishTime, KeyframeKind keyframe, uint size, uint width, uint height) => throw new NotImplementedException();
    public void Append(in FrameIndexEntry entry) => throw new NotImplementedException();
}

public sealed class FrameIndex
{
    public static FrameIndex Read(Stream input) => throw new NotImplementedException();
    public IReadOnlyList<FrameIndexEntry> Frames => throw new NotImplementedException();
}

public static class FrameIndexRebuilder
{
    public static void Rebuild(Stream mcap, Stream output, string recordingFileName) => throw new NotImplementedException();
}
