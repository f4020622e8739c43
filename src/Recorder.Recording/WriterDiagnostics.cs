using System.Buffers;
using System.Text.Json;

namespace Recorder.Recording;

/// <summary>The writer-wide numbers of one diagnostics message.</summary>
internal readonly record struct WriterCounters(
    string State, long QueueBytes, long QueueCapacityBytes, int QueueDepth, long QueueStalls, ulong DroppedTotal, ulong LostInOpenChunks, long DiskFreeBytes, long FileBytes);

/// <summary>One topic's running totals, for a diagnostics message.</summary>
internal readonly record struct TopicCounts(ushort ChannelId, string Topic, ulong Messages, ulong Bytes, ulong Drops, ulong Refused, ulong Lost);

/// <summary>
/// What the writer says about itself, kept apart from what it writes: the JSON of its
/// <c>/recorder/events</c> and <c>/recorder/diagnostics</c> messages (and their schemas), when the
/// next diagnostics message is due on the writer's clock, the write latency it measured, and each
/// topic's rate between two diagnostics messages. Runs on the writer thread only; the latency
/// histogram may be read from any thread.
/// </summary>
internal sealed class WriterDiagnostics
{
    public static readonly byte[] EventSchema = """
        {"type":"object","properties":{"type":{"type":"string"},"time_ns":{"type":"integer"}},"required":["type"]}
        """u8.ToArray();

    public static readonly byte[] DiagnosticsSchema = """
        {"type":"object","properties":{"time_ns":{"type":"integer"},"state":{"type":"string"},"queue_bytes":{"type":"integer"},"queue_capacity_bytes":{"type":"integer"},"dropped_total":{"type":"integer"},"write_latency_ms_max":{"type":"number"},"disk_free_bytes":{"type":"integer"},"topics":{"type":"object"}}}
        """u8.ToArray();

    private readonly TimeProvider _time;
    private long _lastDueTicks;
    private double _maxWriteLatencyMs;
    private readonly Dictionary<ushort, ulong> _messagesAtLast = new();
    // One buffer each: an event may be written while a diagnostics message is still being written.
    private readonly ArrayBufferWriter<byte> _eventBuffer = new(256);
    private readonly ArrayBufferWriter<byte> _diagnosticsBuffer = new(1024);

    public WriterDiagnostics(TimeProvider time)
    {
        _time = time;
        _lastDueTicks = time.GetTimestamp();
    }

    /// <summary>Chunk write latencies since start, as Prometheus-style buckets.</summary>
    public WriteLatencyHistogram WriteLatency { get; } = new();

    /// <summary>True once per <paramref name="interval"/> of the writer's clock (never when it is zero): a diagnostics message is due.</summary>
    public bool IsDue(TimeSpan interval)
    {
        if (interval <= TimeSpan.Zero || _time.GetElapsedTime(_lastDueTicks) < interval) return false;
        _lastDueTicks = _time.GetTimestamp();
        return true;
    }

    /// <summary>A chunk write (with its flush or fsync) took <paramref name="elapsed"/>.</summary>
    public void ObserveWrite(TimeSpan elapsed)
    {
        WriteLatency.Observe(elapsed.TotalSeconds);
        if (elapsed.TotalMilliseconds > _maxWriteLatencyMs) _maxWriteLatencyMs = elapsed.TotalMilliseconds;
    }

    /// <summary>An event message: <c>{"type":…,"time_ns":…, fields…}</c>. Valid until the next event.</summary>
    public ReadOnlySpan<byte> Event(string type, IReadOnlyDictionary<string, string> fields, ulong logTime)
    {
        _eventBuffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_eventBuffer))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteNumber("time_ns", logTime);
            foreach (var (k, v) in fields) w.WriteString(k, v);
            w.WriteEndObject();
        }
        return _eventBuffer.WrittenSpan;
    }

    /// <summary>
    /// A diagnostics message at <paramref name="logTime"/>: the writer's numbers, the largest write
    /// latency since the last message (then reset), and per topic its totals and its rate over the
    /// last <paramref name="interval"/>. Valid until the next diagnostics message.
    /// </summary>
    public ReadOnlySpan<byte> Diagnostics(ulong logTime, in WriterCounters counters, IReadOnlyList<TopicCounts> topics, TimeSpan interval)
    {
        var seconds = Math.Max(interval.TotalSeconds, 1e-3);
        _diagnosticsBuffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_diagnosticsBuffer))
        {
            w.WriteStartObject();
            w.WriteNumber("time_ns", logTime);
            w.WriteString("state", counters.State);
            w.WriteNumber("queue_bytes", counters.QueueBytes);
            w.WriteNumber("queue_capacity_bytes", counters.QueueCapacityBytes);
            w.WriteNumber("queue_depth", counters.QueueDepth);
            w.WriteNumber("queue_stalls", counters.QueueStalls);
            w.WriteNumber("dropped_total", counters.DroppedTotal);
            w.WriteNumber("lost_in_open_chunks", counters.LostInOpenChunks);
            w.WriteNumber("write_latency_ms_max", Math.Round(_maxWriteLatencyMs, 3));
            w.WriteNumber("disk_free_bytes", counters.DiskFreeBytes);
            w.WriteNumber("file_bytes", counters.FileBytes);
            w.WriteStartObject("topics");
            for (var i = 0; i < topics.Count; i++)
            {
                var topic = topics[i];
                _messagesAtLast.TryGetValue(topic.ChannelId, out var before);
                w.WriteStartObject(topic.Topic);
                w.WriteNumber("messages", topic.Messages);
                w.WriteNumber("bytes", topic.Bytes);
                w.WriteNumber("rate_hz", Math.Round((topic.Messages - before) / seconds, 2));
                w.WriteNumber("drops", topic.Drops);
                w.WriteNumber("refused", topic.Refused);
                w.WriteNumber("lost", topic.Lost);
                w.WriteEndObject();
                _messagesAtLast[topic.ChannelId] = topic.Messages;
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        _maxWriteLatencyMs = 0;
        return _diagnosticsBuffer.WrittenSpan;
    }
}
