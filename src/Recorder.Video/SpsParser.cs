namespace Recorder.Video;

/// <summary>Reads the picture size, after cropping, from a sequence parameter set.</summary>
internal static class SpsParser
{
    /// <summary>seq_parameter_set_data (H.264 7.3.2.1.1) up to frame_cropping; <paramref name="rbsp"/> starts after the NAL header.</summary>
    public static bool TryReadH264(ReadOnlySpan<byte> rbsp, out int width, out int height)
    {
        width = height = 0;
        var reader = new RbspReader(rbsp);
        var profileIdc = reader.ReadBits(8);
        reader.Skip(16); // constraint_set flags, reserved_zero_2bits, level_idc
        reader.ReadUnsignedGolomb(); // seq_parameter_set_id
        uint chromaFormatIdc = 1;
        var separateColourPlane = false;
        if (profileIdc is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
        {
            chromaFormatIdc = reader.ReadUnsignedGolomb();
            if (chromaFormatIdc == 3) separateColourPlane = reader.ReadFlag();
            reader.ReadUnsignedGolomb(); // bit_depth_luma_minus8
            reader.ReadUnsignedGolomb(); // bit_depth_chroma_minus8
            reader.ReadBit(); // qpprime_y_zero_transform_bypass_flag
            if (reader.ReadFlag()) // seq_scaling_matrix_present_flag
            {
                var lists = chromaFormatIdc != 3 ? 8 : 12;
                for (var i = 0; i < lists && !reader.Overrun; i++)
                    if (reader.ReadFlag()) SkipScalingList(ref reader, i < 6 ? 16 : 64);
            }
        }
        reader.ReadUnsignedGolomb(); // log2_max_frame_num_minus4
        var picOrderCntType = reader.ReadUnsignedGolomb();
        if (picOrderCntType == 0)
        {
            reader.ReadUnsignedGolomb(); // log2_max_pic_order_cnt_lsb_minus4
        }
        else if (picOrderCntType == 1)
        {
            reader.ReadBit(); // delta_pic_order_always_zero_flag
            reader.ReadSignedGolomb(); // offset_for_non_ref_pic
            reader.ReadSignedGolomb(); // offset_for_top_to_bottom_field
            var cycle = reader.ReadUnsignedGolomb();
            if (cycle > 255) return false;
            for (var i = 0; i < cycle; i++) reader.ReadSignedGolomb();
        }
        reader.ReadUnsignedGolomb(); // max_num_ref_frames
        reader.ReadBit(); // gaps_in_frame_num_value_allowed_flag
        var widthInMbs = (long)reader.ReadUnsignedGolomb() + 1;
        var heightInMapUnits = (long)reader.ReadUnsignedGolomb() + 1;
        var frameMbsOnly = reader.ReadFlag();
        if (!frameMbsOnly) reader.ReadBit(); // mb_adaptive_frame_field_flag
        reader.ReadBit(); // direct_8x8_inference_flag
        long cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0;
        if (reader.ReadFlag())
        {
            cropLeft = reader.ReadUnsignedGolomb();
            cropRight = reader.ReadUnsignedGolomb();
            cropTop = reader.ReadUnsignedGolomb();
            cropBottom = reader.ReadUnsignedGolomb();
        }
        if (reader.Overrun || chromaFormatIdc > 3) return false;

        // Table 6-1 and equations 7-19 to 7-22: crop offsets are in chroma sample units.
        var chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
        long subWidthC = chromaArrayType is 1 or 2 ? 2 : 1;
        long subHeightC = chromaArrayType == 1 ? 2 : 1;
        var fieldFactor = frameMbsOnly ? 1 : 2;
        var cropUnitX = chromaArrayType == 0 ? 1 : subWidthC;
        var cropUnitY = (chromaArrayType == 0 ? 1 : subHeightC) * fieldFactor;
        return TrySetSize(
            widthInMbs * 16 - cropUnitX * (cropLeft + cropRight),
            heightInMapUnits * 16 * fieldFactor - cropUnitY * (cropTop + cropBottom),
            out width, out height);
    }

    /// <summary>scaling_list (7.3.2.1.1.1): only read to get past it.</summary>
    private static void SkipScalingList(ref RbspReader reader, int size)
    {
        int lastScale = 8, nextScale = 8;
        for (var j = 0; j < size && !reader.Overrun; j++)
        {
            if (nextScale != 0) nextScale = (lastScale + reader.ReadSignedGolomb() + 256) % 256;
            lastScale = nextScale == 0 ? lastScale : nextScale;
        }
    }

    /// <summary>seq_parameter_set_rbsp (H.265 7.3.2.2.1) up to conf_win offsets; <paramref name="rbsp"/> starts after the 2-byte NAL header.</summary>
    public static bool TryReadH265(ReadOnlySpan<byte> rbsp, out int width, out int height)
    {
        width = height = 0;
        var reader = new RbspReader(rbsp);
        reader.Skip(4); // sps_video_parameter_set_id
        var maxSubLayersMinus1 = (int)reader.ReadBits(3);
        reader.ReadBit(); // sps_temporal_id_nesting_flag
        SkipProfileTierLevel(ref reader, maxSubLayersMinus1);
        reader.ReadUnsignedGolomb(); // sps_seq_parameter_set_id
        var chromaFormatIdc = reader.ReadUnsignedGolomb();
        var separateColourPlane = chromaFormatIdc == 3 && reader.ReadFlag();
        long picWidth = reader.ReadUnsignedGolomb();
        long picHeight = reader.ReadUnsignedGolomb();
        long left = 0, right = 0, top = 0, bottom = 0;
        if (reader.ReadFlag()) // conformance_window_flag
        {
            left = reader.ReadUnsignedGolomb();
            right = reader.ReadUnsignedGolomb();
            top = reader.ReadUnsignedGolomb();
            bottom = reader.ReadUnsignedGolomb();
        }
        if (reader.Overrun || chromaFormatIdc > 3) return false;
        // Table 6-1; the conformance window is in chroma units (equations 7-1/7-2 use SubWidthC/SubHeightC).
        var chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
        long subWidthC = chromaArrayType is 1 or 2 ? 2 : 1;
        long subHeightC = chromaArrayType == 1 ? 2 : 1;
        return TrySetSize(picWidth - subWidthC * (left + right), picHeight - subHeightC * (top + bottom), out width, out height);
    }

    /// <summary>profile_tier_level(1, maxNumSubLayersMinus1) (7.3.3).</summary>
    private static void SkipProfileTierLevel(ref RbspReader reader, int maxSubLayersMinus1)
    {
        // general_profile_space .. general_inbld/reserved flag: 88 bits; general_level_idc: 8.
        reader.Skip(88 + 8);
        Span<bool> profilePresent = stackalloc bool[8];
        Span<bool> levelPresent = stackalloc bool[8];
        for (var i = 0; i < maxSubLayersMinus1; i++)
        {
            profilePresent[i] = reader.ReadFlag();
            levelPresent[i] = reader.ReadFlag();
        }
        if (maxSubLayersMinus1 > 0)
            reader.Skip(2 * (8 - maxSubLayersMinus1)); // reserved_zero_2bits
        for (var i = 0; i < maxSubLayersMinus1; i++)
        {
            if (profilePresent[i]) reader.Skip(88);
            if (levelPresent[i]) reader.Skip(8);
        }
    }

    private static bool TrySetSize(long width, long height, out int widthOut, out int heightOut)
    {
        var valid = width is > 0 and <= 65535 && height is > 0 and <= 65535;
        widthOut = valid ? (int)width : 0;
        heightOut = valid ? (int)height : 0;
        return valid;
    }
}
