using System.Collections.ObjectModel;
using YamlDotNet.RepresentationModel;

namespace Recorder.Config.Loading;

/// <summary>
/// The one place where YAML keys map onto the settings types. Each reader starts from the
/// settings it is given (the defaults) and overrides only the keys the file names. Structural
/// problems (unknown keys, wrong types, bad units and names) are reported here; ranges, required
/// values and cross-checks are the validation pass's (<see cref="ConfigValidator"/>).
/// </summary>
internal static class ConfigMapper
{
    public static readonly string[] FleetKeys = ["fleet", "recording", "storage", "ingest", "control_socket", "topics", "metadata", "offload", "metrics"];
    public static readonly string[] DeviceKeys = ["device_id", "device_version", "vehicle", "software_version", "software_version_file", "operator", "extra"];
    private static readonly string[] RecordingKeys = ["dir", "chunk", "split", "fsync"];
    private static readonly string[] ChunkKeys = ["size", "max_age", "compression"];
    private static readonly string[] SplitKeys = ["size", "duration", "keyframe_wait"];
    private static readonly string[] StorageKeys = ["max_bytes", "min_free_bytes", "when_full"];
    private static readonly string[] IngestKeys = ["socket", "queue", "timestamps", "reorder_window", "max_attachment_bytes", "include", "exclude"];
    private static readonly string[] TopicKeys = ["topic", "latched", "drop", "fifo", "socket", "format", "store", "frame_id", "tags", "json_schema", "timestamps"];
    private static readonly string[] MetadataKeys = ["required"];
    private static readonly string[] OffloadKeys =
    [
        "enabled", "endpoint", "presence", "probe_interval", "probe_timeout", "enter_after", "leave_after", "ssids", "parallel", "bandwidth",
        "chunk_size", "inactivity_timeout", "retry", "delete_after_upload", "rescan_interval", "state_dir", "token_file", "client_certificate",
        "client_key", "ca", "insecure",
    ];
    private static readonly string[] RetryKeys = ["min", "max"];
    private static readonly string[] MetricsKeys = ["textfile", "interval"];

    /// <summary>Reads a fleet file's root onto <paramref name="settings"/>. Device keys are errors here.</summary>
    public static RecorderSettings ReadFleet(YamlReader r, YamlNode? root, RecorderSettings settings)
    {
        var s = settings;
        foreach (var (key, value, path) in r.Keys(root, "", FleetKeys, key => DeviceKeys.Contains(key) ? "it belongs in the device file" : null))
            s = ReadFleetKey(r, key, value, path, s);
        return PlaceControlSocket(r, s);
    }

    /// <summary>
    /// Reads a device file's root onto <paramref name="settings"/> (the fleet file already applied).
    /// Besides the device keys it may set any fleet key, with the same rules as the fleet file: a
    /// key it names overrides the fleet's value (a mapping key by key, a list as a whole), and
    /// errors in those keys name the device file. <c>device_id</c> is optional: without it the
    /// device is named after the host, which is reported as a warning.
    /// </summary>
    public static RecorderSettings ReadDevice(YamlReader r, YamlNode? root, RecorderSettings settings, List<ConfigError> warnings)
    {
        var s = settings;
        var d = settings.Device;
        var fleetKeysSet = false;
        foreach (var (key, value, path) in r.Keys(root, "", AllDeviceFileKeys))
        {
            if (FleetKeys.Contains(key))
            {
                s = ReadFleetKey(r, key, value, path, s);
                fleetKeysSet = true;
                continue;
            }
            switch (key)
            {
                case "device_id":
                    if (r.String(value, path, out var id)) d = d with { DeviceId = id };
                    break;
                case "device_version":
                    if (r.String(value, path, out var version)) d = d with { DeviceVersion = version };
                    break;
                case "vehicle":
                    if (r.OptionalString(value, path, out var vehicle)) d = d with { Vehicle = vehicle };
                    break;
                case "software_version":
                    if (r.OptionalString(value, path, out var software)) d = d with { SoftwareVersion = software };
                    break;
                case "software_version_file":
                    if (r.OptionalString(value, path, out var softwareFile)) d = d with { SoftwareVersionFile = softwareFile };
                    break;
                case "operator":
                    if (r.String(value, path, out var op)) d = d with { Operator = op };
                    break;
                case "extra":
                    if (r.StringMap(value, path, out var extra)) d = d with { Extra = new ReadOnlyDictionary<string, string>(extra) };
                    break;
            }
        }
        if (fleetKeysSet) s = PlaceControlSocket(r, s);
        if (!r.Map.IsSet("device_id") && (root is null || root is YamlMappingNode || YamlReader.IsNull(root)))
        {
            var line = root is null || YamlReader.IsNull(root) ? 1 : (int)root.Start.Line;
            var column = root is null || YamlReader.IsNull(root) ? 1 : (int)root.Start.Column;
            warnings.Add(new ConfigError(r.File, line, column, $"device_id is not set; this device records as its host name '{d.DeviceId}'"));
        }
        return s with { Device = d };
    }

