using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Recorder.Ingest;
using Recorder.Offload;
using Recorder.Recording;

namespace Recorder.Daemon;

/// <summary>Serves the control protocol (proto/control.md) on a Unix socket only the recorder's group can open.</summary>
[SupportedOSPlatform("linux")]
public sealed class ControlServer : IAsyncDisposable
{
    private readonly string _path;
    private readonly RecordingWriter _writer;
    private readonly BatchQueue _queue;
    private readonly UnixSocketIngest? _ingest;
    private readonly ILogger _logger;
    private readonly Func<OffloadService?> _offload;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = new();
    private Socket? _listener;
    private Task? _loop;

    /// <param name="offload">The offload stage in force (a reload may replace it), or null without one.</param>
    public ControlServer(string path, RecordingWriter writer, BatchQueue queue, UnixSocketIngest? ingest, ILogger logger, Func<OffloadService?>? offload = null)
    {
        _offload = offload ?? (() => null);
        _path = path;
        _writer = writer;
        _queue = queue;
        _ingest = ingest;
        _logger = logger;
    }

    /// <summary>systemd's watchdog when one is armed (set once it runs), for the status.</summary>
    internal Watchdog? Watchdog { get; set; }

    /// <summary>Runs a reload for the `reload` command; null: the command is refused.</summary>
    public Func<ReloadOutcome>? Reload { get; init; }

    /// <summary>The topic inputs (FIFOs and per-topic sockets) running now, for `status`.</summary>
    public Func<IReadOnlyList<TopicInputOptions>>? Inputs { get; init; }

    /// <summary>The ingest's own selection and drop-policy functions, for `status` (they follow reloads).</summary>
    public IngestOptions? IngestOptions { get; init; }

    /// <summary>The topics the configuration in force names, for `status`.</summary>
    public Func<IEnumerable<string>>? ConfiguredTopics { get; init; }

    /// <summary>
    /// TEST ONLY: with RECORDER_TEST_HOOKS=1 in the daemon's environment the hidden `test-stall`
    /// command (field `seconds`) blocks the writer thread, as a hung disk would, to prove the
    /// watchdog. Without it the command does not exist.
    /// </summary>
    public bool TestHooks { get; init; } = Environment.GetEnvironmentVariable("RECORDER_TEST_HOOKS") == "1";

