namespace Recorder.Ingest;

/// <summary>What a topic's FIFO or socket carries.</summary>
public enum TopicInputFormat
{
    Mcap,
    Jsonl,
    H264,
    H265,
}

/// <summary>How a topic input is reached.</summary>
public enum TopicInputTransport
{
    /// <summary>A named pipe: one writer at a time, reopened for the next.</summary>
    Fifo,
    /// <summary>A Unix stream socket of its own: one connection at a time (e.g. <c>ffmpeg -f h264 unix:PATH</c>).</summary>
    Socket,
}

/// <summary>One input declared for a topic (<c>topics[].fifo</c> or <c>topics[].socket</c>).</summary>
/// <param name="Store">For h264/h265: where the frames are stored.</param>
public sealed record TopicInputOptions(string Path, string Topic, TopicInputFormat Format, string? JsonSchema = null,
    TopicInputTransport Transport = TopicInputTransport.Fifo, Recorder.Video.FrameStore Store = Recorder.Video.FrameStore.Container)
{
    public bool IsVideo => Format is TopicInputFormat.H264 or TopicInputFormat.H265;
}

/// <summary>The ingest stage's options, with every default in one place. The host maps configuration onto it.</summary>
public sealed class IngestOptions
{
    /// <summary>The Unix socket producers connect to; null to listen on none.</summary>
    public string? SocketPath { get; init; } = "run/ingest.sock";

    /// <summary>Largest record a producer may send (a whole chunk counts as one record).</summary>
    public long MaxRecordSize { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Largest Attachment a producer may send (ingest.max_attachment_bytes); a larger one is refused
    /// and counted, the session goes on. Read at each attachment, so a reload applies at once.
    /// </summary>
    public Func<long> MaxAttachmentBytes { get; init; } = static () => 16L * 1024 * 1024;

    /// <summary>Where the sessions count what they kept or refused besides messages. Shared by every session of the stage.</summary>
    public IngestCounters Counters { get; init; } = new();

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

    /// <summary>The FIFO and per-topic socket inputs (topics[].fifo, topics[].socket).</summary>
    public IReadOnlyList<TopicInputOptions> TopicInputs { get; init; } = [];

    /// <summary>How long a FIFO poll waits before checking for shutdown.</summary>
    public TimeSpan FifoPollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Socket permission bits: owner and group only.</summary>
    public UnixFileMode SocketMode { get; init; } = UnixSockets.OwnerAndGroup;
}
