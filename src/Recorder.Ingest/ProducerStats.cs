namespace Recorder.Ingest;

/// <summary>Counters for one producer session, and for the ingest stage as a whole.</summary>
public sealed class ProducerStats
{
    private long _messages;
    private long _bytes;
    private long _skipped;

    public required string Source { get; init; }
    public DateTimeOffset ConnectedAt { get; init; } = DateTimeOffset.UtcNow;
    // Written by the session's one thread, read racily by status: plain increments, volatile reads.
    public ulong Messages => (ulong)Volatile.Read(ref _messages);
    public ulong Bytes => (ulong)Volatile.Read(ref _bytes);

    /// <summary>Messages not recorded on purpose: unselected topics, unparseable JSON lines.</summary>
    public ulong Skipped => (ulong)Volatile.Read(ref _skipped);

    /// <summary>Why the session was closed, when it was refused.</summary>
    public string? RefusedBecause { get; set; }

    public void Add(int bytes)
    {
        _messages++;
        _bytes += bytes;
    }

    public void Skip() => _skipped++;
}
