namespace Recorder.Video;

/// <summary>
/// recorder.VideoFrameRef (protobuf, proto/video_frame_ref.proto): the MCAP message written per
/// frame of a sidecar-stored video topic. It is the timestamp channel that aligns the raw stream
/// file with everything else, and carries enough to rebuild the frame index from the MCAP alone.
/// </summary>
public readonly record struct VideoFrameRefFields(
    ulong FrameNumber, ulong LogTimeNs, ulong PublishTimeNs, KeyframeKind Keyframe, ulong StreamOffset, uint Size,
    VideoCodec Codec, uint Width, uint Height);

public static class VideoFrameRef
{
    public const string SchemaName = "recorder.VideoFrameRef";

    /// <summary>The serialized FileDescriptorSet for the MCAP Schema record.</summary>
    public static ReadOnlySpan<byte> FileDescriptorSet => throw new NotImplementedException();

    /// <summary>An upper bound of the encoded size for a stream file name of this many UTF-8 bytes.</summary>
    public static int MaxEncodedLength(int streamFileLength) => throw new NotImplementedException();

    /// <summary>Encodes the fields; <paramref name="streamFileUtf8"/> names the stream file beside the MCAP. Returns the length written.</summary>
    public static int Encode(Span<byte> destination, in VideoFrameRefFields fields, ReadOnlySpan<byte> streamFileUtf8) => throw new NotImplementedException();

    public static bool TryDecode(ReadOnlySpan<byte> message, out VideoFrameRefFields fields, out ReadOnlySpan<byte> streamFileUtf8) => throw new NotImplementedException();
}
