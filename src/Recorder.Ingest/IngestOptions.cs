namespace Recorder.Ingest;

/// <summary>What a FIFO carries.</summary>
public enum FifoFormat
{
    Mcap,
    Jsonl,
    H264,
    H265,
}

/// <summary>One FIFO declared for a topic.</summary>
public sealed record FifoInputOptions(string Path, string Topic, FifoFormat Format, string? JsonSchema = null);

/// <summary>The ingest stage's options, with every default in one place. The host maps configuration onto it.</summary>
public sealed class IngestOptions
{
    /// <summary>The Unix socket producers connect to; null to listen on none.</summary>
    public string? SocketPath { get; init; } = "run/ingest.sock";

    /// <summary>Largest record a producer may send (a whole chunk counts as one record).</summary>
    public long MaxRecordSize { get; init; } = 64L * 1024 * 1024;

    /// <summary>Largest uncompressed chunk a producer may declare.</summary>
    public long MaxUncompressedChunkSize { get; init; } = 256L * 1024 * 1024;

    /// <summary>Topic selection (ingest.include / ingest.exclude); everything by default.</summary>
    public Func<string, bool> SelectTopic { get; init; } = static _ => true;

    /// <summary>
    /// Changes whenever <see cref="SelectTopic"/>'s answers may have changed (a reload). Connected
    /// producers then select their channels again at their next read: a topic newly included starts
    /// recording, one newly excluded stops, without the producer reconnecting.
    /// </summary>
    public Func<int> SelectionVersion { get; init; } = static () => 0;

    /// <summary>Each topic's policy when the queue to the writer is full (topics[].drop); block by default.</summary>
    public Func<string, Recorder.Recording.DropPolicy> DropPolicyFor { get; init; } = static _ => Recorder.Recording.DropPolicy.Block;

    public IReadOnlyList<FifoInputOptions> Fifos { get; init; } = [];

    /// <summary>How long a FIFO poll waits before checking for shutdown.</summary>
    public TimeSpan FifoPollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Socket permission bits: owner and group only.</summary>
    public UnixFileMode SocketMode { get; init; } = UnixSockets.OwnerAndGroup;
}
