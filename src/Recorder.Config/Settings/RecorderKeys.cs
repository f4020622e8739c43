using Recorder.Offload;
using Recorder.Recording;
using FrameStore = Recorder.Video.FrameStore;
using InputFormat = Recorder.Ingest.TopicInputFormat;
using McapCompression = Recorder.Mcap.McapCompression;
using static Recorder.Config.OptionKeys;
using static Recorder.Config.ReloadClass;

namespace Recorder.Config;

/// <summary>
/// Every key of the configuration files, each declared once: its name, the property of the
/// options type it sets, how a reload treats it and what it means. The default is the options
/// type's own (the stage's <c>RecordingOptions</c>, <c>OffloadOptions</c>, or a settings record
/// here). Loading (<c>ConfigMapper</c>), <c>config check --effective</c>, the reload's list of
/// changed keys and which of them need a restart all read these tables.
/// <para>
/// A new key: give the options type a property with its default, add one line to its table
/// below, then range checks (if any) to <c>ConfigValidator</c> and the key to the example files.
/// </para>
/// </summary>
public static class RecorderKeys
{
    /// <summary><c>recording:</c> onto the recording stage's own options.</summary>
    public static OptionTable<RecordingOptions> Recording { get; } = new(() => new RecordingOptions(),
        String<RecordingOptions>("dir", o => o.Directory, (o, v) => o with { Directory = v }, Restart,
            "root of the recordings; files go to DIR/DEVICE_ID/YYYY-MM-DD/ (the writer's recovery and quota, and the offload scan, are bound to it)"),
        Size<RecordingOptions>("chunk.size", o => o.ChunkSize, (o, v) => o with { ChunkSize = v }, Live, "cut a chunk at this many uncompressed bytes, 1KiB..64MiB"),
        Duration<RecordingOptions>("chunk.max_age", o => o.ChunkMaxAge, (o, v) => o with { ChunkMaxAge = v }, Live, "or when its first message is this old, 10ms..1h"),
        Enum<RecordingOptions, McapCompression>("chunk.compression", o => o.Compression, (o, v) => o with { Compression = v }, YamlNames.Compressions, Live,
            "none | lz4 | zstd"),
        Size<RecordingOptions>("split.size", o => o.SplitSize, (o, v) => o with { SplitSize = v }, Live, "start a new file at this size, at least chunk.size"),
        Duration<RecordingOptions>("split.duration", o => o.SplitDuration, (o, v) => o with { SplitDuration = v }, Live, "or when the file spans this long, at least 1s"),
        Duration<RecordingOptions>("split.keyframe_wait", o => o.KeyframeWait, (o, v) => o with { KeyframeWait = v }, Live,
            "at a split, how long video topics may keep writing to the old file for their next keyframe, 0..1m"),
        Enum<RecordingOptions, FsyncPolicy>("fsync", o => o.Fsync, (o, v) => o with { Fsync = v }, YamlNames.FsyncModes, Live, "chunk | interval | never"));

    /// <summary><c>storage:</c> disk limits (the host hands them to the writer and the offload stage).</summary>
    public static OptionTable<StorageSettings> Storage { get; } = new(() => new StorageSettings(),
        Size<StorageSettings>("max_bytes", s => s.MaxBytes, (s, v) => s with { MaxBytes = v }, Live, "most the recordings may take, 0 = unlimited"),
        Size<StorageSettings>("min_free_bytes", s => s.MinFreeBytes, (s, v) => s with { MinFreeBytes = v }, Live, "free space to leave on the disk"),
        Enum<StorageSettings, WhenFull>("when_full", s => s.WhenFull, (s, v) => s with { WhenFull = v }, YamlNames.WhenFullModes, Live, "stop | delete_oldest"));

