using System.Runtime.CompilerServices;

namespace Recorder.Video;

/// <summary>What the NAL units of one access unit added up to so far.</summary>
internal struct AccessUnitFlags
{
    public bool HasVcl;
    public bool HasIdr;
    public bool HasRecoveryPointSei;
    public bool HasVps;
    public bool HasSps;
    public bool HasPps;
    public bool HasBSlices;
    /// <summary>H.265: the kind of the first IRAP VCL unit (all VCL units of a picture share one type).</summary>
    public KeyframeKind IrapKind;

    public readonly KeyframeKind Keyframe(VideoCodec codec) => codec switch
    {
        VideoCodec.H265 => IrapKind,
        _ when HasIdr => KeyframeKind.Idr,
        // ffmpeg's h264_parser marks an AU key when it carries a recovery point SEI
        // (recovery_frame_cnt >= 0), which is how x264's open GOP I-frames show up.
        _ when HasRecoveryPointSei => KeyframeKind.RecoveryPoint,
        _ => KeyframeKind.None,
    };

    public readonly bool HasParameterSets(VideoCodec codec) =>
        HasSps && HasPps && (codec != VideoCodec.H265 || HasVps);
}

/// <summary>num_extra_slice_header_bits per H.265 PPS id (0..63): needed to reach slice_type.</summary>
[InlineArray(64)]
internal struct HevcExtraSliceHeaderBits
{
    private byte _first;
}

/// <summary>
/// Classifies NAL units one at a time: whether a unit starts a new access unit (H.264 7.4.1.2.3,
/// H.265 7.4.2.4.4), and what it adds to the current one. Shared by the incremental splitter and
/// the stateless <see cref="AnnexB.Classify"/>. A mutable struct so that neither allocates.
/// </summary>
internal struct NalClassifier(VideoCodec codec)
{
    public const int H264TypeNonIdrSlice = 1;
    public const int H264TypeIdrSlice = 5;
    public const int H264TypeSei = 6;
    public const int H264TypeSps = 7;
    public const int H264TypePps = 8;
    public const int H264TypeAud = 9;
    public const int H265TypeVps = 32;
    public const int H265TypeSps = 33;
    public const int H265TypePps = 34;
    public const int H265TypeAud = 35;
    public const int H265TypePrefixSei = 39;
    private const int SeiPayloadTypeRecoveryPoint = 6;

    public AccessUnitFlags Flags;
    private HevcExtraSliceHeaderBits _extraSliceHeaderBits;

    public readonly VideoCodec Codec => codec;

    /// <summary>
    /// How many bytes of a unit (header included) <see cref="StartsAccessUnit"/> looks at: the
    /// header and the byte holding first_mb_in_slice's first bit (H.264) or
    /// first_slice_segment_in_pic_flag (H.265).
    /// </summary>
    public readonly int DecisionBytes => codec == VideoCodec.H265 ? 3 : 2;

    /// <summary>
    /// True when this unit, met after a VCL unit of the current AU, begins the next AU.
    /// <paramref name="unit"/> is the unit from its header on; it may be shorter than
    /// <see cref="DecisionBytes"/> only when the whole unit is (a malformed stream), and a VCL unit
    /// too short to tell is taken to continue the current picture.
    /// </summary>
    public readonly bool StartsAccessUnit(ReadOnlySpan<byte> unit)
    {
        if (unit.IsEmpty) return false;
        if (codec == VideoCodec.H265)
        {
            if (unit.Length < 2) return false;
            var type = (unit[0] >> 1) & 0x3F;
            var layerId = ((unit[0] & 1) << 5) | (unit[1] >> 3);
            if (layerId != 0) return false;
            if (type <= 31) return unit.Length >= 3 && (unit[2] & 0x80) != 0;
            return type is >= H265TypeVps and <= H265TypeAud or H265TypePrefixSei or (>= 41 and <= 44) or (>= 48 and <= 55);
        }
        var h264Type = unit[0] & 0x1F;
        if (h264Type is >= 1 and <= 5)
        {
            // first_mb_in_slice is ue(v): 0 (a new picture, without arbitrary slice order) is the single bit 1.
            return unit.Length >= 2 && (unit[1] & 0x80) != 0;
        }
        return h264Type is H264TypeSei or H264TypeSps or H264TypePps or H264TypeAud or (>= 14 and <= 18);
    }

    /// <summary>Adds a complete unit (header on, without the next unit's zero_byte) to <see cref="Flags"/>.</summary>
    public void Add(ReadOnlySpan<byte> unit)
    {
        if (codec == VideoCodec.H265) AddH265(unit);
        else AddH264(unit);
    }

