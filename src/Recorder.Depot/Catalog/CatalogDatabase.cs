using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using static Recorder.Depot.Catalog.CatalogSql;

namespace Recorder.Depot.Catalog;

/// <summary>
/// The catalog: writes a <see cref="RecordingEntry"/> as one transaction (replacing the group's
/// earlier rows, or nothing when its content is unchanged) and answers the listed queries, each
/// through an index. The same SQL runs on SQLite and PostgreSQL; <see cref="CatalogDialect"/>
/// holds what differs.
/// </summary>
public sealed class CatalogDatabase : IDisposable
{
    private readonly CatalogDialect _dialect;
    private readonly TimeProvider _time;

    public CatalogDatabase(CatalogDialect dialect, TimeProvider? time = null)
    {
        _dialect = dialect;
        _time = time ?? TimeProvider.System;
    }

    public CatalogDialect Dialect => _dialect;

    public void Dispose() => _dialect.Dispose();

    /// <summary>Applies every migration the database lacks, in order; returns how many.</summary>
    public int Migrate()
    {
        using var connection = _dialect.Open();
        Execute(connection, null, "CREATE TABLE IF NOT EXISTS catalog_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_ns BIGINT NOT NULL)");
        var applied = 0;
        using var tx = connection.BeginTransaction();
        if (_dialect.MigrationLock is { } lockSql) Execute(connection, tx, lockSql);
        var have = new HashSet<int>();
        using (var read = Command(connection, tx, "SELECT version FROM catalog_migrations"))
        using (var rows = read.ExecuteReader())
            while (rows.Read()) have.Add(Convert.ToInt32(rows.GetValue(0), CultureInfo.InvariantCulture));
        foreach (var (version, description, statements) in CatalogMigrations.All)
        {
            if (have.Contains(version)) continue;
            foreach (var statement in statements) Execute(connection, tx, _dialect.Ddl(statement));
            Execute(connection, tx, "INSERT INTO catalog_migrations (version, description, applied_ns) VALUES (@v, @d, @t)",
                ("v", version), ("d", description), ("t", NowNs()));
            applied++;
        }
        tx.Commit();
        return applied;
    }

    /// <summary>The schema versions applied, in order.</summary>
    public List<int> AppliedVersions()
    {
        using var connection = _dialect.Open();
        using var command = Command(connection, null, "SELECT version FROM catalog_migrations ORDER BY version");
        using var rows = command.ExecuteReader();
        var versions = new List<int>();
        while (rows.Read()) versions.Add(Convert.ToInt32(rows.GetValue(0), CultureInfo.InvariantCulture));
        return versions;
    }

    /// <summary>The hashes cataloged for a group's files (name → size, sha256), so a re-catalog hashes only what changed.</summary>
    public Dictionary<string, (long Size, string Sha256)> KnownFiles(string groupKey)
    {
        using var connection = _dialect.Open();
        using var command = Command(connection, null,
            "SELECT f.name, f.size, f.sha256 FROM recording_files f JOIN recordings r ON r.id = f.recording_id WHERE r.group_key = @g", ("g", groupKey));
        using var rows = command.ExecuteReader();
        var known = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        while (rows.Read()) known[rows.GetString(0)] = (rows.GetInt64(1), rows.GetString(2));
        return known;
    }

    /// <summary>Every group key cataloged (for the catch-up at start).</summary>
    public HashSet<string> GroupKeys()
    {
        using var connection = _dialect.Open();
        using var command = Command(connection, null, "SELECT group_key FROM recordings");
        using var rows = command.ExecuteReader();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (rows.Read()) keys.Add(rows.GetString(0));
        return keys;
    }

    /// <summary>What <see cref="Save"/> did.</summary>
    public enum SaveResult { Added, Replaced, Unchanged }

