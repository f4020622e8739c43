namespace Recorder.Config;

/// <summary>Where and how MCAP files are written (<c>recording:</c> in the fleet file).</summary>
public sealed record RecordingSettings
{
    /// <summary>The default of <see cref="Dir"/>: <c>./recordings</c>, relative to the working directory.</summary>
    public const string DefaultDir = "./recordings";

    /// <summary>
    /// <c>recording.dir</c>: the root of the recordings. Files go to
    /// <c>DIR/DEVICE_ID/YYYY-MM-DD/</c>. A relative path is relative to the daemon's working directory.
    /// </summary>
    public string Dir { get; init; } = DefaultDir;

    /// <summary><c>recording.chunk.size</c>: cut a chunk once it holds this many uncompressed bytes. 1 MiB; 1 KiB to 64 MiB.</summary>
    public long ChunkSize { get; init; } = 1L << 20;

    /// <summary><c>recording.chunk.max_age</c>: cut a chunk once its first message is this old. 1 s; 10 ms to 1 h.</summary>
    public TimeSpan ChunkMaxAge { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>recording.chunk.compression</c>: <c>none</c>, <c>lz4</c> or <c>zstd</c> (the default).</summary>
    public ChunkCompression Compression { get; init; } = ChunkCompression.Zstd;

    /// <summary><c>recording.split.size</c>: start a new file once the current one reaches this size. 2 GiB; at least the chunk size.</summary>
    public long SplitSize { get; init; } = 2L << 30;

    /// <summary><c>recording.split.duration</c>: start a new file once the current one spans this long. 10 min; at least 1 s.</summary>
    public TimeSpan SplitDuration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// <c>recording.split.keyframe_wait</c>: at a split, how long video topics may keep writing to
    /// the old file while waiting for their next keyframe, so every file starts each video topic
    /// with a keyframe. 2 s; 0..1m. Past it the split proceeds and the gap is reported.
    /// </summary>
    public TimeSpan KeyframeWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary><c>recording.fsync</c>: <c>chunk</c> (the default), <c>interval</c> or <c>never</c>.</summary>
    public FsyncMode Fsync { get; init; } = FsyncMode.Chunk;
}
