namespace Recorder.Config.Tests;

/// <summary>Sizes and durations as written in configuration files.</summary>
public sealed class UnitsTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("512", 512L)]
    [InlineData("512B", 512L)]
    [InlineData("64KiB", 64L * 1024)]
    [InlineData("1MiB", 1L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1TiB", 1L << 40)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("1KB", 1000L)]
    [InlineData("100MB", 100_000_000L)]
    [InlineData("5GB", 5_000_000_000L)]
    [InlineData("2TB", 2_000_000_000_000L)]
    [InlineData("256 MiB", 256L << 20)]
    [InlineData(" 1MiB ", 1L << 20)]
    public void Sizes_parse_in_binary_and_decimal_units(string text, long expected)
    {
        Assert.True(Units.TryParseSize(text, out var bytes, out var error), error);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("lots", "expected a size like 512MiB or 2GiB, got 'lots'")]
    [InlineData("", "expected a size like 512MiB or 2GiB, got ''")]
    [InlineData("MiB", "expected a size like 512MiB or 2GiB, got 'MiB'")]
    [InlineData("5mb", "unknown size unit 'mb' in '5mb' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)")]
    [InlineData("5MiBs", "unknown size unit 'MiBs' in '5MiBs' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)")]
    [InlineData("1.2.3MiB", "unknown size unit '.3MiB' in '1.2.3MiB' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)")]
    [InlineData("-1MiB", "a size cannot be negative, got '-1MiB'")]
    [InlineData("0.1KiB", "size '0.1KiB' is not a whole number of bytes")]
    [InlineData("9000000TiB", "size '9000000TiB' is too large")]
    [InlineData("99999999999999999999999", "size '99999999999999999999999' is too large")]
    public void Bad_sizes_say_what_is_wrong(string text, string expected)
    {
        Assert.False(Units.TryParseSize(text, out _, out var error));
        Assert.Equal(expected, error);
        Assert.Equal(expected, Assert.Throws<FormatException>(() => Units.ParseSize(text)).Message);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("250us", 250L * 10)]
    [InlineData("250µs", 250L * 10)]
    [InlineData("500ms", 500L * TimeSpan.TicksPerMillisecond)]
    [InlineData("1s", TimeSpan.TicksPerSecond)]
    [InlineData("1.5s", 15L * TimeSpan.TicksPerSecond / 10)]
    [InlineData("10m", 10L * TimeSpan.TicksPerMinute)]
    [InlineData("1h", TimeSpan.TicksPerHour)]
    [InlineData("1h30m", 90L * TimeSpan.TicksPerMinute)]
    [InlineData("2m30s500ms", 150L * TimeSpan.TicksPerSecond + 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("0.1us", 1L)]
    public void Durations_parse_from_microseconds_to_hours(string text, long expectedTicks)
    {
        Assert.True(Units.TryParseDuration(text, out var duration, out var error), error);
        Assert.Equal(TimeSpan.FromTicks(expectedTicks), duration);
    }

    [Theory]
    [InlineData("soon", "expected a duration like 500ms, 1s or 10m, got 'soon'")]
    [InlineData("", "expected a duration like 500ms, 1s or 10m, got ''")]
    [InlineData("10", "missing unit in duration '10' (use us, ms, s, m or h)")]
    [InlineData("1h30", "missing unit in duration '1h30' (use us, ms, s, m or h)")]
    [InlineData("10sec", "unknown duration unit 'sec' in '10sec' (use us, ms, s, m or h)")]
    [InlineData("1d", "unknown duration unit 'd' in '1d' (use us, ms, s, m or h)")]
    [InlineData("5 s", "unknown duration unit ' s' in '5 s' (use us, ms, s, m or h)")]
    [InlineData("-1s", "a duration cannot be negative, got '-1s'")]
    [InlineData("0.01us", "duration '0.01us' is finer than the resolution of 0.1us")]
    [InlineData("99999999999h", "duration '99999999999h' is too large")]
    public void Bad_durations_say_what_is_wrong(string text, string expected)
    {
        Assert.False(Units.TryParseDuration(text, out _, out var error));
        Assert.Equal(expected, error);
        Assert.Equal(expected, Assert.Throws<FormatException>(() => Units.ParseDuration(text)).Message);
    }

    [Theory]
    [InlineData(0L, "0B")]
    [InlineData(1500L, "1500B")]
    [InlineData(1024L, "1KiB")]
    [InlineData(1L << 20, "1MiB")]
    [InlineData(3L << 29, "1536MiB")]
    [InlineData(200L << 30, "200GiB")]
    [InlineData(1L << 40, "1TiB")]
    [InlineData(100_000_000L, "100000000B")]
    public void Sizes_format_in_the_largest_exact_binary_unit_and_parse_back(long bytes, string expected)
    {
        Assert.Equal(expected, Units.FormatSize(bytes));
        Assert.Equal(bytes, Units.ParseSize(expected));
    }

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(10L, "1us")]
    [InlineData(1L, "0.1us")]
    [InlineData(100L * TimeSpan.TicksPerMillisecond, "100ms")]
    [InlineData(TimeSpan.TicksPerSecond, "1s")]
    [InlineData(15L * TimeSpan.TicksPerSecond / 10, "1s500ms")]
    [InlineData(10L * TimeSpan.TicksPerMinute, "10m")]
    [InlineData(90L * TimeSpan.TicksPerMinute, "1h30m")]
    [InlineData(TimeSpan.TicksPerHour + 2500L, "1h250us")]
    public void Durations_format_compactly_and_parse_back(long ticks, string expected)
    {
        Assert.Equal(expected, Units.FormatDuration(TimeSpan.FromTicks(ticks)));
        Assert.Equal(TimeSpan.FromTicks(ticks), Units.ParseDuration(expected));
    }
}
