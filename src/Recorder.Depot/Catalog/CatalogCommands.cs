using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Recorder.Depot.Config;

namespace Recorder.Depot.Catalog;

/// <summary>
/// The catalog's CLI verbs, on the database the configuration names (the depot may be running):
/// <c>find</c>, <c>events</c>, <c>devices</c> (the same filters and answers as the HTTP API) and
/// <c>reindex</c> (re-catalogs every recording in storage; idempotent).
/// </summary>
public static class CatalogCommands
{
    public static readonly string[] Verbs = ["find", "events", "devices", "reindex"];

    public const string Usage = """
               recorder-depot find [--device D] [--from T] [--to T] [--topic T] [--event TEXT] [--software V]
                                   [--meta KEY:VALUE]... [--has-drops] [--limit N] [--cursor C] [--json] [--config FILE]
               recorder-depot events [--device D] [--from T] [--to T] [--text TEXT] [--limit N] [--cursor C] [--json] [--config FILE]
               recorder-depot devices [--json] [--config FILE]
               recorder-depot reindex [--config FILE]
        """;

    private static readonly string[] Flags = ["--has-drops", "--json"];
    private static readonly string[] Valued = ["--config", "--device", "--from", "--to", "--topic", "--event", "--software", "--meta", "--limit", "--cursor", "--text"];

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var verb = args[0];
        var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            if (Flags.Contains(args[i])) options[args[i]] = [];
            else if (Valued.Contains(args[i]) && i + 1 < args.Length) (options.TryGetValue(args[i], out var l) ? l : options[args[i]] = []).Add(args[++i]);
            else
            {
                error.WriteLine($"recorder-depot {verb}: unexpected '{args[i]}'\nusage:\n{Usage}");
                return 2;
            }
        }
        string? Get(string name) => options.TryGetValue(name, out var v) && v.Count > 0 ? v[^1] : null;
        return WithCatalog(verb, Get("--config"), error, (database, settings) =>
        {
            var json = options.ContainsKey("--json");
            switch (verb)
            {
                case "find":
                    var page = database.FindRecordings(new RecordingQuery
                    {
                        Device = Get("--device"),
                        FromNs = CatalogApi.Time(Get("--from"), "--from"),
                        ToNs = CatalogApi.Time(Get("--to"), "--to"),
                        Topic = Get("--topic"),
                        EventText = Get("--event"),
                        SoftwareVersion = Get("--software"),
                        Meta = MetaTerm.ParseAll(options.GetValueOrDefault("--meta") ?? []),
                        HasDrops = options.ContainsKey("--has-drops"),
                        Limit = Limit(Get("--limit")),
                        Cursor = Get("--cursor"),
                    });
                    if (json) output.WriteLine(JsonSerializer.Serialize(page, CatalogJson.Default.RecordingsPage));
                    else
                    {
                        foreach (var r in page.Recordings)
                            output.WriteLine(Inv($"{r.Id}\t{r.GroupKey}\t{Time(r.StartNs)}\t{(r.EndNs - r.StartNs) / 1e9:0.###}s\t{r.Messages} msgs\t{r.Bytes} B\t{r.SoftwareVersion ?? "-"}\tdrops {r.Drops}\tgaps {r.Gaps}{(r.Status != RecordingStatus.Ok ? $"\t{r.Status}: {r.Error}" : "")}"));
                        if (page.NextCursor is { } next) output.WriteLine($"more: --cursor {next}");
                    }
                    return 0;
                case "events":
                    var events = database.FindEvents(new EventQuery
                    {
                        Device = Get("--device"),
                        FromNs = CatalogApi.Time(Get("--from"), "--from"),
                        ToNs = CatalogApi.Time(Get("--to"), "--to"),
                        Text = Get("--text"),
                        Limit = Limit(Get("--limit")),
                        Cursor = Get("--cursor"),
                    });
                    if (json) output.WriteLine(JsonSerializer.Serialize(events, CatalogJson.Default.EventsPage));
                    else
                    {
                        foreach (var e in events.Events) output.WriteLine(Inv($"{e.Id}\t{Time(e.TimeNs)}\t{e.DeviceId}\t{e.Type}\t{e.Text}\t{e.GroupKey}"));
                        if (events.NextCursor is { } next) output.WriteLine($"more: --cursor {next}");
                    }
                    return 0;
                case "devices":
                    var devices = database.Devices();
                    if (json) output.WriteLine(JsonSerializer.Serialize(devices, CatalogJson.Default.DevicesPage));
                    else
                        foreach (var d in devices.Devices)
                            output.WriteLine(Inv($"{d.DeviceId}\tlast seen {Time(d.LastSeenNs)}\t{d.Recordings} recordings\t{d.HoursRecorded:0.###} h\t{d.Bytes} B\t{d.SoftwareVersion ?? "-"}\tdrops {d.Drops}\tgaps {d.Gaps}\tunparseable {d.Unparseable}"));
                    return 0;
                default:
                    var watch = Stopwatch.StartNew();
                    var (groups, added, replaced, unchanged) = CatalogIndexer.Reindex(database, new LocalCatalogSource(settings.Storage.Dir), new RecordingAnalysis(settings.Profiles, settings.Schemas));
                    output.WriteLine(Inv($"reindexed {groups} recordings in {watch.Elapsed.TotalSeconds:0.00} s: {added} added, {replaced} changed, {unchanged} unchanged"));
                    return 0;
            }
        });
    }

    /// <summary>
    /// What every catalog verb does around its own work: loads the configuration, opens the
    /// catalog, runs <paramref name="body"/>; a bad query exits 2 with its reason and a database
    /// failure exits 1.
    /// </summary>
    internal static int WithCatalog(string verb, string? configPath, TextWriter error, Func<CatalogDatabase, DepotSettings, int> body)
    {
        var result = DepotConfigLoader.Load(configPath);
        foreach (var e in result.Errors) error.WriteLine(e.ToString());
        if (!result.Succeeded) return 1;
        try
        {
            using var database = CatalogStartup.Open(result.Settings!);
            return body(database, result.Settings!);
        }
        catch (CatalogQueryException e)
        {
            error.WriteLine($"recorder-depot {verb}: {e.Message}");
            return 2;
        }
        catch (System.Data.Common.DbException e)
        {
            error.WriteLine($"recorder-depot {verb}: the catalog database failed: {e.Message}");
            return 1;
        }
    }

    private static int Limit(string? text) =>
        text is null ? 100
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000 ? n
        : throw new CatalogQueryException($"--limit is a number from 1 to 1000, not '{text}'");

    private static string Time(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
