using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Recorder.Daemon.Metrics;

/// <summary>
/// The daemon's numbers in the Prometheus text exposition format (0.0.4), made from the control
/// protocol's <c>status</c> result (and <c>offload status</c>, when offload runs). One formatter for
/// the textfile the daemon writes and for <c>recorder status --prometheus</c>, and both read the
/// status the control socket serves, so the metrics and <c>recorder status --json</c> cannot drift.
/// Names follow Prometheus conventions: a <c>recorder_</c> prefix, base units (bytes, seconds),
/// <c>_total</c> on counters, snake_case labels; each family has HELP and TYPE lines. The list is
/// documented in proto/metrics.md.
/// </summary>
public static class PrometheusText
{
    /// <summary>The writer's states (proto/control.md); each is a series of <c>recorder_writer_state</c>, 1 for the current one.</summary>
    public static readonly string[] WriterStates = ["idle", "recording", "stalled", "disk_full", "write_failed", "stopping"];

    /// <summary>Offload file states counted in <c>recorder_offload_files</c>, as named in the offload status.</summary>
    private static readonly string[] OffloadFileStates = ["pending", "active", "verified", "deleted", "failed"];

    /// <summary>
    /// The metrics from a daemon's control protocol: <paramref name="exchange"/> sends one request
    /// line and returns the response line. Asks for <c>status</c> and <c>offload status</c> (absent
    /// when offload is not running). Throws <see cref="InvalidDataException"/> when status is refused.
    /// </summary>
    public static string FromControl(Func<byte[], byte[]> exchange)
    {
        using var status = JsonDocument.Parse(exchange(ControlProtocol.Request("status")));
        if (!status.RootElement.GetProperty("ok").GetBoolean())
            throw new InvalidDataException("status: " + status.RootElement.GetProperty("error").GetString());
        using var offload = JsonDocument.Parse(exchange(ControlProtocol.Request("offload", ("action", "status"))));
        var offloadResult = offload.RootElement.GetProperty("ok").GetBoolean() ? offload.RootElement.GetProperty("result") : (JsonElement?)null;
        return Format(status.RootElement.GetProperty("result"), offloadResult);
    }

    public static string Format(JsonElement status, JsonElement? offload)
    {
        var w = new Writer();
        var state = status.GetProperty("state").GetString();
        w.Family("recorder_writer_state", "gauge", "The file writer's state: 1 for the current state, 0 for the others.");
        foreach (var s in WriterStates) w.Sample("recorder_writer_state", "state", s, s == state ? "1" : "0");

        var topics = status.GetProperty("topics");
        TopicFamily(w, topics, "messages", "recorder_messages_total", "counter",
            "Messages of a topic handed to the file writer since start: what the files hold plus recorder_lost_messages_total.");
        TopicFamily(w, topics, "bytes", "recorder_message_bytes_total", "counter", "Payload bytes of those messages.");
        TopicFamily(w, topics, "drops", "recorder_dropped_messages_total", "counter",
            "Messages of a topic that never reached the file writer: dropped by the queue's drop policy, or not written while the disk was full or failing.");
        TopicFamily(w, topics, "lost", "recorder_lost_messages_total", "counter",
            "Messages of a topic that were in the open chunk when a write failed (ENOSPC, EIO); counted in recorder_messages_total, in no file.");
        // Per-topic refusals (bad JSON lines, refused records) where this daemon's status reports them.
        TopicFamily(w, topics, "refused", "recorder_refused_messages_total", "counter", "Input of a topic refused at ingest (malformed, not a valid record).");

        Scalar(w, status, "producers", "recorder_producers", "gauge", "Producers connected to the ingest socket.");
        Scalar(w, status, "producers_refused", "recorder_producers_refused_total", "counter", "Producer connections refused (bad stream, wrong format).");
        Scalar(w, status, "queue_bytes", "recorder_queue_bytes", "gauge", "Bytes waiting in the queue between ingest and the file writer.");
        Scalar(w, status, "queue_capacity_bytes", "recorder_queue_capacity_bytes", "gauge", "The queue's capacity (ingest.queue).");
        Scalar(w, status, "queue_depth", "recorder_queue_depth", "gauge", "Batches waiting in the queue.");
        Scalar(w, status, "queue_stalls", "recorder_queue_stalls_total", "counter", "Times producers had to wait for queue space (block policy).");
        if (status.TryGetProperty("disk_free_bytes", out var free) && free.GetInt64() >= 0)
        {
            w.Family("recorder_disk_free_bytes", "gauge", "Free bytes on the file system of the recordings.");
            w.Sample("recorder_disk_free_bytes", free.GetRawText());
        }
        Scalar(w, status, "files_finished", "recorder_files_finished_total", "counter", "Recording files finished (closed with summary and index) since start.");
        Scalar(w, status, "file_bytes", "recorder_open_file_bytes", "gauge", "Bytes written so far to the open recording file.");
        Scalar(w, status, "video_frames", "recorder_video_frames_total", "counter", "Video frames written, all video topics.");
        Scalar(w, status, "keyframe_waits_expired", "recorder_keyframe_waits_expired_total", "counter", "File splits that went ahead without every video topic's keyframe.");

        if (status.TryGetProperty("write_latency", out var latency) && latency.ValueKind == JsonValueKind.Object)
        {
            const string name = "recorder_write_latency_seconds";
            w.Family(name, "histogram", "Time to write and flush (fsync, per recording.fsync) one chunk.");
            foreach (var bucket in latency.GetProperty("buckets").EnumerateArray())
                w.Sample(name + "_bucket", "le", Number(bucket.GetProperty("le").GetDouble()), bucket.GetProperty("count").GetRawText());
            w.Sample(name + "_bucket", "le", "+Inf", latency.GetProperty("count").GetRawText());
            w.Sample(name + "_sum", latency.GetProperty("sum_s").GetRawText());
            w.Sample(name + "_count", latency.GetProperty("count").GetRawText());
        }

        Flag(w, status, "stalled", "recorder_writer_stalled", "1 while one write has taken longer than the stall threshold (a wedged disk).");
        if (status.TryGetProperty("watchdog", out var watchdog) && watchdog.ValueKind == JsonValueKind.Object)
        {
            Flag(w, watchdog, "enabled", "recorder_watchdog_enabled", "1 when systemd's watchdog is armed for the daemon (WatchdogSec=).");
            Flag(w, watchdog, "withholding", "recorder_watchdog_withholding", "1 while the daemon withholds watchdog pings because the writer stalled; systemd restarts it at WatchdogSec.");
        }

        if (offload is { ValueKind: JsonValueKind.Object } o) Offload(w, o);
        return w.ToString();
    }

