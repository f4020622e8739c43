namespace Recorder.Video;

/// <summary>The codecs whose Annex B elementary streams the recorder splits and indexes.</summary>
public enum VideoCodec : byte
{
    H264 = 1,
    H265 = 2,
}

/// <summary>
/// Why an access unit is a keyframe (a point a decoder can start from), or None. Stored in the
/// frame index: foxglove.CompressedVideo's own rule names IDR, while ffmpeg (and a seek that
/// tolerates a few leading undecodable frames) also accepts recovery points and CRA/BLA.
/// </summary>
public enum KeyframeKind : byte
{
    None = 0,
    /// <summary>H.264 IDR (NAL type 5) or H.265 IDR_W_RADL/IDR_N_LP (19/20).</summary>
    Idr = 1,
    /// <summary>H.264 non-IDR I picture with a recovery point SEI (payloadType 6): open GOP.</summary>
    RecoveryPoint = 2,
    /// <summary>H.265 CRA (21): open GOP; RASL pictures after it are undecodable when starting here.</summary>
    Cra = 3,
    /// <summary>H.265 BLA (16-18) or reserved IRAP (22-23).</summary>
    Bla = 4,
}

public static class VideoCodecNames
{
    /// <summary>The name foxglove.CompressedVideo's <c>format</c> field and our files use: "h264" or "h265".</summary>
    public static string Name(this VideoCodec codec) => codec == VideoCodec.H265 ? "h265" : "h264";

    /// <summary>"h264", "h265" or "hevc" as UTF-8 (a CompressedVideo or VideoFrameRef <c>format</c> field), without allocating.</summary>
    public static bool TryParseUtf8(ReadOnlySpan<byte> format, out VideoCodec codec)
    {
        if (format.SequenceEqual("h264"u8)) { codec = VideoCodec.H264; return true; }
        if (format.SequenceEqual("h265"u8) || format.SequenceEqual("hevc"u8)) { codec = VideoCodec.H265; return true; }
        codec = default;
        return false;
    }

    public static bool TryParse(ReadOnlySpan<char> name, out VideoCodec codec)
    {
        if (name.SequenceEqual("h264")) { codec = VideoCodec.H264; return true; }
        if (name.SequenceEqual("h265") || name.SequenceEqual("hevc")) { codec = VideoCodec.H265; return true; }
        codec = default;
        return false;
    }
}
