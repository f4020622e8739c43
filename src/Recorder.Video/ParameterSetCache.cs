namespace Recorder.Video;

/// <summary>
/// The latest VPS/SPS/PPS seen on one stream. Many hardware encoders send them once; a keyframe
/// written without them (or the first one of a new file) gets the cached copies prepended, so that
/// every stored keyframe decodes on its own.
/// </summary>
public sealed class ParameterSetCache(VideoCodec codec)
{
    public VideoCodec Codec => codec;

    /// <summary>Remembers the parameter sets the AU carries.</summary>
    public void Observe(ReadOnlySpan<byte> accessUnit) => throw new NotImplementedException();

    /// <summary>True once every parameter set a decoder needs has been seen.</summary>
    public bool IsComplete => throw new NotImplementedException();

    /// <summary>Annex B bytes (start codes included) of the cached parameter sets the AU lacks; empty when it lacks none or none are cached.</summary>
    public ReadOnlySpan<byte> MissingFrom(ReadOnlySpan<byte> accessUnit) => throw new NotImplementedException();
}