    /// <summary>The keys a device file may contain: its own, then every fleet key.</summary>
    public static readonly string[] AllDeviceFileKeys = [.. DeviceKeys, .. FleetKeys];

    private static RecorderSettings ReadFleetKey(YamlReader r, string key, YamlNode value, string path, RecorderSettings s)
    {
        switch (key)
        {
            case "fleet":
                if (r.String(value, path, out var fleet)) s = s with { Fleet = fleet };
                break;
            case "recording":
                s = s with { Recording = ReadRecording(r, value, path, s.Recording) };
                break;
            case "storage":
                s = s with { Storage = ReadStorage(r, value, path, s.Storage) };
                break;
            case "ingest":
                s = s with { Ingest = ReadIngest(r, value, path, s.Ingest) };
                break;
            case "control_socket":
                if (r.String(value, path, out var control)) s = s with { ControlSocket = control };
                break;
            case "topics":
                s = s with { Topics = ReadTopics(r, value, path) };
                break;
            case "metadata":
                s = s with { Metadata = ReadMetadata(r, value, path, s.Metadata) };
                break;
            case "offload":
                s = s with { Offload = ReadOffload(r, value, path, s.Offload ?? new OffloadSettings()) };
                break;
            case "metrics":
                s = s with { Metrics = ReadMetrics(r, value, path, s.Metrics) };
                break;
        }
        return s;
    }

    /// <summary>The control socket sits beside the ingest socket unless a file places it.</summary>
    private static RecorderSettings PlaceControlSocket(YamlReader r, RecorderSettings s) =>
        !r.Map.IsSet("control_socket") && r.Map.IsSet("ingest.socket") && !r.Map.Failed("ingest.socket")
            ? s with { ControlSocket = Path.Combine(Path.GetDirectoryName(s.Ingest.Socket) ?? "", "control.sock") }
            : s;

    private static RecordingSettings ReadRecording(YamlReader r, YamlNode node, string path, RecordingSettings settings)
    {
        var s = settings;
        foreach (var (key, value, keyPath) in r.Keys(node, path, RecordingKeys))
        {
            switch (key)
            {
                case "dir":
                    if (r.String(value, keyPath, out var dir)) s = s with { Dir = dir };
                    break;
                case "chunk":
                    foreach (var (chunkKey, chunkValue, chunkPath) in r.Keys(value, keyPath, ChunkKeys))
                    {
                        switch (chunkKey)
                        {
                            case "size":
                                if (r.Size(chunkValue, chunkPath, out var size)) s = s with { ChunkSize = size };
                                break;
                            case "max_age":
                                if (r.Duration(chunkValue, chunkPath, out var age)) s = s with { ChunkMaxAge = age };
                                break;
                            case "compression":
                                if (r.Enum(chunkValue, chunkPath, YamlNames.Compressions, out var compression)) s = s with { Compression = compression };
                                break;
                        }
                    }
                    break;
                case "split":
                    foreach (var (splitKey, splitValue, splitPath) in r.Keys(value, keyPath, SplitKeys))
                    {
                        switch (splitKey)
                        {
                            case "size":
                                if (r.Size(splitValue, splitPath, out var size)) s = s with { SplitSize = size };
                                break;
                            case "duration":
                                if (r.Duration(splitValue, splitPath, out var duration)) s = s with { SplitDuration = duration };
                                break;
                            case "keyframe_wait":
                                if (r.Duration(splitValue, splitPath, out var wait)) s = s with { KeyframeWait = wait };
                                break;
                        }
                    }
                    break;
                case "fsync":
                    if (r.Enum(value, keyPath, YamlNames.FsyncModes, out var fsync)) s = s with { Fsync = fsync };
                    break;
            }
        }
        return s;
    }

