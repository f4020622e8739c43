namespace Recorder.Depot.Catalog;

/// <summary>
/// What the catalog knows about one recording group (<c>device/date/NAME.mcap</c> and its
/// companions), as the indexer reads it from the files. Written to the database as a whole: a
/// re-catalog replaces every row of the group.
/// </summary>
public sealed class RecordingEntry
{
    /// <summary><c>device_id/YYYY-MM-DD/NAME.mcap</c>: unique, stable across re-catalogs.</summary>
    public required string GroupKey { get; init; }

    /// <summary>The device directory the files were stored under (the authenticated device).</summary>
    public required string DeviceId { get; init; }

    /// <summary>The recording's <c>.mcap</c> name.</summary>
    public required string Name { get; init; }

    /// <summary><see cref="RecordingStatus.Ok"/>, or why the recording could not be read.</summary>
    public string Status { get; set; } = RecordingStatus.Ok;

    /// <summary>The reason when <see cref="Status"/> is not ok.</summary>
    public string? Error { get; set; }

    public long StartNs { get; set; }
    public long EndNs { get; set; }
    public long Messages { get; set; }

    /// <summary>All files of the group together.</summary>
    public long Bytes => Files.Sum(f => f.Size);

    /// <summary>The last <c>recorder.device</c> record's <c>software_version</c>.</summary>
    public string? SoftwareVersion { get; set; }
    public string? Vehicle { get; set; }

    /// <summary>The operator of the last <c>recorder.device</c> record (earlier ones are in <see cref="Metadata"/>).</summary>
    public string? Operator { get; set; }

    /// <summary>The MCAP header's library (e.g. <c>recorder/1.2.3</c>).</summary>
    public string? Library { get; set; }

    /// <summary>Messages dropped or refused before they reached the file, over all topics (<c>recorder.topic_stats</c>).</summary>
    public long Drops => Topics.Sum(t => t.Drops + t.Refused);

    /// <summary>Events that mark a hole in the data: <c>write_gap</c> and <c>keyframe_wait_expired</c>.</summary>
    public long Gaps => Events.Count(e => e.Type is "write_gap" or "keyframe_wait_expired");

    public List<CatalogFile> Files { get; } = [];
    public List<TopicEntry> Topics { get; } = [];
    public List<EventEntry> Events { get; } = [];
    public List<VideoEntry> Video { get; } = [];
    public List<MetadataEntry> Metadata { get; } = [];
}

/// <summary>The values of <see cref="RecordingEntry.Status"/>.</summary>
public static class RecordingStatus
{
    public const string Ok = "ok";

    /// <summary>The <c>.mcap</c> could not be read (damaged, not MCAP, no summary); the reason is in the entry.</summary>
    public const string Unparseable = "unparseable";

    /// <summary>Companions arrived but the <c>.mcap</c> has not (yet).</summary>
    public const string Incomplete = "incomplete";
}

/// <summary>One stored file of a recording group.</summary>
public sealed record CatalogFile(string Name, string Kind, long Size, string Sha256);

/// <summary>One topic of a recording: counts from Statistics, sizes and losses from <c>recorder.topic_stats</c>.</summary>
public sealed record TopicEntry(string Topic, long Messages, long? Bytes, double RateHz, string MessageEncoding,
    string? SchemaName, string? SchemaEncoding, string? SchemaSha256, long Drops, long Refused, long? MaxGapNs);

/// <summary>One event on <c>/recorder/events</c>: its type, time, a searchable text and every field as JSON.</summary>
public sealed record EventEntry(long TimeNs, string Type, string Text, string Fields);

/// <summary>One video topic from the <c>.vidx</c>.</summary>
public sealed record VideoEntry(string Topic, string Codec, string Store, long Width, long Height, long Frames, long Keyframes, double Fps);

/// <summary>One key:value of a metadata record; <see cref="Ordinal"/> is the record's position in the file (a later <c>recorder.device</c> after an operator change has a higher one).</summary>
public sealed record MetadataEntry(string Record, int Ordinal, string Key, string Value);
