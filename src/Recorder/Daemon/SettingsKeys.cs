using System.Globalization;
using Recorder.Config;

namespace Recorder.Daemon;

/// <summary>
/// The settings as flat YAML key paths and values (<c>recording.chunk.size</c> → <c>1048576</c>,
/// <c>topics[/imu].drop</c> → <c>DropOldest</c>), so that a reload can name every key it changed:
/// each one either applied or listed as needing a restart, never changed in silence. Topics are
/// keyed by name (a reordered list changes nothing). The values only need to compare.
/// </summary>
public static class SettingsKeys
{
    public static SortedDictionary<string, string> Flatten(RecorderSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var keys = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["fleet"] = s.Fleet,
            ["recording.dir"] = s.Recording.Dir,
            ["recording.chunk.size"] = Text(s.Recording.ChunkSize),
            ["recording.chunk.max_age"] = Text(s.Recording.ChunkMaxAge),
            ["recording.chunk.compression"] = s.Recording.Compression.ToString(),
            ["recording.split.size"] = Text(s.Recording.SplitSize),
            ["recording.split.duration"] = Text(s.Recording.SplitDuration),
            ["recording.split.keyframe_wait"] = Text(s.Recording.KeyframeWait),
            ["recording.fsync"] = s.Recording.Fsync.ToString(),
            ["storage.max_bytes"] = Text(s.Storage.MaxBytes),
            ["storage.min_free_bytes"] = Text(s.Storage.MinFreeBytes),
            ["storage.when_full"] = s.Storage.WhenFull.ToString(),
            ["ingest.socket"] = s.Ingest.Socket,
            ["ingest.queue"] = Text(s.Ingest.QueueBytes),
            ["ingest.timestamps"] = s.Ingest.Timestamps.ToString(),
            ["ingest.reorder_window"] = Text(s.Ingest.ReorderWindow),
            ["ingest.include"] = List(s.Ingest.Include),
            ["ingest.exclude"] = List(s.Ingest.Exclude),
            ["control_socket"] = s.ControlSocket,
            ["metadata.required"] = List(s.Metadata.Required),
            ["device_id"] = s.Device.DeviceId,
            ["device_version"] = s.Device.DeviceVersion,
            ["vehicle"] = s.Device.Vehicle ?? "",
            ["software_version"] = s.Device.SoftwareVersion ?? "",
            ["software_version_file"] = s.Device.SoftwareVersionFile ?? "",
            ["operator"] = s.Device.Operator,
            ["extra"] = Map(s.Device.Extra),
        };
        foreach (var t in s.Topics)
        {
            var p = "topics[" + t.Topic + "]";
            keys[p] = "configured";
            keys[p + ".latched"] = t.Latched ? "true" : "false";
            keys[p + ".drop"] = t.Drop.ToString();
            keys[p + ".timestamps"] = t.Timestamps?.ToString() ?? "";
            keys[p + ".fifo"] = t.Fifo ?? "";
            keys[p + ".socket"] = t.Socket ?? "";
            keys[p + ".format"] = t.Format?.ToString() ?? "";
            keys[p + ".store"] = t.Store?.ToString() ?? "";
            keys[p + ".json_schema"] = t.JsonSchema ?? "";
            keys[p + ".frame_id"] = t.FrameId ?? "";
            keys[p + ".tags"] = Map(t.Tags);
        }
        if (s.Offload is { } o)
        {
            keys["offload.enabled"] = o.Enabled ? "true" : "false";
            keys["offload.endpoint"] = o.Endpoint;
            keys["offload.presence"] = o.Presence.ToString();
            keys["offload.probe_interval"] = Text(o.ProbeInterval);
            keys["offload.probe_timeout"] = Text(o.ProbeTimeout);
            keys["offload.enter_after"] = Text(o.EnterAfter);
            keys["offload.leave_after"] = Text(o.LeaveAfter);
            keys["offload.ssids"] = List(o.Ssids);
            keys["offload.parallel"] = Text(o.Parallel);
            keys["offload.bandwidth"] = Text(o.Bandwidth);
            keys["offload.chunk_size"] = Text(o.ChunkSize);
            keys["offload.inactivity_timeout"] = Text(o.InactivityTimeout);
            keys["offload.retry.min"] = Text(o.RetryMin);
            keys["offload.retry.max"] = Text(o.RetryMax);
            keys["offload.delete_after_upload"] = o.DeleteAfterUpload ? "true" : "false";
            keys["offload.rescan_interval"] = Text(o.RescanInterval);
            keys["offload.state_dir"] = o.StateDir ?? "";
            keys["offload.token_file"] = o.TokenFile ?? "";
            keys["offload.client_certificate"] = o.ClientCertificate ?? "";
            keys["offload.client_key"] = o.ClientKey ?? "";
            keys["offload.ca"] = o.Ca ?? "";
            keys["offload.insecure"] = o.Insecure ? "true" : "false";
        }
        return keys;
    }

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

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(TimeSpan value) => value.Ticks.ToString(CultureInfo.InvariantCulture);

    private static string List(IReadOnlyList<string> values) => string.Join("\u001f", values);

    private static string Map(IReadOnlyDictionary<string, string> values) =>
        string.Join("\u001f", values.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "\u001e" + p.Value));
}