    private void AddH264(ReadOnlySpan<byte> unit)
    {
        if (unit.IsEmpty) return;
        switch (unit[0] & 0x1F)
        {
            case >= H264TypeNonIdrSlice and <= H264TypeIdrSlice and var type:
                Flags.HasVcl = true;
                if (type == H264TypeIdrSlice) Flags.HasIdr = true;
                // Partitions B and C (3, 4) carry no slice_type; A (2) has the same header as a slice.
                if (type is not 3 and not 4 && !Flags.HasBSlices)
                {
                    var reader = new RbspReader(unit[1..]);
                    reader.ReadUnsignedGolomb(); // first_mb_in_slice
                    var sliceType = reader.ReadUnsignedGolomb();
                    if (!reader.Overrun && sliceType % 5 == 1) Flags.HasBSlices = true;
                }
                break;
            case H264TypeSei:
                if (!Flags.HasRecoveryPointSei && HasH264RecoveryPoint(unit[1..])) Flags.HasRecoveryPointSei = true;
                break;
            case H264TypeSps:
                Flags.HasSps = true;
                break;
            case H264TypePps:
                Flags.HasPps = true;
                break;
        }
    }

    /// <summary>Walks the SEI messages of an sei_rbsp (7.3.2.3) for a recovery point (payloadType 6).</summary>
    private static bool HasH264RecoveryPoint(ReadOnlySpan<byte> seiPayload)
    {
        var reader = new RbspReader(seiPayload);
        while (!IsAtTrailingBits(seiPayload[reader.BytePosition..]))
        {
            var payloadType = ReadSeiNumber(ref reader);
            if (payloadType == SeiPayloadTypeRecoveryPoint) return !reader.Overrun;
            var payloadSize = ReadSeiNumber(ref reader);
            if (reader.Overrun || payloadType < 0 || payloadSize < 0) return false;
            // payloadSize counts unescaped bytes, so skip through the reader.
            for (var i = 0; i < payloadSize && !reader.Overrun; i++) reader.ReadByte();
            if (reader.Overrun) return false;
        }
        return false;
    }

    /// <summary>rbsp_trailing_bits (a lone 0x80, then only zero bytes) or nothing at all: no more SEI messages.</summary>
    private static bool IsAtTrailingBits(ReadOnlySpan<byte> rest) =>
        rest.IsEmpty || (rest[0] == 0x80 && rest[1..].IndexOfAnyExcept((byte)0) < 0);

    /// <summary>An SEI payloadType or payloadSize: 0xFF bytes each add 255, the first other byte ends it.</summary>
    private static int ReadSeiNumber(ref RbspReader reader)
    {
        var value = 0;
        int next;
        while ((next = reader.ReadByte()) == 0xFF && !reader.Overrun)
        {
            value += 255;
            if (value > 1 << 24) return -1;
        }
        return value + next;
    }

    private void AddH265(ReadOnlySpan<byte> unit)
    {
        if (unit.Length < 2) return;
        var type = (unit[0] >> 1) & 0x3F;
        switch (type)
        {
            case <= 31:
                Flags.HasVcl = true;
                if (type is >= 16 and <= 23 && Flags.IrapKind == KeyframeKind.None)
                {
                    Flags.IrapKind = type switch
                    {
                        19 or 20 => KeyframeKind.Idr,
                        21 => KeyframeKind.Cra,
                        _ => KeyframeKind.Bla,
                    };
                }
                if (!Flags.HasBSlices && IsH265BSlice(unit, type)) Flags.HasBSlices = true;
                break;
            case H265TypeVps:
                Flags.HasVps = true;
                break;
            case H265TypeSps:
                Flags.HasSps = true;
                break;
            case H265TypePps:
                Flags.HasPps = true;
                RememberPps(unit[2..]);
                break;
        }
    }

    /// <summary>
    /// slice_type of the first slice segment of a picture (7.3.6.1). Later segments need the SPS's
    /// picture size to skip slice_segment_address; encoders that mix slice types inside one picture
    /// are rare, so those are not read.
    /// </summary>
    private readonly bool IsH265BSlice(ReadOnlySpan<byte> unit, int type)
    {
        var reader = new RbspReader(unit[2..]);
        if (!reader.ReadFlag()) return false; // first_slice_segment_in_pic_flag
        if (type is >= 16 and <= 23) reader.ReadBit(); // no_output_of_prior_pics_flag
        var ppsId = reader.ReadUnsignedGolomb();
        if (reader.Overrun || ppsId > 63) return false;
        reader.Skip(_extraSliceHeaderBits[(int)ppsId]); // slice_reserved_flag[i]
        var sliceType = reader.ReadUnsignedGolomb();
        return !reader.Overrun && sliceType == 0; // 0 = B, 1 = P, 2 = I
    }

    /// <summary>Keeps num_extra_slice_header_bits of a PPS (7.3.2.3.1), which sits before slice_type in every slice header.</summary>
    private void RememberPps(ReadOnlySpan<byte> ppsPayload)
    {
        var reader = new RbspReader(ppsPayload);
        var ppsId = reader.ReadUnsignedGolomb();
        reader.ReadUnsignedGolomb(); // pps_seq_parameter_set_id
        reader.ReadBit(); // dependent_slice_segments_enabled_flag
        reader.ReadBit(); // output_flag_present_flag
        var extraBits = reader.ReadBits(3);
        if (!reader.Overrun && ppsId <= 63) _extraSliceHeaderBits[(int)ppsId] = (byte)extraBits;
    }
}