    public void Start()
    {
        _listener = UnixSockets.Listen(_path, UnixSockets.OwnerAndGroup, backlog: 16);
        DaemonLog.ControlListening(_logger, _path);
        _loop = Task.Run(AcceptLoop);
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
            lock (_clients)
            {
                _clients.RemoveAll(t => t.IsCompleted);
                _clients.Add(Serve(client));
            }
        }
    }

    private async Task Serve(Socket client)
    {
        await using var stream = new NetworkStream(client, ownsSocket: true);
        var reader = PipeReader.Create(stream);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } newline)
                {
                    var line = buffer.Slice(0, newline).ToArray();
                    buffer = buffer.Slice(buffer.GetPosition(1, newline));
                    await stream.WriteAsync(Handle(line), _stop.Token).ConfigureAwait(false);
                }
                if (buffer.Length > ControlProtocol.MaxLineLength)
                {
                    await stream.WriteAsync(ControlProtocol.Error($"request line longer than {ControlProtocol.MaxLineLength} bytes"), _stop.Token).ConfigureAwait(false);
                    break;
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            // Client went away or shutdown.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    internal byte[] Handle(byte[] line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            return ControlProtocol.Error($"request is not JSON: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return ControlProtocol.Error("request must be a JSON object");
            if (!root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != ControlProtocol.Version)
                return ControlProtocol.Error($"unsupported protocol version (this daemon speaks v{ControlProtocol.Version})");
            if (!root.TryGetProperty("cmd", out var cmd) || cmd.ValueKind != JsonValueKind.String) return ControlProtocol.Error("missing 'cmd'");
            string? Field(string name) => root.TryGetProperty(name, out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            DaemonLog.ControlCommand(_logger, cmd.GetString()!);
            switch (cmd.GetString())
            {
                case "status":
                    return ControlProtocol.Ok(WriteStatus);
                case "split":
                    _queue.EnqueueCommand(new SplitCommand("command"));
                    return ControlProtocol.Ok(w => w.WriteStringValue("split requested"));
                case "mark":
                    if (Field("text") is not { } text) return ControlProtocol.Error("mark needs 'text'");
                    _queue.EnqueueCommand(new MarkCommand(text));
                    return ControlProtocol.Ok(w => w.WriteStringValue("marked"));
                case "operator":
                    if (Field("name") is not { Length: > 0 } name) return ControlProtocol.Error("operator needs a non-empty 'name'");
                    _queue.EnqueueCommand(new SetMetadataCommand("operator", name));
                    return ControlProtocol.Ok(w => w.WriteStringValue("operator set"));
                case "set":
                    if (Field("key") is not { Length: > 0 } key || Field("value") is not { } value) return ControlProtocol.Error("set needs 'key' and 'value'");
                    _queue.EnqueueCommand(new SetMetadataCommand(key, value));
                    return ControlProtocol.Ok(w => w.WriteStringValue("set"));
                case "reload":
                    if (Reload is null) return ControlProtocol.Error("reload is not available");
                    var outcome = Reload();
                    if (!outcome.Applied) return ControlProtocol.Error(string.Join("\n", outcome.Messages));
                    return ControlProtocol.Ok(w => w.WriteStringValue(string.Join("\n", outcome.Messages)));
                case "test-stall" when TestHooks:
                    if (!double.TryParse(Field("seconds"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds <= 0 || seconds > 600)
                        return ControlProtocol.Error("test-stall needs 'seconds' between 0 and 600");
                    DaemonLog.TestStallRequested(_logger, seconds);
                    _queue.EnqueueCommand(new StallWriterCommand(TimeSpan.FromSeconds(seconds)));
                    return ControlProtocol.Ok(w => w.WriteStringValue("writer stalled"));
                case "offload":
                    return Offload(Field("action"));
                default:
                    return ControlProtocol.Error($"unknown command '{cmd.GetString()}' (status, split, mark, operator, set, reload, offload)");
            }
        }
    }

    private byte[] Offload(string? action)
    {
        var offload = _offload();
        if (offload is null) return ControlProtocol.Error("offload is not configured (no offload: section in the fleet file, or offload.enabled: false, or it failed to start: see the log)");
        switch (action)
        {
            case "now":
                offload.Now();
                return ControlProtocol.Ok(w => w.WriteStringValue("offload session started"));
            case "pause":
                offload.Pause();
                return ControlProtocol.Ok(w => w.WriteStringValue("offload paused"));
            case "resume":
                offload.Resume();
                return ControlProtocol.Ok(w => w.WriteStringValue("offload resumed"));
            case "status":
                return ControlProtocol.Ok(w => WriteOffloadStatus(w, offload.Status(), offload.Options));
            default:
                return ControlProtocol.Error("offload needs 'action': now, pause, resume or status");
        }
    }

    internal static void WriteOffloadStatus(Utf8JsonWriter w, OffloadStatus s, OffloadOptions? options = null)
    {
        w.WriteStartObject();
        w.WriteString("state", s.State);
        w.WriteString("presence", s.Presence);
        w.WriteBoolean("in_range", s.InRange);
        w.WriteBoolean("paused", s.Paused);
        w.WriteBoolean("session", s.Session);
        w.WriteNumber("probe_successes", s.ProbeSuccesses);
        w.WriteNumber("probe_failures", s.ProbeFailures);
        if (s.LastProbe is { } last) w.WriteString("last_probe", last);
        else w.WriteNull("last_probe");
        w.WriteString("last_probe_error", s.LastProbeError);
        w.WriteNumber("pending", s.Pending);
        w.WriteNumber("active", s.Active);
        w.WriteNumber("verified", s.Verified);
        w.WriteNumber("deleted", s.Deleted);
        w.WriteNumber("failed", s.Failed);
        w.WriteNumber("bytes_pending", s.BytesPending);
        w.WriteNumber("bytes_sent", s.BytesSent);
        w.WriteNumber("bytes_verified", s.BytesVerified);
        w.WriteNumber("uploaded_unverified", s.UploadedUnverified);
        w.WriteNumber("bytes_uploaded_unverified", s.BytesUploadedUnverified);
        if (s.DepotVerifies is { } verifies) w.WriteBoolean("depot_verifies", verifies);
        else w.WriteNull("depot_verifies");
        w.WriteNumber("rate_bps", s.RateBytesPerSecond);
        if (s.EtaSeconds is { } eta) w.WriteNumber("eta_s", eta);
        else w.WriteNull("eta_s");
        w.WriteString("last_error", s.LastError);
        w.WriteStartArray("files");
        foreach (var f in s.Files)
        {
            w.WriteStartObject();
            w.WriteString("file", f.File);
            w.WriteString("kind", f.Kind);
            w.WriteNumber("size", f.Size);
            w.WriteNumber("offset", f.Offset);
            w.WriteString("state", f.State);
            w.WriteNumber("rate_bps", f.RateBytesPerSecond);
            if (f.EtaSeconds is { } feta) w.WriteNumber("eta_s", feta);
            else w.WriteNull("eta_s");
            w.WriteBoolean("marks", f.Marks);
            w.WriteString("error", f.Error);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (options is not null) WriteOffloadSettings(w, options);
        w.WriteEndObject();
    }

    /// <summary>The options the offload stage runs with (after reloads): file paths, never their contents.</summary>
    private static void WriteOffloadSettings(Utf8JsonWriter w, OffloadOptions o)
    {
        w.WriteStartObject("settings");
        w.WriteString("endpoint", o.Endpoint.GetLeftPart(UriPartial.Path));
        w.WriteString("presence", OffloadService.Name(o.Presence));
        w.WriteNumber("probe_interval_s", o.ProbeInterval.TotalSeconds);
        w.WriteNumber("probe_timeout_s", o.ProbeTimeout.TotalSeconds);
        w.WriteNumber("enter_after", o.EnterAfter);
        w.WriteNumber("leave_after", o.LeaveAfter);
        w.WriteStartArray("ssids");
        foreach (var ssid in o.Ssids) w.WriteStringValue(ssid);
        w.WriteEndArray();
        w.WriteNumber("parallel", o.Parallel);
        w.WriteNumber("bandwidth", o.Bandwidth);
        w.WriteNumber("chunk_size", o.ChunkSize);
        w.WriteNumber("inactivity_timeout_s", o.InactivityTimeout.TotalSeconds);
        w.WriteNumber("retry_min_s", o.RetryMin.TotalSeconds);
        w.WriteNumber("retry_max_s", o.RetryMax.TotalSeconds);
        w.WriteBoolean("delete_after_upload", o.DeleteAfterUpload);
        w.WriteNumber("rescan_interval_s", o.RescanInterval.TotalSeconds);
        w.WriteString("state_dir", o.StateDirectory);
        w.WriteString("token_file", o.TokenFile);
        w.WriteString("client_certificate", o.ClientCertificateFile);
        w.WriteString("client_key", o.ClientKeyFile);
        w.WriteString("ca", o.CaFile);
        w.WriteBoolean("insecure", o.Insecure);
        w.WriteEndObject();
    }

    /// <summary>What the writer and the inputs run with now (after reloads): the writer's own options, not the host's copy.</summary>
    private void WriteSettings(Utf8JsonWriter w, IEnumerable<string> seenTopics)
    {
        var topics = new HashSet<string>(seenTopics, StringComparer.Ordinal);
        var o = _writer.Options;
        w.WriteStartObject("settings");
        w.WriteString("dir", o.Directory);
        w.WriteNumber("chunk_size", o.ChunkSize);
        w.WriteNumber("chunk_max_age_s", o.ChunkMaxAge.TotalSeconds);
        w.WriteString("compression", o.Compression.ToString().ToLowerInvariant());
        w.WriteNumber("split_size", o.SplitSize);
        w.WriteNumber("split_duration_s", o.SplitDuration.TotalSeconds);
        w.WriteNumber("keyframe_wait_s", o.KeyframeWait.TotalSeconds);
        w.WriteString("fsync", o.Fsync.ToString().ToLowerInvariant());
        w.WriteNumber("max_bytes", o.MaxBytes);
        w.WriteNumber("min_free_bytes", o.MinFreeBytes);
        w.WriteBoolean("delete_oldest_when_full", o.DeleteOldestWhenFull);
        w.WriteStartArray("latched");
        foreach (var topic in o.LatchedTopics.Order(StringComparer.Ordinal)) w.WriteStringValue(topic);
        w.WriteEndArray();
        w.WriteStartArray("inputs");
        foreach (var input in (Inputs?.Invoke() ?? []).OrderBy(i => i.Path, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("path", input.Path);
            w.WriteString("topic", input.Topic);
            w.WriteString("transport", input.Transport.ToString().ToLowerInvariant());
            w.WriteString("format", input.Format.ToString().ToLowerInvariant());
            w.WriteString("store", input.Store.ToString().ToLowerInvariant());
            w.WriteString("json_schema", input.JsonSchema);
            w.WriteEndObject();
            topics.Add(input.Topic);
        }
        w.WriteEndArray();
        // Per topic seen or configured: whether the ingest selects it, its drop policy, and the
        // configured channel metadata (frame_id, tags) the next file gives it.
        foreach (var topic in ConfiguredTopics?.Invoke() ?? []) topics.Add(topic);
        w.WriteStartObject("topics");
        foreach (var topic in topics.Order(StringComparer.Ordinal))
        {
            w.WriteStartObject(topic);
            if (IngestOptions is { } ingest)
            {
                w.WriteBoolean("selected", ingest.SelectTopic(topic));
                w.WriteString("drop", ingest.DropPolicyFor(topic).ToString().ToLowerInvariant());
            }
            w.WriteStartObject("metadata");
            foreach (var (key, value) in o.ChannelMetadata(topic)) w.WriteString(key, value);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteStatus(Utf8JsonWriter w)
    {
        var s = _writer.Status();
        w.WriteStartObject();
        w.WriteString("state", s.State);
        w.WriteString("file", s.CurrentFile);
        w.WriteNumber("file_sequence", s.FileSequence);
        w.WriteNumber("file_bytes", s.FileBytes);
        w.WriteNumber("messages_total", s.MessagesTotal);
        w.WriteNumber("files_finished", s.FilesFinished);
        w.WriteNumber("queue_bytes", s.QueueBytes);
        w.WriteNumber("queue_capacity_bytes", s.QueueCapacityBytes);
        w.WriteNumber("queue_depth", s.QueueDepth);
        w.WriteNumber("queue_stalls", s.QueueStalls);
        w.WriteNumber("disk_free_bytes", s.DiskFreeBytes);
        w.WriteNumber("producers", _ingest?.ActiveProducers.Count ?? 0);
        w.WriteNumber("producers_refused", _ingest?.Refused ?? 0);
        if (_ingest?.Counters is { } ingest)
        {
            // Producers' records besides messages: kept, or refused with an event in the file.
            w.WriteNumber("reserved_channels_refused", ingest.ReservedChannelsRefused);
            w.WriteNumber("reserved_messages_refused", ingest.ReservedMessagesRefused);
            w.WriteNumber("producer_attachments_kept", ingest.AttachmentsKept);
            w.WriteNumber("producer_attachments_refused", ingest.AttachmentsRefused);
            w.WriteNumber("producer_metadata_kept", ingest.MetadataKept);
            w.WriteNumber("producer_metadata_refused", ingest.MetadataRefused);
        }
        w.WriteString("last_error", s.LastError);
        w.WriteNumber("dropped_total", s.DroppedTotal);
        w.WriteNumber("lost_in_open_chunks", s.LostInOpenChunks);
        w.WriteNumber("video_frames", s.VideoFrames);
        w.WriteNumber("keyframe_waits_expired", s.KeyframeWaitsExpired);
        w.WriteBoolean("stalled", _writer.IsStalled);
        w.WriteString("offload", _offload()?.Status().State);
        WriteWatchdogAndLatency(w, Watchdog, s.WriteLatency);
        w.WriteStartArray("topics");
        foreach (var t in s.Topics)
        {
            w.WriteStartObject();
            w.WriteString("topic", t.Topic);
            w.WriteNumber("messages", t.Messages);
            w.WriteNumber("bytes", t.Bytes);
            w.WriteNumber("rate_hz", t.RateHz);
            w.WriteNumber("drops", t.Drops);
            w.WriteNumber("refused", t.Refused);
            w.WriteNumber("lost", t.Lost);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteSettings(w, s.Topics.Select(t => t.Topic));
        w.WriteEndObject();
    }

    private static void WriteWatchdogAndLatency(Utf8JsonWriter w, Watchdog? watchdog, WriteLatencySnapshot latency)
    {
        w.WriteStartObject("watchdog");
        w.WriteBoolean("enabled", watchdog is not null);
        w.WriteBoolean("withholding", watchdog?.Withholding ?? false);
        w.WriteEndObject();
        w.WriteStartObject("write_latency");
        w.WriteNumber("count", latency.Count);
        w.WriteNumber("sum_s", latency.SumSeconds);
        w.WriteStartArray("buckets");
        for (var i = 0; i < WriteLatencyHistogram.BoundsSeconds.Length; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("le", WriteLatencyHistogram.BoundsSeconds[i]);
            w.WriteNumber("count", latency.CumulativeCounts[i]);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Dispose();
        if (_loop is not null) await _loop.ConfigureAwait(false);
        Task[] clients;
        lock (_clients) clients = _clients.ToArray();
        await Task.WhenAll(clients).ConfigureAwait(false);
        if (File.Exists(_path)) File.Delete(_path);
        _stop.Dispose();
    }
}