    private static StorageSettings ReadStorage(YamlReader r, YamlNode node, string path, StorageSettings settings)
    {
        var s = settings;
        foreach (var (key, value, keyPath) in r.Keys(node, path, StorageKeys))
        {
            switch (key)
            {
                case "max_bytes":
                    if (r.Size(value, keyPath, out var max)) s = s with { MaxBytes = max };
                    break;
                case "min_free_bytes":
                    if (r.Size(value, keyPath, out var free)) s = s with { MinFreeBytes = free };
                    break;
                case "when_full":
                    if (r.Enum(value, keyPath, YamlNames.WhenFullModes, out var whenFull)) s = s with { WhenFull = whenFull };
                    break;
            }
        }
        return s;
    }

    private static IngestSettings ReadIngest(YamlReader r, YamlNode node, string path, IngestSettings settings)
    {
        var s = settings;
        foreach (var (key, value, keyPath) in r.Keys(node, path, IngestKeys))
        {
            switch (key)
            {
                case "socket":
                    if (r.String(value, keyPath, out var socket)) s = s with { Socket = socket };
                    break;
                case "queue":
                    if (r.Size(value, keyPath, out var queue)) s = s with { QueueBytes = queue };
                    break;
                case "timestamps":
                    if (r.Enum(value, keyPath, YamlNames.TimestampModes, out var timestamps)) s = s with { Timestamps = timestamps };
                    break;
                case "reorder_window":
                    if (r.Duration(value, keyPath, out var window)) s = s with { ReorderWindow = window };
                    break;
                case "max_attachment_bytes":
                    if (r.Size(value, keyPath, out var attachment)) s = s with { MaxAttachmentBytes = attachment };
                    break;
                case "include":
                    if (r.StringList(value, keyPath, out var include)) s = s with { Include = include.AsReadOnly() };
                    break;
                case "exclude":
                    if (r.StringList(value, keyPath, out var exclude)) s = s with { Exclude = exclude.AsReadOnly() };
                    break;
            }
        }
        return s;
    }

