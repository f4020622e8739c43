using Recorder.Offload;
using Recorder.Recording;

namespace Recorder.Config;

/// <summary>
/// Everything the recorder is configured with: the fleet file's sections and the device file,
/// merged. <c>new RecorderSettings()</c> is the embedded defaults; every default lives in the
/// initialiser of its property. <see cref="ConfigLoader"/> starts from these and overrides only
/// what a file names.
/// </summary>
public sealed record RecorderSettings
{
    /// <summary>The default of <see cref="ControlSocket"/>: <c>./run/control.sock</c>, beside the default ingest socket.</summary>
    public const string DefaultControlSocket = "./run/control.sock";

    /// <summary><c>fleet</c>: the fleet name, written into <c>recorder.device</c>. <c>default</c> by default.</summary>
    public string Fleet { get; init; } = "default";

    /// <summary><c>recording:</c> where and how files are written: the recording stage's own options (the keys in <see cref="RecorderKeys.Recording"/>).</summary>
    public RecordingOptions Recording { get; init; } = new();

    /// <summary><c>storage:</c> disk limits.</summary>
    public StorageSettings Storage { get; init; } = new();

    /// <summary><c>ingest:</c> the ingest socket, queue and topic selection.</summary>
    public IngestSettings Ingest { get; init; } = new();

    /// <summary>
    /// <c>control_socket</c>: the Unix socket of <c>recorder status/split/mark/operator</c>. When a
    /// fleet file sets <c>ingest.socket</c> but not this, it is <c>control.sock</c> in the ingest
    /// socket's directory.
    /// </summary>
    public string ControlSocket { get; init; } = DefaultControlSocket;

    /// <summary><c>topics:</c> per-topic settings and FIFO inputs, in file order; topic names are unique.</summary>
    public IReadOnlyList<TopicSettings> Topics { get; init; } = [];

    /// <summary><c>metadata:</c> rules for the device metadata.</summary>
    public MetadataSettings Metadata { get; init; } = new();

    /// <summary>
    /// <c>offload:</c> uploads to the depot: the offload stage's own options (the keys in
    /// <see cref="RecorderKeys.Offload"/>); null (the default) when the files have no such section.
    /// </summary>
    public OffloadOptions? Offload { get; init; }

    /// <summary><c>metrics:</c> the Prometheus textfile; off by default.</summary>
    public MetricsSettings Metrics { get; init; } = new();

    /// <summary>The device file's settings.</summary>
    public DeviceSettings Device { get; init; } = new();

    /// <summary>The fleet file these settings were loaded from, or null for the embedded defaults.</summary>
    public string? FleetFile { get; init; }

    /// <summary>The device file these settings were loaded from, or null for the embedded defaults.</summary>
    public string? DeviceFile { get; init; }

    /// <summary>The settings of <paramref name="topic"/>, or null when the configuration does not mention it.</summary>
    public TopicSettings? FindTopic(string topic)
    {
        foreach (var t in Topics)
            if (string.Equals(t.Topic, topic, StringComparison.Ordinal)) return t;
        return null;
    }

    /// <summary>
    /// The Channel metadata the recorder writes for <paramref name="topic"/>: the topic's
    /// <see cref="TopicSettings.Tags"/> plus <c>frame_id</c> when set, sorted by key (ordinal).
    /// Empty for a topic the configuration does not mention.
    /// </summary>
    public IReadOnlyDictionary<string, string> ChannelMetadataFor(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var settings = FindTopic(topic);
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (settings is null) return metadata;
        foreach (var (key, value) in settings.Tags) metadata[key] = value;
        if (settings.FrameId is { } frameId) metadata["frame_id"] = frameId;
        return metadata;
    }
}
