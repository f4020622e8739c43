using System.Globalization;
using System.Text;

namespace Recorder.Config;

/// <summary>
/// Parses and formats the sizes and durations written in configuration files.
/// <para>
/// Sizes: a non-negative number of bytes with an optional unit. Binary units are <c>B</c>,
/// <c>KiB</c>, <c>MiB</c>, <c>GiB</c>, <c>TiB</c> (powers of 1024); decimal units are <c>KB</c>,
/// <c>MB</c>, <c>GB</c>, <c>TB</c> (powers of 1000). A bare number is bytes. A fraction is allowed
/// when the result is a whole number of bytes (<c>1.5GiB</c>). Units are case-sensitive
/// (<c>mb</c> is an error, not a guess).
/// </para>
/// <para>
/// Durations: one or more number-unit pairs, as in Go: <c>250us</c>, <c>500ms</c>, <c>1s</c>,
/// <c>10m</c>, <c>1h</c>, <c>1h30m</c>, <c>1.5s</c>. Units are <c>us</c> (or <c>µs</c>),
/// <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>. A bare <c>0</c> is allowed; any other bare number is
/// an error because its unit would be a guess. Resolution is 100 ns (one <see cref="TimeSpan"/> tick).
/// </para>
/// The error texts returned are complete sentences meant to follow "path: ".
/// </summary>
public static class Units
{
    private static readonly (string Unit, long Factor)[] SizeUnits =
    [
        ("B", 1),
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
    ];

    private static readonly (string Unit, long Ticks)[] DurationUnits =
    [
        ("us", 10), ("µs", 10), ("ms", TimeSpan.TicksPerMillisecond), ("s", TimeSpan.TicksPerSecond),
        ("m", TimeSpan.TicksPerMinute), ("h", TimeSpan.TicksPerHour),
    ];

