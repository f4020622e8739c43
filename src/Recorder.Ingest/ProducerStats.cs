namespace Recorder.Ingest;

/// <summary>Counters for one producer session, and for the ingest stage as a whole.</summary>
public sealed class ProducerStats
{
    private long _messages;
    private long _bytes;
    private long _skipped;

    public required string Source { get; init; }
    public DateTimeOffset ConnectedAt { get; init; } = DateTimeOffset.UtcNow;
    public ulong Messages => (ulong)Interlocked.Read(ref _messages);
    public ulong Bytes => (ulong)Interlocked.Read(ref _bytes);

    /// <summary>Messages not recorded on purpose: unselected topics, unparseable JSON lines.</summary>
    public ulong Skipped => (ulong)Interlocked.Read(ref _skipped);

    /// <summary>Why the session was closed, when it was refused.</summary>
    public string? RefusedBecause { get; set; }

    public void Add(int bytes)
    {
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, bytes);
    }

    public void Skip() => Interlocked.Increment(ref _skipped);
}
