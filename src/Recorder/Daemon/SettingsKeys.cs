using Recorder.Config;

namespace Recorder.Daemon;

/// <summary>
/// The settings as flat YAML key paths and values (<c>recording.chunk.size</c> → <c>1MiB</c>,
/// <c>topics[/imu].drop</c> → <c>drop_oldest</c>), so that a reload can name every key it changed:
/// each one either applied or listed as needing a restart, never changed in silence. Topics are
/// keyed by name (a reordered list changes nothing). The values only need to compare.
/// </summary>
public static class SettingsKeys
{
    /// <summary>The settings as flat key paths and values, from the key tables (<see cref="RecorderKeys.Flatten"/>).</summary>
    public static SortedDictionary<string, string> Flatten(RecorderSettings s) => RecorderKeys.Flatten(s);

    /// <summary>The keys whose value differs, or that one side has and the other has not, in order.</summary>
    public static List<string> Changed(RecorderSettings before, RecorderSettings after)
    {
        var a = Flatten(before);
        var b = Flatten(after);
        return a.Keys.Union(b.Keys).Where(k => !a.TryGetValue(k, out var x) || !b.TryGetValue(k, out var y) || x != y)
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The key with its topic name taken out (<c>topics[/imu].timestamps</c> → <c>topics[].timestamps</c>), as restart lists name them.</summary>
    public static string Generic(string key)
    {
        if (!key.StartsWith("topics[", StringComparison.Ordinal)) return key;
        var close = key.LastIndexOf(']');
        return close < 0 ? key : "topics[]" + key[(close + 1)..];
    }
}