    /// <summary><c>ingest:</c> the ingest socket, its queue and topic selection.</summary>
    public static OptionTable<IngestSettings> Ingest { get; } = new(() => new IngestSettings(),
        String<IngestSettings>("socket", i => i.Socket, (i, v) => i with { Socket = v }, Restart, "the Unix socket producers connect to"),
        Size<IngestSettings>("queue", i => i.QueueBytes, (i, v) => i with { QueueBytes = v }, Restart, "bytes buffered between producers and the writer, at least 1MiB"),
        Enum<IngestSettings, TimestampMode>("timestamps", i => i.Timestamps, (i, v) => i with { Timestamps = v }, YamlNames.TimestampModes, Restart, "receive | producer"),
        Duration<IngestSettings>("reorder_window", i => i.ReorderWindow, (i, v) => i with { ReorderWindow = v }, Restart,
            "how long producer timestamps are held back to put them in order, at most 1m"),
        Size<IngestSettings>("max_attachment_bytes", i => i.MaxAttachmentBytes, (i, v) => i with { MaxAttachmentBytes = v }, Live,
            "the largest Attachment a producer may send, at most 64MiB"),
        StringList<IngestSettings>("include", i => i.Include, (i, v) => i with { Include = v }, Live, "regular expressions; a socket topic is recorded if one matches the whole name"),
        StringList<IngestSettings>("exclude", i => i.Exclude, (i, v) => i with { Exclude = v }, Live, "regular expressions; a socket topic is not recorded if one matches"));

    /// <summary>One entry of <c>topics:</c>.</summary>
    public static OptionTable<TopicSettings> Topic { get; } = new(() => new TopicSettings { Topic = "" },
        String<TopicSettings>("topic", t => t.Topic, (t, v) => t with { Topic = v }, Live, "the topic name, required and unique"),
        Bool<TopicSettings>("latched", t => t.Latched, (t, v) => t with { Latched = v }, Live, "repeat the topic's last message at the start of every new file"),
        Enum<TopicSettings, DropPolicy>("drop", t => t.Drop, (t, v) => t with { Drop = v }, YamlNames.DropPolicies, Live, "block | drop_oldest | drop_newest"),
        OptionalString<TopicSettings>("fifo", t => t.Fifo, (t, v) => t with { Fifo = v }, Live, "read the topic from this FIFO; needs format"),
        OptionalString<TopicSettings>("socket", t => t.Socket, (t, v) => t with { Socket = v }, Live, "or from a Unix socket of its own; needs format"),
        OptionalEnum<TopicSettings, InputFormat>("format", t => t.Format, (t, v) => t with { Format = v }, YamlNames.InputFormats, Live,
            "mcap | jsonl | h264 | h265, only with fifo or socket"),
        OptionalEnum<TopicSettings, FrameStore>("store", t => t.Store ?? FrameStore.Container, (t, v) => t with { Store = v }, YamlNames.VideoStores, Live,
            "for h264/h265: container | sidecar", applies: t => t.Format is InputFormat.H264 or InputFormat.H265),
        OptionalString<TopicSettings>("frame_id", t => t.FrameId, (t, v) => t with { FrameId = v }, Live, "the coordinate frame, in the channel metadata"),
        StringMap<TopicSettings>("tags", t => t.Tags, (t, v) => t with { Tags = v }, Live, "free-form key/values in the channel metadata"),
        OptionalString<TopicSettings>("json_schema", t => t.JsonSchema, (t, v) => t with { JsonSchema = v }, Live, "JSON Schema text for a jsonl input"),
        // The writer's reorder buffer is set up at start: which topics use producer time needs a restart.
        OptionalEnum<TopicSettings, TimestampMode>("timestamps", t => t.Timestamps, (t, v) => t with { Timestamps = v }, YamlNames.TimestampModes, Restart,
            "receive | producer, overrides ingest.timestamps"));

    /// <summary><c>metadata:</c> rules for the device metadata.</summary>
    public static OptionTable<MetadataSettings> Metadata { get; } = new(() => new MetadataSettings(),
        StringList<MetadataSettings>("required", m => m.Required, (m, v) => m with { Required = v }, Live, "recorder.device keys that must have a value"));

