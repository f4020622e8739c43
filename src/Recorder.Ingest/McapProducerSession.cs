using System.Globalization;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>
/// One producer speaking MCAP: magic, Header, then Schema, Channel and Message records (chunked or
/// not), optionally DataEnd and Footer. Its schema and channel ids are its own; they are mapped
/// onto the recording's ids through the <see cref="ChannelRegistry"/>, where identical definitions
/// from any producer share an id. Messages are copied into batches for the writer's queue.
/// <para>Anything malformed (bad magic, an oversized record, a bad CRC, a message on an undeclared
/// channel, a non-UTF-8 topic, a conflicting redefinition) ends this session with a specific
/// reason; what it sent before stays recorded, and no other producer notices.</para>
/// </summary>
public sealed class McapProducerSession
{
    private readonly IngestOptions _options;
    private readonly BatchQueue _queue;
    private readonly ChannelRegistry _registry;
    private readonly ILogger _logger;
    private readonly Dictionary<ushort, (Schema Schema, ushort Global)> _schemas = new();
    // Indexed by the producer's channel id: a message's lookup is one array read.
    private ChannelEntry?[] _channels = new ChannelEntry?[16];

    private sealed record ChannelEntry(Channel Channel, ushort Global, bool Selected, DropPolicy Policy);

    private int _selectionVersion;

    private ChannelEntry? Lookup(ushort id) => id < _channels.Length ? _channels[id] : null;

    private void Define(ChannelEntry entry)
    {
        var id = entry.Channel.Id;
        if (id >= _channels.Length) Array.Resize(ref _channels, Math.Max(id + 1, Math.Min(_channels.Length * 2, ushort.MaxValue + 1)));
        _channels[id] = entry;
    }

    public McapProducerSession(IngestOptions options, BatchQueue queue, ChannelRegistry registry, ProducerStats stats, ILogger logger)
    {
        _options = options;
        _queue = queue;
        _registry = registry;
        _logger = logger;
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
        });
        var batches = new ProducerBatches(_queue, Stats.Source);
        _selectionVersion = _options.SelectionVersion();
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
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

    private void Refuse(string reason) => Refusals.Record(_queue, Stats, _logger, reason);

    private static string Describe(McapException e) => e.Kind switch
    {
        McapErrorKind.BadMagic => $"not an MCAP stream: {e.Reason}",
        McapErrorKind.Truncated => $"stream ended mid-record at byte {e.Offset}: {e.Reason}",
        McapErrorKind.RecordTooLarge => $"oversized record at byte {e.Offset}: {e.Reason}",
        McapErrorKind.CrcMismatch => $"CRC mismatch in {e.Opcode} at byte {e.Offset}: {e.Reason}",
        McapErrorKind.InvalidUtf8 => $"invalid UTF-8 in {e.Opcode} at byte {e.Offset}: {e.Reason}",
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
                    Stats.Skip();
                    return null;
                }
                var data = message.Data.Span;
                batches.Add(channel.Policy, channel.Global, message.Sequence, message.LogTime, message.PublishTime, data);
                Stats.Add(data.Length);
                return null;

            case McapOpcode.Schema:
                var schema = record.ToSchema();
                if (schema.Id == 0) return null; // never a schema; readers ignore it
                if (_schemas.TryGetValue(schema.Id, out var known))
                    return known.Schema.ContentEquals(schema) ? null : $"schema {schema.Id} redefined with different content";
                if (!_registry.TryGetOrAddSchema(schema.Name, schema.Encoding, schema.Data.Span, out var globalSchema))
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

            default:
                // Headers, indexes, attachments, metadata and summaries from producers are not recorded.
                return null;
        }
    }

    // Configured tags and frame_id are applied by the writer as a channel enters a file, so a reload reaches the next file.
    private bool TryRegister(Channel c, ushort globalSchema, out ushort globalChannel) =>
        _registry.TryGetOrAddChannel(c.Topic, c.MessageEncoding, globalSchema, c.Metadata, out globalChannel);

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
