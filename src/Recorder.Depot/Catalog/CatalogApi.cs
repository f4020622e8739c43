using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Recorder.Depot.Catalog;

/// <summary>
/// The catalog's HTTP JSON API (GET only):
/// <c>/api/recordings</c> (device, from, to, topic, event, software, meta (repeatable), has_drops, sort, limit, cursor),
/// <c>/api/recordings/ID</c>, <c>/api/events</c> (device, from, to, text, limit, cursor) and <c>/api/devices</c>.
/// Times are RFC 3339 (<c>2026-11-27T08:00:00Z</c>) or nanoseconds since the epoch. A bad
/// parameter is a 400 with <c>{"error": …}</c>.
/// </summary>
public sealed class CatalogApi(CatalogDatabase database, CatalogWatchApi watch)
{
    public const string Prefix = "/api/";

    public static bool Serves(PathString path) => path.StartsWithSegments("/api", StringComparison.Ordinal);

    public async Task HandleAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET, HEAD";
            await Write(context, StatusCodes.Status405MethodNotAllowed, new CatalogError("the catalog API is read-only: GET"), CatalogJson.Default.CatalogError).ConfigureAwait(false);
            return;
        }
        var path = context.Request.Path.Value ?? "";
        var query = context.Request.Query;
        try
        {
            switch (path.TrimEnd('/'))
            {
                case "/api/recordings":
                    await Write(context, 200, database.FindRecordings(RecordingQueryFrom(query)), CatalogJson.Default.RecordingsPage).ConfigureAwait(false);
                    return;
                case "/api/events":
                    await Write(context, 200, database.FindEvents(EventQueryFrom(query)), CatalogJson.Default.EventsPage).ConfigureAwait(false);
                    return;
                case "/api/devices":
                    await Write(context, 200, database.Devices(), CatalogJson.Default.DevicesPage).ConfigureAwait(false);
                    return;
            }
            if (await watch.TryHandleAsync(context, path.TrimEnd('/')).ConfigureAwait(false)) return;
            if (path.StartsWith("/api/recordings/", StringComparison.Ordinal)
                && long.TryParse(path.AsSpan("/api/recordings/".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                if (database.GetRecording(id) is { } detail) await Write(context, 200, detail, CatalogJson.Default.RecordingDetail).ConfigureAwait(false);
                else await Write(context, 404, new CatalogError($"no recording {id}"), CatalogJson.Default.CatalogError).ConfigureAwait(false);
                return;
            }
            await Write(context, 404, new CatalogError($"no such API: {path} (there are /api/recordings, /api/recordings/ID, /api/events, /api/devices, /api/schema-changes, /api/profiles)"), CatalogJson.Default.CatalogError).ConfigureAwait(false);
        }
        catch (CatalogQueryException e)
        {
            await Write(context, 400, new CatalogError(e.Message), CatalogJson.Default.CatalogError).ConfigureAwait(false);
        }
    }

    private static readonly string[] RecordingKeys = ["device", "from", "to", "topic", "event", "software", "meta", "has_drops", "sort", "limit", "cursor"];
    private static readonly string[] EventKeys = ["device", "from", "to", "text", "limit", "cursor"];

    public static RecordingQuery RecordingQueryFrom(IQueryCollection query)
    {
        Known(query, RecordingKeys);
        return new RecordingQuery
        {
            Device = One(query, "device"),
            FromNs = Time(One(query, "from"), "from"),
            ToNs = Time(One(query, "to"), "to"),
            Topic = One(query, "topic"),
            EventText = One(query, "event"),
            SoftwareVersion = One(query, "software"),
            Meta = MetaTerm.ParseAll(query["meta"].Where(v => v is not null)!),
            HasDrops = One(query, "has_drops") is { } d && (d is "true" or "1" ? true : d is "false" or "0" ? false : throw new CatalogQueryException($"has_drops is true or false, not '{d}'")),
            Sort = One(query, "sort") switch
            {
                null or "time" => RecordingSort.Time,
                "duration" => RecordingSort.Duration,
                "size" => RecordingSort.Size,
                var s => throw new CatalogQueryException($"sort is time, duration or size, not '{s}'"),
            },
            Limit = Limit(One(query, "limit")),
            Cursor = One(query, "cursor"),
        };
    }

    public static EventQuery EventQueryFrom(IQueryCollection query)
    {
        Known(query, EventKeys);
        return new EventQuery
        {
            Device = One(query, "device"),
            FromNs = Time(One(query, "from"), "from"),
            ToNs = Time(One(query, "to"), "to"),
            Text = One(query, "text"),
            Limit = Limit(One(query, "limit")),
            Cursor = One(query, "cursor"),
        };
    }

    internal static void Known(IQueryCollection query, string[] keys)
    {
        foreach (var key in query.Keys)
            if (!keys.Contains(key, StringComparer.Ordinal))
                throw new CatalogQueryException($"unknown parameter '{key}' (known: {string.Join(", ", keys)})");
    }

    internal static string? One(IQueryCollection query, string key)
    {
        StringValues values = query[key];
        if (values.Count > 1) throw new CatalogQueryException($"{key} is given {values.Count} times");
        return values.Count == 1 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;
    }

    private static int Limit(string? text) =>
        text is null ? 100
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000 ? n
        : throw new CatalogQueryException($"limit is a number from 1 to 1000, not '{text}'");

    /// <summary>RFC 3339 or nanoseconds since the epoch.</summary>
    public static long? Time(string? text, string name)
    {
        if (text is null) return null;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ns)) return ns;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            return (at - DateTimeOffset.UnixEpoch).Ticks * 100;
        throw new CatalogQueryException($"{name} is a time like 2026-11-27T08:00:00Z or nanoseconds since the epoch, not '{text}'");
    }

    internal static async Task Write<T>(HttpContext context, int status, T value, JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted).ConfigureAwait(false);
    }
}
