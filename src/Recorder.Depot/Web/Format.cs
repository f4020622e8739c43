using System.Globalization;

namespace Recorder.Depot.Web;

/// <summary>How the pages show times, durations and sizes (UTC, invariant culture).</summary>
public static class Format
{
    public static DateTimeOffset At(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);

    /// <summary><c>2026-11-27 08:00:01.250</c> UTC.</summary>
    public static string Time(long ns) => At(ns).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    /// <summary>RFC 3339, as the API and the search form take it.</summary>
    public static string Rfc3339(long ns) => At(ns).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static string Duration(long ns)
    {
        var seconds = ns / 1e9;
        if (seconds < 60) return seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours} h {t.Minutes:00} min")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes} min {t.Seconds:00} s");
    }

    public static string Size(long bytes)
    {
        var (value, unit) = Recorder.Config.Units.InLargestBinaryUnit(bytes);
        return unit == "B" ? bytes.ToString(CultureInfo.InvariantCulture) + " B" : value.ToString("0.0", CultureInfo.InvariantCulture) + " " + unit;
    }

    public static string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Number(double n, string format) => n.ToString(format, CultureInfo.InvariantCulture);

    public static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>A percentage for a CSS position, with a dot whatever the culture.</summary>
    public static string Percent(double fraction) => (Math.Clamp(fraction, 0, 1) * 100).ToString("0.###", CultureInfo.InvariantCulture) + "%";
}
