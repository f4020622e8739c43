namespace Recorder.Recording;

/// <summary>
/// The recording stage as the ingest stage sees it: the whole contract between the two. Producers'
/// schemas and channels get the recording's ids here, a session's messages go through the
/// <see cref="ProducerBatches"/> it opens here, and its events and kept records are queued here.
/// <para>Every member is called once per session, per channel definition or per read, never per
/// message: the per-message call is <see cref="ProducerBatches.Add"/>, on a sealed class, so the hot
/// path has no interface dispatch. The queue's and the registry's other members (draining, drop
/// counts, lookups) belong to the writer and to status, not to ingest.</para>
/// </summary>
public interface IRecordingIntake
{
    /// <summary>The recording's id for this schema (identical definitions share one). False when all 65535 ids are used.</summary>
    bool TryGetOrAddSchema(string name, string encoding, ReadOnlySpan<byte> data, out ushort id);

    /// <summary>The recording's id for this channel (topic, encoding, schema, metadata; identical ones share one). False when no id is left.</summary>
    bool TryGetOrAddChannel(string topic, string messageEncoding, ushort schemaId, IReadOnlyDictionary<string, string> metadata, out ushort id);

    /// <summary>Declares that a channel carries raw Annex B access units (before its first message is queued).</summary>
    void MarkRawVideo(ushort channelId, RawVideoInput input);

    /// <summary>A session's batches: messages are added one by one and queued per read. <paramref name="source"/> names the producer in logs and counts.</summary>
    ProducerBatches OpenProducer(string source);

    /// <summary>Queues an event or a record kept on a producer's behalf, in its place among the messages, without waiting for space.</summary>
    void EnqueueCommand(RecorderCommand command);

    /// <summary>Counts a message ingest refused on a channel (a line that is not JSON): reported per topic beside the drops.</summary>
    void CountRefused(ushort channelId);

    /// <summary>The receive clock now, in ns since the Unix epoch, in the order of the queue's stamps.</summary>
    ulong Now();
}

/// <summary>The recording stage's side of <see cref="IRecordingIntake"/>: its queue and its channel registry.</summary>
public sealed class RecordingIntake(BatchQueue queue, ChannelRegistry registry) : IRecordingIntake
{
    public bool TryGetOrAddSchema(string name, string encoding, ReadOnlySpan<byte> data, out ushort id) =>
        registry.TryGetOrAddSchema(name, encoding, data, out id);

    public bool TryGetOrAddChannel(string topic, string messageEncoding, ushort schemaId, IReadOnlyDictionary<string, string> metadata, out ushort id) =>
        registry.TryGetOrAddChannel(topic, messageEncoding, schemaId, metadata, out id);

    public void MarkRawVideo(ushort channelId, RawVideoInput input) => registry.MarkRawVideo(channelId, input);

    public ProducerBatches OpenProducer(string source) => new(queue, source);

    public void EnqueueCommand(RecorderCommand command) => queue.EnqueueCommand(command);

    public void CountRefused(ushort channelId) => queue.CountRefused(channelId);

    public ulong Now() => queue.Now();
}
