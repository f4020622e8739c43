namespace Recorder.Video;

/// <summary>
/// The one place that turns a recording's video frames, in file order, into index records. The live
/// recorder and <see cref="FrameIndexRebuilder"/> both feed it, so both produce the same bytes.
/// <para>
/// <see cref="Next"/> numbers a frame when its message is written: track id (order of first
/// appearance, from 1), frame number (per track, from 0) and GOP (keyframes so far on the track,
/// 0 before the first). <see cref="Append"/> writes it once its bytes are durable (for container
/// storage: once its chunk is on disk, which is when the caller learns the chunk's offset); the
/// track record a new track or a resolution change needs is written there, just before the frame,
/// so the record order depends only on the order of the frames, not on when chunks were cut.
/// Frames must be appended in the order <see cref="Next"/> numbered them.
/// </para>
/// </summary>
public sealed class FrameIndexer(FrameIndexWriter writer)
{
    private readonly Dictionary<string, Track> _byTopic = new(StringComparer.Ordinal);
    private readonly List<Track> _byId = [null!]; // ids start at 1

    public FrameIndexWriter Writer => writer;

    /// <summary>Tracks seen so far (by <see cref="Next"/>).</summary>
    public int TrackCount => _byId.Count - 1;

    /// <summary>
    /// Numbers the next frame of <paramref name="topic"/>. <paramref name="width"/>/<paramref name="height"/>:
    /// the resolution this frame establishes (from an SPS it carries), or 0,0 to keep the last known one.
    /// Offset and OffsetInChunk of the result are 0: the caller fills them in before <see cref="Append"/>.
    /// A topic keeps the codec, store and stream file of its first frame; a change is an error.
    /// </summary>
    public FrameIndexEntry Next(string topic, VideoCodec codec, FrameStore store, string? streamFile, ulong logTime, ulong publishTime,
        KeyframeKind keyframe, uint size, uint width, uint height)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (streamFile is { Length: 0 }) streamFile = null; // stored the same way: an empty str16
        if (!_byTopic.TryGetValue(topic, out var track))
            track = AddTrack(topic, codec, store, streamFile);
        else if (track.Codec != codec || track.Store != store || !string.Equals(track.StreamFile, streamFile, StringComparison.Ordinal))
            ThrowChanged(track, codec, store, streamFile);

        if (width != 0 && height != 0)
        {
            track.Width = width;
            track.Height = height;
        }
        if (keyframe != KeyframeKind.None) track.Gop++;
        return new FrameIndexEntry(track.Id, track.Frames++, logTime, publishTime, keyframe, track.Gop, size,
            Offset: 0, OffsetInChunk: 0, track.Width, track.Height);
    }

    /// <summary>
    /// Writes the frame, preceded by a track record when its track has none yet or the entry's
    /// resolution differs from the last track record written for it. Allocation-free.
    /// </summary>
    public void Append(in FrameIndexEntry entry)
    {
        if (entry.TrackId == 0 || entry.TrackId >= _byId.Count)
            throw new ArgumentException($"track {entry.TrackId} was not numbered by this indexer", nameof(entry));
        var track = _byId[entry.TrackId];
        if (!track.Written || track.WrittenWidth != entry.Width || track.WrittenHeight != entry.Height)
        {
            writer.WriteTrack(track.Id, track.Topic, track.Codec, track.Store, entry.Width, entry.Height, track.StreamFile);
            track.Written = true;
            track.WrittenWidth = entry.Width;
            track.WrittenHeight = entry.Height;
        }
        writer.WriteFrame(entry);
    }

    private Track AddTrack(string topic, VideoCodec codec, FrameStore store, string? streamFile)
    {
        if (_byId.Count > ushort.MaxValue) throw new InvalidOperationException("a recording holds at most 65,535 video tracks");
        var track = new Track((ushort)_byId.Count, topic, codec, store, streamFile);
        _byId.Add(track);
        _byTopic.Add(topic, track);
        return track;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowChanged(Track track, VideoCodec codec, FrameStore store, string? streamFile) =>
        throw new InvalidOperationException(
            $"video topic '{track.Topic}' changed from {track.Codec}/{track.Store}/{track.StreamFile ?? "-"} to {codec}/{store}/{streamFile ?? "-"} within one recording; start a new recording file instead");

    private sealed class Track(ushort id, string topic, VideoCodec codec, FrameStore store, string? streamFile)
    {
        public ushort Id { get; } = id;
        public string Topic { get; } = topic;
        public VideoCodec Codec { get; } = codec;
        public FrameStore Store { get; } = store;
        public string? StreamFile { get; } = streamFile;
        public ulong Frames { get; set; }
        public uint Gop { get; set; }
        public uint Width { get; set; }
        public uint Height { get; set; }
        public bool Written { get; set; }
        public uint WrittenWidth { get; set; }
        public uint WrittenHeight { get; set; }
    }
}
