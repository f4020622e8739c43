using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Recorder.Mcap;
using Recorder.Storage;
using Recorder.Video;

namespace Recorder.Depot.Catalog;

/// <summary>
/// Reads one recording group into a <see cref="RecordingEntry"/> from what the recorder already
/// writes, without decoding every message: the MCAP's summary (Statistics, channels, schemas),
/// its metadata records (<c>recorder.device</c>, <c>recorder.topic_stats</c>, anything else as
/// key:value), the messages of <c>/recorder/events</c> only (the chunks holding them), and the
/// <c>.vidx</c>. Whatever cannot be read makes the entry <see cref="RecordingStatus.Unparseable"/>
/// with the reason; it never throws for bad content.
/// </summary>
public static class RecordingIndexer
{
    public const string EventsTopic = "/recorder/events";
    private const string DeviceRecord = "recorder.device";
    private const string TopicStatsRecord = "recorder.topic_stats";
    private const string MarkRecord = "recorder.mark"; // the same mark is an event on /recorder/events

    /// <param name="source">Where the files are.</param>
    /// <param name="groupKey"><c>device_id/YYYY-MM-DD/NAME.mcap</c>.</param>
    /// <param name="knownSha256">Hashes already known (verified on arrival, or cataloged before with the same size): file name → (size, sha256). Others are hashed.</param>
    public static RecordingEntry Index(ICatalogSource source, string groupKey, IReadOnlyDictionary<string, (long Size, string Sha256)>? knownSha256 = null)
    {
        var parts = groupKey.Split('/');
        var entry = new RecordingEntry { GroupKey = groupKey, DeviceId = parts[0], Name = parts[^1] };
        var files = source.FilesOf(groupKey);
        foreach (var (name, size) in files)
        {
            var sha = knownSha256 is not null && knownSha256.TryGetValue(name, out var known) && known.Size == size ? known.Sha256 : Hash(source, groupKey, name);
            entry.Files.Add(new CatalogFile(name, RecordingLayout.KindOf(name) is { } kind ? RecordingLayout.KindName(kind) : "other", size, sha));
        }
        if (!files.Any(f => f.Name == entry.Name))
        {
            entry.Status = RecordingStatus.Incomplete;
            entry.Error = $"{entry.Name} has not arrived (only its companions)";
            return entry;
        }
        try
        {
            using (var stream = source.Open(groupKey, entry.Name)) ReadMcap(stream, entry);
            var vidx = Path.ChangeExtension(entry.Name, RecordingLayout.VidxExtension);
            if (files.Any(f => f.Name == vidx))
            {
                using var stream = source.Open(groupKey, vidx);
                ReadFrameIndex(stream, entry);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever the bytes are, the recording is cataloged (with the reason), never dropped.
            Unparseable(entry, e);
        }
        return entry;
    }

    private static void Unparseable(RecordingEntry entry, Exception e)
    {
        entry.Status = RecordingStatus.Unparseable;
        entry.Error = e.Message;
        // Nothing half read is kept: the entry says what the files are and why they could not be read.
        entry.Topics.Clear();
        entry.Events.Clear();
        entry.Video.Clear();
        entry.Metadata.Clear();
        entry.Messages = 0;
    }

    private static string Hash(ICatalogSource source, string groupKey, string name)
    {
        using var stream = source.Open(groupKey, name);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void ReadMcap(Stream stream, RecordingEntry entry)
    {
        using var reader = new McapIndexedReader(stream, leaveOpen: true);
        if (reader.Statistics is not { } stats)
            throw new InvalidDataException("the MCAP has no Statistics record in its summary (a file the recorder did not finish: `recorder recover` it)");
        entry.Library = reader.Header.Library;
        entry.Messages = checked((long)stats.MessageCount);
        entry.StartNs = checked((long)stats.MessageStartTime);
        entry.EndNs = checked((long)stats.MessageEndTime);
        var duration = (stats.MessageEndTime - stats.MessageStartTime) / 1e9;

        var topicStats = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var ordinal = 0;
        foreach (var index in reader.MetadataIndexes)
        {
            var record = reader.ReadMetadata(index);
            ordinal++;
            switch (record.Name)
            {
                case TopicStatsRecord:
                    foreach (var (topic, json) in record.Values) topicStats[topic] = JsonDocument.Parse(json).RootElement.Clone();
                    continue;
                case MarkRecord:
                    continue;
                case DeviceRecord:
                    entry.SoftwareVersion = record.Values.GetValueOrDefault("software_version") ?? entry.SoftwareVersion;
                    entry.Vehicle = record.Values.GetValueOrDefault("vehicle") ?? entry.Vehicle;
                    entry.Operator = record.Values.GetValueOrDefault("operator") ?? entry.Operator;
                    break;
            }
            foreach (var (key, value) in record.Values.OrderBy(v => v.Key, StringComparer.Ordinal))
                entry.Metadata.Add(new MetadataEntry(record.Name, ordinal, key, value));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var channel in reader.Channels.Values.OrderBy(c => c.Id))
        {
            if (!seen.Add(channel.Topic)) continue; // one row per topic: a second channel of a topic shares its numbers below
            var messages = 0UL;
            foreach (var c in reader.Channels.Values.Where(c => c.Topic == channel.Topic)) messages += stats.ChannelMessageCounts.GetValueOrDefault(c.Id);
            var schema = channel.SchemaId != 0 && reader.Schemas.TryGetValue(channel.SchemaId, out var s) ? s : null;
            topicStats.TryGetValue(channel.Topic, out var numbers);
            entry.Topics.Add(new TopicEntry(channel.Topic, checked((long)messages),
                Number(numbers, "bytes"),
                duration > 0 ? messages / duration : 0,
                channel.MessageEncoding, schema?.Name, schema?.Encoding,
                schema is null ? null : Convert.ToHexStringLower(SHA256.HashData(schema.Data.Span)),
                Number(numbers, "drops") ?? 0, Number(numbers, "refused") ?? 0, Number(numbers, "max_gap_ns")));
        }
        // A topic whose every message was dropped has numbers but no channel.
        foreach (var (topic, numbers) in topicStats.Where(t => !seen.Contains(t.Key)).OrderBy(t => t.Key, StringComparer.Ordinal))
            entry.Topics.Add(new TopicEntry(topic, 0, Number(numbers, "bytes"), 0, "", null, null, null, Number(numbers, "drops") ?? 0, Number(numbers, "refused") ?? 0, null));

        if (reader.Channels.Values.Any(c => c.Topic == EventsTopic))
            foreach (var message in reader.ReadMessages(topics: [EventsTopic]))
                entry.Events.Add(Event(message.Message));
    }

    private static long? Number(JsonElement numbers, string name) =>
        numbers.ValueKind == JsonValueKind.Object && numbers.TryGetProperty(name, out var v) && v.TryGetInt64(out var n) ? n : null;

    /// <summary>An event message: <c>{"type":…,"time_ns":…, fields…}</c>; its text is a mark's text, or the type and fields.</summary>
    private static EventEntry Event(Message message)
    {
        using var document = JsonDocument.Parse(message.Data);
        var root = document.RootElement;
        var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "unknown";
        var text = new StringBuilder();
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (type == "mark" && root.TryGetProperty("text", out var markText) && markText.ValueKind == JsonValueKind.String) text.Append(markText.GetString());
            else
            {
                text.Append(type);
                foreach (var property in root.EnumerateObject())
                    if (property.Name is not ("type" or "time_ns")) text.Append(' ').Append(property.Name).Append('=').Append(property.Value.ToString());
            }
        }
        return new EventEntry(checked((long)message.LogTime), type, text.ToString(), root.GetRawText());
    }

    private static void ReadFrameIndex(Stream stream, RecordingEntry entry)
    {
        var index = FrameIndex.Read(stream);
        foreach (var track in index.Tracks.Values.OrderBy(t => t.TrackId))
        {
            var frames = index.FramesOf(track.TrackId);
            var keyframes = frames.Count(f => f.IsKeyframe);
            var span = frames.Count > 1 ? (frames[^1].LogTime - frames[0].LogTime) / 1e9 : 0;
            var fps = frames.Count > 1 && span > 0 ? (frames.Count - 1) / span : 0;
            var width = track.Width;
            var height = track.Height;
            if (width == 0 && frames.Count > 0) (width, height) = (frames[^1].Width, frames[^1].Height);
            entry.Video.Add(new VideoEntry(track.Topic, track.Codec.Name(), track.Store == FrameStore.Sidecar ? "sidecar" : "container",
                width, height, frames.Count, keyframes, Math.Round(fps, 3)));
        }
        if (index.StopReason is { } stop) entry.Error = string.Create(CultureInfo.InvariantCulture, $"the .vidx ends early ({stop}); frames before it are counted");
    }
}