    /// <summary>Writes the entry: new, replacing the group's rows, or not at all when nothing changed (so re-indexing is idempotent, ids included).</summary>
    public SaveResult Save(RecordingEntry entry)
    {
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(entry, CatalogJson.Default.RecordingEntry)));
        // Another writer (a second depot process, `reindex` beside the running depot) may add the same group between
        // this one's look and its insert: the insert then does nothing, and the save starts over from what that one wrote.
        for (var attempt = 0; ; attempt++)
            if (TrySave(entry, fingerprint) is { } result) return result;
            else if (attempt == 3) throw new InvalidOperationException($"{entry.GroupKey} kept being written by another catalog writer");
    }

    private SaveResult? TrySave(RecordingEntry entry, string fingerprint)
    {
        using var connection = _dialect.Open();
        using var tx = connection.BeginTransaction();
        long? id = null;
        string? previous = null;
        using (var find = Command(connection, tx, "SELECT id, fingerprint FROM recordings WHERE group_key = @g", ("g", entry.GroupKey)))
        using (var rows = find.ExecuteReader())
            if (rows.Read()) (id, previous) = (rows.GetInt64(0), rows.GetString(1));
        if (previous == fingerprint) return SaveResult.Unchanged;

        (string, object?)[] columns =
        [
            ("group_key", entry.GroupKey), ("device_id", entry.DeviceId), ("name", entry.Name), ("status", entry.Status), ("error", entry.Error),
            ("start_ns", entry.StartNs), ("end_ns", entry.EndNs), ("messages", entry.Messages), ("bytes", entry.Bytes),
            ("software_version", entry.SoftwareVersion), ("vehicle", entry.Vehicle), ("operator", entry.Operator), ("library", entry.Library),
            ("drops", entry.Drops), ("gaps", entry.Gaps), ("fingerprint", fingerprint), ("cataloged_ns", NowNs()),
        ];
        if (id is { } existing)
        {
            Execute(connection, tx, $"UPDATE recordings SET {string.Join(", ", columns.Select(c => $"{c.Item1} = @{c.Item1}"))} WHERE id = @id", [.. columns, ("id", existing)]);
            foreach (var table in new[] { "recording_files", "recording_topics", "recording_video", "recording_metadata", "event_terms", "events" })
                Execute(connection, tx, $"DELETE FROM {table} WHERE recording_id = @id", ("id", existing));
        }
        else
        {
            using var insert = Command(connection, tx,
                $"INSERT INTO recordings ({string.Join(", ", columns.Select(c => c.Item1))}) VALUES ({string.Join(", ", columns.Select(c => "@" + c.Item1))}) ON CONFLICT (group_key) DO NOTHING RETURNING id", columns);
            if (insert.ExecuteScalar() is not { } inserted || inserted is DBNull) return null;
            id = Convert.ToInt64(inserted, CultureInfo.InvariantCulture);
        }
        var rid = id.Value;
        foreach (var f in entry.Files)
            Execute(connection, tx, "INSERT INTO recording_files (recording_id, name, kind, size, sha256) VALUES (@r, @n, @k, @s, @h)",
                ("r", rid), ("n", f.Name), ("k", f.Kind), ("s", f.Size), ("h", f.Sha256));
        foreach (var t in entry.Topics)
            Execute(connection, tx, """
                INSERT INTO recording_topics (recording_id, topic, messages, bytes, rate_hz, message_encoding, schema_name, schema_encoding, schema_sha256, drops, refused, max_gap_ns)
                VALUES (@r, @t, @m, @b, @rate, @me, @sn, @se, @sh, @d, @rf, @g)
                """, ("r", rid), ("t", t.Topic), ("m", t.Messages), ("b", t.Bytes), ("rate", t.RateHz), ("me", t.MessageEncoding), ("sn", t.SchemaName),
                ("se", t.SchemaEncoding), ("sh", t.SchemaSha256), ("d", t.Drops), ("rf", t.Refused), ("g", t.MaxGapNs));
        foreach (var v in entry.Video)
            Execute(connection, tx, "INSERT INTO recording_video (recording_id, topic, codec, store, width, height, frames, keyframes, fps) VALUES (@r, @t, @c, @s, @w, @h, @f, @k, @fps)",
                ("r", rid), ("t", v.Topic), ("c", v.Codec), ("s", v.Store), ("w", v.Width), ("h", v.Height), ("f", v.Frames), ("k", v.Keyframes), ("fps", v.Fps));
        foreach (var m in entry.Metadata)
            Execute(connection, tx, "INSERT INTO recording_metadata (recording_id, record, ordinal, key, value) VALUES (@r, @n, @o, @k, @v)",
                ("r", rid), ("n", m.Record), ("o", m.Ordinal), ("k", m.Key), ("v", m.Value));
        foreach (var e in entry.Events)
        {
            using var insert = Command(connection, tx, "INSERT INTO events (recording_id, device_id, time_ns, type, text, fields) VALUES (@r, @d, @t, @y, @x, @f) RETURNING id",
                ("r", rid), ("d", entry.DeviceId), ("t", e.TimeNs), ("y", e.Type), ("x", e.Text), ("f", e.Fields));
            var eventId = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
            foreach (var term in EventTerms.Of(e.Type + " " + e.Text))
                Execute(connection, tx, "INSERT INTO event_terms (term, event_id, recording_id) VALUES (@t, @e, @r)", ("t", term), ("e", eventId), ("r", rid));
        }
        RefreshDevice(connection, tx, entry.DeviceId);
        tx.Commit();
        return previous is null ? SaveResult.Added : SaveResult.Replaced;
    }

    /// <summary>The device's row, recomputed from its recordings (through recordings_by_device).</summary>
    private static void RefreshDevice(DbConnection connection, DbTransaction tx, string device) =>
        Execute(connection, tx, """
            INSERT INTO devices (device_id, last_seen_ns, recordings, recorded_ns, bytes, software_version, drops, gaps, unparseable, longest_ns)
            SELECT @d, COALESCE(MAX(end_ns), 0), COUNT(*), CAST(COALESCE(SUM(end_ns - start_ns), 0) AS BIGINT), CAST(COALESCE(SUM(bytes), 0) AS BIGINT),
                   (SELECT software_version FROM recordings WHERE device_id = @d AND software_version IS NOT NULL ORDER BY start_ns DESC, id DESC LIMIT 1),
                   CAST(COALESCE(SUM(drops), 0) AS BIGINT), CAST(COALESCE(SUM(gaps), 0) AS BIGINT),
                   CAST(COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0) AS BIGINT), COALESCE(MAX(end_ns - start_ns), 0)
            FROM recordings WHERE device_id = @d
            ON CONFLICT (device_id) DO UPDATE SET last_seen_ns = excluded.last_seen_ns, recordings = excluded.recordings, recorded_ns = excluded.recorded_ns,
                bytes = excluded.bytes, software_version = excluded.software_version, drops = excluded.drops, gaps = excluded.gaps,
                unparseable = excluded.unparseable, longest_ns = excluded.longest_ns
            """, ("d", device));

    private const string RecordingColumns = "r.id, r.group_key, r.device_id, r.name, r.status, r.error, r.start_ns, r.end_ns, r.messages, r.bytes, r.software_version, r.vehicle, r.operator, r.drops, r.gaps";

    /// <summary>The SQL and parameters of a recordings query (public for the EXPLAIN tests).</summary>
    public (string Sql, List<(string, object?)> Parameters) RecordingsSql(RecordingQuery q, long longestNs)
    {
        var where = new List<string>();
        var p = new List<(string, object?)>();
        if (q.Device is { } device) { where.Add("r.device_id = @device"); p.Add(("device", device)); }
        if (q.ToNs is { } to) { where.Add("r.start_ns <= @to"); p.Add(("to", to)); }
        if (q.FromNs is { } from)
        {
            // end_ns >= from alone is no index range; no recording is longer than the longest cataloged, so start_ns >= from - longest bounds the scan.
            where.Add("r.end_ns >= @from AND r.start_ns >= @from_floor");
            p.Add(("from", from));
            p.Add(("from_floor", from - longestNs));
        }
        if (q.SoftwareVersion is { } sw) { where.Add("r.software_version = @sw"); p.Add(("sw", sw)); }
        if (q.HasDrops) where.Add("r.drops > 0");
        if (q.Topic is { } topic) { where.Add("r.id IN (SELECT recording_id FROM recording_topics WHERE topic = @topic)"); p.Add(("topic", topic)); }
        var n = 0;
        foreach (var term in EventTerms.Of(q.EventText ?? ""))
        {
            n++;
            where.Add($"r.id IN (SELECT recording_id FROM event_terms WHERE term >= @et{n} AND term < @etend{n})");
            p.Add(($"et{n}", term));
            p.Add(($"etend{n}", EventTerms.PrefixEnd(term)));
        }
        foreach (var term in q.Meta)
        {
            n++;
            var conditions = new List<string>();
            if (term.Key is { } key)
            {
                conditions.Add(term.KeyIsPrefix ? $"m.key >= @mk{n} AND m.key < @mkend{n}" : $"m.key = @mk{n}");
                p.Add(($"mk{n}", key));
                if (term.KeyIsPrefix) p.Add(($"mkend{n}", key.Length == 0 ? "\uffff" : EventTerms.PrefixEnd(key)));
            }
            if (term.Values is { } values)
            {
                var alternatives = new List<string>();
                var v = 0;
                foreach (var (value, prefix) in values)
                {
                    v++;
                    alternatives.Add(prefix ? $"(m.value >= @mv{n}_{v} AND m.value < @mvend{n}_{v})" : $"m.value = @mv{n}_{v}");
                    p.Add(($"mv{n}_{v}", value));
                    if (prefix) p.Add(($"mvend{n}_{v}", value.Length == 0 ? "\uffff" : EventTerms.PrefixEnd(value)));
                }
                conditions.Add("(" + string.Join(" OR ", alternatives) + ")");
            }
            if (conditions.Count == 0) continue; // *:* matches every recording with any metadata; nothing to narrow
            where.Add($"r.id IN (SELECT m.recording_id FROM recording_metadata m WHERE {string.Join(" AND ", conditions)})");
        }
        var sortKey = SortKey(q.Sort);
        if (q.Cursor is { } cursor)
        {
            var (last, id) = Cursor.Parse(cursor);
            where.Add($"({sortKey} < @cs OR ({sortKey} = @cs AND r.id < @cid))");
            p.Add(("cs", last));
            p.Add(("cid", id));
        }
        p.Add(("limit", Math.Clamp(q.Limit, 1, 1000) + 1));
        var sql = $"SELECT {RecordingColumns} FROM recordings r{(where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")} ORDER BY {sortKey} DESC, r.id DESC LIMIT @limit";
        return (sql, p);
    }

    /// <summary>The column (or expression, indexed as written: migration 2) a recordings list is ordered by.</summary>
    private static string SortKey(RecordingSort sort) => sort switch
    {
        RecordingSort.Duration => "(r.end_ns - r.start_ns)",
        RecordingSort.Size => "r.bytes",
        _ => "r.start_ns",
    };

    /// <summary>Recordings matching <paramref name="q"/>, in its order (newest first by default), one page.</summary>
    public RecordingsPage FindRecordings(RecordingQuery q)
    {
        using var connection = _dialect.Open();
        var (sql, parameters) = RecordingsSql(q, LongestRecordingNs(connection));
        using var command = Command(connection, null, sql, [.. parameters]);
        using var rows = command.ExecuteReader();
        var items = new List<RecordingItem>();
        while (rows.Read()) items.Add(ReadRecording(rows));
        var limit = Math.Clamp(q.Limit, 1, 1000);
        if (items.Count <= limit) return new RecordingsPage(items, null);
        items.RemoveAt(items.Count - 1);
        var lastItem = items[^1];
        var lastKey = q.Sort switch { RecordingSort.Duration => lastItem.EndNs - lastItem.StartNs, RecordingSort.Size => lastItem.Bytes, _ => lastItem.StartNs };
        return new RecordingsPage(items, Cursor.Make(lastKey, lastItem.Id));
    }

    /// <summary>The longest recording cataloged (from the devices table: one row per device, not a scan of recordings).</summary>
    public long LongestRecordingNs(DbConnection connection)
    {
        using var command = Command(connection, null, "SELECT COALESCE(MAX(longest_ns), 0) FROM devices");
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static RecordingItem ReadRecording(DbDataReader r) => new(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
        r.IsDBNull(5) ? null : r.GetString(5), r.GetInt64(6), r.GetInt64(7), r.GetInt64(8), r.GetInt64(9),
        r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11), r.IsDBNull(12) ? null : r.GetString(12), r.GetInt64(13), r.GetInt64(14));

    /// <summary>One recording with everything cataloged about it, or null.</summary>
    public RecordingDetail? GetRecording(long id)
    {
        using var connection = _dialect.Open();
        RecordingItem item;
        string? library;
        using (var command = Command(connection, null, $"SELECT {RecordingColumns}, r.library FROM recordings r WHERE r.id = @id", ("id", id)))
        using (var rows = command.ExecuteReader())
        {
            if (!rows.Read()) return null;
            item = ReadRecording(rows);
            library = rows.IsDBNull(15) ? null : rows.GetString(15);
        }
        var files = Rows(connection, "SELECT name, kind, size, sha256 FROM recording_files WHERE recording_id = @id ORDER BY name", id,
            r => new CatalogFile(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3)));
        var topics = Rows(connection, "SELECT topic, messages, bytes, rate_hz, message_encoding, schema_name, schema_encoding, schema_sha256, drops, refused, max_gap_ns FROM recording_topics WHERE recording_id = @id ORDER BY topic", id,
            r => new TopicEntry(r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetInt64(2), r.GetDouble(3), r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.GetInt64(8), r.GetInt64(9), r.IsDBNull(10) ? null : r.GetInt64(10)));
        var events = Rows(connection, "SELECT e.id, e.recording_id, @g, e.device_id, e.time_ns, e.type, e.text, e.fields FROM events e WHERE e.recording_id = @id ORDER BY e.time_ns, e.id", id,
            ReadEvent, ("g", item.GroupKey));
        var video = Rows(connection, "SELECT topic, codec, store, width, height, frames, keyframes, fps FROM recording_video WHERE recording_id = @id ORDER BY topic", id,
            r => new VideoEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetDouble(7)));
        var metadata = Rows(connection, "SELECT record, ordinal, key, value FROM recording_metadata WHERE recording_id = @id ORDER BY ordinal, key", id,
            r => new MetadataEntry(r.GetString(0), Convert.ToInt32(r.GetValue(1), CultureInfo.InvariantCulture), r.GetString(2), r.GetString(3)));
        return new RecordingDetail(item, library, files, topics, events, video, metadata, new ProfileStore(_dialect).PinBreaches(id));
    }

    /// <summary>The recording of a group key, or null.</summary>
    public RecordingDetail? GetRecording(string groupKey)
    {
        using var connection = _dialect.Open();
        using var command = Command(connection, null, "SELECT id FROM recordings WHERE group_key = @g", ("g", groupKey));
        return command.ExecuteScalar() is { } id and not DBNull ? GetRecording(Convert.ToInt64(id, CultureInfo.InvariantCulture)) : null;
    }

    private static EventItem ReadEvent(DbDataReader r) => new(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetString(5), r.GetString(6), r.GetString(7));

    /// <summary>The SQL and parameters of an events query (public for the EXPLAIN tests).</summary>
    public static (string Sql, List<(string, object?)> Parameters) EventsSql(EventQuery q)
    {
        var where = new List<string>();
        var p = new List<(string, object?)>();
        if (q.Device is { } device) { where.Add("e.device_id = @device"); p.Add(("device", device)); }
        if (q.FromNs is { } from) { where.Add("e.time_ns >= @from"); p.Add(("from", from)); }
        if (q.ToNs is { } to) { where.Add("e.time_ns <= @to"); p.Add(("to", to)); }
        var n = 0;
        foreach (var term in EventTerms.Of(q.Text ?? ""))
        {
            n++;
            where.Add($"e.id IN (SELECT event_id FROM event_terms WHERE term >= @et{n} AND term < @etend{n})");
            p.Add(($"et{n}", term));
            p.Add(($"etend{n}", EventTerms.PrefixEnd(term)));
        }
        if (q.Cursor is { } cursor)
        {
            var (time, id) = Cursor.Parse(cursor);
            where.Add("(e.time_ns < @cs OR (e.time_ns = @cs AND e.id < @cid))");
            p.Add(("cs", time));
            p.Add(("cid", id));
        }
        p.Add(("limit", Math.Clamp(q.Limit, 1, 1000) + 1));
        var sql = "SELECT e.id, e.recording_id, r.group_key, e.device_id, e.time_ns, e.type, e.text, e.fields FROM events e JOIN recordings r ON r.id = e.recording_id"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "") + " ORDER BY e.time_ns DESC, e.id DESC LIMIT @limit";
        return (sql, p);
    }

    /// <summary>Events matching <paramref name="q"/>, newest first, one page.</summary>
    public EventsPage FindEvents(EventQuery q)
    {
        var (sql, parameters) = EventsSql(q);
        using var connection = _dialect.Open();
        using var command = Command(connection, null, sql, [.. parameters]);
        using var rows = command.ExecuteReader();
        var items = new List<EventItem>();
        while (rows.Read()) items.Add(ReadEvent(rows));
        var limit = Math.Clamp(q.Limit, 1, 1000);
        if (items.Count <= limit) return new EventsPage(items, null);
        items.RemoveAt(items.Count - 1);
        return new EventsPage(items, Cursor.Make(items[^1].TimeNs, items[^1].Id));
    }

    public const string DevicesSql = "SELECT device_id, last_seen_ns, recordings, recorded_ns, bytes, software_version, drops, gaps, unparseable FROM devices ORDER BY device_id";

    /// <summary>Every device the catalog has seen.</summary>
    public DevicesPage Devices()
    {
        using var connection = _dialect.Open();
        using var command = Command(connection, null, DevicesSql);
        using var rows = command.ExecuteReader();
        var items = new List<DeviceItem>();
        while (rows.Read())
            items.Add(new DeviceItem(rows.GetString(0), rows.GetInt64(1), rows.GetInt64(2), Math.Round(rows.GetInt64(3) / 3.6e12, 6), rows.GetInt64(4),
                rows.IsDBNull(5) ? null : rows.GetString(5), rows.GetInt64(6), rows.GetInt64(7), rows.GetInt64(8)));
        return new DevicesPage(items);
    }

    /// <summary>The query plan of <paramref name="sql"/> as text (one line per plan row), for the index tests.</summary>
    public string Explain(string sql, IEnumerable<(string, object?)> parameters)
    {
        using var connection = _dialect.Open();
        if (_dialect.ExplainSetup is { } setup) Execute(connection, null, setup);
        using var command = Command(connection, null, _dialect.Explain(sql), [.. parameters]);
        using var rows = command.ExecuteReader();
        var plan = new StringBuilder();
        while (rows.Read()) plan.AppendLine(rows.GetValue(rows.FieldCount - 1)?.ToString());
        return plan.ToString();
    }

    private long NowNs() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static List<T> Rows<T>(DbConnection connection, string sql, long id, Func<DbDataReader, T> read, params (string, object?)[] more)
    {
        using var command = Command(connection, null, sql, [("id", id), .. more]);
        using var rows = command.ExecuteReader();
        var list = new List<T>();
        while (rows.Read()) list.Add(read(rows));
        return list;
    }
}
