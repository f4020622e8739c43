using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Recorder.Depot.Catalog;
using Recorder.Depot.Config;
using Recorder.Depot.Tests.Fixtures;
using Recorder.Mcap;

namespace Recorder.Depot.Tests.Catalog;

/// <summary>The catalog on the embedded SQLite file.</summary>
public sealed class SqliteCatalogTests : CatalogTests
{
    protected override DepotSettings UseCatalog(DepotSettings settings) => settings;
}

/// <summary>The catalog on a real PostgreSQL server (Debian's, started by the tests), a fresh database per test.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCatalogTests(PostgresServer server) : CatalogTests
{
    protected override DepotSettings UseCatalog(DepotSettings settings) =>
        settings with { Catalog = new CatalogSettings { Postgres = server.CreateDatabase("catalog") } };
}

/// <summary>
/// The catalog's behaviour, run on both databases: the same tests, the same SQL, only the
/// connection differs. Recordings are real MCAP files (written with the project's writer, or by
/// the recorder daemon itself in <see cref="CatalogTests.Recordings_from_the_recorder_daemon_are_cataloged_as_recorder_info_frames_and_cat_report_them"/>).
/// </summary>
public abstract partial class CatalogTests : IAsyncLifetime
{
    protected const ulong Base = 1_795_766_400_000_000_000UL; // 2026-11-27T08:00:00Z
    protected const ulong Second = 1_000_000_000UL;

    protected TestDepot Depot { get; private set; } = null!;

    protected abstract DepotSettings UseCatalog(DepotSettings settings);

    public async Task InitializeAsync()
    {
        Depot = await TestDepot.StartAsync(UseCatalog);
        await Indexer.WhenIdleAsync(); // its catch-up of the (empty) store is over: what the test writes is cataloged by the test's reindex or uploads
    }

    public async Task DisposeAsync() => await Depot.DisposeAsync();

    protected CatalogDatabase Database => (CatalogDatabase)Depot.App.Services.GetService(typeof(CatalogDatabase))!;

    protected CatalogIndexer Indexer => (CatalogIndexer)Depot.App.Services.GetService(typeof(CatalogIndexer))!;

    protected (int Groups, int Added, int Replaced, int Unchanged) Reindex() => CatalogIndexer.Reindex(Database, new LocalCatalogSource(Depot.Storage));

