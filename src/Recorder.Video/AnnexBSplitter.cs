namespace Recorder.Video;

/// <summary>
/// Splits a raw Annex B elementary stream, pushed in arbitrary segments, into access units
/// (H.264 7.4.1.2.3, H.265 7.4.2.4.4). An AU is complete when the next one's first NAL arrives, so
/// it is reported one AU late, or at <see cref="Complete"/>. No allocation per AU once the internal
/// buffer has grown to the largest AU.
/// </summary>
public sealed class AnnexBSplitter(VideoCodec codec, int maxAccessUnitBytes = 64 * 1024 * 1024)
{
    public VideoCodec Codec => codec;

    /// <summary>The largest access unit accepted; a larger one is refused (a malformed or hostile stream).</summary>
    public int MaxAccessUnitBytes => maxAccessUnitBytes;

    /// <summary>Bytes pushed so far.</summary>
    public long BytesPushed => throw new NotImplementedException();

    /// <summary>
    /// Pushes the next bytes of the stream, which arrived at <paramref name="arrivalTime"/>; calls
    /// <paramref name="onAccessUnit"/> for each AU completed by them. Throws <see cref="InvalidDataException"/>
    /// when an AU exceeds the maximum size or the stream does not start with a start code.
    /// </summary>
    public void Push(ReadOnlySpan<byte> data, ulong arrivalTime, AccessUnitHandler onAccessUnit) => throw new NotImplementedException();

    /// <summary>End of stream: reports the last AU, if any.</summary>
    public void Complete(AccessUnitHandler onAccessUnit) => throw new NotImplementedException();
}
