using System.Globalization;

namespace Recorder.Storage;

/// <summary>
/// The kinds of file a recording is made of. The values are a contract: the offload journal stores
/// them as a byte (proto/offload_state.md).
/// </summary>
public enum RecordingFileKind : byte
{
    /// <summary><c>NAME.mcap</c>: the recording itself.</summary>
    Mcap = 0,

    /// <summary><c>NAME.vidx</c>: its frame index (proto/frame_index.md).</summary>
    Vidx = 1,

    /// <summary><c>NAME.TOPICSLUG.h264</c>/<c>.h265</c>: a sidecar video stream, raw Annex B (journal version 2 on).</summary>
    Stream = 2,
}

/// <summary>
/// The on-disk layout of recordings, the same on the vehicle and at the depot:
/// <c>&lt;root&gt;/&lt;device_id&gt;/&lt;YYYY-MM-DD&gt;/&lt;files&gt;</c>, where the date is the UTC
/// day of the recording's start and a recording is <c>DEVICE_yyyyMMddTHHmmssZ_NNNN.mcap</c> plus its
/// companions in the same directory: <c>NAME.vidx</c> and the streams <c>NAME.TOPICSLUG.h264</c>/<c>.h265</c>.
/// A file being written carries <see cref="ActiveSuffix"/> until it is renamed into place.
/// </summary>
public static class RecordingLayout
{
    /// <summary>The suffix of a file still being written (renamed away once it is whole).</summary>
    public const string ActiveSuffix = ".active";

    /// <summary>The recording's extension.</summary>
    public const string McapExtension = ".mcap";

    /// <summary>The frame index's extension.</summary>
    public const string VidxExtension = ".vidx";

    /// <summary>A sidecar H.264 stream's extension (what ffmpeg and VLC expect for raw Annex B).</summary>
    public const string H264Extension = ".h264";

    /// <summary>A sidecar H.265 stream's extension.</summary>
    public const string H265Extension = ".h265";

    /// <summary>The name a file has while it is written: <paramref name="path"/> plus <see cref="ActiveSuffix"/>.</summary>
    public static string ActivePath(string path) => path + ActiveSuffix;

    /// <summary>True for a file still being written (<see cref="ActiveSuffix"/>).</summary>
    public static bool IsActive(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.EndsWith(ActiveSuffix, StringComparison.Ordinal);
    }

    /// <summary>The final name of an <c>.active</c> file: the suffix removed.</summary>
    public static string FinalPath(string activePath)
    {
        if (!IsActive(activePath)) throw new ArgumentException($"'{activePath}' does not end in {ActiveSuffix}", nameof(activePath));
        return activePath[..^ActiveSuffix.Length];
    }

    /// <summary>The frame index beside the recording <paramref name="mcapPath"/>: <c>NAME.vidx</c>.</summary>
    public static string VidxPath(string mcapPath) => Path.ChangeExtension(mcapPath, VidxExtension);

    /// <summary>A sidecar stream beside the recording <paramref name="mcapPath"/>: <c>NAME.TOPICSLUG.h264</c>/<c>.h265</c>.</summary>
    public static string StreamPath(string mcapPath, string topicSlug, bool h265) =>
        Path.ChangeExtension(mcapPath, null) + "." + topicSlug + (h265 ? H265Extension : H264Extension);

    /// <summary>True for a finished file that is part of a recording: <c>.mcap</c>, <c>.vidx</c>, <c>.h264</c>, <c>.h265</c>.</summary>
    public static bool IsRecordingFile(string path) => KindOf(path) is not null;

