using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Recorder.Config.Loading;

namespace Recorder.Config;

/// <summary>
/// The merged configuration the daemon runs with, as YAML: every key with its value, each marked
/// with where the value came from (<c>file:line:column</c> or <c>default</c>). The output is itself
/// a valid device file (a device file may hold every fleet key), so
/// <c>recorder config check --device effective.yaml</c> loads the same settings.
/// </summary>
public static class EffectiveConfig
{
    /// <summary>The effective configuration of a successful load.</summary>
    public static string ToYaml(ConfigLoadResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var s = result.Settings ?? throw new ArgumentException("the configuration has errors", nameof(result));
        var w = new Writer(result.Sources);
        var files = new List<string> { "the embedded defaults" };
        if (s.FleetFile is not null) files.Add(s.FleetFile);
        if (s.DeviceFile is not null) files.Add(s.DeviceFile);
        w.Comment($"effective configuration: {string.Join(", then ", files)} (each file overrides what it names)");

        w.Key(0, "fleet", Str(s.Fleet), "fleet");
        w.Section(0, "recording");
        var r = s.Recording;
        w.Key(1, "dir", Str(r.Dir), "recording.dir");
        w.Section(1, "chunk");
        w.Key(2, "size", Units.FormatSize(r.ChunkSize), "recording.chunk.size");
        w.Key(2, "max_age", Units.FormatDuration(r.ChunkMaxAge), "recording.chunk.max_age");
        w.Key(2, "compression", YamlNames.Of(r.Compression), "recording.chunk.compression");
        w.Section(1, "split");
        w.Key(2, "size", Units.FormatSize(r.SplitSize), "recording.split.size");
        w.Key(2, "duration", Units.FormatDuration(r.SplitDuration), "recording.split.duration");
        w.Key(2, "keyframe_wait", Units.FormatDuration(r.KeyframeWait), "recording.split.keyframe_wait");
        w.Key(1, "fsync", YamlNames.Of(r.Fsync), "recording.fsync");

        w.Section(0, "storage");
        w.Key(1, "max_bytes", s.Storage.MaxBytes == 0 ? "0" : Units.FormatSize(s.Storage.MaxBytes), "storage.max_bytes");
        w.Key(1, "min_free_bytes", s.Storage.MinFreeBytes == 0 ? "0" : Units.FormatSize(s.Storage.MinFreeBytes), "storage.min_free_bytes");
        w.Key(1, "when_full", YamlNames.Of(s.Storage.WhenFull), "storage.when_full");

        var i = s.Ingest;
        w.Section(0, "ingest");
        w.Key(1, "socket", Str(i.Socket), "ingest.socket");
        w.Key(1, "queue", Units.FormatSize(i.QueueBytes), "ingest.queue");
        w.Key(1, "timestamps", YamlNames.Of(i.Timestamps), "ingest.timestamps");
        w.Key(1, "reorder_window", Units.FormatDuration(i.ReorderWindow), "ingest.reorder_window");
        w.Key(1, "max_attachment_bytes", Units.FormatSize(i.MaxAttachmentBytes), "ingest.max_attachment_bytes");
        w.Key(1, "include", List(i.Include), "ingest.include");
        w.Key(1, "exclude", List(i.Exclude), "ingest.exclude");
        w.Key(0, "control_socket", Str(s.ControlSocket), "control_socket",
            result.Sources is { } map && !map.IsSet("control_socket") && map.IsSet("ingest.socket") ? "beside ingest.socket" : null);

        if (s.Topics.Count == 0)
        {
            w.Key(0, "topics", "[]", "topics");
        }
        else
        {
            w.Line("topics:", "topics");
            for (var n = 0; n < s.Topics.Count; n++)
            {
                var t = s.Topics[n];
                var p = string.Create(CultureInfo.InvariantCulture, $"topics[{n}]");
                w.Key(1, "- topic", Str(t.Topic), p + ".topic");
                w.Key(2, "latched", t.Latched ? "true" : "false", p + ".latched");
                w.Key(2, "drop", YamlNames.Of(t.Drop), p + ".drop");
                if (t.Timestamps is { } ts) w.Key(2, "timestamps", YamlNames.Of(ts), p + ".timestamps");
                if (t.Fifo is not null) w.Key(2, "fifo", Str(t.Fifo), p + ".fifo");
                if (t.Socket is not null) w.Key(2, "socket", Str(t.Socket), p + ".socket");
                if (t.Format is { } format) w.Key(2, "format", YamlNames.Of(format), p + ".format");
                if (t.Format is InputFormat.H264 or InputFormat.H265) w.Key(2, "store", YamlNames.Of(t.Store ?? VideoStore.Container), p + ".store");
                if (t.JsonSchema is not null) w.Key(2, "json_schema", Str(t.JsonSchema), p + ".json_schema");
                if (t.FrameId is not null) w.Key(2, "frame_id", Str(t.FrameId), p + ".frame_id");
                w.Key(2, "tags", Map(t.Tags), p + ".tags");
            }
        }
        w.Section(0, "metadata");
        w.Key(1, "required", List(s.Metadata.Required), "metadata.required");
        w.Section(0, "metrics");
        if (s.Metrics.Textfile is { } textfile) w.Key(1, "textfile", Str(textfile), "metrics.textfile");
        w.Key(1, "interval", Units.FormatDuration(s.Metrics.Interval), "metrics.interval");

        var d = s.Device;
        w.Key(0, "device_id", Str(d.DeviceId), "device_id", s.DeviceFile is null || result.Sources?.IsSet("device_id") != true ? "the host name" : null);
        w.Key(0, "device_version", Str(d.DeviceVersion), "device_version");
        if (d.Vehicle is not null) w.Key(0, "vehicle", Str(d.Vehicle), "vehicle");
        if (d.SoftwareVersion is not null) w.Key(0, "software_version", Str(d.SoftwareVersion), "software_version");
        if (d.SoftwareVersionFile is not null) w.Key(0, "software_version_file", Str(d.SoftwareVersionFile), "software_version_file");
        w.Key(0, "operator", Str(d.Operator), "operator");
        w.Key(0, "extra", Map(d.Extra), "extra");
        return w.ToString();
    }

    /// <summary>A YAML double-quoted scalar (JSON string escapes are valid YAML escapes).</summary>
    private static string Str(string value) => "\"" + JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";

    private static string List(IReadOnlyList<string> values) => "[" + string.Join(", ", values.Select(Str)) + "]";

    private static string Map(IReadOnlyDictionary<string, string> values) =>
        "{" + string.Join(", ", values.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Str(p.Key) + ": " + Str(p.Value))) + "}";

    private sealed class Writer(SourceMap? map)
    {
        private const int CommentColumn = 48;
        private readonly StringBuilder _text = new();

        public void Comment(string text) => _text.Append("# ").Append(text).Append('\n');

        public void Section(int depth, string key) => _text.Append(' ', depth * 2).Append(key).Append(":\n");

        public void Key(int depth, string key, string value, string path, string? origin = null) =>
            Line(new string(' ', depth * 2) + key + ": " + value, path, origin);

        public void Line(string line, string path, string? origin = null)
        {
            _text.Append(line);
            _text.Append(' ', Math.Max(1, CommentColumn - line.Length));
            _text.Append("# ").Append(map?.Get(path)?.ToString() ?? origin ?? "default").Append('\n');
        }

        public override string ToString() => _text.ToString();
    }
}
