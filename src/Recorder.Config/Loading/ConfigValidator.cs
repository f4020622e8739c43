using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Recorder.Ingest;
using Recorder.Offload;

namespace Recorder.Config.Loading;

/// <summary>
/// The validation pass over the merged settings: required values, ranges, regular expressions,
/// and cross-checks between sections and files. Runs after every file has been read, on defaults
/// and file values alike, and skips any value that already failed to read (so one mistake gives
/// one error). Errors are placed at the value at fault through the <see cref="SourceMap"/>.
/// </summary>
internal sealed class ConfigValidator(RecorderSettings settings, SourceMap map, List<ConfigError> errors)
{
    public const long MinChunkSize = 1L << 10;
    public const long MaxChunkSize = 64L << 20;
    public const long MinQueueBytes = 1L << 20;
    /// <summary>The ingest stage's record limit (<c>IngestOptions.MaxRecordSize</c>): no attachment can be larger.</summary>
    public const long MaxAttachmentBytes = 64L << 20;
    public static readonly TimeSpan MinChunkMaxAge = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan MaxChunkMaxAge = TimeSpan.FromHours(1);
    public static readonly TimeSpan MinSplitDuration = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxKeyframeWait = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxReorderWindow = TimeSpan.FromMinutes(1);

    /// <summary>Letters, digits, '.', '_', '-'; first a letter or digit; 1 to 64. device_id names directories and files.</summary>
    private static readonly Regex DeviceIdPattern = new(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z", RegexOptions.CultureInvariant);

    private readonly RecorderSettings _s = settings;

    public void Run()
    {
        NotEmpty("fleet", _s.Fleet);
        Recording();
        Storage();
        Ingest();
        Topics();
        Inputs();
        Device();
        Metadata();
        Offload();
        Metrics();
    }

    public static readonly TimeSpan MinMetricsInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxMetricsInterval = TimeSpan.FromHours(1);

    private void Metrics()
    {
        var m = _s.Metrics;
        DurationRange("metrics.interval", m.Interval, MinMetricsInterval, MaxMetricsInterval);
        if (m.Textfile is not { } textfile || Skip("metrics.textfile")) return;
        if (textfile.Length == 0)
            Error("metrics.textfile must not be empty (leave it out to turn the metrics off)", "metrics.textfile");
        else if (!textfile.EndsWith(MetricsSettings.TextfileExtension, StringComparison.Ordinal) || Path.GetFileName(textfile).Length <= MetricsSettings.TextfileExtension.Length)
            Error($"metrics.textfile must name a *{MetricsSettings.TextfileExtension} file (node_exporter's textfile collector reads only those), got '{textfile}'", "metrics.textfile");
    }

    public const int MaxParallel = 16;
    public const long MinOffloadChunkSize = 64L << 10;
    public const long MaxOffloadChunkSize = 4L << 30;
    public const long MinBandwidth = 1L << 10;
    public static readonly TimeSpan MinOffloadInterval = TimeSpan.FromMilliseconds(100);

    private void Offload()
    {
        if (_s.Offload is not { } o || Skip("offload")) return;
        if (!o.Enabled || Skip("offload.enabled")) return;
        if (!map.IsSet("offload.endpoint"))
        {
            Error("offload.endpoint is required (the depot's tus URL, e.g. https://depot.example/files)", "offload");
        }
        else if (!Skip("offload.endpoint"))
        {
            var uri = o.Endpoint;
            if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                Error($"offload.endpoint must be an absolute http:// or https:// URL, got '{uri.OriginalString}'", "offload.endpoint");
            else if (uri.UserInfo.Length > 0)
                Error("offload.endpoint must not carry credentials (user:password@); use offload.token_file or a client certificate", "offload.endpoint");
            else if (uri.Scheme == Uri.UriSchemeHttp && !o.Insecure && !Skip("offload.insecure"))
                Error("offload.endpoint uses http://; TLS is required unless offload.insecure: true (for tests on loopback)", "offload.endpoint");
        }
        if (o.TokenFile is null && o.ClientCertificateFile is null && !Skip("offload.token_file", "offload.client_certificate"))
            Error("offload needs credentials: offload.token_file, or offload.client_certificate with offload.client_key", "offload");
        if (o.ClientCertificateFile is not null && o.ClientKeyFile is null && !Skip("offload.client_key"))
            Error("offload.client_certificate needs offload.client_key", "offload.client_certificate");
        if (o.ClientKeyFile is not null && o.ClientCertificateFile is null && !Skip("offload.client_certificate"))
            Error("offload.client_key needs offload.client_certificate", "offload.client_key");
        foreach (var (key, value) in new[] { ("token_file", o.TokenFile), ("client_certificate", o.ClientCertificateFile), ("client_key", o.ClientKeyFile), ("ca", o.CaFile), ("state_dir", o.StateDirectory) })
            if (value is { Length: 0 }) Error($"offload.{key} must not be empty (leave it out instead)", "offload." + key);
        if (!Skip("offload.presence", "offload.ssids"))
        {
            if (o.Presence == PresenceMode.NetworkManager && o.Ssids.Count == 0)
                Error("offload.presence networkmanager needs offload.ssids (the depot Wi-Fi networks)", map.IsSet("offload.presence") ? "offload.presence" : "offload");
            if (o.Presence != PresenceMode.NetworkManager && o.Ssids.Count > 0)
                Error($"offload.ssids only applies to presence networkmanager (presence is {YamlNames.Of(o.Presence)})", "offload.ssids");
            for (var n = 0; n < o.Ssids.Count; n++)
                if (o.Ssids[n].Length == 0) Error($"{Indexed("offload.ssids", n)} must not be empty", Indexed("offload.ssids", n));
        }
        IntRange("offload.parallel", o.Parallel, 1, MaxParallel);
        IntRange("offload.enter_after", o.EnterAfter, 1, 100);
        IntRange("offload.leave_after", o.LeaveAfter, 1, 100);
        DurationRange("offload.probe_interval", o.ProbeInterval, MinOffloadInterval, TimeSpan.FromHours(1));
        DurationRange("offload.probe_timeout", o.ProbeTimeout, MinOffloadInterval, TimeSpan.FromMinutes(1));
        DurationRange("offload.inactivity_timeout", o.InactivityTimeout, MinOffloadInterval, TimeSpan.FromHours(1));
        DurationRange("offload.rescan_interval", o.RescanInterval, MinOffloadInterval, TimeSpan.FromHours(1));
        DurationRange("offload.retry.min", o.RetryMin, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        DurationRange("offload.retry.max", o.RetryMax, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        if (!Skip("offload.retry.min", "offload.retry.max") && o.RetryMin > o.RetryMax)
            Error($"offload.retry.min ({GotDuration("offload.retry.min", o.RetryMin)}) must not be larger than offload.retry.max ({GotDuration("offload.retry.max", o.RetryMax)})",
                "offload.retry.min", "offload.retry.max");
        if (!Skip("offload.chunk_size") && (o.ChunkSize < MinOffloadChunkSize || o.ChunkSize > MaxOffloadChunkSize))
            Error($"offload.chunk_size must be between {Units.FormatSize(MinOffloadChunkSize)} and {Units.FormatSize(MaxOffloadChunkSize)}, got {GotSize("offload.chunk_size", o.ChunkSize)}", "offload.chunk_size");
        if (!Skip("offload.bandwidth") && o.Bandwidth != 0 && o.Bandwidth < MinBandwidth)
            Error($"offload.bandwidth must be 0 (unlimited) or at least {Units.FormatSize(MinBandwidth)} per second, got {GotSize("offload.bandwidth", o.Bandwidth)}", "offload.bandwidth");
    }

    private void IntRange(string path, int value, int min, int max)
    {
        if (!Skip(path) && (value < min || value > max))
            Error(string.Create(CultureInfo.InvariantCulture, $"{path} must be between {min} and {max}, got {value}"), path);
    }

    private void DurationRange(string path, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (!Skip(path) && (value < min || value > max))
            Error($"{path} must be between {Units.FormatDuration(min)} and {Units.FormatDuration(max)}, got {GotDuration(path, value)}", path);
    }

    private void Recording()
    {
        var r = _s.Recording;
        // The writer holds the chunk size in an int; a larger one as written is what the checks judge.
        var chunkSize = map.Get("recording.chunk.size")?.Text is { } text && Units.TryParseSize(text, out var written, out _) ? written : r.ChunkSize;
        NotEmpty("recording.dir", r.Directory);
        if (!Skip("recording.chunk.size") && (chunkSize < MinChunkSize || chunkSize > MaxChunkSize))
            Error($"recording.chunk.size must be between {Units.FormatSize(MinChunkSize)} and {Units.FormatSize(MaxChunkSize)}, got {GotSize("recording.chunk.size", r.ChunkSize)}", "recording.chunk.size");
        if (!Skip("recording.chunk.max_age") && (r.ChunkMaxAge < MinChunkMaxAge || r.ChunkMaxAge > MaxChunkMaxAge))
            Error($"recording.chunk.max_age must be between {Units.FormatDuration(MinChunkMaxAge)} and {Units.FormatDuration(MaxChunkMaxAge)}, got {GotDuration("recording.chunk.max_age", r.ChunkMaxAge)}", "recording.chunk.max_age");
        if (!Skip("recording.split.duration") && r.SplitDuration < MinSplitDuration)
            Error($"recording.split.duration must be at least {Units.FormatDuration(MinSplitDuration)}, got {GotDuration("recording.split.duration", r.SplitDuration)}", "recording.split.duration");
        if (!Skip("recording.split.keyframe_wait") && (r.KeyframeWait < TimeSpan.Zero || r.KeyframeWait > MaxKeyframeWait))
            Error($"recording.split.keyframe_wait must be between 0s and {Units.FormatDuration(MaxKeyframeWait)}, got {GotDuration("recording.split.keyframe_wait", r.KeyframeWait)}", "recording.split.keyframe_wait");
        if (!Skip("recording.chunk.size", "recording.split.size") && chunkSize > r.SplitSize)
            Error($"recording.chunk.size ({GotSize("recording.chunk.size", r.ChunkSize)}) must not be larger than recording.split.size ({GotSize("recording.split.size", r.SplitSize)})",
                "recording.chunk.size", "recording.split.size");
    }

    private void Storage()
    {
        var st = _s.Storage;
        if (!Skip("storage.max_bytes", "storage.min_free_bytes") && st.MaxBytes > 0 && st.MinFreeBytes >= st.MaxBytes)
            Error($"storage.min_free_bytes ({GotSize("storage.min_free_bytes", st.MinFreeBytes)}) must be smaller than storage.max_bytes ({GotSize("storage.max_bytes", st.MaxBytes)})",
                "storage.min_free_bytes", "storage.max_bytes");
    }

    private void Ingest()
    {
        var i = _s.Ingest;
        NotEmpty("ingest.socket", i.Socket);
        if (!Skip("ingest.queue") && i.QueueBytes < MinQueueBytes)
            Error($"ingest.queue must be at least {Units.FormatSize(MinQueueBytes)}, got {GotSize("ingest.queue", i.QueueBytes)}", "ingest.queue");
        if (!Skip("ingest.reorder_window") && i.ReorderWindow > MaxReorderWindow)
            Error($"ingest.reorder_window must be at most {Units.FormatDuration(MaxReorderWindow)}, got {GotDuration("ingest.reorder_window", i.ReorderWindow)}", "ingest.reorder_window");
        // A record larger than the ingest limit ends the producer's session before its size is weighed here.
        if (!Skip("ingest.max_attachment_bytes") && i.MaxAttachmentBytes > MaxAttachmentBytes)
            Error($"ingest.max_attachment_bytes must be at most {Units.FormatSize(MaxAttachmentBytes)} (the largest record a producer may send), got {GotSize("ingest.max_attachment_bytes", i.MaxAttachmentBytes)}", "ingest.max_attachment_bytes");
        Patterns("ingest.include", i.Include);
        Patterns("ingest.exclude", i.Exclude);
    }

    private bool _patternsValid = true;

    private void Patterns(string path, IReadOnlyList<string> patterns)
    {
        if (Skip(path))
        {
            _patternsValid = false;
            return;
        }
        for (var n = 0; n < patterns.Count; n++)
        {
            var itemPath = Indexed(path, n);
            if (Skip(itemPath))
            {
                _patternsValid = false;
                continue;
            }
            try
            {
                IngestSettings.CompilePattern(patterns[n]);
            }
            catch (RegexParseException e)
            {
                _patternsValid = false;
                Error($"{itemPath}: invalid regular expression '{patterns[n]}': {Words(e.Error.ToString())} at offset {e.Offset.ToString(CultureInfo.InvariantCulture)}", itemPath, path);
            }
            catch (ArgumentException e)
            {
                _patternsValid = false;
                Error($"{itemPath}: invalid regular expression '{patterns[n]}': {e.Message}", itemPath, path);
            }
        }
    }

    private void Topics()
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var n = 0; n < _s.Topics.Count; n++)
        {
            var t = _s.Topics[n];
            var p = Indexed("topics", n);
            if (Skip(p)) continue;
            if (!Skip(p + ".topic"))
            {
                if (t.Topic.Length == 0)
                {
                    Error($"{p}.topic must not be empty", p + ".topic", p);
                }
                else if (seen.TryGetValue(t.Topic, out var first))
                {
                    Error($"{p}: topic '{t.Topic}' is declared twice (first at {Where(first)})", p + ".topic", p);
                }
                else
                {
                    seen[t.Topic] = p + ".topic";
                }
            }
            if (t.Fifo is not null && t.Fifo.Length == 0) Error($"{p}.fifo must not be empty", p + ".fifo");
            if (t.Socket is not null && t.Socket.Length == 0) Error($"{p}.socket must not be empty", p + ".socket");
            if (t.Fifo is not null && t.Socket is not null && !Skip(p + ".fifo", p + ".socket"))
                Error($"{p}: set fifo or socket, not both (a topic has one input)", p + ".socket", p);
            var input = t.Fifo is not null ? "fifo" : t.Socket is not null ? "socket" : null;
            if (input is not null && t.Format is null && !Skip(p + ".format"))
                Error($"{p}: {input} needs a format (one of {Names(YamlNames.InputFormats)})", p + "." + input, p);
            if (input is null && t.Format is { } format && !Skip(p + ".fifo", p + ".socket"))
                Error($"{p}: format '{YamlNames.Of(format)}' needs a fifo or a socket (topics without one arrive on the ingest socket as MCAP)", p + ".format", p);
            if (t.Store is { } store && t.Format is not (TopicInputFormat.H264 or TopicInputFormat.H265) && !Skip(p + ".format"))
                Error($"{p}.store '{YamlNames.Of(store)}' only applies to format h264 or h265", p + ".store", p);
            if (t.FrameId is not null && t.FrameId.Length == 0) Error($"{p}.frame_id must not be empty", p + ".frame_id", p);
            if (t.FrameId is not null && t.Tags.ContainsKey("frame_id"))
                Error($"{p}.tags.frame_id conflicts with {p}.frame_id; set only one", p + ".tags.frame_id", p);
            if (t.JsonSchema is not null) JsonSchema(p, t);
            if (t.Fifo is null && t.Topic.Length > 0 && _patternsValid && !Skip("ingest.include", "ingest.exclude") && !_s.Ingest.Selects(t.Topic))
                Error($"{p}: topic '{t.Topic}' is not selected by ingest.include/ingest.exclude, so its settings never apply", p + ".topic", p);
        }
    }

    private void JsonSchema(string p, TopicSettings t)
    {
        var path = p + ".json_schema";
        if (t.Format is not TopicInputFormat.Jsonl)
        {
            if (!Skip(p + ".format")) Error($"{path} only applies to format jsonl", path, p);
            return;
        }
        try
        {
            using var document = JsonDocument.Parse(t.JsonSchema!);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                Error($"{path} must be a JSON object, got {document.RootElement.ValueKind.ToString().ToLowerInvariant()}", path, p);
        }
        catch (JsonException e)
        {
            var line = (e.LineNumber ?? 0) + 1;
            var column = (e.BytePositionInLine ?? 0) + 1;
            var reason = e.Message;
            var cut = reason.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut < 0) cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) reason = reason[..cut];
            reason = reason.TrimEnd('.', ' ');
            if (reason.Length > 0) reason = char.ToLowerInvariant(reason[0]) + reason[1..];
            Error(string.Create(CultureInfo.InvariantCulture, $"{path} is not valid JSON (line {line}, column {column} of the schema): {reason}"), path, p);
        }
    }

    /// <summary>Two inputs (the ingest socket, the control socket, FIFOs, topic sockets) on one path.</summary>
    private void Inputs()
    {
        var inputs = new List<(string Label, string Path, string Where)>();
        if (!Skip("ingest.socket") && _s.Ingest.Socket.Length > 0) inputs.Add(("ingest.socket", _s.Ingest.Socket, "ingest.socket"));
        if (!Skip("control_socket") && _s.ControlSocket.Length > 0)
            inputs.Add(map.IsSet("control_socket") || !map.IsSet("ingest.socket")
                ? ("control_socket", _s.ControlSocket, "control_socket")
                : ("control_socket (beside ingest.socket)", _s.ControlSocket, "ingest.socket"));
        for (var n = 0; n < _s.Topics.Count; n++)
        {
            var p = Indexed("topics", n) + ".fifo";
            if (_s.Topics[n].Fifo is { Length: > 0 } fifo && !Skip(p)) inputs.Add((p, fifo, p));
            var s = Indexed("topics", n) + ".socket";
            if (_s.Topics[n].Socket is { Length: > 0 } socket && !Skip(s)) inputs.Add((s, socket, s));
        }
        var seen = new Dictionary<string, (string Label, string Where)>(StringComparer.Ordinal);
        foreach (var (label, path, where) in inputs)
        {
            string full;
            try
            {
                full = System.IO.Path.GetFullPath(path);
            }
            catch (ArgumentException)
            {
                full = path;
            }
            if (seen.TryGetValue(full, out var first))
            {
                var at = map.Get(first.Where) is { } location ? $" ({location})" : "";
                Error($"{label} '{path}' is the same path as {first.Label}{at}; every input needs its own path", where);
            }
            else
            {
                seen[full] = (label, where);
            }
        }
    }

    private void Device()
    {
        var d = _s.Device;
        if (!Skip("device_id"))
        {
            if (d.DeviceId.Length == 0)
                Error("device_id must not be empty", "device_id");
            else if (!DeviceIdPattern.IsMatch(d.DeviceId))
                Error($"device_id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names directories and files), got '{d.DeviceId}'", "device_id");
        }
        NotEmpty("device_version", d.DeviceVersion);
        NotEmpty("operator", d.Operator);
        if (d.Vehicle is { Length: 0 }) Error("vehicle must not be empty (leave it out instead)", "vehicle");
        if (d.SoftwareVersion is { Length: 0 }) Error("software_version must not be empty (leave it out instead)", "software_version");
        if (d.SoftwareVersionFile is { Length: 0 }) Error("software_version_file must not be empty (leave it out instead)", "software_version_file");
        if (d.SoftwareVersion is not null && d.SoftwareVersionFile is not null)
        {
            var later = Later("software_version", "software_version_file");
            Error("software_version and software_version_file are both set; keep one", later);
        }
        foreach (var key in d.Extra.Keys)
        {
            if (DeviceSettings.StandardMetadataKeys.Contains(key))
                Error($"extra.{key}: '{key}' is a standard recorder.device key; {(ConfigMapper.DeviceKeys.Contains(key) ? $"set it with the top-level key '{key}'" : "choose another name")}", "extra." + key, "extra");
        }
    }

    private void Metadata()
    {
        var required = _s.Metadata.Required;
        if (Skip("metadata.required")) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var d = _s.Device;
        for (var n = 0; n < required.Count; n++)
        {
            var key = required[n];
            var p = Indexed("metadata.required", n);
            if (Skip(p)) continue;
            if (key.Length == 0)
            {
                Error($"{p} must not be empty", p);
                continue;
            }
            if (!seen.Add(key))
            {
                Error($"{p}: '{key}' is listed twice", p);
                continue;
            }
            var missing = key switch
            {
                "vehicle" => d.Vehicle is null,
                "software_version" => d.SoftwareVersion is null && d.SoftwareVersionFile is null,
                _ => false,
            };
            if (missing && !Skip(key))
            {
                var file = _s.DeviceFile is null ? "there is no device file to set it" : $"{_s.DeviceFile} does not set it";
                Error($"{p}: '{key}' is required but {file}", p);
            }
        }
    }

    private void NotEmpty(string path, string value)
    {
        if (value.Length == 0 && !Skip(path)) Error($"{path} must not be empty", path);
    }

    private bool Skip(params string[] paths)
    {
        foreach (var path in paths)
            if (map.Failed(path)) return true;
        return false;
    }

    /// <summary>Reports at the first of <paramref name="paths"/> that a file set; at <c>(defaults)</c> if none did.</summary>
    private void Error(string message, params string[] paths)
    {
        foreach (var path in paths)
        {
            if (map.Get(path) is { } location)
            {
                errors.Add(new ConfigError(location.File, location.Line, location.Column, message));
                return;
            }
        }
        errors.Add(new ConfigError(ConfigError.DefaultsFile, 0, 0, message));
    }

    /// <summary>Of two set paths, the one later in its file (for "both set" errors).</summary>
    private string Later(string a, string b)
    {
        var la = map.Get(a);
        var lb = map.Get(b);
        if (la is null) return b;
        if (lb is null) return a;
        return (lb.Value.Line, lb.Value.Column).CompareTo((la.Value.Line, la.Value.Column)) >= 0 ? b : a;
    }

    private string Where(string path) => map.Get(path)?.ToString() ?? ConfigError.DefaultsFile;

    /// <summary>The value as the file wrote it, or the formatted value for a default.</summary>
    private string GotSize(string path, long value) => map.Get(path)?.Text ?? Units.FormatSize(value);

    private string GotDuration(string path, TimeSpan value) => map.Get(path)?.Text ?? Units.FormatDuration(value);

    private static string Indexed(string path, int n) => string.Create(CultureInfo.InvariantCulture, $"{path}[{n}]");

    private static string Names<T>((string Name, T Value)[] names) => string.Join(", ", names.Select(n => n.Name));

    /// <summary><c>InsufficientClosingParentheses</c> → <c>insufficient closing parentheses</c>.</summary>
    private static string Words(string pascal)
    {
        var text = new System.Text.StringBuilder();
        foreach (var c in pascal)
        {
            if (char.IsUpper(c) && text.Length > 0) text.Append(' ');
            text.Append(char.ToLowerInvariant(c));
        }
        return text.ToString();
    }
}
