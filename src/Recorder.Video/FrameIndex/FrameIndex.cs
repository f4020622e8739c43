using System.Buffers.Binary;
using System.IO.Hashing;

namespace Recorder.Video;

/// <summary>Why a reader stopped before the end of a .vidx file.</summary>
public enum FrameIndexStopKind
{
    /// <summary>The file ends inside a record: a torn tail (a crash while appending). Everything before it is intact.</summary>
    Torn,
    /// <summary>A record's CRC does not match its bytes.</summary>
    CrcMismatch,
    /// <summary>A record is well framed and its CRC matches, but it breaks a rule of the format (implausible length, missing header, unknown track, short payload).</summary>
    Malformed,
}

/// <summary>Where and why reading stopped. Records from <see cref="Offset"/> on were not used.</summary>
public sealed record FrameIndexStop(FrameIndexStopKind Kind, long Offset, string Message)
{
    public override string ToString() => $"{Kind} at offset {Offset}: {Message}";
}

/// <summary>What makes a file unreadable as a frame index at all.</summary>
public enum FrameIndexErrorKind
{
    /// <summary>The file does not start with the .vidx magic.</summary>
    NotAFrameIndex,
    /// <summary>The header names a major version this reader does not know.</summary>
    UnsupportedVersion,
}

/// <summary>The file is not a frame index this reader can read. Damage after a valid header is a <see cref="FrameIndexStop"/>, not this.</summary>
public sealed class FrameIndexException(FrameIndexErrorKind kind, string message) : Exception(message)
{
    public FrameIndexErrorKind Kind { get; } = kind;
}

/// <summary>
/// A .vidx frame index read into memory (proto/frame_index.md). Reading never throws on damage after
/// the header: it keeps every record before the first torn, corrupt or malformed one and says why it
/// stopped (<see cref="StopReason"/>) and how many bytes were good (<see cref="ValidBytes"/>).
/// Seeks are binary searches over per-track arrays, never scans.
/// </summary>
public sealed class FrameIndex
{
    public const ushort MajorVersion = 1;
    public const ushort MinorVersion = 0;

    /// <summary>The file extension: recording X.mcap has its index in X.vidx beside it.</summary>
    public const string Extension = ".vidx";

    private static readonly FrameIndexEntry[] NoFrames = [];

    private readonly Dictionary<ushort, VideoTrackInfo> _tracks = new();
    private readonly List<FrameIndexEntry> _frames = new();
    private readonly Dictionary<ushort, TrackFrames> _perTrack = new();

    private FrameIndex() { }

    /// <summary>The index path for a recording: X.mcap → X.vidx.</summary>
    public static string PathFor(string recordingPath) => Path.ChangeExtension(recordingPath, Extension);

    /// <summary>The recording's file name from the header; null when the file ended before a whole header.</summary>
    public string? RecordingFile { get; private set; }

    /// <summary>The format version of the file (0.0 when the header was not read).</summary>
    public ushort FileMajorVersion { get; private set; }
    public ushort FileMinorVersion { get; private set; }

    /// <summary>Each track's latest track record, by track id.</summary>
    public IReadOnlyDictionary<ushort, VideoTrackInfo> Tracks => _tracks;

    /// <summary>Every frame in file order, with the resolution of the track record in force when it was written.</summary>
    public IReadOnlyList<FrameIndexEntry> Frames => _frames;

    /// <summary>Bytes from the start of the file through the last good record: a writer may truncate to this and append.</summary>
    public long ValidBytes { get; private set; }

    /// <summary>Null when the file ended cleanly at a record boundary; otherwise where and why reading stopped.</summary>
    public FrameIndexStop? StopReason { get; private set; }

