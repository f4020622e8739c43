namespace Recorder.Ingest;

/// <summary>
/// What the ingest stage kept or refused of producers' non-message records, over all sessions and
/// inputs since start (for `recorder status`). Thread-safe: sessions count concurrently.
/// </summary>
public sealed class IngestCounters
{
    private long _reservedChannels;
    private long _reservedMessages;
    private long _attachmentsKept;
    private long _attachmentsRefused;
    private long _metadataKept;
    private long _metadataRefused;

    /// <summary>Channels a producer declared in the recorder's own namespace (<c>/recorder/</c>), refused.</summary>
    public long ReservedChannelsRefused => Interlocked.Read(ref _reservedChannels);

    /// <summary>Messages on those channels, not recorded.</summary>
    public long ReservedMessagesRefused => Interlocked.Read(ref _reservedMessages);

    public long AttachmentsKept => Interlocked.Read(ref _attachmentsKept);

    /// <summary>Attachments larger than ingest.max_attachment_bytes, or named in the recorder's namespace.</summary>
    public long AttachmentsRefused => Interlocked.Read(ref _attachmentsRefused);

    public long MetadataKept => Interlocked.Read(ref _metadataKept);

    /// <summary>Metadata records named in the recorder's own namespace (<c>recorder.</c>), refused.</summary>
    public long MetadataRefused => Interlocked.Read(ref _metadataRefused);

    internal void ReservedChannel() => Interlocked.Increment(ref _reservedChannels);
    internal void ReservedMessage() => Interlocked.Increment(ref _reservedMessages);
    internal void AttachmentKept() => Interlocked.Increment(ref _attachmentsKept);
    internal void AttachmentRefused() => Interlocked.Increment(ref _attachmentsRefused);
    internal void MetadataRecordKept() => Interlocked.Increment(ref _metadataKept);
    internal void MetadataRecordRefused() => Interlocked.Increment(ref _metadataRefused);
}
