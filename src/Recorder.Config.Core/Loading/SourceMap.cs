namespace Recorder.Config.Loading;

/// <summary>Where a value came from: its node's position and the text as written (for scalars).</summary>
internal readonly record struct Location(string File, int Line, int Column, string? Text)
{
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}");
}

/// <summary>
/// The positions of the values the files set, by key path (<c>recording.chunk.size</c>,
/// <c>topics[2].fifo</c>), and the paths whose values failed to read. The validation pass uses it
/// to place its errors and to skip checks on values that already have an error.
/// </summary>
internal sealed class SourceMap
{
    private readonly Dictionary<string, Location> _locations = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);

    public void Set(string path, Location location) => _locations[path] = location;

    /// <summary>
    /// A later file sets <paramref name="path"/> again (the device file overriding a fleet key):
    /// forget where the earlier value and, for a list or mapping that is replaced whole, everything
    /// below it came from, and whether it failed; the new value's reading records them afresh.
    /// </summary>
    public void Replace(string path, bool whole)
    {
        _failed.Remove(path);
        if (!whole) return;
        foreach (var key in _locations.Keys.Where(k => IsBelow(k, path)).ToList()) _locations.Remove(key);
        _failed.RemoveWhere(k => IsBelow(k, path));
    }

    private static bool IsBelow(string key, string path) =>
        key.Length > path.Length && key.StartsWith(path, StringComparison.Ordinal) && key[path.Length] is '.' or '[';

    public Location? Get(string path) => _locations.TryGetValue(path, out var location) ? location : null;

    public bool IsSet(string path) => _locations.ContainsKey(path);

    public void Fail(string path) => _failed.Add(path);

    /// <summary>True when the value at <paramref name="path"/>, or a section containing it, failed to read.</summary>
    public bool Failed(string path)
    {
        for (var p = path; p.Length > 0; p = Parent(p))
            if (_failed.Contains(p)) return true;
        return false;
    }

    private static string Parent(string path)
    {
        var cut = path.LastIndexOfAny(['.', '[']);
        return cut < 0 ? "" : path[..cut];
    }
}
