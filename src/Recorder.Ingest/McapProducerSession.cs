using System.Globalization;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>
/// One producer speaking MCAP: magic, Header, then Schema, Channel and Message records (chunked or
/// not), optionally DataEnd and Footer. Its schema and channel ids are its own; they are mapped
/// onto the recording's ids through the <see cref="IRecordingIntake"/>, where identical definitions
/// from any producer share an id. Messages are copied into batches for the writer's queue.
/// <para>Attachment and Metadata records are kept: written into the open recording, each noting the
/// producer that sent it (proto/ingest.md). The recorder's own namespace (<c>/recorder/</c> topics,
/// <c>recorder.</c> metadata and attachment names) is refused with a count and an event.</para>
/// <para>Anything malformed (bad magic, an oversized record, a bad CRC, a message on an undeclared
/// channel, a non-UTF-8 topic, a conflicting redefinition) ends this session with a specific
/// reason; what it sent before stays recorded, and no other producer notices.</para>
/// </summary>
public sealed class McapProducerSession
{
    private readonly IngestContext _context;
    private readonly IngestOptions _options;
    private readonly IRecordingIntake _recording;
    private readonly ILogger _logger;
    private readonly Dictionary<ushort, (Schema Schema, ushort Global)> _schemas = new();
    // Indexed by the producer's channel id: a message's lookup is one array read.
    private ChannelEntry?[] _channels = new ChannelEntry?[16];

    private sealed record ChannelEntry(Channel Channel, ushort Global, bool Selected, DropPolicy Policy, bool Reserved = false);

    /// <summary>Topics under this prefix are the daemon's own (<c>/recorder/events</c>, <c>/recorder/diagnostics</c>).</summary>
    public const string ReservedTopicPrefix = "/recorder/";

    /// <summary>Metadata and attachment names under this prefix are the daemon's own (<c>recorder.device</c>, ...).</summary>
    public const string ReservedRecordPrefix = "recorder.";

    private int _selectionVersion;
    private string _library = "";
    private bool _announced;
    // The message_end_time of the producer's chunk being read, 0 outside a chunk.
    private ulong _chunkEndTime;
    // Events, attachments and metadata found in one read, queued after that read's messages.
    private readonly List<RecorderCommand> _commands = new();

    private ChannelEntry? Lookup(ushort id) => id < _channels.Length ? _channels[id] : null;

    private void Define(ChannelEntry entry)
    {
        var id = entry.Channel.Id;
        if (id >= _channels.Length) Array.Resize(ref _channels, Math.Max(id + 1, Math.Min(_channels.Length * 2, ushort.MaxValue + 1)));
        _channels[id] = entry;
    }

    public McapProducerSession(IngestContext context, ProducerStats stats)
    {
        _context = context;
        _options = context.Options;
        _recording = context.Recording;
        _logger = context.Logger;
        Stats = stats;
    }

    public ProducerStats Stats { get; }

