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
    string? LastError);

/// <summary>One topic in the status: totals since start and the rate over the last status interval.</summary>
public sealed record TopicStatus(string Topic, ulong Messages, ulong Bytes, double RateHz, ulong Drops);
