namespace Recorder.Config;

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
