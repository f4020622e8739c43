using System.Security.Cryptography;
using Recorder.Mcap;

namespace Recorder.Storage;

/// <summary>
/// A finished file of a recording: its identity (path, and key under the recordings root), kind,
/// the recording it belongs to, and what orders it (size, mtime, the MCAP's time range, marks).
/// </summary>
public sealed record RecordingFile(string Path, string Key, RecordingFileKind Kind, string Recording, long Size, long MtimeNs, ulong StartNs, ulong EndNs, bool Marks)
{
    /// <summary>
    /// The key of the recording this file belongs to: the <c>.mcap</c>'s own key; for its
    /// companions (<c>.vidx</c>, sidecar streams) the key of the <c>.mcap</c> named by
    /// <see cref="Recording"/> in the same directory.
    /// </summary>
    public string GroupKey => Kind == RecordingFileKind.Mcap ? Key : RecordingCatalog.SiblingKey(Key, Recording);
}

/// <summary>
/// The finished recordings on a disk: finds their files under the recordings root (layout:
/// <see cref="RecordingLayout"/>) and reads what ordering and the upload metadata need: the time
/// range from the MCAP statistics and whether it holds a <c>recorder.mark</c> metadata record.
/// <c>.active</c> files and hidden directories (the offload journal's) are ignored; an MCAP without
/// its trailing magic is not finished yet, and neither is a stream file until its MCAP is.
/// </summary>
public static class RecordingCatalog
{
    /// <summary>The metadata record a <c>recorder mark</c> writes; a recording holding one goes first.</summary>
    public const string MarkMetadataName = "recorder.mark";

    /// <summary>True for the names of finished recording files: <c>.mcap</c>, <c>.vidx</c>, <c>.h264</c>, <c>.h265</c>.</summary>
    public static bool IsCandidate(string path) => RecordingLayout.IsRecordingFile(path);

    /// <summary>A sidecar video stream's name: <c>NAME.TOPICSLUG.h264</c> or <c>.h265</c>.</summary>
    public static bool IsStream(string path) => RecordingLayout.IsStream(path);

