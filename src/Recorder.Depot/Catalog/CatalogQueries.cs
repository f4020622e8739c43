using System.Globalization;
using System.Text.Json.Serialization;

namespace Recorder.Depot.Catalog;

/// <summary>The filters of <c>GET /api/recordings</c> and <c>recorder-depot find</c>; all optional, combined with AND.</summary>
public sealed record RecordingQuery
{
    public string? Device { get; init; }

    /// <summary>With <see cref="ToNs"/>: recordings whose [start, end] overlaps [from, to].</summary>
    public long? FromNs { get; init; }
    public long? ToNs { get; init; }
    public string? Topic { get; init; }

    /// <summary>Words an event of the recording contains (each word a prefix of one of the event's words).</summary>
    public string? EventText { get; init; }
    public string? SoftwareVersion { get; init; }

    /// <summary>Foxglove-style metadata terms, all required (see <see cref="MetaTerm.Parse"/>).</summary>
    public IReadOnlyList<MetaTerm> Meta { get; init; } = [];
    public bool HasDrops { get; init; }

    /// <summary>The order of the list (largest first for duration and size); each has its index.</summary>
    public RecordingSort Sort { get; init; } = RecordingSort.Time;
    public int Limit { get; init; } = 100;

    /// <summary>The <c>next_cursor</c> of the previous page.</summary>
    public string? Cursor { get; init; }
}

/// <summary>The orders of <c>GET /api/recordings?sort=</c>: newest, longest or largest first.</summary>
public enum RecordingSort { Time, Duration, Size }

/// <summary>The filters of <c>GET /api/events</c> and <c>recorder-depot events</c>.</summary>
public sealed record EventQuery
{
    public string? Device { get; init; }
    public long? FromNs { get; init; }
    public long? ToNs { get; init; }
    public string? Text { get; init; }
    public int Limit { get; init; } = 100;
    public string? Cursor { get; init; }
}

/// <summary>A query the caller got wrong (a bad cursor, time or metadata term): a 400 and its message.</summary>
public sealed class CatalogQueryException(string message) : Exception(message);

/// <summary>
/// One metadata term in Foxglove's search syntax: <c>key:value</c>, <c>*:value</c> (any key),
/// <c>key:*</c> (any value), <c>key:a,b,"c d"</c> (one of). A trailing <c>*</c> in a key or
/// value matches by prefix (<c>weather:ra*</c>); a <c>*</c> anywhere else is refused, so every
/// term is an index lookup.
/// </summary>
public sealed record MetaTerm(string? Key, bool KeyIsPrefix, IReadOnlyList<(string Value, bool IsPrefix)>? Values)
{
    /// <summary>Parses a whole search (<c>weather:rain road:wet</c>: every term required) into terms.</summary>
    public static List<MetaTerm> ParseAll(IEnumerable<string> texts)
    {
        var terms = new List<MetaTerm>();
        foreach (var text in texts)
            foreach (var word in Words(text)) terms.Add(Parse(word));
        return terms;
    }

    /// <summary>Parses one <c>key:values</c> term.</summary>
    public static MetaTerm Parse(string term)
    {
        var colon = IndexOutsideQuotes(term, ':');
        if (colon <= 0) throw new CatalogQueryException($"metadata term '{term}' is not key:value (use *:value for any key, key:* for any value)");
        var (key, keyPrefix) = Pattern(Unquote(term[..colon]), term);
        var valueText = term[(colon + 1)..];
        if (valueText.Length == 0) throw new CatalogQueryException($"metadata term '{term}' has no value (use {term}* for any value)");
        List<(string, bool)>? values = [];
        foreach (var raw in SplitOutsideQuotes(valueText, ','))
        {
            var (value, prefix) = Pattern(Unquote(raw), term);
            if (value is null) { values = null; break; }
            values.Add((value, prefix));
        }
        return new MetaTerm(key, keyPrefix, values);
    }

    /// <summary>null for a lone <c>*</c> (anything); else the literal or the prefix before a trailing <c>*</c>.</summary>
    private static (string? Text, bool IsPrefix) Pattern(string text, string term)
    {
        if (text == "*") return (null, false);
        var star = text.IndexOf('*', StringComparison.Ordinal);
        if (star < 0) return (text, false);
        if (star != text.Length - 1) throw new CatalogQueryException($"metadata term '{term}': '*' is a whole key or value, or a trailing prefix wildcard (ra*), not '{text}'");
        return (text[..^1], true);
    }

