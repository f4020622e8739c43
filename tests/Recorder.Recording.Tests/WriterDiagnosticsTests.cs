using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace Recorder.Recording.Tests;

/// <summary>The writer's events and diagnostics messages on their own, on a fake clock.</summary>
public class WriterDiagnosticsTests
{
    private static readonly WriterCounters Counters = new("recording", 100, 1000, 2, 1, 7, 3, 123_456, 4096);

    [Fact]
    public void Diagnostics_are_due_once_per_interval_of_the_clock_and_never_at_zero()
    {
        var time = new FakeTimeProvider();
        var diagnostics = new WriterDiagnostics(time);
        var interval = TimeSpan.FromSeconds(1);
        Assert.False(diagnostics.IsDue(interval));
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(diagnostics.IsDue(interval));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(diagnostics.IsDue(interval));
        Assert.False(diagnostics.IsDue(interval)); // once: the interval starts again
        time.Advance(TimeSpan.FromHours(1));
        Assert.False(diagnostics.IsDue(TimeSpan.Zero));
    }

    [Fact]
    public void An_event_is_its_type_time_and_fields()
    {
        var diagnostics = new WriterDiagnostics(new FakeTimeProvider());
        var json = JsonDocument.Parse(diagnostics.Event("mark", new Dictionary<string, string> { ["text"] = "here" }, 42).ToArray()).RootElement;
        Assert.Equal("mark", json.GetProperty("type").GetString());
        Assert.Equal(42UL, json.GetProperty("time_ns").GetUInt64());
        Assert.Equal("here", json.GetProperty("text").GetString());
    }

    [Fact]
    public void Diagnostics_carry_the_counters_and_each_topics_rate_since_the_last_message()
    {
        var diagnostics = new WriterDiagnostics(new FakeTimeProvider());
        var interval = TimeSpan.FromSeconds(2);
        diagnostics.Diagnostics(1, Counters, [new TopicCounts(5, "/a", 100, 1000, 0, 0, 0)], interval);
        var json = JsonDocument.Parse(diagnostics.Diagnostics(2, Counters, [new TopicCounts(5, "/a", 160, 1600, 4, 1, 2)], interval).ToArray()).RootElement;

        Assert.Equal(2UL, json.GetProperty("time_ns").GetUInt64());
        Assert.Equal("recording", json.GetProperty("state").GetString());
        Assert.Equal(100, json.GetProperty("queue_bytes").GetInt64());
        Assert.Equal(1000, json.GetProperty("queue_capacity_bytes").GetInt64());
        Assert.Equal(2, json.GetProperty("queue_depth").GetInt32());
        Assert.Equal(1, json.GetProperty("queue_stalls").GetInt64());
        Assert.Equal(7UL, json.GetProperty("dropped_total").GetUInt64());
        Assert.Equal(3UL, json.GetProperty("lost_in_open_chunks").GetUInt64());
        Assert.Equal(123_456, json.GetProperty("disk_free_bytes").GetInt64());
        Assert.Equal(4096, json.GetProperty("file_bytes").GetInt64());
        var a = json.GetProperty("topics").GetProperty("/a");
        Assert.Equal(160UL, a.GetProperty("messages").GetUInt64());
        Assert.Equal(1600UL, a.GetProperty("bytes").GetUInt64());
        Assert.Equal(30.0, a.GetProperty("rate_hz").GetDouble()); // 60 messages over 2 s
        Assert.Equal((4UL, 1UL, 2UL), (a.GetProperty("drops").GetUInt64(), a.GetProperty("refused").GetUInt64(), a.GetProperty("lost").GetUInt64()));
    }

    [Fact]
    public void The_largest_write_latency_is_reported_once_then_starts_again()
    {
        var diagnostics = new WriterDiagnostics(new FakeTimeProvider());
        diagnostics.ObserveWrite(TimeSpan.FromMilliseconds(3));
        diagnostics.ObserveWrite(TimeSpan.FromMilliseconds(12.5));
        diagnostics.ObserveWrite(TimeSpan.FromMilliseconds(1));
        double Max() => JsonDocument.Parse(diagnostics.Diagnostics(0, Counters, [], TimeSpan.FromSeconds(1)).ToArray()).RootElement.GetProperty("write_latency_ms_max").GetDouble();
        Assert.Equal(12.5, Max());
        Assert.Equal(0, Max());
        Assert.Equal(3, diagnostics.WriteLatency.Snapshot().Count); // the histogram keeps every write
    }

    [Fact]
    public void An_event_written_while_a_diagnostics_message_is_pending_does_not_overwrite_it()
    {
        var diagnostics = new WriterDiagnostics(new FakeTimeProvider());
        var message = diagnostics.Diagnostics(7, Counters, [], TimeSpan.FromSeconds(1));
        diagnostics.Event("clock_step", new Dictionary<string, string>(), 8);
        Assert.Equal(7UL, JsonDocument.Parse(message.ToArray()).RootElement.GetProperty("time_ns").GetUInt64());
    }
}
