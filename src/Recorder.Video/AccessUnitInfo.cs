namespace Recorder.Video;

/// <summary>
/// What the splitter (or <see cref="AnnexB.Classify"/>) learned about one access unit (one coded
/// picture with its non-VCL NAL units).
/// </summary>
/// <param name="StreamOffset">Offset of the AU's first byte (its first NAL's start code, zero_byte included) in the elementary stream.</param>
/// <param name="Length">The AU's length in bytes.</param>
/// <param name="Keyframe">Why it is a keyframe, or None.</param>
/// <param name="HasParameterSets">It carries every parameter set a decoder needs to start here (SPS+PPS; VPS+SPS+PPS for H.265).</param>
/// <param name="HasBSlices">It holds a B slice (Foxglove's player does not support B-frames: warn).</param>
/// <param name="ArrivalTime">For the splitter: the time passed with the push that delivered the AU's first byte. 0 from Classify.</param>
public readonly record struct AccessUnitInfo(long StreamOffset, int Length, KeyframeKind Keyframe, bool HasParameterSets, bool HasBSlices, ulong ArrivalTime)
{
    public bool IsKeyframe => Keyframe != KeyframeKind.None;
}

/// <summary>Receives one complete access unit; the span is only valid during the call.</summary>
public delegate void AccessUnitHandler(ReadOnlySpan<byte> accessUnit, in AccessUnitInfo info);
