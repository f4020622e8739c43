namespace Recorder.Config;

/// <summary>
/// The names the configuration files use for enum values (<c>lz4</c>, <c>drop_oldest</c>), in
/// one place for the loader and for anything that prints settings back (<c>recorder config check</c>).
/// </summary>
public static class YamlNames
{
    internal static readonly (string Name, ChunkCompression Value)[] Compressions =
        [("none", ChunkCompression.None), ("lz4", ChunkCompression.Lz4), ("zstd", ChunkCompression.Zstd)];

    internal static readonly (string Name, FsyncMode Value)[] FsyncModes =
        [("chunk", FsyncMode.Chunk), ("interval", FsyncMode.Interval), ("never", FsyncMode.Never)];

    internal static readonly (string Name, WhenFull Value)[] WhenFullModes =
        [("stop", WhenFull.Stop), ("delete_oldest", WhenFull.DeleteOldest)];

    internal static readonly (string Name, TimestampMode Value)[] TimestampModes =
        [("receive", TimestampMode.Receive), ("producer", TimestampMode.Producer)];

    internal static readonly (string Name, DropPolicy Value)[] DropPolicies =
        [("block", DropPolicy.Block), ("drop_oldest", DropPolicy.DropOldest), ("drop_newest", DropPolicy.DropNewest)];

    internal static readonly (string Name, InputFormat Value)[] InputFormats =
        [("mcap", InputFormat.Mcap), ("jsonl", InputFormat.Jsonl), ("h264", InputFormat.H264), ("h265", InputFormat.H265)];

    internal static readonly (string Name, VideoStore Value)[] VideoStores =
        [("container", VideoStore.Container), ("sidecar", VideoStore.Sidecar)];

    /// <summary><c>container</c> or <c>sidecar</c>.</summary>
    public static string Of(VideoStore value) => Find(VideoStores, value);

    internal static readonly (string Name, OffloadPresence Value)[] Presences =
        [("probe", OffloadPresence.Probe), ("networkmanager", OffloadPresence.NetworkManager), ("manual", OffloadPresence.Manual)];

    /// <summary><c>probe</c>, <c>networkmanager</c> or <c>manual</c>.</summary>
    public static string Of(OffloadPresence value) => Find(Presences, value);

    /// <summary><c>none</c>, <c>lz4</c> or <c>zstd</c>.</summary>
    public static string Of(ChunkCompression value) => Find(Compressions, value);

    /// <summary><c>chunk</c>, <c>interval</c> or <c>never</c>.</summary>
    public static string Of(FsyncMode value) => Find(FsyncModes, value);

    /// <summary><c>stop</c> or <c>delete_oldest</c>.</summary>
    public static string Of(WhenFull value) => Find(WhenFullModes, value);

    /// <summary><c>receive</c> or <c>producer</c>.</summary>
    public static string Of(TimestampMode value) => Find(TimestampModes, value);

    /// <summary><c>block</c>, <c>drop_oldest</c> or <c>drop_newest</c>.</summary>
    public static string Of(DropPolicy value) => Find(DropPolicies, value);

    /// <summary><c>mcap</c>, <c>jsonl</c>, <c>h264</c> or <c>h265</c>.</summary>
    public static string Of(InputFormat value) => Find(InputFormats, value);

    internal static string Find<T>((string Name, T Value)[] names, T value) where T : struct, Enum
    {
        foreach (var (name, v) in names)
            if (EqualityComparer<T>.Default.Equals(v, value)) return name;
        throw new ArgumentOutOfRangeException(nameof(value), value, "not a defined value");
    }
}
