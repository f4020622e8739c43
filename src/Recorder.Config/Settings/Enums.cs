namespace Recorder.Config;

/// <summary>How chunks are compressed (<c>recording.chunk.compression</c>).</summary>
public enum ChunkCompression
{
    /// <summary><c>none</c>: chunks are stored as they are.</summary>
    None,

    /// <summary><c>lz4</c>: LZ4 frame format; the fastest.</summary>
    Lz4,

    /// <summary><c>zstd</c>: Zstandard; smaller files at somewhat lower speed. The default.</summary>
    Zstd,
}

/// <summary>When the recorder forces written data to disk (<c>recording.fsync</c>).</summary>
public enum FsyncMode
{
    /// <summary><c>chunk</c>: after every chunk is written, so a power cut loses at most the open chunk. The default.</summary>
    Chunk,

    /// <summary><c>interval</c>: periodically, independent of chunks; the period is the daemon's choice.</summary>
    Interval,

    /// <summary><c>never</c>: leave it to the kernel.</summary>
    Never,
}

/// <summary>What the recorder does when the storage limits are reached (<c>storage.when_full</c>).</summary>
public enum WhenFull
{
    /// <summary><c>stop</c>: stop recording and report it. The default.</summary>
    Stop,

    /// <summary><c>delete_oldest</c>: delete the oldest closed recordings to make room.</summary>
    DeleteOldest,
}

/// <summary>Where a message's log_time comes from (<c>ingest.timestamps</c>, <c>topics[].timestamps</c>).</summary>
public enum TimestampMode
{
    /// <summary><c>receive</c>: the recorder's receive time; the producer's time goes to publish_time. The default.</summary>
    Receive,

    /// <summary><c>producer</c>: trust the producer's log_time, reordered within <see cref="IngestSettings.ReorderWindow"/>.</summary>
    Producer,
}

/// <summary>What happens to a topic's messages when the recorder's queue is full (<c>topics[].drop</c>).</summary>
public enum DropPolicy
{
    /// <summary><c>block</c>: stop reading the producer until there is room (backpressure). The default.</summary>
    Block,

    /// <summary><c>drop_oldest</c>: discard the oldest queued message of the topic.</summary>
    DropOldest,

    /// <summary><c>drop_newest</c>: discard the incoming message.</summary>
    DropNewest,
}

/// <summary>Where a video topic's frames are stored (<c>topics[].store</c>, with format h264 or h265).</summary>
public enum VideoStore
{
    /// <summary><c>container</c>: one foxglove.CompressedVideo message per frame in the MCAP. The default.</summary>
    Container,

    /// <summary><c>sidecar</c>: the elementary stream in its own file beside the MCAP, which holds a reference per frame.</summary>
    Sidecar,
}

/// <summary>What a topic's FIFO or socket carries (<c>topics[].format</c>).</summary>
public enum InputFormat
{
    /// <summary><c>mcap</c>: an MCAP stream, as on the ingest socket.</summary>
    Mcap,

    /// <summary><c>jsonl</c>: one JSON object per line, each becoming one <c>json</c> message.</summary>
    Jsonl,

    /// <summary><c>h264</c>: an H.264 Annex B byte stream.</summary>
    H264,

    /// <summary><c>h265</c>: an H.265 Annex B byte stream.</summary>
    H265,
}
