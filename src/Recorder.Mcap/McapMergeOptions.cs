namespace Recorder.Mcap;

/// <summary>What <see cref="McapMerger"/> takes from its sources. Every default is here.</summary>
public sealed class McapMergeOptions
{
    /// <summary>First log time kept (inclusive), nanoseconds. 0 by default: from the beginning.</summary>
    public ulong StartTime { get; init; }

    /// <summary>Last log time kept (inclusive), nanoseconds. The end of time by default.</summary>
    public ulong EndTime { get; init; } = ulong.MaxValue;

    /// <summary>Topics kept; null (the default) keeps every topic.</summary>
    public IReadOnlyCollection<string>? Topics { get; init; }

    /// <summary>
    /// Which source metadata records the output carries (they are written before the messages, in
    /// source order, identical records once). Null (the default) carries all of them.
    /// </summary>
    public Func<Metadata, bool>? CarryMetadata { get; init; }

    /// <summary>Copy the sources' attachments whose log time lies in the window. On by default.</summary>
    public bool CarryAttachments { get; init; } = true;

    /// <summary>
    /// Copy a source chunk as it is (still compressed) when it lies wholly inside the window and the
    /// topics, its ids already match the output's, its messages are in log-time order, and nothing
    /// from another source interleaves with it. On by default; off forces every message through a
    /// rewrite (the output is the same message for message, only chunked differently).
    /// </summary>
    public bool CopyWholeChunks { get; init; } = true;

    /// <summary>Records the output starts with, after the sources' metadata (an export's own description).</summary>
    public IReadOnlyList<Metadata> ExtraMetadata { get; init; } = [];

    /// <summary>How the merged output is written (chunk size, compression, library name). Profile: the sources' when they all agree.</summary>
    public McapWriterOptions Writer { get; init; } = new();

    /// <summary>Checks applied while reading the sources.</summary>
    public McapReaderOptions Reader { get; init; } = new();

    internal void Validate()
    {
        if (StartTime > EndTime) throw new ArgumentOutOfRangeException(nameof(StartTime), $"the window starts ({StartTime}) after it ends ({EndTime})");
        ArgumentNullException.ThrowIfNull(Writer);
        ArgumentNullException.ThrowIfNull(Reader);
        ArgumentNullException.ThrowIfNull(ExtraMetadata);
        if (!Writer.UseChunks) throw new ArgumentException("the merged output is chunked and indexed: Writer.UseChunks must be true", nameof(Writer));
    }
}

/// <summary>What a merge wrote.</summary>
public sealed record McapMergeResult
{
    /// <summary>Sources that had anything in the window (messages, carried attachments).</summary>
    public int SourcesUsed { get; init; }
    public ulong Messages { get; init; }
    public int Schemas { get; init; }
    public int Channels { get; init; }
    public int Metadata { get; init; }
    public int Attachments { get; init; }
    /// <summary>Output chunks in all, and how many of them are source chunks copied as they were.</summary>
    public uint Chunks { get; init; }
    public int ChunksCopied { get; init; }
    /// <summary>Source chunks decompressed to take some of their messages.</summary>
    public int ChunksRewritten { get; init; }
    /// <summary>Output bytes.</summary>
    public long Bytes { get; init; }
    /// <summary>Most uncompressed chunk bytes held at once: what bounds the merge's memory.</summary>
    public long PeakBufferedBytes { get; init; }
}