    private static void Offload(Writer w, JsonElement o)
    {
        Flag(w, o, "in_range", "recorder_offload_in_range", "1 while the depot is in range (presence).");
        Flag(w, o, "paused", "recorder_offload_paused", "1 while offload is paused (recorder offload pause).");
        w.Family("recorder_offload_files", "gauge", "Recordings known to offload, by state.");
        foreach (var state in OffloadFileStates)
            if (o.TryGetProperty(state, out var count)) w.Sample("recorder_offload_files", "state", state, count.GetRawText());
        Scalar(w, o, "bytes_sent", "recorder_offload_sent_bytes_total", "counter", "Bytes uploaded to the depot since start (resumed uploads count what they send).");
        Scalar(w, o, "bytes_verified", "recorder_offload_verified_bytes_total", "counter", "Bytes of files the depot verified since start.");
        Scalar(w, o, "bytes_pending", "recorder_offload_pending_bytes", "gauge", "Bytes still to upload.");
    }

    private static void TopicFamily(Writer w, JsonElement topics, string field, string name, string type, string help)
    {
        var header = false;
        foreach (var t in topics.EnumerateArray())
        {
            if (!t.TryGetProperty(field, out var value)) continue;
            if (!header)
            {
                w.Family(name, type, help);
                header = true;
            }
            w.Sample(name, "topic", t.GetProperty("topic").GetString()!, value.GetRawText());
        }
    }

    private static void Scalar(Writer w, JsonElement source, string field, string name, string type, string help)
    {
        if (!source.TryGetProperty(field, out var value) || value.ValueKind != JsonValueKind.Number) return;
        w.Family(name, type, help);
        w.Sample(name, value.GetRawText());
    }

    private static void Flag(Writer w, JsonElement source, string field, string name, string help)
    {
        if (!source.TryGetProperty(field, out var value) || value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return;
        w.Family(name, "gauge", help);
        w.Sample(name, value.GetBoolean() ? "1" : "0");
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A label value as the text format wants it: backslash, double quote and line feed escaped.</summary>
    public static string EscapeLabelValue(string value)
    {
        if (value.AsSpan().IndexOfAny("\\\"\n") < 0) return value;
        var text = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            text.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                _ => c.ToString(),
            });
        }
        return text.ToString();
    }

    private sealed class Writer
    {
        private readonly StringBuilder _text = new();

        public void Family(string name, string type, string help) =>
            _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n')
                .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

        public void Sample(string name, string value) => _text.Append(name).Append(' ').Append(value).Append('\n');

        public void Sample(string name, string label, string labelValue, string value) =>
            _text.Append(name).Append('{').Append(label).Append("=\"").Append(EscapeLabelValue(labelValue)).Append("\"} ").Append(value).Append('\n');

        public override string ToString() => _text.ToString();
    }
}