    private static ReadOnlyCollection<TopicSettings> ReadTopics(YamlReader r, YamlNode node, string path)
    {
        var topics = new List<TopicSettings>();
        if (!r.Items(node, path, out var items)) return topics.AsReadOnly();
        foreach (var (item, itemPath) in items)
        {
            if (item is not YamlMappingNode)
            {
                r.Fail(item, itemPath, item is YamlScalarNode scalar && !YamlReader.IsNull(item)
                    ? $"{itemPath}: expected a mapping like {{ topic: {scalar.Value} }}, got {YamlReader.Describe(item)}"
                    : $"{itemPath}: expected a mapping like {{ topic: /name }}, got {YamlReader.Describe(item)}");
                topics.Add(new TopicSettings { Topic = "" }); // a failed placeholder keeps indexes aligned with the file
                continue;
            }
            var t = new TopicSettings { Topic = "" };
            foreach (var (key, value, keyPath) in r.Keys(item, itemPath, TopicKeys))
            {
                switch (key)
                {
                    case "topic":
                        if (r.String(value, keyPath, out var topic)) t = t with { Topic = topic };
                        break;
                    case "latched":
                        if (r.Bool(value, keyPath, out var latched)) t = t with { Latched = latched };
                        break;
                    case "drop":
                        if (r.Enum(value, keyPath, YamlNames.DropPolicies, out var drop)) t = t with { Drop = drop };
                        break;
                    case "fifo":
                        if (r.OptionalString(value, keyPath, out var fifo)) t = t with { Fifo = fifo };
                        break;
                    case "socket":
                        if (r.OptionalString(value, keyPath, out var socket)) t = t with { Socket = socket };
                        break;
                    case "store":
                        if (r.Enum(value, keyPath, YamlNames.VideoStores, out var store)) t = t with { Store = store };
                        break;
                    case "format":
                        if (r.Enum(value, keyPath, YamlNames.InputFormats, out var format)) t = t with { Format = format };
                        break;
                    case "frame_id":
                        if (r.OptionalString(value, keyPath, out var frameId)) t = t with { FrameId = frameId };
                        break;
                    case "tags":
                        if (r.StringMap(value, keyPath, out var tags)) t = t with { Tags = new ReadOnlyDictionary<string, string>(tags) };
                        break;
                    case "json_schema":
                        if (r.OptionalString(value, keyPath, out var schema)) t = t with { JsonSchema = schema };
                        break;
                    case "timestamps":
                        if (r.Enum(value, keyPath, YamlNames.TimestampModes, out var timestamps)) t = t with { Timestamps = timestamps };
                        break;
                }
            }
            if (!r.Map.IsSet(itemPath + ".topic"))
            {
                r.Fail(item, itemPath + ".topic", $"{itemPath}: missing required key 'topic'");
            }
            topics.Add(t);
        }
        return topics.AsReadOnly();
    }

    private static MetadataSettings ReadMetadata(YamlReader r, YamlNode node, string path, MetadataSettings settings)
    {
        var s = settings;
        foreach (var (key, value, keyPath) in r.Keys(node, path, MetadataKeys))
        {
            if (key == "required" && r.StringList(value, keyPath, out var required)) s = s with { Required = required.AsReadOnly() };
        }
        return s;
    }

    private static MetricsSettings ReadMetrics(YamlReader r, YamlNode node, string path, MetricsSettings settings)
    {
        var s = settings;
        foreach (var (key, value, keyPath) in r.Keys(node, path, MetricsKeys))
        {
            switch (key)
            {
                case "textfile":
                    if (r.OptionalString(value, keyPath, out var textfile)) s = s with { Textfile = textfile };
                    break;
                case "interval":
                    if (r.Duration(value, keyPath, out var interval)) s = s with { Interval = interval };
                    break;
            }
        }
        return s;
    }

