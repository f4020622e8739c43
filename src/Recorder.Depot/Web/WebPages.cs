using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http;
using Recorder.Depot.Catalog;
using Recorder.Storage;

namespace Recorder.Depot.Web;

/// <summary>
/// The depot's web pages, server-rendered from the catalog: the recordings search (<c>/</c>), the
/// devices (<c>/devices</c>), a device's timeline (<c>/devices/ID/timeline</c>), a recording
/// (<c>/recordings/ID</c>) with its thumbnails, file downloads (<c>/download/DEVICE/DAY/FILE</c>,
/// with Range) and the page assets (<c>/web/…</c>, embedded). Every filter is in the URL.
/// </summary>
public sealed class WebPages(CatalogDatabase database, Thumbnails thumbnails, string storageRoot)
{
    public static bool Serves(PathString path) =>
        path == "/" || path.StartsWithSegments("/devices", StringComparison.Ordinal) || path.StartsWithSegments("/recordings", StringComparison.Ordinal)
        || path.StartsWithSegments("/download", StringComparison.Ordinal) || path.StartsWithSegments("/web", StringComparison.Ordinal);

    public Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (HttpMethods.IsOptions(context.Request.Method) && path.StartsWith("/download/", StringComparison.Ordinal)) return Preflight(context);
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }
        var parts = path.Trim('/').Split('/');
        return parts switch
        {
            [""] => Recordings(context),
            ["devices"] => Devices(context),
            ["devices", var device, "timeline"] => Timeline(context, device),
            ["recordings", var id] when Id(id) is { } n => Recording(context, n),
            ["recordings", var id, "thumbnails", var file] when Id(id) is { } n && file.EndsWith(".png", StringComparison.Ordinal) && Id(file[..^4]) is { } k
                => Thumbnail(context, n, (int)k),
            ["download", var device, var day, var file] => Download(context, device, day, file),
            ["web", "depot.css"] => Asset(context, "depot.css", "text/css; charset=utf-8"),
            ["web", "timeline.js"] => Asset(context, "timeline.js", "text/javascript; charset=utf-8"),
            _ => NotFound(context, $"There is no page at {path}."),
        };
    }

    private static long? Id(string text) => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    // ---- the recordings search ----

    private static readonly (string Key, string Label)[] Sorts = [("time", "Start"), ("duration", "Duration"), ("size", "Size")];

    private Task Recordings(HttpContext context)
    {
        var q = context.Request.Query;
        RecordingsPage? page = null;
        string? error = null;
        try
        {
            page = database.FindRecordings(CatalogApi.RecordingQueryFrom(q));
        }
        catch (CatalogQueryException e)
        {
            error = e.Message;
        }
        string Value(string key) => q[key].ToString();
        var h = Start("Recordings");
        h.Element("h1", "Recordings");
        h.Open("form", ("method", "get"), ("action", "/"), ("class", "search"), ("role", "search"), ("aria-label", "Search recordings"));
        h.Open("datalist", ("id", "device-ids"));
        foreach (var d in database.Devices().Devices) h.Void("option", ("value", d.DeviceId));
        h.Close("datalist");
        Field(h, "device", "Device", Value("device"), "device id", ("list", "device-ids"));
        Field(h, "from", "From (UTC)", Value("from"), "2026-11-27T08:00:00Z");
        Field(h, "to", "To (UTC)", Value("to"), "2026-11-27T18:00:00Z");
        Field(h, "topic", "Topic", Value("topic"), "/camera/front");
        Field(h, "event", "Event text", Value("event"), "hard brake");
        Field(h, "meta", "Metadata (key:value …)", Value("meta"), "weather:rain operator:*");
        Field(h, "software", "Software version", Value("software"), "1.2.3");
        h.Open("div", ("class", "field check"));
        h.Void("input", ("type", "checkbox"), ("id", "f-has_drops"), ("name", "has_drops"), ("value", "true"), ("checked", Value("has_drops") is "true" or "1" ? "checked" : null));
        h.Element("label", "Only with drops", ("for", "f-has_drops"));
        h.Close("div");
        h.Open("div", ("class", "field"));
        h.Element("label", "Sort by", ("for", "f-sort"));
        h.Open("select", ("id", "f-sort"), ("name", "sort"));
        foreach (var (key, label) in Sorts)
            h.Element("option", label + (key == "time" ? " (newest first)" : " (largest first)"), ("value", key), ("selected", (Value("sort") is "" ? "time" : Value("sort")) == key ? "selected" : null));
        h.Close("select").Close("div");
        h.Open("div", ("class", "actions"));
        h.Element("button", "Search", ("type", "submit"));
        h.Element("a", "Clear", ("href", "/"));
        h.Close("div");
        h.Close("form");
        if (error is not null)
        {
            h.Element("p", error, ("class", "error"), ("role", "alert"), ("id", "search-error"));
            return Finish(context, h, StatusCodes.Status400BadRequest);
        }
        var rows = page!.Recordings;
        h.Element("p", rows.Count == 0 ? "No recordings match." : $"{rows.Count} recording(s) on this page.", ("id", "result-count"), ("role", "status"));
        var sort = Value("sort") is "" ? "time" : Value("sort");
        h.Open("table", ("class", "results"), ("id", "recordings"));
        h.Element("caption", "Matching recordings", ("class", "visually-hidden"));
        h.Open("thead").Open("tr");
        h.Element("th", "Recording", ("scope", "col"));
        foreach (var (key, label) in Sorts)
        {
            h.Open("th", ("scope", "col"), ("aria-sort", sort == key ? "descending" : null));
            h.Element("a", label + (sort == key ? " ▼" : ""), ("href", WithQuery("/", q, ("sort", key), ("cursor", null))), ("data-sort", key));
            h.Close("th");
        }
        foreach (var label in new[] { "Device", "Messages", "Software", "Operator", "Drops", "Gaps", "Status" }) h.Element("th", label, ("scope", "col"));
        h.Close("tr").Close("thead").Open("tbody");
        foreach (var r in rows)
        {
            h.Open("tr", ("data-id", Format.Invariant(r.Id)), ("class", r.Drops > 0 || r.Gaps > 0 ? "problem" : null));
            h.Open("td").Element("a", r.Name, ("href", $"/recordings/{Format.Invariant(r.Id)}")).Close("td");
            h.Element("td", Format.Time(r.StartNs));
            h.Element("td", Format.Duration(r.EndNs - r.StartNs), ("class", "num"));
            h.Element("td", Format.Size(r.Bytes), ("class", "num"));
            h.Open("td").Element("a", r.DeviceId, ("href", $"/devices/{Uri.EscapeDataString(r.DeviceId)}/timeline")).Close("td");
            h.Element("td", Format.Number(r.Messages), ("class", "num"));
            h.Element("td", r.SoftwareVersion);
            h.Element("td", r.Operator);
            h.Element("td", Format.Number(r.Drops), ("class", r.Drops > 0 ? "num bad" : "num"));
            h.Element("td", Format.Number(r.Gaps), ("class", r.Gaps > 0 ? "num bad" : "num"));
            h.Element("td", r.Status == RecordingStatus.Ok ? "ok" : r.Status + ": " + r.Error);
            h.Close("tr");
        }
        h.Close("tbody").Close("table");
        h.Open("nav", ("class", "pages"), ("aria-label", "Pages"));
        if (!string.IsNullOrEmpty(Value("cursor"))) h.Element("a", "« First page", ("href", WithQuery("/", q, ("cursor", null))), ("id", "first-page"));
        if (page.NextCursor is { } next) h.Element("a", "Next page »", ("href", WithQuery("/", q, ("cursor", next))), ("id", "next-page"), ("rel", "next"));
        h.Close("nav");
        return Finish(context, h);
    }

    private static void Field(Html h, string name, string label, string value, string placeholder, params (string, string?)[] more)
    {
        h.Open("div", ("class", "field"));
        h.Element("label", label, ("for", "f-" + name));
        h.Void("input", [("type", "text"), ("id", "f-" + name), ("name", name), ("value", value), ("placeholder", placeholder), .. more]);
        h.Close("div");
    }

    /// <summary>The path with the request's query, some keys replaced (null: removed) and empty values left out.</summary>
    private static string WithQuery(string path, IQueryCollection query, params (string Key, string? Value)[] changes)
    {
        var pairs = new List<string>();
        foreach (var (key, values) in query)
        {
            if (changes.Any(c => c.Key == key)) continue;
            foreach (var v in values)
                if (!string.IsNullOrEmpty(v)) pairs.Add(Uri.EscapeDataString(key) + "=" + Uri.EscapeDataString(v));
        }
        foreach (var (key, value) in changes)
            if (value is not null) pairs.Add(Uri.EscapeDataString(key) + "=" + Uri.EscapeDataString(value));
        return pairs.Count == 0 ? path : path + "?" + string.Join("&", pairs);
    }

    // ---- devices and the timeline ----

    private Task Devices(HttpContext context)
    {
        var h = Start("Devices");
        h.Element("h1", "Devices");
        h.Open("table", ("class", "results"), ("id", "devices"));
        h.Open("thead").Open("tr");
        foreach (var label in new[] { "Device", "Last seen", "Recordings", "Hours", "Size", "Software", "Drops", "Gaps", "Unparseable" }) h.Element("th", label, ("scope", "col"));
        h.Close("tr").Close("thead").Open("tbody");
        foreach (var d in database.Devices().Devices)
        {
            h.Open("tr");
            h.Open("td").Element("a", d.DeviceId, ("href", $"/devices/{Uri.EscapeDataString(d.DeviceId)}/timeline")).Close("td");
            h.Element("td", Format.Time(d.LastSeenNs));
            h.Element("td", Format.Number(d.Recordings), ("class", "num"));
            h.Element("td", Format.Number(d.HoursRecorded, "0.00"), ("class", "num"));
            h.Element("td", Format.Size(d.Bytes), ("class", "num"));
            h.Element("td", d.SoftwareVersion);
            h.Element("td", Format.Number(d.Drops), ("class", d.Drops > 0 ? "num bad" : "num"));
            h.Element("td", Format.Number(d.Gaps), ("class", d.Gaps > 0 ? "num bad" : "num"));
            h.Element("td", Format.Number(d.Unparseable), ("class", d.Unparseable > 0 ? "num bad" : "num"));
            h.Close("tr");
        }
        h.Close("tbody").Close("table");
        return Finish(context, h);
    }

    private const long DayNs = 86_400_000_000_000;
    private const long MinuteNs = 60_000_000_000;

    private Task Timeline(HttpContext context, string device)
    {
        var q = context.Request.Query;
        long? from, to;
        try
        {
            from = CatalogApi.Time(q["from"].ToString() is { Length: > 0 } f ? f : null, "from");
            to = CatalogApi.Time(q["to"].ToString() is { Length: > 0 } t ? t : null, "to");
        }
        catch (CatalogQueryException e)
        {
            return NotFound(context, e.Message, StatusCodes.Status400BadRequest);
        }
        var recordings = database.FindRecordings(new RecordingQuery { Device = device, FromNs = from, ToNs = to, Limit = 1000 }).Recordings
            .Where(r => r.Status == RecordingStatus.Ok).OrderBy(r => r.StartNs).ToList();
        var events = database.FindEvents(new EventQuery { Device = device, FromNs = from, ToNs = to, Limit = 1000 }).Events.OrderBy(e => e.TimeNs).ToList();
        var h = Start($"Timeline of {device}");
        h.Element("h1", $"Timeline of {device}");
        h.Open("p", ("class", "legend"));
        h.Element("span", "recording", ("class", "key bar"));
        h.Element("span", "with drops", ("class", "key bar drops"));
        h.Element("span", "with a gap", ("class", "key bar gaps"));
        h.Element("span", "event", ("class", "key mark"));
        h.Element("span", "gap event", ("class", "key mark gap"));
        h.Text(" Times are UTC; empty track is time without a recording.");
        h.Close("p");
        if (recordings.Count == 0)
        {
            h.Element("p", $"No recordings of {device} in this range.", ("id", "timeline-empty"));
            return Finish(context, h);
        }
        // One axis for every day: the time of day from the earliest start to the latest end, whole minutes,
        // so short recordings are wide enough to see and click; the rows line up.
        long TimeOfDay(long ns) => ((ns % DayNs) + DayNs) % DayNs;
        var segments = new List<(long Day, long Start, long End, RecordingItem Recording)>();
        foreach (var r in recordings)
            for (var day = r.StartNs - TimeOfDay(r.StartNs); day <= r.EndNs; day += DayNs)
                segments.Add((day, Math.Max(r.StartNs, day) - day, Math.Min(r.EndNs, day + DayNs - 1) - day, r));
        var axisStart = segments.Min(s => s.Start) / MinuteNs * MinuteNs;
        var axisEnd = Math.Min(DayNs, (segments.Max(s => s.End) + MinuteNs - 1) / MinuteNs * MinuteNs);
        if (axisEnd - axisStart < MinuteNs) axisEnd = axisStart + MinuteNs;
        double Position(long timeOfDay) => (double)(timeOfDay - axisStart) / (axisEnd - axisStart);
        h.Open("div", ("class", "axis"), ("aria-hidden", "true"));
        h.Element("span", Format.At(axisStart).ToString("HH:mm", CultureInfo.InvariantCulture), ("class", "axis-start"));
        h.Element("span", Format.At(axisEnd).ToString("HH:mm", CultureInfo.InvariantCulture) is "00:00" && axisEnd == DayNs ? "24:00" : Format.At(axisEnd).ToString("HH:mm", CultureInfo.InvariantCulture), ("class", "axis-end"));
        h.Close("div");
        h.Open("div", ("class", "timeline"), ("id", "timeline"), ("data-device", device));
        foreach (var day in segments.GroupBy(s => s.Day).OrderByDescending(g => g.Key))
        {
            var date = Format.At(day.Key).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            h.Open("div", ("class", "day"), ("role", "group"), ("aria-label", date), ("data-day", date));
            h.Element("div", date, ("class", "day-label"));
            h.Open("div", ("class", "track"));
            foreach (var s in day.OrderBy(s => s.Start))
            {
                var r = s.Recording;
                var kind = "bar" + (r.Drops > 0 ? " drops" : "") + (r.Gaps > 0 ? " gaps" : "");
                h.Element("a", "", ("class", kind), ("href", $"/recordings/{Format.Invariant(r.Id)}"), ("data-id", Format.Invariant(r.Id)),
                    ("style", $"left:{Format.Percent(Position(s.Start))};width:max(3px,{Format.Percent(Position(s.End) - Position(s.Start))})"),
                    ("aria-label", $"{r.Name}: {Format.Time(r.StartNs)}, {Format.Duration(r.EndNs - r.StartNs)}, {r.Drops} drops, {r.Gaps} gaps"),
                    ("title", $"{r.Name}\n{Format.Time(r.StartNs)} – {Format.Time(r.EndNs)}\n{r.Drops} drops, {r.Gaps} gaps"));
            }
            foreach (var e in events.Where(e => e.TimeNs >= day.Key && e.TimeNs < day.Key + DayNs))
            {
                var gap = e.Type is "write_gap" or "keyframe_wait_expired";
                h.Element("a", "", ("class", gap ? "mark gap" : "mark"), ("href", $"/recordings/{Format.Invariant(e.RecordingId)}#event-{Format.Invariant(e.Id)}"),
                    ("data-event", Format.Invariant(e.Id)), ("style", $"left:{Format.Percent(Position(e.TimeNs - day.Key))}"),
                    ("aria-label", $"{e.Type}: {e.Text} at {Format.Time(e.TimeNs)}"), ("title", $"{e.Type}: {e.Text}\n{Format.Time(e.TimeNs)}"));
            }
            h.Close("div").Close("div");
        }
        h.Close("div");
        h.Element("p", $"{recordings.Count} recording(s), {events.Count} event(s). Arrow keys move between the bars of a day; Enter opens one.", ("id", "timeline-summary"));
        h.Open("script", ("src", "/web/timeline.js"), ("defer", "defer")).Close("script");
        return Finish(context, h);
    }

    // ---- one recording ----

    private Task Recording(HttpContext context, long id)
    {
        if (database.GetRecording(id) is not { } detail) return NotFound(context, $"There is no recording {id}.");
        var r = detail.Recording;
        var h = Start(r.Name);
        h.Element("h1", r.Name);
        h.Open("dl", ("class", "facts"), ("id", "facts"));
        void Fact(string term, string? value, string? href = null)
        {
            h.Element("dt", term);
            h.Open("dd");
            if (href is null) h.Text(value ?? "—");
            else h.Element("a", value, ("href", href));
            h.Close("dd");
        }
        Fact("Device", r.DeviceId, $"/devices/{Uri.EscapeDataString(r.DeviceId)}/timeline");
        Fact("Vehicle", r.Vehicle);
        Fact("Software version", r.SoftwareVersion);
        Fact("Operator", r.Operator);
        var operators = detail.Metadata.Where(m => m.Record == "recorder.device" && m.Key == "operator" && m.Value.Length > 0).Select(m => m.Value).Distinct().ToList();
        if (operators.Count > 1) Fact("Operators (in order)", string.Join(" → ", operators));
        foreach (var key in new[] { "device_version", "hardware_version", "recorder_version" })
            if (detail.Metadata.LastOrDefault(m => m.Record == "recorder.device" && m.Key == key) is { } m) Fact(key.Replace('_', ' '), m.Value);
        Fact("Library", detail.Library);
        Fact("Start (UTC)", Format.Time(r.StartNs));
        Fact("End (UTC)", Format.Time(r.EndNs));
        Fact("Duration", Format.Duration(r.EndNs - r.StartNs));
        Fact("Messages", Format.Number(r.Messages));
        Fact("Size", Format.Size(r.Bytes));
        Fact("Drops", Format.Number(r.Drops));
        Fact("Gaps", Format.Number(r.Gaps));
        Fact("Status", r.Status == RecordingStatus.Ok ? "ok" : r.Status + ": " + r.Error);
        h.Close("dl");

        var mcapFile = detail.Files.FirstOrDefault(f => f.Kind == "mcap");
        var (deviceDir, dayDir) = GroupDirs(r.GroupKey);
        string Download(string name) => $"/download/{Uri.EscapeDataString(deviceDir)}/{Uri.EscapeDataString(dayDir)}/{Uri.EscapeDataString(name)}";
        h.Element("h2", "Open and export");
        h.Open("ul", ("class", "links"));
        if (mcapFile is not null)
        {
            var fileUrl = $"{context.Request.Scheme}://{context.Request.Host}{Download(mcapFile.Name)}";
            h.Open("li").Element("a", "Open in Foxglove", ("id", "foxglove"), ("href", "https://app.foxglove.dev/?ds=remote-file&ds.url=" + Uri.EscapeDataString(fileUrl)), ("rel", "noopener")).Close("li");
        }
        h.Open("li").Element("a", "Export this time range as one MCAP (all of the device's recordings in it)", ("id", "export"),
            ("href", $"/api/export?device={Uri.EscapeDataString(r.DeviceId)}&start={Format.Invariant(r.StartNs)}&end={Format.Invariant(r.EndNs)}")).Close("li");
        h.Close("ul");

        h.Element("h2", "Topics");
        h.Open("table", ("class", "results"), ("id", "topics"));
        h.Open("thead").Open("tr");
        foreach (var label in new[] { "Topic", "Messages", "Rate (Hz)", "Bytes", "Encoding", "Schema", "Schema encoding", "Drops", "Refused", "Longest gap" }) h.Element("th", label, ("scope", "col"));
        h.Close("tr").Close("thead").Open("tbody");
        foreach (var t in detail.Topics)
        {
            h.Open("tr", ("data-topic", t.Topic));
            h.Element("th", t.Topic, ("scope", "row"));
            h.Element("td", Format.Number(t.Messages), ("class", "num messages"));
            h.Element("td", Format.Number(t.RateHz, "0.###"), ("class", "num"));
            h.Element("td", t.Bytes is { } b ? Format.Size(b) : "—", ("class", "num"));
            h.Element("td", t.MessageEncoding);
            h.Element("td", t.SchemaName ?? "—", ("title", t.SchemaSha256));
            h.Element("td", t.SchemaEncoding ?? "—");
            h.Element("td", Format.Number(t.Drops), ("class", t.Drops > 0 ? "num bad drops" : "num drops"));
            h.Element("td", Format.Number(t.Refused), ("class", t.Refused > 0 ? "num bad" : "num"));
            h.Element("td", t.MaxGapNs is { } g ? Format.Duration(g) : "—", ("class", "num"));
            h.Close("tr");
        }
        h.Close("tbody").Close("table");

        h.Element("h2", "Events");
        if (detail.Events.Count == 0) h.Element("p", "No events.");
        else
        {
            h.Open("table", ("class", "results"), ("id", "events"));
            h.Open("thead").Open("tr");
            foreach (var label in new[] { "Time (UTC)", "Into the recording", "Type", "Text" }) h.Element("th", label, ("scope", "col"));
            h.Close("tr").Close("thead").Open("tbody");
            foreach (var e in detail.Events)
            {
                h.Open("tr", ("id", $"event-{Format.Invariant(e.Id)}"), ("class", e.Type is "write_gap" or "keyframe_wait_expired" ? "problem" : null));
                h.Element("td", Format.Time(e.TimeNs));
                h.Element("td", Format.Duration(e.TimeNs - r.StartNs), ("class", "num"));
                h.Element("td", e.Type);
                h.Element("td", e.Text);
                h.Close("tr");
            }
            h.Close("tbody").Close("table");
        }

        if (detail.Video.Count > 0)
        {
            h.Element("h2", "Video");
            if (thumbnails.Ffmpeg is null) h.Element("p", "No thumbnails: ffmpeg is not installed on the depot (they are made with the ffmpeg CLI when a recording arrives).", ("class", "note"), ("id", "no-ffmpeg"));
            h.Open("div", ("class", "videos"));
            for (var i = 0; i < detail.Video.Count; i++)
            {
                var v = detail.Video[i];
                h.Open("figure", ("class", "video"), ("data-topic", v.Topic));
                if (thumbnails.Ffmpeg is not null)
                    h.Void("img", ("src", $"/recordings/{Format.Invariant(id)}/thumbnails/{i}.png"), ("alt", $"First keyframe of {v.Topic}"),
                        ("width", Format.Invariant(Math.Min(v.Width, 320))), ("class", "thumbnail"));
                h.Element("figcaption", $"{v.Topic}: {v.Codec} {v.Width}×{v.Height}, {Format.Number(v.Frames)} frames ({Format.Number(v.Keyframes)} keyframes), {Format.Number(v.Fps, "0.##")} fps, {v.Store}");
                h.Close("figure");
            }
            h.Close("div");
        }

        h.Element("h2", "Files");
        h.Open("table", ("class", "results"), ("id", "files"));
        h.Open("thead").Open("tr");
        foreach (var label in new[] { "File", "Kind", "Size", "SHA-256" }) h.Element("th", label, ("scope", "col"));
        h.Close("tr").Close("thead").Open("tbody");
        foreach (var f in detail.Files)
        {
            h.Open("tr");
            h.Open("td").Element("a", f.Name, ("href", Download(f.Name)), ("download", f.Name), ("class", "download")).Close("td");
            h.Element("td", f.Kind);
            h.Element("td", Format.Size(f.Size), ("class", "num"));
            h.Element("td", f.Sha256, ("class", "hash"));
            h.Close("tr");
        }
        h.Close("tbody").Close("table");

        h.Element("h2", "Metadata");
        h.Open("table", ("class", "results"), ("id", "metadata"));
        h.Open("thead").Open("tr");
        foreach (var label in new[] { "Record", "#", "Key", "Value" }) h.Element("th", label, ("scope", "col"));
        h.Close("tr").Close("thead").Open("tbody");
        foreach (var m in detail.Metadata)
        {
            h.Open("tr");
            h.Element("td", m.Record);
            h.Element("td", Format.Invariant(m.Ordinal), ("class", "num"));
            h.Element("td", m.Key);
            h.Element("td", m.Value);
            h.Close("tr");
        }
        h.Close("tbody").Close("table");
        return Finish(context, h);
    }

    private static (string Device, string Day) GroupDirs(string groupKey)
    {
        var parts = groupKey.Split('/');
        return parts.Length == 3 ? (parts[0], parts[1]) : ("", "");
    }

    private async Task Thumbnail(HttpContext context, long id, int index)
    {
        if (database.GetRecording(id) is not { } detail || index >= detail.Video.Count
            || thumbnails.Make(detail.Recording.GroupKey, detail.Video[index].Topic) is not { } png)
        {
            await NotFound(context, "No thumbnail here (no such video topic, no ffmpeg, or the frame could not be decoded).").ConfigureAwait(false);
            return;
        }
        context.Response.Headers.CacheControl = "private, max-age=3600";
        await TypedResults.PhysicalFile(png, "image/png").ExecuteAsync(context).ConfigureAwait(false);
    }

    // ---- files ----

    /// <summary>Foxglove (app.foxglove.dev) reads the file from the browser with Range requests: it needs CORS.</summary>
    private static void Cors(HttpContext context)
    {
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowHeaders = "Range, Authorization";
        context.Response.Headers.AccessControlExposeHeaders = "Accept-Ranges, Content-Range, Content-Length";
    }

    private static Task Preflight(HttpContext context)
    {
        Cors(context);
        context.Response.Headers.AccessControlAllowMethods = "GET, HEAD, OPTIONS";
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    private Task Download(HttpContext context, string device, string day, string file)
    {
        if (!RecordingLayout.IsSafeName(device) || !RecordingLayout.IsSafeName(day) || !RecordingLayout.IsSafeName(file))
            return NotFound(context, "Not a stored file name.");
        var path = Path.Combine(Path.GetFullPath(storageRoot), device, day, file);
        if (!File.Exists(path)) return NotFound(context, $"No stored file {device}/{day}/{file}.");
        Cors(context);
        return TypedResults.PhysicalFile(path, "application/octet-stream", fileDownloadName: file, enableRangeProcessing: true).ExecuteAsync(context);
    }

    // ---- the frame of every page ----

    private static Html Start(string title)
    {
        var h = new Html().Doctype();
        h.Open("html", ("lang", "en")).Open("head");
        h.Void("meta", ("charset", "utf-8"));
        h.Void("meta", ("name", "viewport"), ("content", "width=device-width, initial-scale=1"));
        h.Element("title", title + " · recorder-depot");
        h.Void("link", ("rel", "stylesheet"), ("href", "/web/depot.css"));
        h.Close("head").Open("body");
        h.Element("a", "Skip to content", ("href", "#main"), ("class", "skip"));
        h.Open("header").Open("nav", ("aria-label", "Depot"));
        h.Element("span", "recorder-depot", ("class", "brand"));
        h.Element("a", "Recordings", ("href", "/"));
        h.Element("a", "Devices", ("href", "/devices"));
        h.Close("nav").Close("header");
        h.Open("main", ("id", "main"));
        return h;
    }

    private static Task Finish(HttpContext context, Html h, int status = StatusCodes.Status200OK)
    {
        h.Close("main").Close("body").Close("html");
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'";
        return context.Response.WriteAsync(h.ToString());
    }

    private static Task NotFound(HttpContext context, string message, int status = StatusCodes.Status404NotFound)
    {
        var h = Start("Not found");
        h.Element("h1", status == StatusCodes.Status404NotFound ? "Not found" : "Bad request");
        h.Element("p", message, ("role", "alert"));
        return Finish(context, h, status);
    }

    private static async Task Asset(HttpContext context, string name, string contentType)
    {
        await using var stream = typeof(WebPages).Assembly.GetManifestResourceStream("Recorder.Depot.Web." + name);
        if (stream is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        context.Response.ContentType = contentType;
        context.Response.Headers.CacheControl = "public, max-age=300";
        await stream.CopyToAsync(context.Response.Body).ConfigureAwait(false);
    }
}
