namespace Recorder.Mcap;

/// <summary>Compression effort; mapped to zstd and lz4 levels the way the C++ reference writer does.</summary>
public enum McapCompressionLevel
{
    Fastest,
    Fast,
    Default,
    Slow,
    Slowest,
}

/// <summary>
/// Every writer option, with every default in this one place. Each switch exists because a
/// conformance variant or a reference writer needs it; the defaults produce a fully indexed file
/// with all CRCs, as a recorder should.
/// </summary>
public sealed class McapWriterOptions
{
    public const int DefaultChunkSize = 1024 * 1024;

    /// <summary>Header.profile: "", "ros1", "ros2" or your own.</summary>
    public string Profile { get; init; } = "";

    /// <summary>Header.library: free-form identification of the writer.</summary>
    public string Library { get; init; } = "recorder-mcap/" + typeof(McapWriterOptions).Assembly.GetName().Version?.ToString(3);

    /// <summary>Put messages (with the schemas and channels they use) into chunks.</summary>
    public bool UseChunks { get; init; } = true;

    /// <summary>Cut a chunk once its uncompressed records reach this many bytes (1 MiB, as in every MCAP library).</summary>
    public int ChunkSize { get; init; } = DefaultChunkSize;

    public McapCompression Compression { get; init; } = McapCompression.Zstd;

    public McapCompressionLevel CompressionLevel { get; init; } = McapCompressionLevel.Fastest;

    /// <summary>
    /// Compress even when it does not pay. Otherwise, as in the C++ writer, a chunk under
    /// <see cref="MinCompressibleSize"/> bytes or one that shrinks by less than 2 % is stored uncompressed.
    /// </summary>
    public bool ForceCompression { get; init; }

    public int MinCompressibleSize { get; init; } = 1024;

    public bool EnableChunkCrc { get; init; } = true;
    public bool EnableAttachmentCrc { get; init; } = true;
    public bool EnableDataCrc { get; init; } = true;
    public bool EnableSummaryCrc { get; init; } = true;

    /// <summary>Write one MessageIndex per channel after each chunk.</summary>
    public bool EnableMessageIndex { get; init; } = true;

    /// <summary>Master switch for the summary section; when false none of the groups below is written.</summary>
    public bool EnableSummary { get; init; } = true;
    public bool RepeatSchemas { get; init; } = true;
    public bool RepeatChannels { get; init; } = true;
    public bool EnableStatistics { get; init; } = true;
    public bool EnableChunkIndex { get; init; } = true;
    public bool EnableAttachmentIndex { get; init; } = true;
    public bool EnableMetadataIndex { get; init; } = true;
    public bool EnableSummaryOffsets { get; init; } = true;

    /// <summary>Bytes buffered before a write to the stream. Records larger than this go straight through.</summary>
    public int OutputBufferSize { get; init; } = 64 * 1024;

    internal void Validate()
    {
        if (UseChunks && ChunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(ChunkSize), "ChunkSize must be positive");
        if (OutputBufferSize < 256) throw new ArgumentOutOfRangeException(nameof(OutputBufferSize), "OutputBufferSize must be at least 256");
        ArgumentNullException.ThrowIfNull(Profile);
        ArgumentNullException.ThrowIfNull(Library);
    }
}