    /// <summary>The key of <paramref name="fileName"/> in the directory of <paramref name="key"/>.</summary>
    public static string SiblingKey(string key, string fileName)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.LastIndexOf('/');
        return slash < 0 ? fileName : string.Concat(key.AsSpan(0, slash + 1), fileName);
    }

    /// <summary>
    /// The <c>NAME.mcap</c> a stream file <c>NAME.TOPICSLUG.h26x</c> belongs to, or null when there
    /// is none (yet). A topic slug may hold dots, so the longest NAME with an existing <c>.mcap</c> wins.
    /// </summary>
    public static string? McapOfStream(string streamPath)
    {
        var dir = System.IO.Path.GetDirectoryName(streamPath) ?? "";
        var stem = System.IO.Path.GetFileNameWithoutExtension(streamPath); // NAME.TOPICSLUG
        for (var dot = stem.LastIndexOf('.'); dot > 0; dot = stem.LastIndexOf('.', dot - 1))
        {
            var mcap = System.IO.Path.Combine(dir, string.Concat(stem.AsSpan(0, dot), RecordingLayout.McapExtension));
            if (File.Exists(mcap)) return mcap;
        }
        return null;
    }

    /// <summary>
    /// The companions of <paramref name="mcapPath"/> on disk: <c>NAME.vidx</c> and the stream files
    /// <c>NAME.*.h264</c>/<c>.h265</c> (finished), and whether any <c>NAME.*.active</c> companion is
    /// still being written or renamed. A stream whose longest-matching MCAP is another one is not counted.
    /// </summary>
    public static (List<string> Finished, bool Active) Companions(string mcapPath)
    {
        var finished = new List<string>();
        var active = false;
        var dir = System.IO.Path.GetDirectoryName(mcapPath) ?? "";
        var prefix = System.IO.Path.GetFileNameWithoutExtension(mcapPath) + ".";
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir, prefix + "*"))
            {
                if (RecordingLayout.IsActive(file))
                {
                    if (RecordingLayout.KindOf(RecordingLayout.FinalPath(file)) is RecordingFileKind.Vidx or RecordingFileKind.Stream) active = true;
                    continue;
                }
                if (RecordingLayout.KindOf(file) == RecordingFileKind.Vidx)
                {
                    if (string.Equals(RecordingLayout.VidxPath(mcapPath), file, StringComparison.Ordinal)) finished.Add(file);
                }
                else if (IsStream(file) && string.Equals(McapOfStream(file), mcapPath, StringComparison.Ordinal))
                {
                    finished.Add(file);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The directory vanished or cannot be read: nothing to report.
        }
        finished.Sort(StringComparer.Ordinal);
        return (finished, active);
    }

    /// <summary>Every <c>.mcap</c>, <c>.vidx</c>, <c>.h264</c> and <c>.h265</c> below <paramref name="root"/>, hidden directories skipped.</summary>
    public static List<string> Scan(string root)
    {
        var found = new List<string>();
        if (!Directory.Exists(root)) return found;
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            try
            {
                foreach (var sub in Directory.EnumerateDirectories(dir))
                    if (!System.IO.Path.GetFileName(sub).StartsWith('.')) pending.Push(sub);
                foreach (var file in Directory.EnumerateFiles(dir))
                    if (IsCandidate(file)) found.Add(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A directory that vanished or cannot be read: the next scan tries again.
            }
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>The key of <paramref name="path"/>: its path under <paramref name="root"/>, with <c>/</c> separators.</summary>
    public static string KeyOf(string root, string path) => System.IO.Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary>
    /// The finished recordings (<c>.mcap</c>) below <paramref name="root"/>, oldest first: by path,
    /// which orders them by day directory, then start time and sequence in the name.
    /// </summary>
    public static List<string> FinishedRecordings(string root) =>
        Scan(root).Where(p => RecordingLayout.KindOf(p) == RecordingFileKind.Mcap).ToList();

    /// <summary>What a finished recording occupies: the <c>.mcap</c> and its finished companions (0 for a file gone meanwhile).</summary>
    public static long RecordingBytes(string mcapPath)
    {
        long total = 0;
        foreach (var file in Companions(mcapPath).Finished.Append(mcapPath))
        {
            try
            {
                var info = new FileInfo(file);
                if (info.Exists) total += info.Length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Vanished or unreadable: it occupies nothing we can count.
            }
        }
        return total;
    }

    /// <summary>
    /// Describes a finished file, or returns null when it is not finished or gone: an MCAP without
    /// its trailing magic, a stream file whose MCAP is absent or not finished.
    /// </summary>
    public static RecordingFile? Describe(string root, string path)
    {
        FileInfo info;
        try
        {
            info = new FileInfo(path);
            if (!info.Exists) return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var key = KeyOf(root, path);
        var mtime = (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100;
        if (RecordingLayout.KindOf(path) == RecordingFileKind.Vidx)
        {
            var mcap = System.IO.Path.ChangeExtension(path, RecordingLayout.McapExtension);
            var (start, end, marks) = File.Exists(mcap) && HasTrailingMagic(mcap) ? Summary(mcap) : (0UL, 0UL, false);
            return new RecordingFile(path, key, RecordingFileKind.Vidx, System.IO.Path.GetFileName(mcap), info.Length, mtime, start, end, marks);
        }
        if (IsStream(path))
        {
            // Written beside the MCAP and renamed with it: final only once the MCAP is.
            if (McapOfStream(path) is not { } owner || !HasTrailingMagic(owner)) return null;
            var (start, end, marks) = Summary(owner);
            return new RecordingFile(path, key, RecordingFileKind.Stream, System.IO.Path.GetFileName(owner), info.Length, mtime, start, end, marks);
        }
        if (!HasTrailingMagic(path)) return null;
        var (s, en, m) = Summary(path);
        return new RecordingFile(path, key, RecordingFileKind.Mcap, System.IO.Path.GetFileName(path), info.Length, mtime, s, en, m);
    }

    private static (ulong Start, ulong End, bool Marks) Summary(string path)
    {
        try
        {
            using var reader = McapIndexedReader.Open(path);
            var marks = reader.MetadataIndexes.Any(m => m.Name == MarkMetadataName);
            return (reader.Statistics?.MessageStartTime ?? 0, reader.Statistics?.MessageEndTime ?? 0, marks);
        }
        catch (Exception e) when (e is McapException or IOException or UnauthorizedAccessException)
        {
            // Finished but without a usable index: it still goes to the depot, ordered by name, without times.
            return (0, 0, false);
        }
    }

    /// <summary>True for an MCAP that ends in its magic: written to the end (the writer renames it only then).</summary>
    public static bool HasTrailingMagic(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = RandomAccess.GetLength(handle);
            if (length < McapConstants.MagicLength * 2) return false;
            Span<byte> tail = stackalloc byte[McapConstants.Magic.Length];
            RandomAccess.Read(handle, tail, length - tail.Length);
            return tail.SequenceEqual(McapConstants.Magic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The SHA-256 of the whole file, streamed.</summary>
    public static async Task<byte[]> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
    }
}
