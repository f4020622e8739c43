using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Recorder.Config;
using Recorder.Daemon.Metrics;

namespace Recorder.Tests;

/// <summary>The Prometheus textfile: the timer (on a fake clock), the atomic write, the format (checked by promtool), and the real daemon.</summary>
[Collection("daemon")]
public sealed class MetricsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-metrics-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_textfile_is_written_at_start_every_interval_and_at_stop_and_follows_the_settings()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var first = Path.Combine(_dir, "recorder.prom");
        var second = Path.Combine(_dir, "moved.prom");
        var settings = new MetricsSettings { Textfile = first, Interval = TimeSpan.FromSeconds(15) };
        var renders = 0;
        using var written = new SemaphoreSlim(0);
        string Render()
        {
            var n = Interlocked.Increment(ref renders);
            return $"# HELP test_renders_total Renders.\n# TYPE test_renders_total counter\ntest_renders_total {n}\n";
        }
        using var stop = new CancellationTokenSource();
        var exporter = new MetricsTextfile(() => Volatile.Read(ref settings), Render, time, NullLogger.Instance);
        exporter.Written += _ => written.Release();
        var run = exporter.RunAsync(stop.Token);
        // The guard timeouts below only turn a hang into a failure; nothing waits for time to pass.
        async Task NextWrite() => Assert.True(await written.WaitAsync(TimeSpan.FromSeconds(30)), "no write");

        await NextWrite();
        Assert.Equal(1.0, Promtool.Sample(File.ReadAllText(first), "test_renders_total"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(first));

        time.Advance(TimeSpan.FromSeconds(14));
        Assert.Equal(1, Volatile.Read(ref renders)); // not before the interval
        time.Advance(TimeSpan.FromSeconds(1));
        await NextWrite();
        Assert.Equal(2.0, Promtool.Sample(File.ReadAllText(first), "test_renders_total"));

        // A reload moves the file: the next write goes to the new path and the old file goes away.
        Volatile.Write(ref settings, new MetricsSettings { Textfile = second, Interval = TimeSpan.FromSeconds(5) });
        time.Advance(TimeSpan.FromSeconds(15));
        await NextWrite();
        Assert.False(File.Exists(first));
        Assert.Equal(3.0, Promtool.Sample(File.ReadAllText(second), "test_renders_total"));
        time.Advance(TimeSpan.FromSeconds(5)); // the new interval
        await NextWrite();

        stop.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(5.0, Promtool.Sample(File.ReadAllText(second), "test_renders_total")); // a last write at stop
        // Only the textfile: no temporary file left beside it for the collector to trip over.
        Assert.Equal([second], Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_textfile_that_cannot_be_written_costs_nothing_and_is_written_once_it_can()
    {
        var dir = Path.Combine(_dir, "not-yet");
        var path = Path.Combine(dir, "recorder.prom");
        var exporter = new MetricsTextfile(() => new MetricsSettings { Textfile = path }, () => "up 1\n", TimeProvider.System, NullLogger.Instance);
        exporter.WriteOnce(); // the directory does not exist: logged, not thrown
        Assert.False(File.Exists(path));
        Directory.CreateDirectory(dir);
        exporter.WriteOnce();
        Assert.Equal("up 1\n", File.ReadAllText(path));
    }

    [Fact]
    public void Metrics_text_passes_promtool_with_every_family_and_escaped_topic_labels()
    {
        var topic = "/odd \"quoted\" \\ back\nslash";
        var status = JsonDocument.Parse(
            $$"""
            {
              "state": "recording", "file": "/r/a.mcap.active", "file_sequence": 3, "file_bytes": 4096, "messages_total": 12, "files_finished": 2,
              "queue_bytes": 100, "queue_capacity_bytes": 67108864, "queue_depth": 1, "queue_stalls": 4, "disk_free_bytes": 123456789,
              "producers": 2, "producers_refused": 1, "last_error": null, "dropped_total": 3, "lost_in_open_chunks": 5, "video_frames": 0,
              "keyframe_waits_expired": 0, "stalled": false, "offload": "in_range",
              "watchdog": { "enabled": true, "withholding": false },
              "write_latency": { "count": 7, "sum_s": 0.0123, "buckets": [ { "le": 0.001, "count": 3 }, { "le": 0.01, "count": 6 }, { "le": 10, "count": 7 } ] },
              "topics": [
                { "topic": "/imu", "messages": 10, "bytes": 1000, "rate_hz": 1.5, "drops": 3, "lost": 5, "refused": 2 },
                { "topic": {{JsonSerializer.Serialize(topic)}}, "messages": 2, "bytes": 20, "rate_hz": 0, "drops": 0, "lost": 0 }
              ]
            }
            """).RootElement;
        var offload = JsonDocument.Parse("""
            { "state": "uploading", "presence": "probe", "in_range": true, "paused": false, "session": true, "pending": 2, "active": 1, "verified": 5,
              "deleted": 4, "failed": 1, "bytes_pending": 2048, "bytes_sent": 99999, "bytes_verified": 88888, "rate_bps": 10.5, "files": [] }
            """).RootElement;

        var text = PrometheusText.Format(status, offload);
        Promtool.AssertValid(text, "a status with every field");

        Assert.Equal(10.0, Promtool.Sample(text, "recorder_messages_total{topic=\"/imu\"}"));
        Assert.Equal(1000.0, Promtool.Sample(text, "recorder_message_bytes_total{topic=\"/imu\"}"));
        Assert.Equal(3.0, Promtool.Sample(text, "recorder_dropped_messages_total{topic=\"/imu\"}"));
        Assert.Equal(5.0, Promtool.Sample(text, "recorder_lost_messages_total{topic=\"/imu\"}"));
        Assert.Equal(2.0, Promtool.Sample(text, "recorder_refused_messages_total{topic=\"/imu\"}"));
        Assert.Equal(2.0, Promtool.Sample(text, "recorder_messages_total{topic=\"/odd \\\"quoted\\\" \\\\ back\\nslash\"}"));
        Assert.Equal(1.0, Promtool.Sample(text, "recorder_writer_state{state=\"recording\"}"));
        Assert.Equal(0.0, Promtool.Sample(text, "recorder_writer_state{state=\"disk_full\"}"));
        Assert.Equal(4.0, Promtool.Sample(text, "recorder_queue_stalls_total"));
        Assert.Equal(100.0, Promtool.Sample(text, "recorder_queue_bytes"));
        Assert.Equal(123456789.0, Promtool.Sample(text, "recorder_disk_free_bytes"));
        Assert.Equal(2.0, Promtool.Sample(text, "recorder_files_finished_total"));
        Assert.Equal(7.0, Promtool.Sample(text, "recorder_write_latency_seconds_count"));
        Assert.Equal(6.0, Promtool.Sample(text, "recorder_write_latency_seconds_bucket{le=\"0.01\"}"));
        Assert.Equal(7.0, Promtool.Sample(text, "recorder_write_latency_seconds_bucket{le=\"+Inf\"}"));
        Assert.Equal(1.0, Promtool.Sample(text, "recorder_watchdog_enabled"));
        Assert.Equal(0.0, Promtool.Sample(text, "recorder_writer_stalled"));
        Assert.Equal(99999.0, Promtool.Sample(text, "recorder_offload_sent_bytes_total"));
        Assert.Equal(88888.0, Promtool.Sample(text, "recorder_offload_verified_bytes_total"));
        Assert.Equal(5.0, Promtool.Sample(text, "recorder_offload_files{state=\"verified\"}"));
        Assert.Equal(1.0, Promtool.Sample(text, "recorder_offload_files{state=\"failed\"}"));

        // Without offload and without topics it is still valid text.
        var bare = JsonDocument.Parse("""{ "state": "idle", "topics": [], "queue_bytes": 0, "disk_free_bytes": -1 }""").RootElement;
        var bareText = PrometheusText.Format(bare, null);
        Promtool.AssertValid(bareText, "an idle status");
        Assert.Null(Promtool.Sample(bareText, "recorder_disk_free_bytes")); // unknown is absent, not -1
    }

    [Fact]
    public async Task The_daemon_writes_the_textfile_with_the_numbers_of_status_json_and_status_prometheus_prints_the_same()
    {
        var root = Directory.CreateTempSubdirectory("recorder-daemon-").FullName;
        var textfile = Path.Combine(root, "node-exporter", "recorder.prom");
        Directory.CreateDirectory(Path.GetDirectoryName(textfile)!);
        using var d = DaemonProcess.Start(fleetExtra: $"metrics: {{ textfile: {textfile}, interval: 1s }}", root: root);

        await Task.WhenAll(
            SocketProducer.Send(d.IngestSocket, "/metrics/a", 500, chunked: false),
            SocketProducer.Send(d.IngestSocket, "/metrics/b", 300, chunked: true));
        d.WaitFor(() => d.TopicCounts() is var c && c.GetValueOrDefault("/metrics/a") == 500 && c.GetValueOrDefault("/metrics/b") == 300,
            TimeSpan.FromSeconds(30), "both producers' messages in the status");
        // The daemon rewrites the file every second (a real process on the real clock): wait for a write that saw every message.
        string Text() => File.Exists(textfile) ? File.ReadAllText(textfile) : "";
        d.WaitFor(() => Promtool.Sample(Text(), "recorder_messages_total{topic=\"/metrics/a\"}") == 500
            && Promtool.Sample(Text(), "recorder_messages_total{topic=\"/metrics/b\"}") == 300
            && Promtool.Sample(Text(), "recorder_write_latency_seconds_count") > 0, TimeSpan.FromSeconds(30), "the textfile to show every message and a chunk write");

        var text = Text();
        Promtool.AssertValid(text, textfile);
        var (code, json, error) = RecorderCli.Run("status", "--json", "--socket", d.ControlSocket);
        Assert.True(code == 0, error);
        var status = JsonDocument.Parse(json).RootElement;
        foreach (var t in status.GetProperty("topics").EnumerateArray().Where(t => t.GetProperty("topic").GetString()!.StartsWith("/metrics/", StringComparison.Ordinal)))
        {
            var label = $"{{topic=\"{t.GetProperty("topic").GetString()}\"}}";
            Assert.Equal(t.GetProperty("messages").GetUInt64(), (ulong)Promtool.Sample(text, "recorder_messages_total" + label)!.Value);
            Assert.Equal(t.GetProperty("bytes").GetUInt64(), (ulong)Promtool.Sample(text, "recorder_message_bytes_total" + label)!.Value);
            Assert.Equal(t.GetProperty("drops").GetUInt64(), (ulong)Promtool.Sample(text, "recorder_dropped_messages_total" + label)!.Value);
            Assert.Equal(t.GetProperty("lost").GetUInt64(), (ulong)Promtool.Sample(text, "recorder_lost_messages_total" + label)!.Value);
        }
        Assert.Equal(status.GetProperty("files_finished").GetUInt64(), (ulong)Promtool.Sample(text, "recorder_files_finished_total")!.Value);
        Assert.Equal(status.GetProperty("queue_capacity_bytes").GetInt64(), (long)Promtool.Sample(text, "recorder_queue_capacity_bytes")!.Value);
        Assert.Equal(status.GetProperty("producers_refused").GetInt64(), (long)Promtool.Sample(text, "recorder_producers_refused_total")!.Value);
        Assert.Equal(1.0, Promtool.Sample(text, $"recorder_writer_state{{state=\"{status.GetProperty("state").GetString()}\"}}"));
        Assert.Equal(0.0, Promtool.Sample(text, "recorder_watchdog_enabled")); // not under systemd here
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(textfile));

        // `recorder status --prometheus`: the same formatter over the control socket.
        var (promCode, prom, promError) = RecorderCli.Run("status", "--prometheus", "--socket", d.ControlSocket);
        Assert.True(promCode == 0, promError);
        Promtool.AssertValid(prom, "recorder status --prometheus");
        Assert.Equal(500.0, Promtool.Sample(prom, "recorder_messages_total{topic=\"/metrics/a\"}"));
        Assert.Equal(300.0, Promtool.Sample(prom, "recorder_messages_total{topic=\"/metrics/b\"}"));

        Assert.Equal(0, d.Stop());
        Assert.Equal(500.0, Promtool.Sample(File.ReadAllText(textfile), "recorder_messages_total{topic=\"/metrics/a\"}")); // the last write at stop
    }
}
