namespace Recorder.Video;

/// <summary>Stateless helpers over one whole access unit in Annex B form.</summary>
public static class AnnexB
{
    /// <summary>Classifies a complete access unit (keyframe kind, parameter sets, B slices). StreamOffset and ArrivalTime are 0.</summary>
    public static AccessUnitInfo Classify(ReadOnlySpan<byte> accessUnit, VideoCodec codec) => throw new NotImplementedException();

    /// <summary>The picture size from the AU's SPS (after cropping), when it carries one.</summary>
    public static bool TryReadResolution(ReadOnlySpan<byte> accessUnit, VideoCodec codec, out int width, out int height) => throw new NotImplementedException();
}