    /// <summary><c>offload:</c> onto the offload stage's own options.</summary>
    public static OptionTable<OffloadOptions> Offload { get; } = new(() => new OffloadOptions(),
        Bool<OffloadOptions>("enabled", o => o.Enabled, (o, v) => o with { Enabled = v }, Live, "false keeps the section but turns offload off"),
        Uri<OffloadOptions>("endpoint", o => o.Endpoint, (o, v) => o with { Endpoint = v }, Live, "the depot's tus URL; http:// only with insecure: true"),
        Enum<OffloadOptions, PresenceMode>("presence", o => o.Presence, (o, v) => o with { Presence = v }, YamlNames.Presences, Live, "probe | networkmanager | manual"),
        Duration<OffloadOptions>("probe_interval", o => o.ProbeInterval, (o, v) => o with { ProbeInterval = v }, Live, "how often the depot is probed"),
        Duration<OffloadOptions>("probe_timeout", o => o.ProbeTimeout, (o, v) => o with { ProbeTimeout = v }, Live, "how long one probe may take"),
        Int<OffloadOptions>("enter_after", o => o.EnterAfter, (o, v) => o with { EnterAfter = v }, Live, "successful probes in a row to enter range"),
        Int<OffloadOptions>("leave_after", o => o.LeaveAfter, (o, v) => o with { LeaveAfter = v }, Live, "failures in a row to leave range"),
        StringList<OffloadOptions>("ssids", o => o.Ssids, (o, v) => o with { Ssids = v }, Live, "the depot Wi-Fi networks, for presence networkmanager"),
        Int<OffloadOptions>("parallel", o => o.Parallel, (o, v) => o with { Parallel = v }, Live, "files uploaded at once, 1..16"),
        Size<OffloadOptions>("bandwidth", o => o.Bandwidth, (o, v) => o with { Bandwidth = v }, Live, "bytes per second over all uploads, 0 = unlimited"),
        Size<OffloadOptions>("chunk_size", o => o.ChunkSize, (o, v) => o with { ChunkSize = v }, Live, "the most one PATCH request carries"),
        Duration<OffloadOptions>("inactivity_timeout", o => o.InactivityTimeout, (o, v) => o with { InactivityTimeout = v }, Live,
            "cut a request that moves no byte this long"),
        Duration<OffloadOptions>("retry.min", o => o.RetryMin, (o, v) => o with { RetryMin = v }, Live, "the first retry delay; doubles per attempt, with jitter"),
        Duration<OffloadOptions>("retry.max", o => o.RetryMax, (o, v) => o with { RetryMax = v }, Live, "the cap of the retry delay"),
        Bool<OffloadOptions>("delete_after_upload", o => o.DeleteAfterUpload, (o, v) => o with { DeleteAfterUpload = v }, Live,
            "delete local files once the depot verified them"),
        Duration<OffloadOptions>("rescan_interval", o => o.RescanInterval, (o, v) => o with { RescanInterval = v }, Live, "how often the recordings directory is rescanned"),
        OptionalString<OffloadOptions>("state_dir", o => o.StateDirectory, (o, v) => o with { StateDirectory = v }, Live,
            "where the offload journal lives; default .offload under recording.dir"),
        OptionalString<OffloadOptions>("token_file", o => o.TokenFile, (o, v) => o with { TokenFile = v }, Live, "a file holding the bearer token"),
        OptionalString<OffloadOptions>("client_certificate", o => o.ClientCertificateFile, (o, v) => o with { ClientCertificateFile = v }, Live,
            "PEM device certificate for mTLS (with client_key)"),
        OptionalString<OffloadOptions>("client_key", o => o.ClientKeyFile, (o, v) => o with { ClientKeyFile = v }, Live, "PEM private key of the device certificate"),
        OptionalString<OffloadOptions>("ca", o => o.CaFile, (o, v) => o with { CaFile = v }, Live, "PEM CA the depot's certificate must chain to"),
        Bool<OffloadOptions>("insecure", o => o.Insecure, (o, v) => o with { Insecure = v }, Live, "allow an http:// endpoint (loopback tests only)"));

    /// <summary><c>metrics:</c> the Prometheus textfile.</summary>
    public static OptionTable<MetricsSettings> Metrics { get; } = new(() => new MetricsSettings(),
        OptionalString<MetricsSettings>("textfile", m => m.Textfile, (m, v) => m with { Textfile = v }, Live, "write the metrics to this *.prom file; off unless set"),
        Duration<MetricsSettings>("interval", m => m.Interval, (m, v) => m with { Interval = v }, Live, "how often the textfile is rewritten, 1s..1h"));

