using Recorder.Mcap;

namespace Recorder.Video;

/// <summary>
/// Fetches a frame's Annex B bytes through its index entry, without scanning the recording:
/// Container frames from the MCAP (the chunk at Offset, decompressed once for all its frames, the
/// Message record at OffsetInChunk, the CompressedVideo data); Sidecar frames from the stream file
/// named by the track (Size bytes at Offset). What <c>recorder export-video</c> uses, together with
/// <see cref="FrameIndex.FramesForRange"/>.
/// </summary>
public sealed class FrameReader : IDisposable
{
    private readonly string _recordingPath;
    private readonly string _directory;
    private readonly FrameIndex _index;
    private readonly Dictionary<ushort, FileStream> _streams = new();
    private McapRandomAccessReader? _mcap;
    private byte[] _buffer = [];

    /// <param name="recordingPath">The .mcap file; sidecar stream files are looked up in its directory.</param>
    /// <param name="index">The recording's index (for each track's storage and stream file).</param>
    public FrameReader(string recordingPath, FrameIndex index)
    {
        ArgumentNullException.ThrowIfNull(recordingPath);
        ArgumentNullException.ThrowIfNull(index);
        _recordingPath = recordingPath;
        _directory = Path.GetDirectoryName(Path.GetFullPath(recordingPath)) ?? ".";
        _index = index;
    }

    /// <summary>
    /// The frame's Annex B access unit, valid until the next call. Throws <see cref="InvalidDataException"/>
    /// when the entry does not match the file (an index from another recording, or one not rebuilt after
    /// <c>recorder recover</c> rewrote the MCAP).
    /// </summary>
    public ReadOnlyMemory<byte> ReadFrame(in FrameIndexEntry entry)
    {
        if (!_index.Tracks.TryGetValue(entry.TrackId, out var track))
            throw new InvalidDataException($"frame {entry.FrameNumber} refers to track {entry.TrackId}, which the index does not declare");
        return track.Store switch
        {
            FrameStore.Container => ReadContainer(entry),
            FrameStore.Sidecar => ReadSidecar(track, entry),
            _ => throw new InvalidDataException($"track {track.TrackId} ('{track.Topic}') has unknown storage {(byte)track.Store}"),
        };
    }

    private ReadOnlyMemory<byte> ReadContainer(in FrameIndexEntry entry)
    {
        _mcap ??= McapRandomAccessReader.Open(_recordingPath);
        if (entry.Offset > long.MaxValue) throw Mismatch(entry, "its offset is out of range");
        var record = entry.OffsetInChunk == FrameIndexRebuilder.NotInChunk
            ? _mcap.ReadRecord((long)entry.Offset)
            : _mcap.ReadChunkRecord((long)entry.Offset, entry.OffsetInChunk);
        if (record.Opcode != McapOpcode.Message) throw Mismatch(entry, $"it points at a {record.Opcode} record, not a Message");
        var message = record.ToMessage();
        if (message.LogTime != entry.LogTime) throw Mismatch(entry, $"the message there has log_time {message.LogTime}, the index says {entry.LogTime}");
        if (!CompressedVideo.TryDecode(message.Data.Span, out _, out _, out var data, out _))
            throw Mismatch(entry, "the message there is not a foxglove.CompressedVideo");
        if ((uint)data.Length != entry.Size) throw Mismatch(entry, $"its data is {data.Length} bytes, the index says {entry.Size}");
        if (data.IsEmpty) return ReadOnlyMemory<byte>.Empty;
        message.Data.Span.Overlaps(data, out var start);
        return message.Data.Slice(start, data.Length);
    }

    private ReadOnlyMemory<byte> ReadSidecar(VideoTrackInfo track, in FrameIndexEntry entry)
    {
        if (!_streams.TryGetValue(track.TrackId, out var stream))
        {
            stream = new FileStream(StreamFilePath(track), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.RandomAccess);
            _streams[track.TrackId] = stream;
        }
        if (entry.Offset > (ulong)stream.Length || entry.Size > (ulong)stream.Length - entry.Offset)
            throw Mismatch(entry, $"bytes {entry.Offset}..{entry.Offset + entry.Size} lie past the end of the {stream.Length}-byte stream file");
        if (_buffer.Length < entry.Size) _buffer = new byte[Math.Max(entry.Size, Math.Min((long)_buffer.Length * 2, Array.MaxLength))];
        stream.Position = (long)entry.Offset;
        stream.ReadExactly(_buffer, 0, (int)entry.Size);
        return _buffer.AsMemory(0, (int)entry.Size);
    }

    /// <summary>The stream file of a sidecar track: a plain name (or path below) the recording's directory, never outside it.</summary>
    public string StreamFilePath(VideoTrackInfo track)
    {
        ArgumentNullException.ThrowIfNull(track);
        var name = track.StreamFile;
        if (string.IsNullOrEmpty(name)) throw new InvalidDataException($"sidecar track {track.TrackId} ('{track.Topic}') names no stream file");
        var path = Path.GetFullPath(Path.Combine(_directory, name));
        var root = _directory.EndsWith(Path.DirectorySeparatorChar) ? _directory : _directory + Path.DirectorySeparatorChar;
        if (Path.IsPathRooted(name) || !path.StartsWith(root, StringComparison.Ordinal))
            throw new InvalidDataException($"track {track.TrackId}'s stream file '{name}' is not inside the recording's directory");
        return path;
    }

    private InvalidDataException Mismatch(in FrameIndexEntry entry, string why) => new(
        $"the index entry for frame {entry.FrameNumber} of track {entry.TrackId} does not match {Path.GetFileName(_recordingPath)}: {why}; rebuild the index with 'recorder frames --rebuild'");

    public void Dispose()
    {
        _mcap?.Dispose();
        foreach (var stream in _streams.Values) stream.Dispose();
        _streams.Clear();
    }
}