    /// <summary>Reads until the producer ends (footer, EOF) or is refused. Never throws for bad input.</summary>
    public async Task RunAsync(PipeReader input, CancellationToken cancellationToken)
    {
        using var reader = new McapStreamReader(new McapReaderOptions
        {
            MaxRecordSize = _options.MaxRecordSize,
            MaxUncompressedChunkSize = _options.MaxUncompressedChunkSize,
            ValidateCrcs = true,
            EmitChunks = true, // for each chunk's message_end_time (timestamps: receive)
        });
        var batches = _recording.OpenProducer(Stats.Source);
        _selectionVersion = _options.SelectionVersion();
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (!_announced)
                {
                    if (result.IsCompleted && result.Buffer.IsEmpty && reader.Position == 0)
                    {
                        // Connected and closed without a byte: a health probe, not a producer.
                        IngestLog.ProducerSentNothing(_logger, Stats.Source);
                        return;
                    }
                    if (!result.Buffer.IsEmpty)
                    {
                        _announced = true;
                        IngestLog.ProducerConnected(_logger, Stats.Source);
                    }
                }
                if (_options.SelectionVersion() is var version && version != _selectionVersion) Reselect(version);
                var buffer = result.Buffer;
                var status = McapReadStatus.NeedMoreData;
                string? refusal = null;
                while (true)
                {
                    McapRecord record;
                    try
                    {
                        status = reader.Read(ref buffer, result.IsCompleted, out record);
                        if (status != McapReadStatus.Record) break;
                        refusal = Accept(record, batches);
                        if (batches.HasReady) await batches.QueueReadyAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (McapException e)
                    {
                        refusal = Describe(e);
                    }
                    if (refusal is not null) break;
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                // Everything from one read goes to the queue together: one receive time.
                await batches.QueueAllAsync(cancellationToken).ConfigureAwait(false);
                QueueCommands();
                if (refusal is not null)
                {
                    Refuse(refusal);
                    return;
                }
                if (status == McapReadStatus.End || result.IsCompleted) break;
            }
            IngestLog.ProducerFinished(_logger, Stats.Source, Stats.Messages, Stats.Bytes);
        }
        finally
        {
            batches.Release();
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void Refuse(string reason) => Refusals.Record(_context, Stats, reason);

    private void QueueCommands()
    {
        foreach (var command in _commands) _recording.EnqueueCommand(command);
        _commands.Clear();
    }

    /// <summary>Something of this producer's was not recorded: counted by the caller, logged, and an event in the file.</summary>
    private void RefuseRecord(string type, string what, string reason)
    {
        IngestLog.RecordRefused(_logger, Stats.Source, what, reason);
        _commands.Add(new EventCommand(type, new Dictionary<string, string>
        {
            ["producer"] = Stats.Source,
            ["what"] = what,
            ["reason"] = reason,
        }));
    }

    /// <summary>Who sent a kept record: the session and the library its Header names.</summary>
    private ProducerOrigin Origin => new(Stats.Source, _library);

    private static string Describe(McapException e) => e.Kind switch
    {
        McapErrorKind.BadMagic => $"not an MCAP stream: {e.Reason}",
        McapErrorKind.Truncated => $"stream ended mid-record at byte {e.Offset}: {e.Reason}",
        McapErrorKind.RecordTooLarge => $"oversized record at byte {e.Offset}: {e.Reason}",
        McapErrorKind.CrcMismatch => $"CRC mismatch in {e.Opcode} at byte {e.Offset}: {e.Reason}",
        McapErrorKind.InvalidUtf8 => $"invalid UTF-8 in {e.Opcode} at byte {e.Offset}: {e.Reason}",
        McapErrorKind.DecompressionFailed => $"bad compressed chunk at byte {e.Offset}: {e.Reason}",
        _ => $"{e.Kind} in {e.Opcode?.ToString() ?? "stream"} at byte {e.Offset}: {e.Reason}",
    };

    /// <summary>Handles one record. Returns a refusal reason, or null.</summary>
    private string? Accept(McapRecord record, ProducerBatches batches)
    {
        switch (record.Opcode)
        {
            case McapOpcode.Message:
                var message = record.ToMessage();
                if (Lookup(message.ChannelId) is not { } channel)
                    return $"message on undeclared channel {message.ChannelId}";
                if (!channel.Selected)
                {
                    if (channel.Reserved) _options.Counters.ReservedMessage();
                    Stats.Skip();
                    return null;
                }
                var data = message.Data.Span;
                batches.Add(channel.Policy, channel.Global, message.Sequence, message.LogTime, message.PublishTime, data,
                    record.IsInChunk ? _chunkEndTime : 0);
                Stats.Add(data.Length);
                return null;

            case McapOpcode.Schema:
                var schema = record.ToSchema();
                if (schema.Id == 0) return null; // never a schema; readers ignore it
                if (_schemas.TryGetValue(schema.Id, out var known))
                    return known.Schema.ContentEquals(schema) ? null : $"schema {schema.Id} redefined with different content";
                if (!_recording.TryGetOrAddSchema(schema.Name, schema.Encoding, schema.Data.Span, out var globalSchema))
                    return "the recording has no schema ids left";
                _schemas[schema.Id] = (schema with { Data = schema.Data.ToArray() }, globalSchema);
                return null;

            case McapOpcode.Channel:
                var c = record.ToChannel();
                if (Lookup(c.Id) is { } existing)
                    return existing.Channel.ContentEquals(c) ? null : $"channel {c.Id} ({c.Topic}) redefined with different content";
                ushort schemaId = 0;
                if (c.SchemaId != 0)
                {
                    if (!_schemas.TryGetValue(c.SchemaId, out var s)) return $"channel {c.Id} ({c.Topic}) refers to undeclared schema {c.SchemaId}";
                    schemaId = s.Global;
                }
                if (c.Topic.StartsWith(ReservedTopicPrefix, StringComparison.Ordinal))
                {
                    _options.Counters.ReservedChannel();
                    RefuseRecord("producer_channel_refused", "channel " + c.Topic, $"topics under {ReservedTopicPrefix} are the recorder's own; its messages are not recorded");
                    Define(new ChannelEntry(c, 0, false, DropPolicy.Block, Reserved: true));
                    return null;
                }
                if (!_options.SelectTopic(c.Topic))
                {
                    IngestLog.TopicNotSelected(_logger, Stats.Source, c.Topic);
                    Define(new ChannelEntry(c, 0, false, DropPolicy.Block));
                    return null;
                }
                if (!TryRegister(c, schemaId, out var globalChannel))
                    return "the recording has no channel ids left";
                Define(new ChannelEntry(c, globalChannel, true, _options.DropPolicyFor(c.Topic)));
                return null;

            case McapOpcode.Chunk:
                // Only its times are read here; the reader yields its records next. message_end_time: bytes 8..16.
                var chunk = record.Content.Span;
                _chunkEndTime = chunk.Length >= 16 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(chunk[8..]) : 0;
                return null;

            case McapOpcode.Header:
                _library = record.ToHeader().Library;
                return null;

            case McapOpcode.Attachment:
                KeepAttachment(record.ToAttachment());
                return null;

            case McapOpcode.Metadata:
                KeepMetadata(record.ToMetadata());
                return null;

            default:
                // Indexes, statistics and summaries are the producer's file's; the recording builds its own.
                return null;
        }
    }

    private void KeepAttachment(Attachment attachment)
    {
        var what = "attachment " + attachment.Name;
        var limit = _options.MaxAttachmentBytes();
        if (attachment.Data.Length > limit)
        {
            _options.Counters.AttachmentRefused();
            RefuseRecord("producer_attachment_refused", what,
                string.Create(CultureInfo.InvariantCulture, $"{attachment.Data.Length} bytes, more than ingest.max_attachment_bytes ({limit})"));
            return;
        }
        if (attachment.Name.StartsWith(ReservedRecordPrefix, StringComparison.Ordinal))
        {
            _options.Counters.AttachmentRefused();
            RefuseRecord("producer_attachment_refused", what, $"names under {ReservedRecordPrefix} are the recorder's own");
            return;
        }
        _options.Counters.AttachmentKept();
        // The record points into the read buffer: the copy is what travels to the writer.
        _commands.Add(new ProducerAttachmentCommand(attachment with { Data = attachment.Data.ToArray(), Crc = 0 }, Origin));
    }

    private void KeepMetadata(Metadata metadata)
    {
        if (metadata.Name.StartsWith(ReservedRecordPrefix, StringComparison.Ordinal))
        {
            _options.Counters.MetadataRecordRefused();
            RefuseRecord("producer_metadata_refused", "metadata " + metadata.Name, $"names under {ReservedRecordPrefix} are the recorder's own");
            return;
        }
        _options.Counters.MetadataRecordKept();
        _commands.Add(new ProducerMetadataCommand(metadata, Origin));
    }

    // Configured tags and frame_id are applied by the writer as a channel enters a file, so a reload reaches the next file.
    private bool TryRegister(Channel c, ushort globalSchema, out ushort globalChannel) =>
        _recording.TryGetOrAddChannel(c.Topic, c.MessageEncoding, globalSchema, c.Metadata, out globalChannel);

    /// <summary>The selection changed (a reload): select every declared channel again.</summary>
    private void Reselect(int version)
    {
        _selectionVersion = version;
        foreach (var entry in _channels)
        {
            if (entry is null) continue;
            var selected = _options.SelectTopic(entry.Channel.Topic);
            if (selected == entry.Selected) continue;
            var global = entry.Global;
            if (selected && global == 0)
            {
                var schema = entry.Channel.SchemaId == 0 ? (ushort)0 : _schemas[entry.Channel.SchemaId].Global;
                if (!TryRegister(entry.Channel, schema, out global)) continue; // no ids left: stays unselected
            }
            if (!selected) IngestLog.TopicNotSelected(_logger, Stats.Source, entry.Channel.Topic);
            Define(entry with { Global = global, Selected = selected, Policy = _options.DropPolicyFor(entry.Channel.Topic) });
        }
    }

}
