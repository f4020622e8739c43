using System.Globalization;
using Recorder.Mcap;

namespace Recorder.Recording;

/// <summary>
/// What producers send besides messages (attachments, metadata), and how the times of their
/// messages are decided where the producer's own clock is involved: messages that arrived inside a
/// chunk under receive timestamps, and late messages under producer timestamps (proto/ingest.md).
/// </summary>
public sealed partial class RecordingWriter
{
    /// <summary>Metadata keys (and the attachment note's name) that say which producer sent a kept record.</summary>
    public const string ProducerKey = "recorder.producer";
    public const string ProducerLibraryKey = "recorder.producer_library";
    public const string ProducerAttachmentNote = "recorder.producer_attachment";

    // Producers already warned about a late (clamped) message: the first occurrence is logged, the rest counted.
    private readonly HashSet<string> _lateWarned = new(StringComparer.Ordinal);

    /// <summary>
    /// Receive time for a message that arrived inside a producer's chunk: the chunk's arrival minus
    /// how much earlier (by the producer's clock) the message was than the chunk's last message.
    /// Never after the arrival; with <paramref name="clampToWritten"/>, never before what the file
    /// already holds (so log_time stays non-decreasing). A producer time of 0 or past the chunk's
    /// end carries no usable offset: the arrival is used.
    /// </summary>
    private ulong InChunkReceiveTime(MessageBatch batch, ulong producerTime, bool clampToWritten)
    {
        var arrival = batch.ReceiveTime;
        if (producerTime == 0 || producerTime > batch.ChunkEndTime) return arrival;
        var earlier = batch.ChunkEndTime - producerTime;
        var time = earlier < arrival ? arrival - earlier : 0;
        if (clampToWritten && _writer is not null && batch.Epoch == _rotation.FileEpoch && time < _lastLogTime) time = _lastLogTime;
        return time;
    }

    /// <summary>A producer-time message older than what was written is clamped to the edge; the first per producer is logged with its skew.</summary>
    private void NoteLate(string? source, ushort channelId, ulong time)
    {
        if (source is null || Slot(channelId) is not { ProducerTime: true } slot) return;
        if (_lateWarned.Count >= 4096) _lateWarned.Clear(); // bounded; a producer may then be named again
        if (_lateWarned.Add(source)) RecordingLog.LateMessageClamped(_logger, source, slot.Channel.Topic, (_lastLogTime - time) / 1e6);
    }

    private void KeepProducerAttachment(ProducerAttachmentCommand command, ulong time, int epoch)
    {
        EnsureFileOpen(time, epoch);
        var a = command.Attachment;
        _writer!.WriteAttachment(a);
        // Attachments have no key/values: a metadata record beside it names the producer.
        _writer.WriteMetadata(new Metadata(ProducerAttachmentNote, new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = a.Name,
            ["media_type"] = a.MediaType,
            ["bytes"] = a.Data.Length.ToString(CultureInfo.InvariantCulture),
            ["log_time_ns"] = a.LogTime.ToString(CultureInfo.InvariantCulture),
            [ProducerKey] = command.Origin.Source,
            [ProducerLibraryKey] = command.Origin.Library,
        }));
    }

    private void KeepProducerMetadata(ProducerMetadataCommand command, ulong time, int epoch)
    {
        EnsureFileOpen(time, epoch);
        var values = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in command.Metadata.Values) values[key] = value;
        values[ProducerKey] = command.Origin.Source;
        values[ProducerLibraryKey] = command.Origin.Library;
        _writer!.WriteMetadata(new Metadata(command.Metadata.Name, values));
    }

    private void EnsureFileOpen(ulong time, int epoch)
    {
        if (_writer is null) OpenFile(Math.Max(time, _lastLogTime), epoch);
    }
}
