using System.Globalization;
using Recorder.Storage;

namespace Recorder.Depot.Export;

/// <summary>
/// One export: a device, a time window [start, end] (inclusive, as MCAP log times: nanoseconds since
/// the Unix epoch) and optionally topics. The CLI and <c>GET /api/export</c> parse into this one type.
/// </summary>
public sealed record ExportRequest(string Device, ulong StartNs, ulong EndNs, IReadOnlyList<string>? Topics)
{
    /// <summary>
    /// Builds a request from its text fields, or says what is wrong with them. Times are RFC 3339
    /// (<c>2026-12-03T10:00:00Z</c>, fractions allowed, an offset required) or integer nanoseconds
    /// since the Unix epoch.
    /// </summary>
    public static bool TryParse(string? device, string? start, string? end, IReadOnlyList<string> topics, out ExportRequest request, out string error)
    {
        request = null!;
        if (string.IsNullOrEmpty(device)) return Fail("device is required", out error);
        if (!RecordingLayout.IsSafeName(device)) return Fail($"device '{device}' is not a valid device id", out error);
        if (string.IsNullOrEmpty(start)) return Fail("start is required", out error);
        if (string.IsNullOrEmpty(end)) return Fail("end is required", out error);
        if (!TryParseTime(start, out var startNs)) return Fail($"start '{start}' is neither RFC 3339 (2026-12-03T10:00:00Z) nor nanoseconds since the epoch", out error);
        if (!TryParseTime(end, out var endNs)) return Fail($"end '{end}' is neither RFC 3339 (2026-12-03T10:00:00Z) nor nanoseconds since the epoch", out error);
        if (startNs > endNs) return Fail($"start ({start}) is after end ({end})", out error);
        foreach (var topic in topics)
            if (string.IsNullOrEmpty(topic)) return Fail("an empty topic was given", out error);
        request = new ExportRequest(device, startNs, endNs, topics.Count == 0 ? null : topics.Distinct(StringComparer.Ordinal).ToList());
        error = "";
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    public static bool TryParseTime(string text, out ulong nanoseconds)
    {
        nanoseconds = 0;
        if (text.Length > 0 && char.IsAsciiDigit(text[0]) && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out nanoseconds)) return true;
        // An offset must be given: a bare local time, or a bare date, would mean a different instant on every depot.
        var t = text.IndexOfAny(['T', 't']);
        if (t < 0) return false;
        var zone = text.AsSpan(t);
        if (!zone.EndsWith("Z", StringComparison.OrdinalIgnoreCase) && zone.IndexOfAny('+', '-') < 0) return false;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)) return false;
        if (time < DateTimeOffset.UnixEpoch) return false;
        nanoseconds = (ulong)(time - DateTimeOffset.UnixEpoch).Ticks * 100;
        return true;
    }

    public DateTimeOffset Start => DateTimeOffset.UnixEpoch.AddTicks((long)(StartNs / 100));
    public DateTimeOffset End => DateTimeOffset.UnixEpoch.AddTicks((long)Math.Min(EndNs / 100, (ulong)(DateTimeOffset.MaxValue - DateTimeOffset.UnixEpoch).Ticks));

    /// <summary>A file name for the export: <c>DEVICE_yyyyMMddTHHmmssZ_yyyyMMddTHHmmssZ.mcap</c>.</summary>
    public string FileName => string.Create(CultureInfo.InvariantCulture, $"{Device}_{Start.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}_{End.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}.mcap");
}
