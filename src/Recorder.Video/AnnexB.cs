namespace Recorder.Video;

/// <summary>Stateless helpers over one whole access unit in Annex B form.</summary>
public static class AnnexB
{
    /// <summary>
    /// Classifies a complete access unit (keyframe kind, parameter sets, B slices). StreamOffset and
    /// ArrivalTime are 0. H.265 B slices are found from the slice header of each picture's first
    /// slice segment, using the num_extra_slice_header_bits of a PPS in the same AU (0 without one,
    /// which is what x265 and most encoders write).
    /// </summary>
    public static AccessUnitInfo Classify(ReadOnlySpan<byte> accessUnit, VideoCodec codec)
    {
        var classifier = new NalClassifier(codec);
        foreach (var unit in new NalUnitEnumerator(accessUnit))
            classifier.Add(accessUnit[unit.PayloadStart..unit.End]);
        var flags = classifier.Flags;
        return new AccessUnitInfo(0, accessUnit.Length, flags.Keyframe(codec), flags.HasParameterSets(codec), flags.HasBSlices, 0);
    }

    /// <summary>
    /// Where cached parameter sets go into an access unit that lacks them: after a leading access
    /// unit delimiter, which must stay the AU's first NAL unit (H.264 7.4.1.2.3, H.265 7.4.2.4.4),
    /// else at the start.
    /// </summary>
    public static int ParameterSetInsertionPoint(ReadOnlySpan<byte> accessUnit, VideoCodec codec)
    {
        foreach (var unit in new NalUnitEnumerator(accessUnit))
        {
            var nal = accessUnit[unit.PayloadStart..unit.End];
            var isDelimiter = !nal.IsEmpty && (codec == VideoCodec.H265
                ? ((nal[0] >> 1) & 0x3F) == NalClassifier.H265TypeAud
                : (nal[0] & 0x1F) == NalClassifier.H264TypeAud);
            return isDelimiter ? unit.End : 0;
        }
        return 0;
    }

    /// <summary>The picture size from the AU's SPS (after cropping), when it carries one.</summary>
    public static bool TryReadResolution(ReadOnlySpan<byte> accessUnit, VideoCodec codec, out int width, out int height)
    {
        foreach (var unit in new NalUnitEnumerator(accessUnit))
        {
            var nal = accessUnit[unit.PayloadStart..unit.End];
            if (codec == VideoCodec.H265)
            {
                if (nal.Length > 2 && ((nal[0] >> 1) & 0x3F) == NalClassifier.H265TypeSps)
                    return SpsParser.TryReadH265(nal[2..], out width, out height);
            }
            else if (nal.Length > 1 && (nal[0] & 0x1F) == NalClassifier.H264TypeSps)
            {
                return SpsParser.TryReadH264(nal[1..], out width, out height);
            }
        }
        width = height = 0;
        return false;
    }
}
