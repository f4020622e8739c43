namespace Recorder.Video;

/// <summary>Where a video topic's frame bytes live.</summary>
public enum FrameStore : byte
{
    /// <summary>In the MCAP, one foxglove.CompressedVideo message per access unit.</summary>
    Container = 1,
    /// <summary>In a raw Annex B stream file beside the MCAP; the MCAP holds one recorder.VideoFrameRef per frame.</summary>
    Sidecar = 2,
}

/// <summary>One video topic of a recording, as the index's track records describe it (the latest record wins).</summary>
/// <param name="StreamFile">Sidecar only: the stream file's name, relative to the recording's directory.</param>
public sealed record VideoTrackInfo(ushort TrackId, string Topic, VideoCodec Codec, FrameStore Store, uint Width, uint Height, string? StreamFile);

/// <summary>
/// One frame. <see cref="Offset"/>: for Container the file offset of the Chunk record holding the
/// message and <see cref="OffsetInChunk"/> the offset of the Message record inside that chunk's
/// uncompressed records; for Sidecar the byte offset in the stream file (OffsetInChunk 0).
/// <see cref="Gop"/> counts keyframes on the track in this file so far (0: frames before the first
/// keyframe, undecodable on their own). Width/Height are the track's resolution at this frame
/// (0 when unknown); in the file they live in track records, not in every entry.
/// </summary>
public readonly record struct FrameIndexEntry(
    ushort TrackId, ulong FrameNumber, ulong LogTime, ulong PublishTime, KeyframeKind Keyframe, uint Gop, uint Size,
    ulong Offset, uint OffsetInChunk, uint Width, uint Height)
{
    public bool IsKeyframe => Keyframe != KeyframeKind.None;
}