    private static OffloadSettings ReadOffload(YamlReader r, YamlNode node, string path, OffloadSettings settings)
    {
        var s = settings;
        foreach (var (key, value, keyPath) in r.Keys(node, path, OffloadKeys))
        {
            switch (key)
            {
                case "enabled":
                    if (r.Bool(value, keyPath, out var enabled)) s = s with { Enabled = enabled };
                    break;
                case "endpoint":
                    if (r.String(value, keyPath, out var endpoint)) s = s with { Endpoint = endpoint };
                    break;
                case "presence":
                    if (r.Enum(value, keyPath, YamlNames.Presences, out var presence)) s = s with { Presence = presence };
                    break;
                case "probe_interval":
                    if (r.Duration(value, keyPath, out var interval)) s = s with { ProbeInterval = interval };
                    break;
                case "probe_timeout":
                    if (r.Duration(value, keyPath, out var probeTimeout)) s = s with { ProbeTimeout = probeTimeout };
                    break;
                case "enter_after":
                    if (r.Int(value, keyPath, out var enter)) s = s with { EnterAfter = enter };
                    break;
                case "leave_after":
                    if (r.Int(value, keyPath, out var leave)) s = s with { LeaveAfter = leave };
                    break;
                case "ssids":
                    if (r.StringList(value, keyPath, out var ssids)) s = s with { Ssids = ssids.AsReadOnly() };
                    break;
                case "parallel":
                    if (r.Int(value, keyPath, out var parallel)) s = s with { Parallel = parallel };
                    break;
                case "bandwidth":
                    if (r.Size(value, keyPath, out var bandwidth)) s = s with { Bandwidth = bandwidth };
                    break;
                case "chunk_size":
                    if (r.Size(value, keyPath, out var chunk)) s = s with { ChunkSize = chunk };
                    break;
                case "inactivity_timeout":
                    if (r.Duration(value, keyPath, out var inactivity)) s = s with { InactivityTimeout = inactivity };
                    break;
                case "retry":
                    foreach (var (retryKey, retryValue, retryPath) in r.Keys(value, keyPath, RetryKeys))
                    {
                        if (!r.Duration(retryValue, retryPath, out var delay)) continue;
                        s = retryKey == "min" ? s with { RetryMin = delay } : s with { RetryMax = delay };
                    }
                    break;
                case "delete_after_upload":
                    if (r.Bool(value, keyPath, out var delete)) s = s with { DeleteAfterUpload = delete };
                    break;
                case "rescan_interval":
                    if (r.Duration(value, keyPath, out var rescan)) s = s with { RescanInterval = rescan };
                    break;
                case "state_dir":
                    if (r.OptionalString(value, keyPath, out var stateDir)) s = s with { StateDir = stateDir };
                    break;
                case "token_file":
                    if (r.OptionalString(value, keyPath, out var token)) s = s with { TokenFile = token };
                    break;
                case "client_certificate":
                    if (r.OptionalString(value, keyPath, out var cert)) s = s with { ClientCertificate = cert };
                    break;
                case "client_key":
                    if (r.OptionalString(value, keyPath, out var clientKey)) s = s with { ClientKey = clientKey };
                    break;
                case "ca":
                    if (r.OptionalString(value, keyPath, out var ca)) s = s with { Ca = ca };
                    break;
                case "insecure":
                    if (r.Bool(value, keyPath, out var insecure)) s = s with { Insecure = insecure };
                    break;
            }
        }
        return s;
    }

    /// <summary>Reads a device file's root onto <paramref name="settings"/>; <c>device_id</c> is required.</summary>
    public static DeviceSettings ReadDevice(YamlReader r, YamlNode? root, DeviceSettings settings)
    {
        var s = settings;
        foreach (var (key, value, path) in r.Keys(root, "", DeviceKeys, key => FleetKeys.Contains(key) ? "it belongs in the fleet file" : null))
        {
            switch (key)
            {
                case "device_id":
                    if (r.String(value, path, out var id)) s = s with { DeviceId = id };
                    break;
                case "device_version":
                    if (r.String(value, path, out var version)) s = s with { DeviceVersion = version };
                    break;
                case "vehicle":
                    if (r.OptionalString(value, path, out var vehicle)) s = s with { Vehicle = vehicle };
                    break;
                case "software_version":
                    if (r.OptionalString(value, path, out var software)) s = s with { SoftwareVersion = software };
                    break;
                case "software_version_file":
                    if (r.OptionalString(value, path, out var softwareFile)) s = s with { SoftwareVersionFile = softwareFile };
                    break;
                case "operator":
                    if (r.String(value, path, out var op)) s = s with { Operator = op };
                    break;
                case "extra":
                    if (r.StringMap(value, path, out var extra)) s = s with { Extra = new ReadOnlyDictionary<string, string>(extra) };
                    break;
            }
        }
        if (!r.Map.IsSet("device_id") && (root is null || root is YamlMappingNode || YamlReader.IsNull(root)))
        {
            var line = root is null || YamlReader.IsNull(root) ? 1 : (int)root.Start.Line;
            var column = root is null || YamlReader.IsNull(root) ? 1 : (int)root.Start.Column;
            r.Map.Fail("device_id");
            r.Error(line, column, "missing required key 'device_id'");
        }
        return s;
    }
}
