namespace Recorder.Recording;

/// <summary>A point-in-time view of the writer, for `recorder status`.</summary>
public sealed record RecorderStatus(
    string State,
    string? CurrentFile,
    int FileSequence,
    long FileBytes,
    ulong MessagesTotal,
    ulong FilesFinished,
    IReadOnlyList<TopicStatus> Topics,
    long QueueBytes,
    long QueueCapacityBytes,
    int QueueDepth,
    long QueueStalls,
    long DiskFreeBytes,
    string? LastError)
{
    /// <summary>Messages dropped by the queue (drop policies) or not written (full disk), all topics.</summary>
    public ulong DroppedTotal { get; init; }

    /// <summary>Messages that were in an open chunk when a write failed.</summary>
    public ulong LostInOpenChunks { get; init; }

    /// <summary>Video frames written (all video topics), and splits that went ahead without every video topic's keyframe.</summary>
    public ulong VideoFrames { get; init; }
    public ulong KeyframeWaitsExpired { get; init; }

    /// <summary>Chunk write latency since start (write and flush/fsync of each chunk).</summary>
    public WriteLatencySnapshot WriteLatency { get; init; } = WriteLatencySnapshot.Empty;
}

/// <summary>
/// One topic in the status: totals since start and the rate over the last status interval.
/// <c>Messages</c> counts what reached the file writer: what the files hold plus <see cref="Lost"/>.
/// <c>Drops</c> never reached it (queue drop policies, or a writer that could not write).
/// </summary>
public sealed record TopicStatus(string Topic, ulong Messages, ulong Bytes, double RateHz, ulong Drops)
{
    /// <summary>Messages of this topic that were in the open chunk when a write failed (ENOSPC, EIO): counted in Messages, not in any file.</summary>
    public ulong Lost { get; init; }

    /// <summary>Messages ingest refused on this topic (lines that are not JSON): not in any file, not silent.</summary>
    public ulong Refused { get; init; }
}