    /// <summary>The name of the directory for the UTC day of <paramref name="start"/>: <c>YYYY-MM-DD</c>.</summary>
    public static string DateDirectory(DateTimeOffset start) => start.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A recording's file name: <c>DEVICE_yyyyMMddTHHmmssZ_NNNN.mcap</c>.</summary>
    public static string McapFileName(string deviceId, DateTimeOffset start, int sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{deviceId}_{start.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}_{sequence:D4}{McapExtension}");

    /// <summary>The kind of <paramref name="fileName"/>, or null for a name that is no part of a recording.</summary>
    public static RecordingFileKind? KindOf(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        if (fileName.EndsWith(McapExtension, StringComparison.Ordinal)) return RecordingFileKind.Mcap;
        if (fileName.EndsWith(VidxExtension, StringComparison.Ordinal)) return RecordingFileKind.Vidx;
        if (IsStream(fileName)) return RecordingFileKind.Stream;
        return null;
    }

    /// <summary>A sidecar video stream's name: <c>NAME.TOPICSLUG.h264</c> or <c>.h265</c>.</summary>
    public static bool IsStream(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        return fileName.EndsWith(H264Extension, StringComparison.Ordinal) || fileName.EndsWith(H265Extension, StringComparison.Ordinal);
    }

    /// <summary>The lowercase name of a kind as the upload metadata spells it: <c>mcap</c>, <c>vidx</c>, <c>stream</c>.</summary>
    public static string KindName(RecordingFileKind kind) => kind switch
    {
        RecordingFileKind.Mcap => "mcap",
        RecordingFileKind.Vidx => "vidx",
        RecordingFileKind.Stream => "stream",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown file kind"),
    };

    /// <summary>True for a byte that names a <see cref="RecordingFileKind"/> (the journal checks what it reads).</summary>
    public static bool IsDefinedKind(byte value) => value <= (byte)RecordingFileKind.Stream;

    /// <summary>
    /// True when <paramref name="fileName"/> belongs to the recording <paramref name="mcapName"/>:
    /// the <c>.mcap</c> itself, <c>NAME.vidx</c> or a stream <c>NAME.SLUG.h26x</c>.
    /// </summary>
    public static bool BelongsTo(string fileName, string mcapName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(mcapName);
        if (!mcapName.EndsWith(McapExtension, StringComparison.Ordinal)) return false;
        var stem = mcapName[..^McapExtension.Length];
        return KindOf(fileName) switch
        {
            RecordingFileKind.Mcap => fileName == mcapName,
            RecordingFileKind.Vidx => fileName == stem + VidxExtension,
            RecordingFileKind.Stream => fileName.Length > stem.Length + 1 && fileName.StartsWith(stem + ".", StringComparison.Ordinal),
            _ => false,
        };
    }

    /// <summary>
    /// The start time written in a recording's name (<c>DEVICE_yyyyMMddTHHmmssZ_NNNN.…</c>), or null
    /// when the name does not follow the pattern. A device id may itself contain underscores, so
    /// the timestamp is found from the right.
    /// </summary>
    public static DateTimeOffset? StartOf(string recordingName)
    {
        ArgumentNullException.ThrowIfNull(recordingName);
        var stem = recordingName;
        var dot = stem.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0) stem = stem[..dot];
        var lastUnderscore = stem.LastIndexOf('_');
        if (lastUnderscore <= 0) return null;
        var previous = stem.LastIndexOf('_', lastUnderscore - 1);
        if (previous < 0) return null;
        var stamp = stem.AsSpan(previous + 1, lastUnderscore - previous - 1);
        return DateTimeOffset.TryParseExact(stamp, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var start)
            ? start
            : null;
    }

    /// <summary>
    /// The day directory for a file of the recording <paramref name="recordingName"/>: the start in
    /// its name; failing that <paramref name="startNs"/> (ns since the epoch) when not 0; failing
    /// that <paramref name="fallback"/> (e.g. the time the depot received it).
    /// </summary>
    public static string DateDirectoryOf(string recordingName, ulong startNs, DateTimeOffset fallback)
    {
        if (StartOf(recordingName) is { } start) return DateDirectory(start);
        if (startNs > 0) return DateDirectory(DateTimeOffset.UnixEpoch.AddTicks((long)(startNs / 100)));
        return DateDirectory(fallback);
    }

    /// <summary>
    /// The group key of a recording: <c>device_id/YYYY-MM-DD/NAME.mcap</c>, the same for the
    /// <c>.mcap</c> and all its companions.
    /// </summary>
    public static string GroupKey(string deviceId, string dateDirectory, string mcapName) => $"{deviceId}/{dateDirectory}/{mcapName}";

    /// <summary>
    /// The path of a file relative to the storage root: <c>device_id/YYYY-MM-DD/fileName</c>, with
    /// <c>/</c> separators (an object key for object storage, a relative path for a directory).
    /// </summary>
    public static string RelativePath(string deviceId, string dateDirectory, string fileName) => $"{deviceId}/{dateDirectory}/{fileName}";

    /// <summary>
    /// True for a name that is safe as one path segment and is no hidden file: 1–200 characters of
    /// letters, digits, <c>.</c>, <c>_</c> and <c>-</c>, not starting with <c>.</c> or <c>-</c>.
    /// Device ids and file names from the network are checked with it before they touch storage.
    /// </summary>
    public static bool IsSafeName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 200 || name[0] is '.' or '-') return false;
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) return false;
        return true;
    }
}