    public static FrameIndex ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        return Read(stream);
    }

    /// <summary>Reads the index from the stream's current position to its end.</summary>
    public static FrameIndex Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Parse(copy.GetBuffer().AsSpan(0, (int)copy.Length));
    }

    /// <summary>Reads an index held in memory.</summary>
    public static FrameIndex Parse(ReadOnlySpan<byte> file)
    {
        var index = new FrameIndex();
        index.Load(file);
        index.BuildTrackArrays();
        return index;
    }

    /// <summary>The (first) track recorded for a topic, or null.</summary>
    public VideoTrackInfo? FindTrack(string topic)
    {
        VideoTrackInfo? found = null;
        foreach (var track in _tracks.Values)
            if (track.Topic == topic && (found is null || track.TrackId < found.TrackId)) found = track;
        return found;
    }

    /// <summary>The frames of one track in file order.</summary>
    public ArraySegment<FrameIndexEntry> FramesOf(ushort trackId) =>
        _perTrack.TryGetValue(trackId, out var t) ? new ArraySegment<FrameIndexEntry>(t.Frames) : new ArraySegment<FrameIndexEntry>(NoFrames);

    /// <summary>
    /// What a decoder needs to show <paramref name="time"/>: the frames of <paramref name="topic"/> from
    /// the last keyframe at or before <paramref name="time"/> through the last frame at or before it
    /// (inclusive). Empty when the topic is unknown or no keyframe precedes <paramref name="time"/>
    /// (frames of GOP 0 cannot be decoded on their own).
    /// </summary>
    public ArraySegment<FrameIndexEntry> FramesForSeek(string topic, ulong time) => FramesForRange(topic, time, time);

    /// <summary>
    /// What an export of [<paramref name="start"/>, <paramref name="end"/>] needs: the frames from the last
    /// keyframe at or before <paramref name="start"/> (or, when none precedes it, the first keyframe after
    /// it) through the last frame at or before <paramref name="end"/>. Log times are non-decreasing
    /// within a track (the recorder writes each file in log-time order), which is what makes this a
    /// pair of binary searches.
    /// </summary>
    public ArraySegment<FrameIndexEntry> FramesForRange(string topic, ulong start, ulong end)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var track = FindTrack(topic);
        if (track is null || end < start || !_perTrack.TryGetValue(track.TrackId, out var t)) return new ArraySegment<FrameIndexEntry>(NoFrames);
        var frames = t.Frames;
        var stop = UpperBound(frames, end);              // frames[..stop] have LogTime <= end
        var anchor = Math.Max(UpperBound(frames, start) - 1, 0); // last frame at or before start (or the first frame)
        var k = Array.BinarySearch(t.Keyframes, anchor);
        int first;
        if (k >= 0) first = t.Keyframes[k];
        else if (~k > 0) first = t.Keyframes[~k - 1];               // last keyframe before the anchor
        else if (t.Keyframes.Length > 0) first = t.Keyframes[0];    // none before: the first one after
        else return new ArraySegment<FrameIndexEntry>(NoFrames);
        return first < stop ? new ArraySegment<FrameIndexEntry>(frames, first, stop - first) : new ArraySegment<FrameIndexEntry>(NoFrames);
    }

    /// <summary>The first index whose LogTime is greater than <paramref name="time"/>.</summary>
    private static int UpperBound(FrameIndexEntry[] frames, ulong time)
    {
        int lo = 0, hi = frames.Length;
        while (lo < hi)
        {
            var mid = (int)((uint)(lo + hi) >> 1);
            if (frames[mid].LogTime <= time) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private void Load(ReadOnlySpan<byte> file)
    {
        var magic = FrameIndexFormat.Magic;
        var prefix = Math.Min(file.Length, magic.Length);
        if (!file[..prefix].SequenceEqual(magic[..prefix]))
            throw new FrameIndexException(FrameIndexErrorKind.NotAFrameIndex, "not a frame index (.vidx): the file does not start with the .vidx magic");
        if (file.Length < magic.Length)
        {
            Stop(FrameIndexStopKind.Torn, 0, $"the file ends after {file.Length} of the 8 magic bytes");
            return;
        }
        var position = magic.Length;
        var sawHeader = false;
        while (position < file.Length)
        {
            var remaining = file.Length - position;
            if (remaining < FrameIndexFormat.RecordPrefixLength)
            {
                Stop(FrameIndexStopKind.Torn, position, $"the file ends {remaining} bytes into a record prefix");
                return;
            }
            var type = (FrameIndexRecordType)file[position];
            var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(file[(position + 1)..]);
            if (payloadLength > FrameIndexFormat.MaxPayloadLength)
            {
                Stop(FrameIndexStopKind.Malformed, position, $"a record declares {payloadLength} payload bytes, more than the maximum {FrameIndexFormat.MaxPayloadLength}");
                return;
            }
            var total = FrameIndexFormat.RecordOverhead + (int)payloadLength;
            if (remaining < total)
            {
                Stop(FrameIndexStopKind.Torn, position, $"the file ends {remaining} bytes into a {total}-byte {Describe(type)} record");
                return;
            }
            var covered = file.Slice(position, FrameIndexFormat.RecordPrefixLength + (int)payloadLength);
            var stored = BinaryPrimitives.ReadUInt32LittleEndian(file[(position + covered.Length)..]);
            var actual = Crc32.HashToUInt32(covered);
            if (actual != stored)
            {
                Stop(FrameIndexStopKind.CrcMismatch, position, $"{Describe(type)} record CRC is {actual:x8} but the record says {stored:x8}");
                return;
            }
            var payload = covered[FrameIndexFormat.RecordPrefixLength..];
            string? problem;
            if (!sawHeader)
            {
                if (type != FrameIndexRecordType.Header) problem = $"the first record is {Describe(type)}, not the header";
                else problem = ReadHeader(payload);
                sawHeader = problem is null;
            }
            else
            {
                problem = type switch
                {
                    FrameIndexRecordType.Header => "a second header record",
                    FrameIndexRecordType.Track => ReadTrack(payload),
                    FrameIndexRecordType.Frame => ReadFrame(payload),
                    _ => null, // a later minor version's record type: skipped
                };
            }
            if (problem is not null)
            {
                Stop(FrameIndexStopKind.Malformed, position, problem);
                return;
            }
            position += total;
            ValidBytes = position;
        }
        if (!sawHeader) Stop(FrameIndexStopKind.Torn, position, "the file ends before the header record");
    }

    private string? ReadHeader(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < FrameIndexFormat.HeaderFixedLength) return $"the header payload is {payload.Length} bytes, shorter than {FrameIndexFormat.HeaderFixedLength}";
        var major = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        var minor = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        if (major != MajorVersion)
            throw new FrameIndexException(FrameIndexErrorKind.UnsupportedVersion,
                $"frame index format version {major}.{minor} is not supported: this reader knows major version {MajorVersion} (up to {MajorVersion}.{MinorVersion}); rebuild the index with 'recorder frames --rebuild'");
        var position = 4;
        if (!FrameIndexFormat.TryReadStr16(payload, ref position, out var name)) return "the header's recording_file overruns the record or is not UTF-8";
        FileMajorVersion = major;
        FileMinorVersion = minor;
        RecordingFile = name;
        return null;
    }

    private string? ReadTrack(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < FrameIndexFormat.TrackFixedLength) return $"a track payload is {payload.Length} bytes, shorter than {FrameIndexFormat.TrackFixedLength}";
        var id = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        if (id == 0) return "a track record has the reserved id 0";
        var position = 12;
        if (!FrameIndexFormat.TryReadStr16(payload, ref position, out var topic)) return $"track {id}'s topic overruns the record or is not UTF-8";
        if (!FrameIndexFormat.TryReadStr16(payload, ref position, out var streamFile)) return $"track {id}'s stream_file overruns the record or is not UTF-8";
        _tracks[id] = new VideoTrackInfo(id, topic, (VideoCodec)payload[2], (FrameStore)payload[3],
            BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]), BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]),
            streamFile.Length == 0 ? null : streamFile);
        return null;
    }

    private string? ReadFrame(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < FrameIndexFormat.FramePayloadLength) return $"a frame payload is {payload.Length} bytes, shorter than {FrameIndexFormat.FramePayloadLength}";
        var entry = FrameIndexFormat.ReadFramePayload(payload);
        if (!_tracks.TryGetValue(entry.TrackId, out var track)) return $"a frame refers to track {entry.TrackId}, which no earlier track record declares";
        _frames.Add(entry with { Width = track.Width, Height = track.Height });
        return null;
    }

    private void Stop(FrameIndexStopKind kind, long offset, string message) => StopReason = new FrameIndexStop(kind, offset, message);

    private static string Describe(FrameIndexRecordType type) => type switch
    {
        FrameIndexRecordType.Header => "header",
        FrameIndexRecordType.Track => "track",
        FrameIndexRecordType.Frame => "frame",
        _ => $"type-0x{(byte)type:x2}",
    };

    private void BuildTrackArrays()
    {
        var counts = new Dictionary<ushort, (int Frames, int Keys)>();
        foreach (var f in _frames)
        {
            counts.TryGetValue(f.TrackId, out var c);
            counts[f.TrackId] = (c.Frames + 1, c.Keys + (f.IsKeyframe ? 1 : 0));
        }
        foreach (var (id, c) in counts) _perTrack[id] = new TrackFrames(new FrameIndexEntry[c.Frames], new int[c.Keys]);
        var fill = new Dictionary<ushort, (int Frames, int Keys)>();
        foreach (var f in _frames)
        {
            var t = _perTrack[f.TrackId];
            fill.TryGetValue(f.TrackId, out var n);
            if (f.IsKeyframe) t.Keyframes[n.Keys++] = n.Frames;
            t.Frames[n.Frames++] = f;
            fill[f.TrackId] = n;
        }
    }

    /// <summary>One track's frames in file order and the positions (in that array) of its keyframes, ascending.</summary>
    private sealed record TrackFrames(FrameIndexEntry[] Frames, int[] Keyframes);
}
