namespace Recorder.Video.Tests.FrameIndex;

/// <summary>
/// Hand-made encodings for the tests, independent of the production encoders: H.264 access units
/// (a real SPS bit string, PPS, IDR/P slices) and foxglove.CompressedVideo messages in protobuf wire format.
/// </summary>
internal static class TestVideo
{
    /// <summary>foxglove.CompressedVideo: 1 timestamp {1 seconds, 2 nanos}, 2 frame_id, 3 data, 4 format.</summary>
    public static byte[] CompressedVideo(ulong timestampNs, string frameId, ReadOnlySpan<byte> data, string format)
    {
        var timestamp = new List<byte>();
        Tag(timestamp, 1, 0); Varint(timestamp, timestampNs / 1_000_000_000);
        Tag(timestamp, 2, 0); Varint(timestamp, timestampNs % 1_000_000_000);
        var m = new List<byte>();
        Tag(m, 1, 2); Varint(m, (ulong)timestamp.Count); m.AddRange(timestamp);
        Tag(m, 2, 2); Varint(m, (ulong)frameId.Length); m.AddRange(System.Text.Encoding.UTF8.GetBytes(frameId));
        Tag(m, 3, 2); Varint(m, (ulong)data.Length); m.AddRange(data.ToArray());
        Tag(m, 4, 2); Varint(m, (ulong)format.Length); m.AddRange(System.Text.Encoding.UTF8.GetBytes(format));
        return m.ToArray();
    }

    private static void Tag(List<byte> m, int field, int wireType) => Varint(m, (ulong)((field << 3) | wireType));

    private static void Varint(List<byte> m, ulong v)
    {
        while (v >= 0x80) { m.Add((byte)(v | 0x80)); v >>= 7; }
        m.Add((byte)v);
    }

    /// <summary>An H.264 IDR access unit with SPS (the given size, a multiple of 16) and PPS, padded with slice bytes to about <paramref name="size"/>.</summary>
    public static byte[] IdrAccessUnit(int width, int height, int size = 600, byte seed = 1)
    {
        var au = new List<byte>();
        au.AddRange(new byte[] { 0, 0, 0, 1 });
        au.AddRange(Sps(width, height));
        au.AddRange(new byte[] { 0, 0, 0, 1, 0x68, 0xCE, 0x38, 0x80 });
        au.AddRange(new byte[] { 0, 0, 0, 1, 0x65, 0x88, 0x84 }); // IDR, first_mb_in_slice 0, slice_type 7 (I)
        Fill(au, size, seed);
        return au.ToArray();
    }

    /// <summary>An H.264 P access unit (non-IDR slice, slice_type 5).</summary>
    public static byte[] PAccessUnit(int size = 120, byte seed = 2)
    {
        var au = new List<byte> { 0, 0, 0, 1, 0x41, 0x9A };
        Fill(au, size, seed);
        return au.ToArray();
    }

    /// <summary>Slice payload bytes that never form 00 00 0x.</summary>
    private static void Fill(List<byte> au, int size, byte seed)
    {
        var random = new Random(seed);
        while (au.Count < size) au.Add((byte)random.Next(1, 256));
    }

    /// <summary>A Baseline SPS NAL (header included) for width × height (multiples of 16), POC type 2, no VUI.</summary>
    public static byte[] Sps(int width, int height)
    {
        var bits = new BitWriter();
        bits.Bits(66, 8);  // profile_idc Baseline
        bits.Bits(0xC0, 8); // constraint_set0/1
        bits.Bits(30, 8);  // level_idc 3.0
        bits.Ue(0);        // seq_parameter_set_id
        bits.Ue(0);        // log2_max_frame_num_minus4
        bits.Ue(2);        // pic_order_cnt_type
        bits.Ue(1);        // max_num_ref_frames
        bits.Bits(0, 1);   // gaps_in_frame_num_value_allowed_flag
        bits.Ue((uint)(width / 16 - 1));
        bits.Ue((uint)(height / 16 - 1));
        bits.Bits(1, 1);   // frame_mbs_only_flag
        bits.Bits(1, 1);   // direct_8x8_inference_flag
        bits.Bits(0, 1);   // frame_cropping_flag
        bits.Bits(0, 1);   // vui_parameters_present_flag
        bits.Bits(1, 1);   // rbsp_stop_one_bit
        var rbsp = bits.ToArray();
        var nal = new List<byte> { 0x67 };
        var zeros = 0;
        foreach (var b in rbsp)
        {
            if (zeros >= 2 && b <= 3) { nal.Add(3); zeros = 0; } // emulation prevention
            nal.Add(b);
            zeros = b == 0 ? zeros + 1 : 0;
        }
        return nal.ToArray();
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = new();
        private int _bit;

        public void Bits(uint value, int count)
        {
            for (var i = count - 1; i >= 0; i--)
            {
                if (_bit == 0) _bytes.Add(0);
                if (((value >> i) & 1) != 0) _bytes[^1] |= (byte)(0x80 >> _bit);
                _bit = (_bit + 1) & 7;
            }
        }

        public void Ue(uint value)
        {
            var v = value + 1;
            var length = 32 - System.Numerics.BitOperations.LeadingZeroCount(v);
            Bits(0, length - 1);
            Bits(v, length);
        }

        public byte[] ToArray() => _bytes.ToArray();
    }
}