    private static string Unquote(string s) => s.Length >= 2 && s[0] == '"' && s[^1] == '"' ? s[1..^1] : s;

    private static int IndexOutsideQuotes(string s, char c)
    {
        var quoted = false;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '"') quoted = !quoted;
            else if (s[i] == c && !quoted) return i;
        }
        return -1;
    }

    private static IEnumerable<string> SplitOutsideQuotes(string s, char separator)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i <= s.Length; i++)
        {
            if (i < s.Length && s[i] == '"') quoted = !quoted;
            else if (i == s.Length || (s[i] == separator && !quoted))
            {
                yield return s[start..i];
                start = i + 1;
            }
        }
    }

    private static IEnumerable<string> Words(string text) => SplitOutsideQuotes(text.Trim(), ' ').Where(w => w.Length > 0);
}

/// <summary>Page cursors: <c>KEY_ID</c> of the last row shown (the sort key: start time, duration or size; rows go largest key first).</summary>
internal static class Cursor
{
    public static string Make(long time, long id) => string.Create(CultureInfo.InvariantCulture, $"{time}_{id}");

    public static (long Time, long Id) Parse(string cursor)
    {
        var underscore = cursor.LastIndexOf('_');
        if (underscore > 0
            && long.TryParse(cursor.AsSpan(0, underscore), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var time)
            && long.TryParse(cursor.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            return (time, id);
        throw new CatalogQueryException($"cursor '{cursor}' is not one this depot handed out (next_cursor of a previous page)");
    }
}

/// <summary>Event text as searchable terms: its lowercase words (letters and digits).</summary>
public static class EventTerms
{
    public static IEnumerable<string> Of(string text)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        var start = -1;
        for (var i = 0; i <= text.Length; i++)
        {
            var inWord = i < text.Length && char.IsLetterOrDigit(text[i]);
            if (inWord && start < 0) start = i;
            else if (!inWord && start >= 0)
            {
                var word = text[start..i].ToLowerInvariant();
                if (word.Length <= 64) words.Add(word);
                start = -1;
            }
        }
        return words;
    }

    /// <summary>The end of the index range of words starting with <paramref name="prefix"/>: the prefix with its last character incremented.</summary>
    public static string PrefixEnd(string prefix) => prefix[..^1] + (char)(prefix[^1] + 1);
}

public sealed record RecordingItem(long Id, string GroupKey, string DeviceId, string Name, string Status, string? Error,
    long StartNs, long EndNs, long Messages, long Bytes, string? SoftwareVersion, string? Vehicle, string? Operator, long Drops, long Gaps);

public sealed record RecordingsPage(IReadOnlyList<RecordingItem> Recordings, string? NextCursor);

public sealed record RecordingDetail(RecordingItem Recording, string? Library, IReadOnlyList<CatalogFile> Files, IReadOnlyList<TopicEntry> Topics,
    IReadOnlyList<EventItem> Events, IReadOnlyList<VideoEntry> Video, IReadOnlyList<MetadataEntry> Metadata,
    IReadOnlyList<PinBreach>? SchemaPinBreaches = null);

public sealed record EventItem(long Id, long RecordingId, string GroupKey, string DeviceId, long TimeNs, string Type, string Text, string Fields);

public sealed record EventsPage(IReadOnlyList<EventItem> Events, string? NextCursor);

/// <summary>A device: when last seen, how much it recorded, what it runs, and its open problems.</summary>
public sealed record DeviceItem(string DeviceId, long LastSeenNs, long Recordings, double HoursRecorded, long Bytes, string? SoftwareVersion,
    long Drops, long Gaps, long Unparseable);

public sealed record DevicesPage(IReadOnlyList<DeviceItem> Devices);

public sealed record CatalogError(string Error);

/// <summary>Source-generated JSON for the catalog's answers (snake_case, like the rest of the depot).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(RecordingsPage))]
[JsonSerializable(typeof(RecordingDetail))]
[JsonSerializable(typeof(EventsPage))]
[JsonSerializable(typeof(DevicesPage))]
[JsonSerializable(typeof(CatalogError))]
[JsonSerializable(typeof(RecordingEntry))]
internal sealed partial class CatalogJson : JsonSerializerContext;