    /// <summary>Parses a size such as <c>512</c>, <c>64KiB</c>, <c>2GiB</c> or <c>100MB</c> into bytes.</summary>
    /// <param name="text">The text as written in the file.</param>
    /// <param name="bytes">The size in bytes when the result is true.</param>
    /// <param name="error">Why the text is not a size when the result is false.</param>
    public static bool TryParseSize(string text, out long bytes, out string? error)
    {
        bytes = 0;
        var s = text.Trim();
        var i = ScanNumber(s, 0);
        if (i == 0 || !char.IsAsciiDigit(s[0]))
        {
            error = s.StartsWith('-') && ScanNumber(s, 1) > 1
                ? $"a size cannot be negative, got '{text}'"
                : $"expected a size like 512MiB or 2GiB, got '{text}'";
            return false;
        }
        var number = s[..i];
        var unit = s[i..].TrimStart(' ');
        long factor = 1;
        if (unit.Length > 0)
        {
            var found = false;
            foreach (var (name, f) in SizeUnits)
                if (unit == name) { factor = f; found = true; break; }
            if (!found)
            {
                error = $"unknown size unit '{unit}' in '{text}' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)";
                return false;
            }
        }
        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            error = $"expected a size like 512MiB or 2GiB, got '{text}'";
            return false;
        }
        decimal total;
        try
        {
            total = value * factor;
        }
        catch (OverflowException)
        {
            error = $"size '{text}' is too large";
            return false;
        }
        if (total > long.MaxValue)
        {
            error = $"size '{text}' is too large";
            return false;
        }
        if (total != decimal.Truncate(total))
        {
            error = $"size '{text}' is not a whole number of bytes";
            return false;
        }
        bytes = (long)total;
        error = null;
        return true;
    }

    /// <summary>Parses a duration such as <c>500ms</c>, <c>1s</c>, <c>10m</c>, <c>1h30m</c> or <c>250us</c>.</summary>
    /// <param name="text">The text as written in the file.</param>
    /// <param name="duration">The duration when the result is true.</param>
    /// <param name="error">Why the text is not a duration when the result is false.</param>
    public static bool TryParseDuration(string text, out TimeSpan duration, out string? error)
    {
        duration = TimeSpan.Zero;
        var s = text.Trim();
        if (s == "0")
        {
            error = null;
            return true;
        }
        if (s.Length == 0 || !char.IsAsciiDigit(s[0]))
        {
            error = s.StartsWith('-') && s.Length > 1 && char.IsAsciiDigit(s[1])
                ? $"a duration cannot be negative, got '{text}'"
                : $"expected a duration like 500ms, 1s or 10m, got '{text}'";
            return false;
        }
        decimal ticks = 0;
        var pos = 0;
        while (pos < s.Length)
        {
            var end = ScanNumber(s, pos);
            if (end == pos)
            {
                error = $"expected a duration like 500ms, 1s or 10m, got '{text}'";
                return false;
            }
            if (!decimal.TryParse(s.AsSpan(pos, end - pos), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                error = $"expected a duration like 500ms, 1s or 10m, got '{text}'";
                return false;
            }
            var unitEnd = end;
            while (unitEnd < s.Length && !char.IsAsciiDigit(s[unitEnd]) && s[unitEnd] != '.') unitEnd++;
            var unit = s[end..unitEnd];
            if (unit.Length == 0)
            {
                error = $"missing unit in duration '{text}' (use us, ms, s, m or h)";
                return false;
            }
            long unitTicks = 0;
            foreach (var (name, t) in DurationUnits)
                if (unit == name) { unitTicks = t; break; }
            if (unitTicks == 0)
            {
                error = $"unknown duration unit '{unit}' in '{text}' (use us, ms, s, m or h)";
                return false;
            }
            try
            {
                ticks += value * unitTicks;
            }
            catch (OverflowException)
            {
                error = $"duration '{text}' is too large";
                return false;
            }
            pos = unitEnd;
        }
        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            error = $"duration '{text}' is too large";
            return false;
        }
        if (ticks != decimal.Truncate(ticks))
        {
            error = $"duration '{text}' is finer than the resolution of 0.1us";
            return false;
        }
        duration = TimeSpan.FromTicks((long)ticks);
        error = null;
        return true;
    }

    /// <summary>Parses a size or throws <see cref="FormatException"/> with the reason.</summary>
    public static long ParseSize(string text) => TryParseSize(text, out var bytes, out var error) ? bytes : throw new FormatException(error);

    /// <summary>Parses a duration or throws <see cref="FormatException"/> with the reason.</summary>
    public static TimeSpan ParseDuration(string text) => TryParseDuration(text, out var duration, out var error) ? duration : throw new FormatException(error);

    /// <summary>
    /// Formats bytes in the largest binary unit that divides them exactly: 1048576 → <c>1MiB</c>,
    /// 3221225472 → <c>3GiB</c>, 1500 → <c>1500B</c>. The result parses back to the same value.
    /// </summary>
    public static string FormatSize(long bytes)
    {
        for (var i = 4; i >= 1; i--)
        {
            var (unit, factor) = SizeUnits[i];
            if (bytes != 0 && bytes % factor == 0) return string.Create(CultureInfo.InvariantCulture, $"{bytes / factor}{unit}");
        }
        return string.Create(CultureInfo.InvariantCulture, $"{bytes}B");
    }

    /// <summary>
    /// Formats a duration as hours, minutes, seconds, milliseconds and microseconds, leaving out
    /// zero parts: 90 min → <c>1h30m</c>, 1.5 s → <c>1s500ms</c>, zero → <c>0s</c>. The result parses back to the same value.
    /// </summary>
    public static string FormatDuration(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero) return "0s";
        var ticks = duration.Ticks;
        var text = new StringBuilder();
        if (ticks < 0)
        {
            text.Append('-');
            ticks = -ticks;
        }
        Append(ref ticks, TimeSpan.TicksPerHour, "h");
        Append(ref ticks, TimeSpan.TicksPerMinute, "m");
        Append(ref ticks, TimeSpan.TicksPerSecond, "s");
        Append(ref ticks, TimeSpan.TicksPerMillisecond, "ms");
        if (ticks > 0)
            text.Append(ticks % 10 == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{ticks / 10}us")
                : string.Create(CultureInfo.InvariantCulture, $"{ticks / 10m}us"));
        return text.ToString();

        void Append(ref long remaining, long unitTicks, string unit)
        {
            if (remaining < unitTicks) return;
            text.Append(string.Create(CultureInfo.InvariantCulture, $"{remaining / unitTicks}{unit}"));
            remaining %= unitTicks;
        }
    }

    /// <summary>The end of the digits-with-optional-point run starting at <paramref name="start"/>.</summary>
    private static int ScanNumber(string s, int start)
    {
        var i = start;
        var point = false;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || (s[i] == '.' && !point)))
        {
            if (s[i] == '.') point = true;
            i++;
        }
        return i;
    }

    private static readonly string[] BinaryUnits = ["B", "KiB", "MiB", "GiB", "TiB"];

    /// <summary>
    /// <paramref name="bytes"/> in the largest binary unit (up to TiB) that keeps the value at 1 or
    /// more: (58.4, "GiB"). Bytes below 1 KiB stay (n, "B"). Callers choose the digits they show.
    /// </summary>
    public static (double Value, string Unit) InLargestBinaryUnit(long bytes)
    {
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < BinaryUnits.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return (value, BinaryUnits[unit]);
    }
}
