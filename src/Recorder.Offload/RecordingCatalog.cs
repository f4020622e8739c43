using System.Security.Cryptography;
using Recorder.Mcap;

namespace Recorder.Offload;

/// <summary>A finished file as the offload stage sees it: identity, kind, and what orders it.</summary>
public sealed record RecordingFile(string Path, string Key, FileKind Kind, string Recording, long Size, long MtimeNs, ulong StartNs, ulong EndNs, bool Marks)
{
    /// <summary>The recording this file belongs to (a <c>.vidx</c> travels with its <c>.mcap</c>).</summary>
    public string GroupKey => Kind == FileKind.Mcap ? Key : System.IO.Path.ChangeExtension(Key, ".mcap");
}

/// <summary>
/// Finds finished files under the recordings root and reads what ordering and the upload metadata
/// need: the time range from the MCAP statistics and whether it holds a <c>recorder.mark</c>
/// metadata record. <c>.active</c> files and hidden directories (the journal's) are ignored; an
/// MCAP without its trailing magic is not finished yet.
/// </summary>
public static class RecordingCatalog
{
    public const string MarkMetadataName = "recorder.mark";
    public const string ActiveSuffix = ".active";

    /// <summary>Every <c>.mcap</c> and <c>.vidx</c> below <paramref name="root"/>, hidden directories skipped.</summary>
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
                    if (file.EndsWith(".mcap", StringComparison.Ordinal) || file.EndsWith(".vidx", StringComparison.Ordinal)) found.Add(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A directory that vanished or cannot be read: the next scan tries again.
            }
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    public static string KeyOf(string root, string path) => System.IO.Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary>Describes a finished file, or returns null when it is not finished (no trailing magic) or gone.</summary>
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
        if (path.EndsWith(".vidx", StringComparison.Ordinal))
        {
            var mcap = System.IO.Path.ChangeExtension(path, ".mcap");
            var (start, end, marks) = File.Exists(mcap) && HasTrailingMagic(mcap) ? Summary(mcap) : (0UL, 0UL, false);
            return new RecordingFile(path, key, FileKind.Vidx, System.IO.Path.GetFileName(mcap), info.Length, mtime, start, end, marks);
        }
        if (!HasTrailingMagic(path)) return null;
        var (s, en, m) = Summary(path);
        return new RecordingFile(path, key, FileKind.Mcap, System.IO.Path.GetFileName(path), info.Length, mtime, s, en, m);
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
