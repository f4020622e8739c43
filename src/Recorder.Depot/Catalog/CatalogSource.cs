using Recorder.Storage;

namespace Recorder.Depot.Catalog;

/// <summary>
/// Where the indexer reads recordings from: the verified files in storage, by group key
/// (<c>device_id/YYYY-MM-DD/NAME.mcap</c>). An object store implements the same three calls.
/// </summary>
public interface ICatalogSource
{
    /// <summary>Every recording group in storage (one per stored <c>.mcap</c>).</summary>
    IEnumerable<string> Groups();

    /// <summary>The stored files of a group: the <c>.mcap</c> (when it has arrived) and its companions.</summary>
    IReadOnlyList<(string Name, long Size)> FilesOf(string groupKey);

    /// <summary>A seekable stream of one file of the group.</summary>
    Stream Open(string groupKey, string fileName);
}

/// <summary>The local storage directory: <c>&lt;root&gt;/&lt;device_id&gt;/&lt;YYYY-MM-DD&gt;/&lt;files&gt;</c>.</summary>
public sealed class LocalCatalogSource(string root) : ICatalogSource
{
    private readonly string _root = Path.GetFullPath(root);

    public IEnumerable<string> Groups()
    {
        if (!Directory.Exists(_root)) yield break;
        foreach (var device in Directory.EnumerateDirectories(_root).Order(StringComparer.Ordinal))
        {
            var deviceId = Path.GetFileName(device);
            if (!RecordingLayout.IsSafeName(deviceId)) continue; // .uploads and anything foreign
            foreach (var day in Directory.EnumerateDirectories(device).Order(StringComparer.Ordinal))
                foreach (var mcap in Directory.EnumerateFiles(day, "*" + RecordingLayout.McapExtension).Order(StringComparer.Ordinal))
                    yield return RecordingLayout.GroupKey(deviceId, Path.GetFileName(day), Path.GetFileName(mcap));
        }
    }

    public IReadOnlyList<(string Name, long Size)> FilesOf(string groupKey)
    {
        var (dir, mcap) = Split(groupKey);
        if (!Directory.Exists(dir)) return [];
        return new DirectoryInfo(dir).EnumerateFiles()
            .Where(f => RecordingLayout.BelongsTo(f.Name, mcap))
            .Select(f => (f.Name, f.Length))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();
    }

    public Stream Open(string groupKey, string fileName) =>
        new FileStream(Path.Combine(Split(groupKey).Dir, fileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.RandomAccess);

    private (string Dir, string Mcap) Split(string groupKey)
    {
        var parts = groupKey.Split('/');
        if (parts.Length != 3 || !parts.All(RecordingLayout.IsSafeName)) throw new ArgumentException($"not a group key: '{groupKey}'", nameof(groupKey));
        return (Path.Combine(_root, parts[0], parts[1]), parts[2]);
    }
}
