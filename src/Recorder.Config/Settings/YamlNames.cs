using Recorder.Ingest;
using Recorder.Mcap;
using Recorder.Offload;
using Recorder.Recording;
using Recorder.Video;

namespace Recorder.Config;

/// <summary>
/// The names the configuration files use for enum values (<c>lz4</c>, <c>drop_oldest</c>), in
/// one place for the key tables and for anything that prints settings back (<c>recorder config check</c>).
/// The enums are the stages' own.
/// </summary>
public static class YamlNames
{
    internal static readonly (string Name, McapCompression Value)[] Compressions =
        [("none", McapCompression.None), ("lz4", McapCompression.Lz4), ("zstd", McapCompression.Zstd)];

    internal static readonly (string Name, FsyncPolicy Value)[] FsyncModes =
        [("chunk", FsyncPolicy.Chunk), ("interval", FsyncPolicy.Interval), ("never", FsyncPolicy.Never)];

    internal static readonly (string Name, WhenFull Value)[] WhenFullModes =
        [("stop", WhenFull.Stop), ("delete_oldest", WhenFull.DeleteOldest)];

    internal static readonly (string Name, TimestampMode Value)[] TimestampModes =
        [("receive", TimestampMode.Receive), ("producer", TimestampMode.Producer)];

    internal static readonly (string Name, DropPolicy Value)[] DropPolicies =
        [("block", DropPolicy.Block), ("drop_oldest", DropPolicy.DropOldest), ("drop_newest", DropPolicy.DropNewest)];

    internal static readonly (string Name, TopicInputFormat Value)[] InputFormats =
        [("mcap", TopicInputFormat.Mcap), ("jsonl", TopicInputFormat.Jsonl), ("h264", TopicInputFormat.H264), ("h265", TopicInputFormat.H265)];

    internal static readonly (string Name, FrameStore Value)[] VideoStores =
        [("container", FrameStore.Container), ("sidecar", FrameStore.Sidecar)];

    internal static readonly (string Name, PresenceMode Value)[] Presences =
        [("probe", PresenceMode.Probe), ("networkmanager", PresenceMode.NetworkManager), ("manual", PresenceMode.Manual)];

    /// <summary><c>container</c> or <c>sidecar</c>.</summary>
    public static string Of(FrameStore value) => Find(VideoStores, value);

    /// <summary><c>probe</c>, <c>networkmanager</c> or <c>manual</c>.</summary>
    public static string Of(PresenceMode value) => Find(Presences, value);

    /// <summary><c>none</c>, <c>lz4</c> or <c>zstd</c>.</summary>
    public static string Of(McapCompression value) => Find(Compressions, value);

    /// <summary><c>chunk</c>, <c>interval</c> or <c>never</c>.</summary>
    public static string Of(FsyncPolicy value) => Find(FsyncModes, value);

    /// <summary><c>stop</c> or <c>delete_oldest</c>.</summary>
    public static string Of(WhenFull value) => Find(WhenFullModes, value);

    /// <summary><c>receive</c> or <c>producer</c>.</summary>
    public static string Of(TimestampMode value) => Find(TimestampModes, value);

    /// <summary><c>block</c>, <c>drop_oldest</c> or <c>drop_newest</c>.</summary>
    public static string Of(DropPolicy value) => Find(DropPolicies, value);

    /// <summary><c>mcap</c>, <c>jsonl</c>, <c>h264</c> or <c>h265</c>.</summary>
    public static string Of(TopicInputFormat value) => Find(InputFormats, value);

    internal static string Find<T>((string Name, T Value)[] names, T value) where T : struct, Enum
    {
        foreach (var (name, v) in names)
            if (EqualityComparer<T>.Default.Equals(v, value)) return name;
        throw new ArgumentOutOfRangeException(nameof(value), value, "not a defined value");
    }
}
