using Recorder.Mcap;

namespace Recorder.Recording;

/// <summary>When the writer fsyncs.</summary>
public enum FsyncPolicy
{
    /// <summary>After every chunk: a power cut loses at most the open chunk.</summary>
    Chunk,
    /// <summary>At most once per <see cref="RecordingOptions.FsyncInterval"/>.</summary>
    Interval,
    /// <summary>Leave it to the kernel.</summary>
    Never,
}

/// <summary>
/// The recording stage's options, with every default in one place, and the settings type of the
/// <c>recording:</c> section: the YAML maps onto it in one place (Recorder.Config's
/// <c>RecorderKeys.Recording</c>, which names each property's key). The host adds what other
/// sections decide (latched topics, producer time, storage limits).
/// </summary>
public sealed record RecordingOptions
{
    /// <summary><c>recording.dir</c>: root directory; files go to &lt;Directory&gt;/&lt;device_id&gt;/&lt;YYYY-MM-DD&gt;/. Relative to the working directory.</summary>
    public string Directory { get; init; } = "./recordings";

    /// <summary><c>recording.chunk.size</c>: cut a chunk once it holds this many uncompressed bytes; 1 KiB to 64 MiB.</summary>
    public int ChunkSize { get; init; } = 1024 * 1024;

    /// <summary><c>recording.chunk.max_age</c>: cut a chunk once its first message is this old; 10 ms to 1 h.</summary>
    public TimeSpan ChunkMaxAge { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>recording.chunk.compression</c>: how chunks are compressed.</summary>
    public McapCompression Compression { get; init; } = McapCompression.Zstd;

    /// <summary><c>recording.split.size</c>: start a new file once the current one reaches this size; at least the chunk size.</summary>
    public long SplitSize { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary><c>recording.split.duration</c>: start a new file once the current one spans this long; at least 1 s.</summary>
    public TimeSpan SplitDuration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary><c>recording.fsync</c>: when written data is forced to disk.</summary>
    public FsyncPolicy Fsync { get; init; } = FsyncPolicy.Chunk;

    /// <summary>The period of <see cref="FsyncPolicy.Interval"/> (the daemon's choice, not a key).</summary>
    public TimeSpan FsyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Topics whose last message is repeated at the start of every file (e.g. /tf_static).</summary>
    public IReadOnlySet<string> LatchedTopics { get; init; } = System.Collections.Frozen.FrozenSet<string>.Empty; // shared, so two defaults compare equal

    /// <summary>
    /// Topics whose producers' own log_time is trusted (`timestamps: producer`). Their messages, and
    /// with them everything else, pass through a reorder buffer of <see cref="ReorderWindow"/> so the
    /// file stays in log-time order; a message older than the window is written at the window's edge
    /// (its publish_time keeps the original) and counted as late.
    /// </summary>
    public Func<string, bool> UsesProducerTime { get; init; } = static _ => false;

    /// <summary>How long messages wait for stragglers when any topic uses producer time. Zero disables reordering.</summary>
    public TimeSpan ReorderWindow { get; init; }

    /// <summary>
    /// The most the reorder window may hold (a fast 4K camera fills 300 ms with hundreds of MiB). Past
    /// it the oldest messages are written early; a straggler older than them is then written late
    /// (at the edge, counted), never lost.
    /// </summary>
    public long ReorderMaxBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>The most a split waiting for keyframes holds for the next file; past it the split proceeds (reported like an expired wait).</summary>
    public long SplitHoldMaxBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// <c>recording.split.keyframe_wait</c>: at a split, how long video topics keep writing to the old file while waiting for their next
    /// keyframe, so each file starts every video topic with a keyframe. Past it the split proceeds
    /// and the gap is reported. Zero splits at once.
    /// </summary>
    public TimeSpan KeyframeWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a `/recorder/diagnostics` message is written; zero disables it.</summary>
    public TimeSpan DiagnosticsInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>storage.max_bytes</c>: most bytes the recordings may occupy (0: no limit).</summary>
    public long MaxBytes { get; init; }

    /// <summary><c>storage.min_free_bytes</c>: free space to leave on the recording volume.</summary>
    public long MinFreeBytes { get; init; }

    /// <summary><c>storage.when_full</c>: at a storage limit, after deleting offloaded files: stop recording (counting drops) or delete the oldest files.</summary>
    public bool DeleteOldestWhenFull { get; init; }

    /// <summary>Free bytes on the volume holding a path; injectable so tests can fake a full disk.</summary>
    public Func<string, long> FreeBytes { get; init; } = static path => new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;

    /// <summary>Opens a new recording file; injectable so tests can slow or fail the disk.</summary>
    public Func<string, Stream> OpenFile { get; init; } = static path =>
        new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);

    /// <summary>A write that takes longer than this makes the writer report itself stalled.</summary>
    public TimeSpan StallThreshold { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Channel metadata from configuration (tags, frame_id) per topic, applied over what the
    /// producer declared when a channel enters a file. A reload that changes it therefore shows in
    /// the next file (and for channels that first appear after the reload), never mid-channel.
    /// </summary>
    public Func<string, IReadOnlyDictionary<string, string>> ChannelMetadata { get; init; } = static _ => NoMetadata;

    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();
}

/// <summary>Who and what is recording: the values of the `recorder.device` metadata record.</summary>
public sealed class DeviceIdentity
{
    public DeviceIdentity(string deviceId, IReadOnlyDictionary<string, string> values)
    {
        DeviceId = deviceId;
        Values = values;
    }

    public string DeviceId { get; }

    /// <summary>device_id, device_version, software_version, recorder_version, fleet, vehicle, operator, hostname, boot_id, session_id, and free-form keys.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }
}