    /// <summary>The keys of the fleet file (and of a device file, after the device keys).</summary>
    public static OptionTable<RecorderSettings> Fleet { get; } = new(() => new RecorderSettings(),
        String<RecorderSettings>("fleet", s => s.Fleet, (s, v) => s with { Fleet = v }, Live, "the fleet's name, written into recorder.device"),
        Section<RecorderSettings, RecordingOptions>("recording", s => s.Recording, (s, v) => s with { Recording = v }, Recording, "where and how files are written"),
        Section<RecorderSettings, StorageSettings>("storage", s => s.Storage, (s, v) => s with { Storage = v }, Storage, "disk limits"),
        Section<RecorderSettings, IngestSettings>("ingest", s => s.Ingest, (s, v) => s with { Ingest = v }, Ingest, "the ingest socket, queue and topic selection"),
        String<RecorderSettings>("control_socket", s => s.ControlSocket, (s, v) => s with { ControlSocket = v }, Restart,
            "the socket of recorder status/split/mark/operator; default control.sock beside ingest.socket",
            defaultOrigin: map => !map.IsSet("control_socket") && map.IsSet("ingest.socket") ? "beside ingest.socket" : null),
        List<RecorderSettings, TopicSettings>("topics", s => s.Topics, (s, v) => s with { Topics = v }, Topic, t => t.Topic, "/name", "per-topic settings and inputs"),
        Section<RecorderSettings, MetadataSettings>("metadata", s => s.Metadata, (s, v) => s with { Metadata = v }, Metadata, "rules for the device metadata"),
        OptionalSection<RecorderSettings, OffloadOptions>("offload", s => s.Offload, (s, v) => s with { Offload = v }, Offload, "uploads to the depot; absent = no offload"),
        Section<RecorderSettings, MetricsSettings>("metrics", s => s.Metrics, (s, v) => s with { Metrics = v }, Metrics, "the Prometheus textfile"));

    /// <summary>The device file's own keys, at its top level.</summary>
    public static OptionTable<DeviceSettings> Device { get; } = new(() => new DeviceSettings(),
        String<DeviceSettings>("device_id", d => d.DeviceId, (d, v) => d with { DeviceId = v }, Restart, "names this device in file names and directories",
            defaultOrigin: _ => "the host name"),
        String<DeviceSettings>("device_version", d => d.DeviceVersion, (d, v) => d with { DeviceVersion = v }, Live, "the hardware revision"),
        OptionalString<DeviceSettings>("vehicle", d => d.Vehicle, (d, v) => d with { Vehicle = v }, Live, "the vehicle this device is mounted in"),
        OptionalString<DeviceSettings>("software_version", d => d.SoftwareVersion, (d, v) => d with { SoftwareVersion = v }, Live, "the vehicle stack's version"),
        OptionalString<DeviceSettings>("software_version_file", d => d.SoftwareVersionFile, (d, v) => d with { SoftwareVersionFile = v }, Live,
            "a file whose trimmed content is the vehicle stack's version"),
        String<DeviceSettings>("operator", d => d.Operator, (d, v) => d with { Operator = v }, Live, "who operates the vehicle"),
        StringMap<DeviceSettings>("extra", d => d.Extra, (d, v) => d with { Extra = v }, Live, "free-form key/values added to recorder.device"));

    /// <summary>Every key with its default and reload class: the fleet keys, then the device keys.</summary>
    public static IEnumerable<OptionKeyInfo> Describe() => Fleet.Describe().Concat(Device.Describe());

    /// <summary>
    /// The settings as flat key paths and values (<c>recording.chunk.size</c> → <c>1MiB</c>,
    /// <c>topics[/imu].drop</c> → <c>drop_oldest</c>), so that a reload can name every key it
    /// changed. Topics are keyed by name (a reordered list changes nothing). The values only need to compare.
    /// </summary>
    public static SortedDictionary<string, string> Flatten(RecorderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var keys = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Fleet.Flatten(settings, "", keys);
        Device.Flatten(settings.Device, "", keys);
        return keys;
    }

    /// <summary>
    /// <paramref name="next"/> with the values of the <see cref="ReloadClass.Restart"/> keys put
    /// back from <paramref name="old"/>, and the keys that differed (in table order). Per-topic
    /// keys are not included: what a changed topic means is the host's to judge.
    /// </summary>
    public static (RecorderSettings Settings, List<string> RestartOnly) KeepRestartOnly(RecorderSettings old, RecorderSettings next)
    {
        ArgumentNullException.ThrowIfNull(old);
        ArgumentNullException.ThrowIfNull(next);
        var changed = new List<string>();
        var kept = Fleet.KeepRestartOnly(old, next, "", changed);
        kept = kept with { Device = Device.KeepRestartOnly(old.Device, kept.Device, "", changed) };
        return (kept, changed);
    }
}