    /// <summary>A recording as the recorder lays it out: recorder.device (operator changes as later records), topics, events, extra metadata.</summary>
    protected string WriteRecording(string device, int minute, IReadOnlyDictionary<string, string>? tags = null, string software = "1.0.0",
        string[]? topics = null, (string Type, string Text)[]? events = null, ulong drops = 0, string? laterOperator = null)
    {
        var start = Base + (ulong)minute * 60 * Second;
        var dir = Path.Combine(Depot.Storage, device, "2026-11-27");
        Directory.CreateDirectory(dir);
        var name = string.Create(CultureInfo.InvariantCulture, $"{device}_20261127T{8 + minute / 60:D2}{minute % 60:D2}00Z_0001.mcap");
        using (var writer = new McapWriter(File.Create(Path.Combine(dir, name)), new McapWriterOptions { Library = "recorder/test" }))
        {
            var device0 = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["device_id"] = device, ["software_version"] = software, ["vehicle"] = "v-" + device, ["operator"] = "tester",
            };
            writer.WriteMetadata(new Metadata("recorder.device", device0));
            var schema = writer.AddSchema("test.Sample", "jsonschema", "{\"type\":\"object\"}"u8.ToArray());
            var stats = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var topic in topics ?? ["/imu"])
            {
                var channel = writer.AddChannel(topic, "json", schema);
                for (uint i = 0; i < 10; i++) writer.WriteMessage(channel, i, start + i * Second, start + i * Second, "{\"x\":1}"u8);
                stats[topic] = string.Create(CultureInfo.InvariantCulture, $"{{\"messages\":10,\"bytes\":70,\"drops\":{drops},\"refused\":0,\"max_gap_ns\":1000000000}}");
            }
            var eventsChannel = writer.AddChannel("/recorder/events", "json");
            uint sequence = 0;
            foreach (var (type, text) in events ?? [])
            {
                var t = start + (2 + sequence) * Second;
                var json = type == "mark" ? $"{{\"type\":\"mark\",\"time_ns\":{t},\"text\":\"{text}\"}}" : $"{{\"type\":\"{type}\",\"time_ns\":{t},\"cause\":\"{text}\"}}";
                writer.WriteMessage(eventsChannel, sequence++, t, t, Encoding.UTF8.GetBytes(json));
            }
            if (laterOperator is not null)
                writer.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(device0, StringComparer.Ordinal) { ["operator"] = laterOperator }));
            if (tags is not null) writer.WriteMetadata(new Metadata("fleet.tags", tags));
            writer.WriteMetadata(new Metadata("recorder.topic_stats", stats));
        }
        return $"{device}/2026-11-27/{name}";
    }

    protected async Task<JsonElement> Get(string pathAndQuery, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var client = new HttpClient();
        using var response = await client.GetAsync(new Uri(Depot.App.Url, pathAndQuery));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"GET {pathAndQuery}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    protected async Task<List<string>> Keys(string query)
    {
        var page = await Get("/api/recordings?" + query);
        return page.GetProperty("recordings").EnumerateArray().Select(r => r.GetProperty("group_key").GetString()!).Order(StringComparer.Ordinal).ToList();
    }

    protected static List<string> Sorted(params string[] keys) => keys.Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task Metadata_search_takes_foxglove_syntax_with_wildcards()
    {
        var rain = WriteRecording("dev-a", 0, new Dictionary<string, string> { ["weather"] = "rain", ["road"] = "wet" });
        var fog = WriteRecording("dev-a", 10, new Dictionary<string, string> { ["weather"] = "fog", ["road"] = "dry" });
        var sunny = WriteRecording("dev-b", 20, new Dictionary<string, string> { ["weather"] = "mostly sunny", ["surface"] = "rain-soaked" });
        var none = WriteRecording("dev-b", 30, laterOperator: "rosa");
        Assert.Equal((4, 4, 0, 0), Reindex());

        Assert.Equal([rain], await Keys("meta=weather:rain"));
        Assert.Equal([rain], await Keys("meta=*:rain"));                                  // any key
        Assert.Equal([rain, fog, sunny], await Keys("meta=weather:*"));                    // any value
        Assert.Equal([rain], await Keys("meta=weather:rain&meta=road:wet"));              // all required
        Assert.Equal([rain], await Keys("meta=" + Uri.EscapeDataString("weather:rain road:wet")));
        Assert.Empty(await Keys("meta=weather:rain&meta=road:dry"));
        Assert.Equal([rain, fog, sunny], await Keys("meta=" + Uri.EscapeDataString("weather:rain,fog,\"mostly sunny\""))); // one of
        Assert.Equal([sunny], await Keys("meta=" + Uri.EscapeDataString("*:rain-*")));   // trailing prefix wildcard
        Assert.Equal([rain, sunny], await Keys("meta=" + Uri.EscapeDataString("*:rain*")));
        Assert.Equal([none], await Keys("meta=operator:rosa"));                          // the later recorder.device record counts
        Assert.Equal(4, (await Keys("meta=operator:tester")).Count);
        var bad = await Get("/api/recordings?meta=" + Uri.EscapeDataString("weather:r*n"), HttpStatusCode.BadRequest);
        Assert.Contains("trailing prefix wildcard", bad.GetProperty("error").GetString(), StringComparison.Ordinal);
        await Get("/api/recordings?meta=weather", HttpStatusCode.BadRequest);

        // The CLI answers the same, on the database the configuration names.
        var config = Path.Combine(Depot.Root, "depot.yaml");
        var postgres = Depot.App.Settings.Catalog.Postgres;
        File.WriteAllText(config, $"""
            storage: {"{"} dir: {Depot.Storage} {"}"}
            state_dir: {Depot.App.Settings.StateDir}
            catalog: {"{"} postgres: {(postgres is null ? "" : "\"" + postgres + "\"")} {"}"}
            """);
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.True(DepotCommandLine.Run(["find", "--meta", "*:rain", "--config", config, "--json"], output, error) == 0, error.ToString());
        var cli = JsonDocument.Parse(output.ToString()).RootElement.GetProperty("recordings").EnumerateArray().Select(r => r.GetProperty("group_key").GetString()).ToList();
        Assert.Equal([rain], cli);
        Assert.Equal(2, DepotCommandLine.Run(["find", "--meta", "nokey", "--config", config], new StringWriter(), error));
        Assert.Contains("is not key:value", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Filters_combine_and_cursor_pages_visit_every_recording_once()
    {
        var keys = new List<string>();
        for (var i = 0; i < 7; i++)
            keys.Add(WriteRecording(i % 2 == 0 ? "dev-a" : "dev-b", i * 5, software: i < 4 ? "1.0.0" : "1.1.0",
                topics: i == 3 ? ["/imu", "/gps"] : ["/imu"], events: i == 5 ? [("mark", "Hard brake at gate"), ("write_gap", "DiskFull")] : null, drops: i == 6 ? 3UL : 0));
        Assert.Equal(7, Reindex().Added);

        Assert.Equal(keys.Where((_, i) => i % 2 == 0).Order(StringComparer.Ordinal), await Keys("device=dev-a"));
        Assert.Equal([keys[3]], await Keys("topic=/gps"));
        Assert.Equal([keys[5]], await Keys("event=" + Uri.EscapeDataString("hard BRA")));  // words, by prefix, any case
        Assert.Equal(Sorted(keys[4], keys[5], keys[6]), await Keys("software=1.1.0"));
        Assert.Equal([keys[6]], await Keys("has_drops=true"));
        // Overlap: recording i spans [5i min, 5i min + 9 s]; 10:00:05..10:00:08 after 08:00 is inside recording 2 only.
        Assert.Equal([keys[2]], await Keys($"from={Base + 600 * Second + 5 * Second}&to=2026-11-27T08:10:08Z"));
        Assert.Equal(Sorted(keys[1], keys[2]), await Keys($"from=2026-11-27T08:05:05Z&to=2026-11-27T08:10:00Z"));
        Assert.Empty(await Keys("device=dev-a&topic=/gps"));

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await Get("/api/recordings?limit=3" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            var starts = page.GetProperty("recordings").EnumerateArray().Select(r => r.GetProperty("start_ns").GetInt64()).ToList();
            Assert.Equal(starts.OrderDescending(), starts); // newest first
            seen.AddRange(page.GetProperty("recordings").EnumerateArray().Select(r => r.GetProperty("group_key").GetString()!));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null);
        Assert.Equal(3, pages);
        Assert.Equal(keys.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        await Get("/api/recordings?cursor=nonsense", HttpStatusCode.BadRequest);
        await Get("/api/recordings?colour=red", HttpStatusCode.BadRequest);
        await Get("/api/recordings?from=yesterday", HttpStatusCode.BadRequest);

        var events = (await Get("/api/events?text=brake")).GetProperty("events").EnumerateArray().ToList();
        var mark = Assert.Single(events);
        Assert.Equal(("mark", "Hard brake at gate", keys[5]), (mark.GetProperty("type").GetString(), mark.GetProperty("text").GetString(), mark.GetProperty("group_key").GetString()));
        Assert.Equal(2, (await Get("/api/events?device=dev-b")).GetProperty("events").GetArrayLength());
        Assert.Empty((await Get("/api/events?device=dev-a")).GetProperty("events").EnumerateArray());
        Assert.Single((await Get("/api/events?text=diskfull")).GetProperty("events").EnumerateArray());

        var devices = (await Get("/api/devices")).GetProperty("devices").EnumerateArray().ToDictionary(d => d.GetProperty("device_id").GetString()!);
        Assert.Equal(["dev-a", "dev-b"], devices.Keys.Order(StringComparer.Ordinal));
        var a = devices["dev-a"];
        Assert.Equal(4, a.GetProperty("recordings").GetInt64());
        Assert.Equal((long)(Base + 30 * 60 * Second + 9 * Second), a.GetProperty("last_seen_ns").GetInt64());
        Assert.Equal(4 * 9 / 3600.0, a.GetProperty("hours_recorded").GetDouble(), 6);
        Assert.Equal("1.1.0", a.GetProperty("software_version").GetString());
        Assert.Equal(3, a.GetProperty("drops").GetInt64());
        Assert.Equal(1, devices["dev-b"].GetProperty("gaps").GetInt64()); // the write_gap
        Assert.Equal(keys.Where((_, i) => i % 2 == 0).Sum(k => new FileInfo(Path.Combine(Depot.Storage, k)).Length), a.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task Reindex_is_idempotent_ids_and_answers_included()
    {
        for (var i = 0; i < 4; i++) WriteRecording("dev-a", i * 5, events: [("mark", "m" + i)], laterOperator: i == 1 ? "rosa" : null);
        Assert.Equal((4, 4, 0, 0), Reindex());
        var before = (await Get("/api/recordings")).GetRawText();
        var eventsBefore = (await Get("/api/events")).GetRawText();
        var devicesBefore = (await Get("/api/devices")).GetRawText();
        Assert.Equal((4, 0, 0, 4), Reindex());
        Assert.Equal(before, (await Get("/api/recordings")).GetRawText());
        Assert.Equal(eventsBefore, (await Get("/api/events")).GetRawText());
        Assert.Equal(devicesBefore, (await Get("/api/devices")).GetRawText());
        // Migrations: applied once; opening the database again applies none.
        Assert.Equal(Enumerable.Range(1, CatalogMigrations.Latest), Database.AppliedVersions());
        Assert.Equal(0, Database.Migrate());

        // A file that changed in storage is cataloged again, under the same id.
        var id = (await Get("/api/recordings?limit=1")).GetProperty("recordings")[0].GetProperty("id").GetInt64();
        var key = (await Get("/api/recordings?limit=1")).GetProperty("recordings")[0].GetProperty("group_key").GetString()!;
        WriteRecording("dev-a", 15, events: [("mark", "m3"), ("mark", "again")]);
        Assert.Equal((4, 0, 1, 3), Reindex());
        var detail = await Get("/api/recordings/" + id.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(key, detail.GetProperty("recording").GetProperty("group_key").GetString());
        Assert.Equal(2, detail.GetProperty("events").GetArrayLength());
        await Get("/api/recordings/999999", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_unparseable_recording_is_cataloged_with_its_reason_never_dropped()
    {
        // Through the real upload path: not MCAP at all.
        var garbage = Sample.Random("dev-a_20261127T090000Z_0001.mcap", 5000);
        using (var client = Depot.Client(Depot.TokenA))
        {
            var upload = await Tus.CreateOk(client, Depot.Endpoint, garbage);
            using var patch = await Tus.Patch(client, upload, 0, garbage.Bytes);
            Assert.Equal(garbage.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
        }
        await Indexer.WhenIdleAsync();
        var entry = Database.GetRecording("dev-a/2026-11-27/dev-a_20261127T090000Z_0001.mcap");
        Assert.NotNull(entry);
        Assert.Equal(RecordingStatus.Unparseable, entry.Recording.Status);
        Assert.Contains("magic", entry.Recording.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(garbage.Sha256, Assert.Single(entry.Files).Sha256);

        // A recording cut short (no summary, no trailing magic): cataloged by reindex, with the reason.
        var good = WriteRecording("dev-b", 0);
        var path = Path.Combine(Depot.Storage, good);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Reindex();
        var cut = Database.GetRecording(good)!;
        Assert.Equal(RecordingStatus.Unparseable, cut.Recording.Status);
        Assert.False(string.IsNullOrEmpty(cut.Recording.Error));
        var devices = (await Get("/api/devices")).GetProperty("devices").EnumerateArray().ToDictionary(d => d.GetProperty("device_id").GetString()!);
        Assert.Equal(1, devices["dev-a"].GetProperty("unparseable").GetInt64());
        Assert.Equal(1, devices["dev-b"].GetProperty("unparseable").GetInt64());
        Assert.Equal(2, (await Get("/api/recordings")).GetProperty("recordings").GetArrayLength()); // listed, with their status
    }

    [Fact]
    public void Every_listed_query_is_served_by_an_index()
    {
        for (var i = 0; i < 3; i++) WriteRecording("dev-a", i * 5, new Dictionary<string, string> { ["weather"] = "rain" }, events: [("mark", "brake")]);
        Reindex();
        var longest = 10 * (long)Second;
        RecordingQuery[] queries =
        [
            new(),
            new() { Device = "dev-a" },
            new() { FromNs = (long)Base, ToNs = (long)(Base + 600 * Second) },
            new() { Topic = "/imu" },
            new() { EventText = "brake" },
            new() { SoftwareVersion = "1.0.0" },
            new() { Meta = MetaTerm.ParseAll(["weather:rain"]) },
            new() { Meta = MetaTerm.ParseAll(["*:rain"]) },
            new() { Meta = MetaTerm.ParseAll(["weather:*"]) },
            new() { Meta = MetaTerm.ParseAll(["weather:ra*"]) },
            new() { HasDrops = true },
            new() { Device = "dev-a", Cursor = "1795766400000000000_5" },
            new() { Sort = RecordingSort.Duration },
            new() { Sort = RecordingSort.Size },
            new() { Sort = RecordingSort.Size, Cursor = "4096_5" },
        ];
        var plans = new List<(string What, string Plan)>();
        foreach (var q in queries)
        {
            var (sql, parameters) = Database.RecordingsSql(q, longest);
            plans.Add((sql, Database.Explain(sql, parameters)));
        }
        foreach (var q in new EventQuery[] { new(), new() { Device = "dev-a" }, new() { FromNs = 1, ToNs = 2 }, new() { Text = "brake" } })
        {
            var (sql, parameters) = CatalogDatabase.EventsSql(q);
            plans.Add((sql, Database.Explain(sql, parameters)));
        }
        plans.Add((CatalogDatabase.DevicesSql, Database.Explain(CatalogDatabase.DevicesSql, [])));
        plans.Add(("longest", Database.Explain("SELECT COALESCE(MAX(longest_ns), 0) FROM devices", [])));
        foreach (var (what, plan) in plans)
        {
            Assert.False(string.IsNullOrWhiteSpace(plan), $"no plan for {what}");
            // SQLite: "SCAN t" without an index is a full table scan. PostgreSQL (sequential scans priced out): "Seq Scan" means no index could serve it.
            var fullScan = plan.Split('\n').Any(line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^\s*(SCAN \w+\s*$|.*Seq Scan)"));
            Assert.False(fullScan, $"{Database.Dialect.Name}: a full scan for\n{what}\n{plan}");
        }
    }
}
