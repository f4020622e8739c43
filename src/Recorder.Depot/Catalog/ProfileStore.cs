using System.Data.Common;
using System.Globalization;
using static Recorder.Depot.Catalog.CatalogSql;

namespace Recorder.Depot.Catalog;

/// <summary>
/// The catalog's tables for what <see cref="RecordingAnalysis"/> works out (migration 2), and the
/// questions asked of them: schema history (<c>/api/schema-changes</c>) and distributions with
/// merged field profiles (<c>/api/profiles</c>). Same SQL on SQLite and PostgreSQL.
/// </summary>
public sealed class ProfileStore(CatalogDialect dialect)
{
    /// <summary>The quantiles a profile answers, by name.</summary>
    public static readonly (string Name, double Q)[] Quantiles =
        [("p01", 0.01), ("p05", 0.05), ("p10", 0.10), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99)];

    public long? RecordingId(string groupKey)
    {
        using var connection = dialect.Open();
        using var command = Command(connection, null, "SELECT id FROM recordings WHERE group_key = @g", ("g", groupKey));
        return command.ExecuteScalar() is { } id and not DBNull ? Convert.ToInt64(id, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The .mcap hash and settings hash the recording was last analyzed with.</summary>
    public (string Mcap, string Settings)? Analyzed(long recordingId)
    {
        using var connection = dialect.Open();
        using var command = Command(connection, null, "SELECT mcap_sha256, settings_sha256 FROM recording_analysis WHERE recording_id = @r", ("r", recordingId));
        using var rows = command.ExecuteReader();
        return rows.Read() ? (rows.GetString(0), rows.GetString(1)) : null;
    }

    /// <summary>Replaces the recording's profiles and pin breaches in one transaction.</summary>
    public void Save(long recordingId, string mcapSha256, string settingsSha256, string? error, IReadOnlyList<FieldProfile> profiles, IReadOnlyList<PinBreach> breaches, long analyzedNs)
    {
        using var connection = dialect.Open();
        using var tx = connection.BeginTransaction();
        foreach (var table in new[] { "field_profiles", "schema_pin_breaches", "recording_analysis" })
            Execute(connection, tx, $"DELETE FROM {table} WHERE recording_id = @r", ("r", recordingId));
        foreach (var p in profiles)
            Execute(connection, tx, "INSERT INTO field_profiles (recording_id, topic, field, day, count, nulls, min, max, sum, sketch) VALUES (@r, @t, @f, @d, @c, @n, @lo, @hi, @s, @k)",
                ("r", recordingId), ("t", p.Topic), ("f", p.Field), ("d", p.Day), ("c", p.Count), ("n", p.Nulls), ("lo", p.Min), ("hi", p.Max), ("s", p.Sum), ("k", Convert.ToBase64String(p.Sketch)));
        foreach (var b in breaches)
            Execute(connection, tx, "INSERT INTO schema_pin_breaches (recording_id, topic, pinned_sha256, schema_sha256) VALUES (@r, @t, @p, @s)",
                ("r", recordingId), ("t", b.Topic), ("p", b.PinnedSha256), ("s", b.SchemaSha256));
        Execute(connection, tx, "INSERT INTO recording_analysis (recording_id, mcap_sha256, settings_sha256, error, analyzed_ns) VALUES (@r, @m, @s, @e, @t)",
            ("r", recordingId), ("m", mcapSha256), ("s", settingsSha256), ("e", error), ("t", analyzedNs));
        tx.Commit();
    }

    /// <summary>The recording's pin breaches (its catalog entry's flag).</summary>
    public List<PinBreach> PinBreaches(long recordingId)
    {
        using var connection = dialect.Open();
        using var command = Command(connection, null, "SELECT topic, pinned_sha256, schema_sha256 FROM schema_pin_breaches WHERE recording_id = @r ORDER BY topic", ("r", recordingId));
        using var rows = command.ExecuteReader();
        var list = new List<PinBreach>();
        while (rows.Read()) list.Add(new PinBreach(rows.GetString(0), rows.GetString(1), rows.IsDBNull(2) ? null : rows.GetString(2)));
        return list;
    }

    /// <summary>
    /// Per topic, its schemas in the order they first appeared: who brought each (recording,
    /// device, software version), how many recordings and devices carry it, and the devices and
    /// recordings still on an older one after the newest appeared.
    /// </summary>
    public SchemaChangesPage SchemaChanges(string? topic, bool changedOnly, IReadOnlyDictionary<string, string> pins)
    {
        using var connection = dialect.Open();
        using var command = Command(connection, null, $"""
            SELECT t.topic, t.schema_sha256, t.schema_name, r.id, r.group_key, r.device_id, r.software_version, r.start_ns
            FROM recording_topics t JOIN recordings r ON r.id = t.recording_id
            WHERE t.schema_sha256 IS NOT NULL AND t.messages > 0{(topic is null ? "" : " AND t.topic = @topic")}
            ORDER BY t.topic, r.start_ns, r.id
            """, ("topic", topic));
        using var rows = command.ExecuteReader();
        var topics = new List<TopicSchemas>();
        string? current = null;
        var seen = new List<Row>();
        while (rows.Read())
        {
            var row = new Row(rows.GetString(0), rows.GetString(1), rows.IsDBNull(2) ? null : rows.GetString(2), rows.GetInt64(3), rows.GetString(4), rows.GetString(5),
                rows.IsDBNull(6) ? null : rows.GetString(6), rows.GetInt64(7));
            if (row.Topic != current && seen.Count > 0)
            {
                topics.Add(History(seen, pins));
                seen.Clear();
            }
            current = row.Topic;
            seen.Add(row);
        }
        if (seen.Count > 0) topics.Add(History(seen, pins));
        return new SchemaChangesPage(changedOnly ? topics.Where(t => t.Schemas.Count > 1 || t.PinBreaches > 0).ToList() : topics);
    }

    private sealed record Row(string Topic, string Sha, string? Name, long RecordingId, string GroupKey, string DeviceId, string? Software, long StartNs);

    /// <summary>The most recordings and devices listed as still on an old schema (the counts are complete).</summary>
    public const int StillOnOldListed = 100;

    private static TopicSchemas History(List<Row> rows, IReadOnlyDictionary<string, string> pins)
    {
        // rows: one topic, oldest first.
        var schemas = new List<SchemaVersion>();
        foreach (var group in rows.GroupBy(r => r.Sha, StringComparer.Ordinal).OrderBy(g => g.First().StartNs).ThenBy(g => g.First().RecordingId))
        {
            var first = group.First();
            schemas.Add(new SchemaVersion(group.Key, first.Name, first.StartNs, first.RecordingId, first.GroupKey, first.DeviceId, first.Software,
                group.Count(), group.Select(r => r.DeviceId).Distinct(StringComparer.Ordinal).Count(), group.Last().StartNs));
        }
        var newest = schemas[^1];
        var oldDevices = rows.GroupBy(r => r.DeviceId, StringComparer.Ordinal)
            .Select(d => d.Last())
            .Where(last => last.Sha != newest.SchemaSha256)
            .OrderBy(last => last.DeviceId, StringComparer.Ordinal)
            .Select(last => new StillOnOld(last.DeviceId, last.Sha, last.RecordingId, last.GroupKey, last.Software, last.StartNs))
            .ToList();
        var oldRecordings = rows.Where(r => r.Sha != newest.SchemaSha256 && r.StartNs >= newest.FirstStartNs)
            .Select(r => new StillOnOld(r.DeviceId, r.Sha, r.RecordingId, r.GroupKey, r.Software, r.StartNs)).ToList();
        var pinned = pins.GetValueOrDefault(rows[0].Topic);
        return new TopicSchemas(rows[0].Topic, newest.SchemaSha256, pinned, schemas.Count - 1,
            pinned is null ? 0 : rows.Count(r => r.Sha != pinned),
            schemas, oldDevices.Count, oldDevices.Take(StillOnOldListed).ToList(), oldRecordings.Count, oldRecordings.Take(StillOnOldListed).ToList());
    }

    /// <summary>
    /// Per group (UTC day, device or software version) of the recordings of a topic: recordings,
    /// messages, bytes, rate, drops, gaps (from the summary, each recording counted on the day it
    /// starts); with a field, its merged profile (from the messages, each on its own day).
    /// </summary>
    private const long LastDay = 106_000; // 2260: (day + 1) × ns per day stays in a 64-bit integer

    public ProfilesPage Profiles(ProfileQuery q)
    {
        ArgumentNullException.ThrowIfNull(q);
        var fromDay = q.FromNs is { } f ? Math.Max(0, f / RecordingAnalysis.DayNs) : 0;
        var toDay = Math.Min(LastDay, q.ToNs is { } t ? t / RecordingAnalysis.DayNs : LastDay);
        var groups = new SortedDictionary<string, Group>(StringComparer.Ordinal);
        Group Of(string key) => groups.TryGetValue(key, out var g) ? g : groups[key] = new Group();
        using var connection = dialect.Open();
        using (var command = Command(connection, null, $"""
            SELECT r.start_ns, r.end_ns, r.device_id, r.software_version, t.messages, t.bytes, t.drops + t.refused, r.gaps, t.max_gap_ns
            FROM recording_topics t JOIN recordings r ON r.id = t.recording_id
            WHERE t.topic = @topic AND r.start_ns >= @from AND r.start_ns < @to{(q.Device is null ? "" : " AND r.device_id = @device")}
            """, ("topic", q.Topic), ("from", fromDay * RecordingAnalysis.DayNs), ("to", (toDay + 1) * RecordingAnalysis.DayNs), ("device", q.Device)))
        using (var rows = command.ExecuteReader())
            while (rows.Read())
            {
                var g = Of(Key(q.By, rows.GetInt64(0) / RecordingAnalysis.DayNs, rows.GetString(2), rows.IsDBNull(3) ? null : rows.GetString(3)));
                g.Recordings++;
                g.Messages += rows.GetInt64(4);
                if (!rows.IsDBNull(5)) g.Bytes = (g.Bytes ?? 0) + rows.GetInt64(5);
                g.DurationNs += rows.GetInt64(1) - rows.GetInt64(0);
                g.Drops += rows.GetInt64(6);
                g.Gaps += rows.GetInt64(7);
                if (!rows.IsDBNull(8)) g.MaxGapNs = Math.Max(g.MaxGapNs ?? 0, rows.GetInt64(8));
            }
        List<string> fields;
        using (var command = Command(connection, null, "SELECT DISTINCT field FROM field_profiles WHERE topic = @topic ORDER BY field", ("topic", q.Topic)))
        using (var rows = command.ExecuteReader())
        {
            fields = [];
            while (rows.Read()) fields.Add(rows.GetString(0));
        }
        if (q.Field is { } field)
        {
            using var command = Command(connection, null, $"""
                SELECT p.day, r.device_id, r.software_version, p.count, p.nulls, p.min, p.max, p.sum, p.sketch
                FROM field_profiles p JOIN recordings r ON r.id = p.recording_id
                WHERE p.topic = @topic AND p.field = @field AND p.day >= @from AND p.day <= @to{(q.Device is null ? "" : " AND r.device_id = @device")}
                """, ("topic", q.Topic), ("field", field), ("from", fromDay), ("to", toDay), ("device", q.Device));
            using var rows = command.ExecuteReader();
            while (rows.Read())
            {
                var g = Of(Key(q.By, rows.GetInt64(0), rows.GetString(1), rows.IsDBNull(2) ? null : rows.GetString(2)));
                var sketch = KllSketch.Deserialize(Convert.FromBase64String(rows.GetString(8)));
                g.Count += rows.GetInt64(3);
                g.Nulls += rows.GetInt64(4);
                g.Sum += rows.GetDouble(7);
                if (g.Sketch is null) g.Sketch = sketch;
                else g.Sketch.Merge(sketch);
            }
        }
        var items = groups.Select(kv => kv.Value.ToItem(kv.Key, q.Field is not null)).ToList();
        return new ProfilesPage(q.Topic, q.Field, q.By, KllSketch.DefaultK, KllSketch.RankErrorBound(KllSketch.DefaultK), fields, items);
    }

    private static string Key(string by, long day, string device, string? software) => by switch
    {
        "device" => device,
        "software" => software ?? "",
        _ => DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + checked((int)day)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    };

    private sealed class Group
    {
        public long Recordings, Messages, DurationNs, Drops, Gaps, Count, Nulls;
        public long? Bytes, MaxGapNs;
        public double Sum;
        public KllSketch? Sketch;

        public ProfileGroup ToItem(string key, bool withField)
        {
            FieldStats? stats = null;
            if (withField)
            {
                var any = Sketch is { Count: > 0 };
                stats = new FieldStats(Count, Nulls, any ? Sketch!.Min : null, any ? Sketch!.Max : null, Count > 0 ? Sum / Count : null,
                    any ? Quantiles.ToDictionary(q => q.Name, q => Sketch!.Quantile(q.Q), StringComparer.Ordinal) : null);
            }
            return new ProfileGroup(key, Recordings, Messages, Bytes, DurationNs > 0 ? Math.Round(Messages / (DurationNs / 1e9), 6) : 0, Drops, Gaps, MaxGapNs, stats);
        }
    }
}

/// <summary>The filters of <c>GET /api/profiles</c> and <c>recorder-depot profiles</c>.</summary>
public sealed record ProfileQuery
{
    public required string Topic { get; init; }
    public string? Field { get; init; }

    /// <summary>From and to, at UTC-day granularity: the days of these times are included.</summary>
    public long? FromNs { get; init; }
    public long? ToNs { get; init; }
    public string? Device { get; init; }

    /// <summary><c>day</c>, <c>device</c> or <c>software</c>.</summary>
    public string By { get; init; } = "day";

    public static readonly string[] Groupings = ["day", "device", "software"];
}

public sealed record SchemaChangesPage(IReadOnlyList<TopicSchemas> Topics);

/// <summary>One topic's schema history. <see cref="Changes"/> = schemas − 1.</summary>
public sealed record TopicSchemas(string Topic, string NewestSha256, string? PinnedSha256, int Changes, long PinBreaches, IReadOnlyList<SchemaVersion> Schemas,
    int DevicesOnOld, IReadOnlyList<StillOnOld> DevicesStillOnOld, int RecordingsOnOld, IReadOnlyList<StillOnOld> RecordingsStillOnOld);

/// <summary>One schema of a topic and who brought it first.</summary>
public sealed record SchemaVersion(string SchemaSha256, string? SchemaName, long FirstStartNs, long FirstRecordingId, string FirstGroupKey, string FirstDeviceId,
    string? FirstSoftwareVersion, int Recordings, int Devices, long LastStartNs);

/// <summary>A device whose latest recording, or a recording made after the newest schema appeared, still carries an older schema.</summary>
public sealed record StillOnOld(string DeviceId, string SchemaSha256, long RecordingId, string GroupKey, string? SoftwareVersion, long StartNs);

public sealed record ProfilesPage(string Topic, string? Field, string By, int SketchK, double RankErrorBound, IReadOnlyList<string> Fields, IReadOnlyList<ProfileGroup> Groups);

/// <summary>One group's distribution; <see cref="Field"/> when a field was asked for.</summary>
public sealed record ProfileGroup(string Group, long Recordings, long Messages, long? Bytes, double RateHz, long Drops, long Gaps, long? MaxGapNs, FieldStats? Field);

/// <summary>A field's merged profile: values (non-null), nulls, min, max, mean and the quantiles p01…p99.</summary>
public sealed record FieldStats(long Count, long Nulls, double? Min, double? Max, double? Mean, IReadOnlyDictionary<string, double>? Quantiles);
