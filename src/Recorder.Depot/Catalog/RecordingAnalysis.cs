using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Recorder.Depot.Config;
using Recorder.Mcap;

namespace Recorder.Depot.Catalog;

/// <summary>
/// What the depot works out of a cataloged recording beyond its summary, on the catalog's
/// background queue (never on the upload path): schema pin breaches, and profiles of numeric
/// fields of JSON and protobuf topics (count, nulls, min, max, sum, a <see cref="KllSketch"/>)
/// per (topic, field, UTC day of the message). Messages are streamed chunk by chunk through the
/// MCAP's indexes; memory holds one sketch per (topic, field, day), not the messages. A recording
/// is analyzed again only when its <c>.mcap</c> (sha256) or these settings change.
/// </summary>
public sealed class RecordingAnalysis(ProfileSettings profiles, SchemaSettings schemas, TimeProvider? time = null)
{
    public const long DayNs = 86_400_000_000_000L;

    /// <summary>Changes when the settings that shape an analysis change: a recording analyzed under other settings is analyzed again.</summary>
    public string SettingsHash { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n",
        [
            $"kll {KllSketch.DefaultK}",
            $"default {profiles.DefaultFields}",
            .. profiles.Topics.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"topic {t.Key} {string.Join(",", t.Value)}"),
            .. schemas.Pinned.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"pin {p.Key} {p.Value}"),
        ]))));

    /// <summary>The topics of <paramref name="entry"/> whose schema is not the pinned one.</summary>
    public List<PinBreach> PinBreaches(RecordingEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var breaches = new List<PinBreach>();
        foreach (var topic in entry.Topics)
            if (schemas.Pinned.TryGetValue(topic.Topic, out var pinned) && topic.SchemaSha256 != pinned && topic.Messages > 0)
                breaches.Add(new PinBreach(topic.Topic, pinned, topic.SchemaSha256));
        return breaches;
    }

    /// <summary>
    /// Analyzes the recording when it has not been under these settings with this <c>.mcap</c>
    /// and stores the result; returns the pin breaches stored, or null when nothing was done.
    /// </summary>
    public List<PinBreach>? Run(CatalogDatabase database, ICatalogSource source, RecordingEntry entry)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Status != RecordingStatus.Ok || entry.Files.FirstOrDefault(f => f.Name == entry.Name) is not { } mcap) return null;
        var store = new ProfileStore(database.Dialect);
        if (store.RecordingId(entry.GroupKey) is not { } recordingId) return null;
        if (store.Analyzed(recordingId) == (mcap.Sha256, SettingsHash)) return null;
        var breaches = PinBreaches(entry);
        List<FieldProfile> fields;
        string? error = null;
        try
        {
            using var stream = source.Open(entry.GroupKey, entry.Name);
            fields = Profile(stream);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or EndOfStreamException or OverflowException or ArgumentException)
        {
            // The summary was readable but the messages are not (a damaged chunk): the recording keeps its catalog entry, without profiles, and says why.
            fields = [];
            error = e.Message;
        }
        store.Save(recordingId, mcap.Sha256, SettingsHash, error, fields, breaches, ((time ?? TimeProvider.System).GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100);
        return breaches;
    }

    /// <summary>The field profiles of one MCAP (streamed): per (topic, field, day).</summary>
    public List<FieldProfile> Profile(Stream mcap)
    {
        using var reader = new McapIndexedReader(mcap, leaveOpen: true);
        var readers = new Dictionary<ushort, TopicFields>();
        var fieldsOfTopic = new Dictionary<string, TopicFields?>(StringComparer.Ordinal);
        foreach (var channel in reader.Channels.Values.OrderBy(c => c.Id))
        {
            if (channel.Topic == RecordingIndexer.EventsTopic) continue;
            var schema = channel.SchemaId != 0 ? reader.Schemas.GetValueOrDefault(channel.SchemaId) : null;
            var fields = TopicFields.For(channel, schema, profiles);
            if (fields is not null) readers[channel.Id] = fields;
        }
        if (readers.Count == 0) return [];
        var accumulators = new Dictionary<(string Topic, long Day), FieldAccumulator[]>();
        double?[] values = new double?[ProfileSettings.MaxFields];
        foreach (var (channel, _, message) in reader.ReadMessages(topics: readers.Values.Select(r => r.Topic).Distinct()))
        {
            if (!readers.TryGetValue(channel.Id, out var fields)) continue;
            if (!fields.Read(message.Data.Span, values)) continue; // a JSON topic whose fields are not known yet (no object seen)
            var day = (long)(message.LogTime / (ulong)DayNs);
            if (!accumulators.TryGetValue((fields.Topic, day), out var row))
                accumulators[(fields.Topic, day)] = row = fields.Paths.Select(_ => new FieldAccumulator()).ToArray();
            for (var i = 0; i < row.Length; i++) row[i].Add(values[i]);
        }
        var result = new List<FieldProfile>();
        foreach (var ((topic, day), row) in accumulators.OrderBy(a => a.Key.Topic, StringComparer.Ordinal).ThenBy(a => a.Key.Day))
        {
            var paths = readers.Values.First(r => r.Topic == topic).Paths;
            for (var i = 0; i < row.Length; i++) result.Add(row[i].ToProfile(topic, paths[i], day));
        }
        return result;
    }

    /// <summary>How one channel's messages turn into values for its topic's fields.</summary>
    private sealed class TopicFields
    {
        private readonly ProtobufFields.PathSet? _protobuf;
        private readonly int _defaultFields;
        private string[][]? _jsonPaths;

        private TopicFields(string topic, List<string>? paths, ProtobufFields.PathSet? protobuf, int defaultFields)
        {
            Topic = topic;
            _protobuf = protobuf;
            _defaultFields = defaultFields;
            if (paths is not null) SetPaths(paths);
        }

        public string Topic { get; }
        public List<string> Paths { get; private set; } = [];

        public static TopicFields? For(Channel channel, Schema? schema, ProfileSettings profiles)
        {
            var configured = profiles.Topics.TryGetValue(channel.Topic, out var listed) ? listed.ToList() : null;
            if (configured is { Count: 0 } || (configured is null && profiles.DefaultFields == 0)) return null;
            switch (channel.MessageEncoding)
            {
                case "json":
                    return new TopicFields(channel.Topic, configured, null, profiles.DefaultFields);
                case "protobuf" when schema is { Encoding: "protobuf" }:
                    ProtobufFields descriptors;
                    try
                    {
                        descriptors = new ProtobufFields(schema.Data.Span, schema.Name);
                    }
                    catch (InvalidDataException)
                    {
                        return null; // a schema we cannot read: the topic gets counts, not field profiles
                    }
                    var paths = configured ?? descriptors.NumericPaths(profiles.DefaultFields);
                    return paths.Count == 0 ? null : new TopicFields(channel.Topic, paths, descriptors.Compile(paths), profiles.DefaultFields);
                default:
                    return null;
            }
        }

        private void SetPaths(List<string> paths)
        {
            Paths = paths;
            _jsonPaths = paths.Select(p => p.Split('.')).ToArray();
        }

        /// <summary>Fills one value (or null) per path; false while a JSON topic's default fields are not known.</summary>
        public bool Read(ReadOnlySpan<byte> data, double?[] values)
        {
            if (_protobuf is not null)
            {
                try
                {
                    _protobuf.Read(data, values);
                }
                catch (InvalidDataException)
                {
                    Array.Clear(values); // a malformed message: every field of it is a null
                }
                return true;
            }
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(data.ToArray());
            }
            catch (JsonException)
            {
                if (_jsonPaths is null) return false;
                Array.Clear(values);
                return true;
            }
            using (document)
            {
                if (_jsonPaths is null)
                {
                    if (document.RootElement.ValueKind != JsonValueKind.Object) return false;
                    var found = new List<string>();
                    NumericPaths(document.RootElement, "", found, _defaultFields, 0);
                    SetPaths(found);
                }
                for (var i = 0; i < _jsonPaths!.Length; i++)
                {
                    var element = document.RootElement;
                    var ok = true;
                    foreach (var part in _jsonPaths[i])
                        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element)) { ok = false; break; }
                    values[i] = ok && element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var v) && double.IsFinite(v) ? v : null;
                }
                return true;
            }
        }

        private static void NumericPaths(JsonElement element, string prefix, List<string> found, int limit, int depth)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (found.Count >= limit) return;
                if (property.Value.ValueKind == JsonValueKind.Number) found.Add(prefix + property.Name);
                else if (property.Value.ValueKind == JsonValueKind.Object && depth < 8) NumericPaths(property.Value, prefix + property.Name + ".", found, limit, depth + 1);
            }
        }
    }

    private sealed class FieldAccumulator
    {
        private readonly KllSketch _sketch = new();
        private long _nulls;
        private double _sum;

        public void Add(double? value)
        {
            if (value is { } v && double.IsFinite(v))
            {
                _sketch.Add(v);
                _sum += v;
            }
            else _nulls++;
        }

        public FieldProfile ToProfile(string topic, string field, long day) =>
            new(topic, field, day, _sketch.Count, _nulls, _sketch.Count > 0 ? _sketch.Min : null, _sketch.Count > 0 ? _sketch.Max : null, _sum, _sketch.Serialize());
    }
}

/// <summary>A topic whose schema is not the pinned one: the pin and what the recording carries (null: no schema).</summary>
public sealed record PinBreach(string Topic, string PinnedSha256, string? SchemaSha256);

/// <summary>One field's numbers over one recording's messages of one UTC day (days since the epoch).</summary>
public sealed record FieldProfile(string Topic, string Field, long Day, long Count, long Nulls, double? Min, double? Max, double Sum, byte[] Sketch);
