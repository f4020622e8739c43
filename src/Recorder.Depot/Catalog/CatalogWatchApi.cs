using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Recorder.Depot.Config;

namespace Recorder.Depot.Catalog;

/// <summary>
/// Watching the fleet's data: <c>GET /api/schema-changes?topic=&amp;changed=true</c> and
/// <c>GET /api/profiles?topic=&amp;field=&amp;from=&amp;to=&amp;device=&amp;by=day|device|software</c>,
/// and the CLI verbs <c>schema-changes</c> and <c>profiles</c> with the same answers.
/// </summary>
public sealed class CatalogWatchApi(CatalogDatabase database, DepotSettings settings)
{
    private static readonly string[] SchemaKeys = ["topic", "changed"];
    private static readonly string[] ProfileKeys = ["topic", "field", "from", "to", "device", "by"];

    /// <summary>Answers the request when it is one of these APIs; false otherwise.</summary>
    public async Task<bool> TryHandleAsync(HttpContext context, string path)
    {
        ArgumentNullException.ThrowIfNull(context);
        var query = context.Request.Query;
        switch (path)
        {
            case "/api/schema-changes":
                CatalogApi.Known(query, SchemaKeys);
                var changed = CatalogApi.One(query, "changed") is { } c && (c is "true" or "1" ? true : c is "false" or "0" ? false : throw new CatalogQueryException($"changed is true or false, not '{c}'"));
                await CatalogApi.Write(context, 200, SchemaChanges(database, settings, CatalogApi.One(query, "topic"), changed), CatalogWatchJson.Default.SchemaChangesPage).ConfigureAwait(false);
                return true;
            case "/api/profiles":
                CatalogApi.Known(query, ProfileKeys);
                var q = Query(CatalogApi.One(query, "topic"), CatalogApi.One(query, "field"), CatalogApi.One(query, "from"), CatalogApi.One(query, "to"),
                    CatalogApi.One(query, "device"), CatalogApi.One(query, "by"), "");
                await CatalogApi.Write(context, 200, new ProfileStore(database.Dialect).Profiles(q), CatalogWatchJson.Default.ProfilesPage).ConfigureAwait(false);
                return true;
            default:
                return false;
        }
    }

    public static SchemaChangesPage SchemaChanges(CatalogDatabase database, DepotSettings settings, string? topic, bool changedOnly) =>
        new ProfileStore(database.Dialect).SchemaChanges(topic, changedOnly, settings.Schemas.Pinned);

    /// <summary>A profiles query from its parameters (<paramref name="prefix"/>: "" for the API, "--" for the CLI, in error messages).</summary>
    public static ProfileQuery Query(string? topic, string? field, string? from, string? to, string? device, string? by, string prefix) => new()
    {
        Topic = topic ?? throw new CatalogQueryException($"{prefix}topic is required"),
        Field = field,
        FromNs = CatalogApi.Time(from, prefix + "from"),
        ToNs = CatalogApi.Time(to, prefix + "to"),
        Device = device,
        By = by is null ? "day" : ProfileQuery.Groupings.Contains(by, StringComparer.Ordinal) ? by
            : throw new CatalogQueryException($"{prefix}by is day, device or software, not '{by}'"),
    };

    public static readonly string[] Verbs = ["schema-changes", "profiles"];

    public const string Usage = """
               recorder-depot schema-changes [--topic T] [--changed] [--json] [--config FILE]
               recorder-depot profiles --topic T [--field F] [--from T] [--to T] [--device D] [--by day|device|software] [--json] [--config FILE]
        """;

    private static readonly string[] Flags = ["--changed", "--json"];
    private static readonly string[] Valued = ["--config", "--topic", "--field", "--from", "--to", "--device", "--by"];

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var verb = args[0];
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            if (Flags.Contains(args[i])) options[args[i]] = "";
            else if (Valued.Contains(args[i]) && i + 1 < args.Length) options[args[i]] = args[++i];
            else
            {
                error.WriteLine($"recorder-depot {verb}: unexpected '{args[i]}'\nusage:\n{Usage}");
                return 2;
            }
        }
        var json = options.ContainsKey("--json");
        return CatalogCommands.WithCatalog(verb, options.GetValueOrDefault("--config"), error, (database, settings) =>
        {
            if (verb == "schema-changes")
            {
                var page = SchemaChanges(database, settings, options.GetValueOrDefault("--topic"), options.ContainsKey("--changed"));
                if (json) output.WriteLine(JsonSerializer.Serialize(page, CatalogWatchJson.Default.SchemaChangesPage));
                else
                    foreach (var t in page.Topics)
                    {
                        output.WriteLine(Inv($"{t.Topic}\t{t.Schemas.Count} schema(s)\tnewest {t.NewestSha256[..12]}\t{t.DevicesOnOld} device(s) and {t.RecordingsOnOld} later recording(s) still on an older one{(t.PinnedSha256 is { } p ? $"\tpinned {p[..Math.Min(12, p.Length)]}: {t.PinBreaches} breach(es)" : "")}"));
                        foreach (var s in t.Schemas)
                            output.WriteLine(Inv($"  {s.SchemaSha256[..12]}\t{s.SchemaName ?? "-"}\tfirst {Time(s.FirstStartNs)} {s.FirstDeviceId} {s.FirstSoftwareVersion ?? "-"} {s.FirstGroupKey}\t{s.Recordings} recording(s), {s.Devices} device(s)"));
                    }
                return 0;
            }
            var q = Query(options.GetValueOrDefault("--topic"), options.GetValueOrDefault("--field"), options.GetValueOrDefault("--from"), options.GetValueOrDefault("--to"),
                options.GetValueOrDefault("--device"), options.GetValueOrDefault("--by"), "--");
            var profiles = new ProfileStore(database.Dialect).Profiles(q);
            if (json) output.WriteLine(JsonSerializer.Serialize(profiles, CatalogWatchJson.Default.ProfilesPage));
            else
            {
                output.WriteLine(Inv($"{profiles.Topic}{(profiles.Field is { } f ? " " + f : "")} by {profiles.By} (KLL k={profiles.SketchK}, rank error ≤ {profiles.RankErrorBound:0.####}); fields: {string.Join(", ", profiles.Fields)}"));
                foreach (var g in profiles.Groups)
                {
                    var line = Inv($"{g.Group}\t{g.Recordings} rec\t{g.Messages} msgs\t{g.Bytes?.ToString(CultureInfo.InvariantCulture) ?? "-"} B\t{g.RateHz:0.###} Hz\tdrops {g.Drops}\tgaps {g.Gaps}");
                    if (g.Field is { } s)
                        line += Inv($"\tn {s.Count}\tnulls {s.Nulls}\tmin {s.Min:G6}\tmax {s.Max:G6}\tmean {s.Mean:G6}") +
                            (s.Quantiles is { } qs ? "\t" + string.Join(" ", qs.Select(kv => Inv($"{kv.Key} {kv.Value:G6}"))) : "");
                    output.WriteLine(line);
                }
            }
            return 0;
        });
    }

    private static string Time(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(SchemaChangesPage))]
[JsonSerializable(typeof(ProfilesPage))]
internal sealed partial class CatalogWatchJson : JsonSerializerContext;
