using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Recorder.Config;
using Recorder.Demo;
using Recorder.Ingest;
using Recorder.Mcap;
using Recorder.Offload;
using Recorder.Recording;

namespace Recorder.Daemon;

/// <summary>
/// Wires the stages together for `recorder run`: configuration → ingest (socket, FIFOs) → bounded
/// queue → writer, plus the control socket and, with --demo, the demo producers. Tells systemd
/// READY once the sockets accept, pings its watchdog while the writer makes progress, reloads on
/// SIGHUP (or the `reload` control command), and stops on SIGTERM or SIGINT: ingest first, then
/// the writer drains the queue and finishes the open file.
/// </summary>
public sealed class RecorderHost
{
    private readonly ILoggerFactory _loggers;
    private readonly bool _demo;
    private readonly ILogger _logger;
    private readonly object _reloadLock = new();
    private readonly Dictionary<TopicInputOptions, ITopicInput> _topicInputs = new();
    private RecorderSettings _current;
    private int _selectionVersion;
    private RecordingOptions? _initialRecording;
    private BatchQueue? _queue;
    private ChannelRegistry? _registry;
    private IngestOptions? _ingestOptions;
    private IngestContext? _ingest;
    private OffloadService? _offload; // for the writer's storage-limit hook and the control server; replaced by a reload that changes offload.*
    private RecordingWriter? _writer;
    private bool _running; // under _reloadLock: from READY until the shutdown begins

    public RecorderHost(RecorderSettings settings, ILoggerFactory loggers, bool demo)
    {
        _current = settings;
        _loggers = loggers;
        _demo = demo;
        _logger = loggers.CreateLogger("recorder");
    }

    /// <summary>Where a reload reads the configuration from; by default (null) the files the settings were loaded from, checked against this machine.</summary>
    public Func<ConfigLoadResult>? LoadConfiguration { get; init; }

    /// <summary>The settings in force (after reloads).</summary>
    public RecorderSettings Current => Volatile.Read(ref _current);

    /// <summary>
    /// The writer's options: the <c>recording:</c> section is the writer's own options type; the
    /// host adds what other sections decide (latched topics, producer time, storage limits).
    /// </summary>
    public static RecordingOptions RecordingOptionsFrom(RecorderSettings s) => s.Recording with
    {
        LatchedTopics = s.Topics.Where(t => t.Latched).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal),
        MaxBytes = s.Storage.MaxBytes,
        MinFreeBytes = s.Storage.MinFreeBytes,
        DeleteOldestWhenFull = s.Storage.WhenFull == WhenFull.DeleteOldest,
        UsesProducerTime = topic => (s.FindTopic(topic)?.Timestamps ?? s.Ingest.Timestamps) == TimestampMode.Producer,
        ReorderWindow = s.Topics.Any(IsRawVideo)
            ? (s.Ingest.ReorderWindow > VideoReorderWindow ? s.Ingest.ReorderWindow : VideoReorderWindow)
            : s.Ingest.Timestamps == TimestampMode.Producer || s.Topics.Any(t => t.Timestamps == TimestampMode.Producer)
                ? s.Ingest.ReorderWindow
                : TimeSpan.Zero,
        // Configured channel metadata is applied by the writer as a channel enters a file, so a reload reaches the next file.
        ChannelMetadata = s.ChannelMetadataFor,
    };

    /// <summary>Ingest options for <paramref name="s"/>. Channel metadata is not here: the writer applies it (<see cref="RecordingOptions.ChannelMetadata"/>).</summary>
    public static IngestOptions IngestOptionsFrom(RecorderSettings s) => new()
    {
        SocketPath = s.Ingest.Socket,
        SelectTopic = s.Ingest.Selects,
        MaxAttachmentBytes = () => s.Ingest.MaxAttachmentBytes,
        DropPolicyFor = topic => DropPolicyOf(s, topic),
        TopicInputs = TopicInputsFrom(s),
    };

    private static DropPolicy DropPolicyOf(RecorderSettings s, string topic) => s.FindTopic(topic)?.Drop ?? DropPolicy.Block;

    /// <summary>The topics' own inputs: FIFOs and per-topic sockets.</summary>
    private static List<TopicInputOptions> TopicInputsFrom(RecorderSettings s) =>
        s.Topics.Where(t => t.Fifo is not null || t.Socket is not null).Select(t => new TopicInputOptions(t.Fifo ?? t.Socket!, t.Topic,
            t.Format ?? TopicInputFormat.Mcap, t.JsonSchema, t.Fifo is null ? TopicInputTransport.Socket : TopicInputTransport.Fifo,
            t.Store ?? Video.FrameStore.Container)).ToList();

    /// <summary>Topics read as raw Annex B video: their frames are stamped at their first byte's arrival (producer time).</summary>
    private static bool IsRawVideo(TopicSettings t) => (t.Fifo is not null || t.Socket is not null) && t.Format is TopicInputFormat.H264 or TopicInputFormat.H265;

    /// <summary>
    /// An access unit is known complete only when the next one begins, so video arrives up to a
    /// frame (plus a pipe's worth) after its first byte: the reorder window covers that.
    /// </summary>
    public static readonly TimeSpan VideoReorderWindow = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// The offload stage's options: the <c>offload:</c> section is the stage's own options type;
    /// the host adds the recordings directory and the device. Null when the section is absent or
    /// disabled.
    /// </summary>
    public static OffloadOptions? OffloadOptionsFrom(RecorderSettings s) => s.Offload is { Enabled: true } o
        ? o with { RecordingsDirectory = s.Recording.Directory, DeviceId = s.Device.DeviceId }
        : null;

    /// <summary>The values of `recorder.device`: configuration plus what only the running machine knows.</summary>
    public static DeviceIdentity IdentityFrom(RecorderSettings s)
    {
        var values = ConfiguredIdentity(s);
        values["recorder_version"] = Cli.BuildInfo.Version;
        values["hostname"] = Environment.MachineName;
        values["boot_id"] = ReadFirstLine("/proc/sys/kernel/random/boot_id") ?? "unknown";
        values["session_id"] = Guid.NewGuid().ToString("N");
        return new DeviceIdentity(s.Device.DeviceId, values);
    }

    /// <summary>The `recorder.device` values that come from configuration (a reload compares these).</summary>
    private static Dictionary<string, string> ConfiguredIdentity(RecorderSettings s)
    {
        var d = s.Device;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in d.Extra) values[k] = v;
        values["device_id"] = d.DeviceId;
        values["device_version"] = d.DeviceVersion;
        values["software_version"] = SoftwareVersion(d);
        values["fleet"] = s.Fleet;
        values["vehicle"] = d.Vehicle ?? "";
        values["operator"] = d.Operator;
        return values;
    }

    private static string SoftwareVersion(DeviceSettings d)
    {
        if (d.SoftwareVersion is { Length: > 0 } v) return v;
        if (d.SoftwareVersionFile is { } file) return ReadFirstLine(file) ?? $"unreadable: {file}";
        return "unknown";
    }

    private static string? ReadFirstLine(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault()?.Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public async Task<int> RunAsync(CancellationToken externalStop = default)
    {
        // Signals first: a SIGTERM that arrives as soon as the sockets exist must stop cleanly.
        var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult("SIGTERM"); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult("SIGINT"); });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true; // the default would terminate
            _ = Task.Run(() => Reload("SIGHUP"));
        });
        using var external = externalStop.Register(() => stop.TrySetResult("requested"));

        var settings = Current;
        var clock = new RecordingClock();
        _registry = new ChannelRegistry();
        var queue = _queue = new BatchQueue(settings.Ingest.QueueBytes, clock);
        var identity = IdentityFrom(settings);
        _initialRecording = RecordingOptionsFrom(settings);
        using var writer = _writer = new RecordingWriter(_initialRecording, queue, _registry, identity, _loggers.CreateLogger("recorder.recording"));
        writer.Start();
        DaemonLog.Started(_logger, Cli.BuildInfo.Version, identity.DeviceId, Path.GetFullPath(settings.Recording.Directory));

        // Selection and FIFOs follow reloads: the options read the settings in force.
        _ingestOptions = new IngestOptions
        {
            SocketPath = settings.Ingest.Socket,
            SelectTopic = topic => Current.Ingest.Selects(topic),
            MaxAttachmentBytes = () => Current.Ingest.MaxAttachmentBytes,
            DropPolicyFor = topic => DropPolicyOf(Current, topic),
            SelectionVersion = () => Volatile.Read(ref _selectionVersion),
            TopicInputs = TopicInputsFrom(settings),
        };
        _ingest = new IngestContext(_ingestOptions, new RecordingIntake(queue, _registry), _loggers.CreateLogger("recorder.ingest"));
        var socket = new UnixSocketIngest(_ingest);
        socket.Start();
        lock (_reloadLock) ApplyTopicInputs(TopicInputsFrom(settings));
        await StartOffloadAsync(settings).ConfigureAwait(false);
        var control = new ControlServer(settings.ControlSocket, writer, queue, socket, _loggers.CreateLogger("recorder.control"), () => Volatile.Read(ref _offload))
        {
            Inputs = () =>
            {
                lock (_reloadLock) return _topicInputs.Keys.ToList();
            },
            IngestOptions = _ingestOptions,
            ConfiguredTopics = () => Current.Topics.Select(t => t.Topic),
            Reload = () => Reload("control command"),
        };
        control.Start();

        using var demoStop = new CancellationTokenSource();
        var demo = _demo ? DemoProducers.RunAsync(settings.Ingest.Socket, _logger, demoStop.Token) : Task.CompletedTask;

        lock (_reloadLock) _running = true;

        // The sockets accept and the writer runs: recording can start.
        SystemdNotifier.Notify("READY=1\nSTATUS=" + StatusLine(writer));
        await using var watchdog = Watchdog.FromEnvironment(() => writer.Progress, () => StatusLine(writer), _loggers.CreateLogger("recorder.watchdog"));
        if (watchdog is not null) DaemonLog.WatchdogEnabled(_logger, watchdog.Interval.TotalSeconds, watchdog.StallLimit.TotalSeconds);
        control.Watchdog = watchdog;
        // The Prometheus textfile, from the status the control socket serves (a reload may turn it on, move it or off).
        using var metricsStop = new CancellationTokenSource();
        var metrics = new Metrics.MetricsTextfile(() => Current.Metrics, () => Metrics.PrometheusText.FromControl(control.Handle), TimeProvider.System,
            _loggers.CreateLogger("recorder.metrics")).RunAsync(metricsStop.Token);

        var finished = await Task.WhenAny(stop.Task, writer.Stopped).ConfigureAwait(false);
        var exitCode = 0;
        if (finished == writer.Stopped)
        {
            exitCode = 1;
            if (writer.Stopped.Exception is { } failure) DaemonLog.WriterFailed(_logger, failure.InnerException ?? failure);
        }
        else
        {
            DaemonLog.Stopping(_logger, stop.Task.Result);
        }
        lock (_reloadLock) _running = false;
        SystemdNotifier.Notify("STOPPING=1\nSTATUS=stopping: finishing the open file");

        demoStop.Cancel();
        await demo.ConfigureAwait(false);
        metricsStop.Cancel(); // a last write with the counters as the shutdown begins
        await metrics.ConfigureAwait(false);
        await control.DisposeAsync().ConfigureAwait(false);
        await socket.DisposeAsync().ConfigureAwait(false);
        lock (_reloadLock)
        {
            foreach (var input in _topicInputs.Values) input.Dispose();
            _topicInputs.Clear();
        }
        try
        {
            await writer.StopAsync().WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or IOException or McapException)
        {
            DaemonLog.WriterFailed(_logger, e);
            exitCode = 1;
        }
        await StopOffloadAsync().ConfigureAwait(false);
        if (exitCode == 0) DaemonLog.Stopped(_logger);
        return exitCode;
    }

    /// <summary>
    /// Starts the offload stage for <paramref name="settings"/> (nothing when it has no enabled
    /// offload section). Returns why it could not start, or null; recording goes on without it.
    /// </summary>
    private async Task<string?> StartOffloadAsync(RecorderSettings settings)
    {
        if (OffloadOptionsFrom(settings) is not { } options) return null;
        OffloadService? offload = null;
        try
        {
            // The writer's store: the offload stage is its ledger (what is offloaded goes first when space is short; every deletion is journaled).
            offload = new OffloadService(options, _loggers.CreateLogger("recorder.offload"), store: _writer!.Store);
            _writer!.FileFinished += offload.NotifyFinished;
            offload.Start();
            Volatile.Write(ref _offload, offload);
            return null;
        }
        catch (Exception e) when (e is OffloadJournalException or IOException or UnauthorizedAccessException or ArgumentException
            or System.Security.Cryptography.CryptographicException)
        {
            // Recording goes on without offload; the status says why.
            DaemonLog.OffloadFailed(_logger, e.Message);
            Volatile.Write(ref _offload, null);
            if (offload is not null)
            {
                _writer!.FileFinished -= offload.NotifyFinished;
                await offload.DisposeAsync().ConfigureAwait(false);
            }
            return e.Message;
        }
    }

    /// <summary>Stops the offload stage; in-flight uploads resume from the depot's offset when it starts again.</summary>
    private async Task StopOffloadAsync()
    {
        var offload = Interlocked.Exchange(ref _offload, null);
        if (offload is null) return;
        _writer!.FileFinished -= offload.NotifyFinished;
        await offload.DisposeAsync().ConfigureAwait(false);
    }

    private static string StatusLine(RecordingWriter writer)
    {
        var p = writer.Status();
        return string.Create(CultureInfo.InvariantCulture,
            $"{p.State}: {p.MessagesTotal} messages, {p.FilesFinished} files finished, queue {p.QueueBytes * 100 / Math.Max(1, p.QueueCapacityBytes)}%");
    }

    /// <summary>
    /// How long a reload waits for the writer to take the new recording options before it reports
    /// them as not applied (a stalled disk). With the offload stage's stop (at most 30 s) it stays
    /// within the unit's TimeoutStartSec=60s, which bounds ExecReload=.
    /// </summary>
    public static readonly TimeSpan ReloadApplyTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Reloads the configuration: validates the new files first (and against this machine); on
    /// failure logs every error and keeps the settings in force. On success applies, without
    /// dropping a message or restarting the open file: the recording options (chunking, splits,
    /// fsync, compression and channel tags for the next file, the latched set, storage limits) in queue
    /// order, then the topic selection for connected producers, then the topic inputs, FIFOs and sockets (new ones
    /// start, removed ones stop, unchanged ones keep running), then changed device metadata, then
    /// the offload stage (restarted with the new options when an offload key changed; uploads
    /// resume from the depot's offset). Settings bound at start-up (the sockets, the queue,
    /// timestamps, recording.dir, device_id) keep their old values and are listed as needing a restart.
    /// Returns once everything is in force (the writer has taken the new options), naming every
    /// changed key as applied or as needing a restart. Serialised; safe from any thread.
    /// </summary>
    public ReloadOutcome Reload(string trigger)
    {
        lock (_reloadLock)
        {
            if (!_running) return new ReloadOutcome(false, ["the recorder is not running yet (or any more); nothing reloaded"]);
            DaemonLog.Reloading(_logger, trigger);
            SystemdNotifier.Notify("RELOADING=1\nSTATUS=reloading the configuration");
            var result = LoadConfiguration?.Invoke() ?? ConfigLoader.Load(Current.FleetFile, Current.DeviceFile, new SystemHostProbe());
            var messages = new List<string>();
            foreach (var warning in result.Warnings)
            {
                DaemonLog.ConfigWarning(_logger, warning.ToString());
                messages.Add(Cli.ConfigCommand.Warning(warning));
            }
            if (!result.Succeeded)
            {
                foreach (var error in result.Errors)
                {
                    DaemonLog.ConfigError(_logger, error.ToString());
                    messages.Insert(0, error.ToString());
                }
                DaemonLog.ReloadRejected(_logger, result.Errors.Count);
                SystemdNotifier.Notify("READY=1\nSTATUS=reload rejected (" + result.Errors.Count.ToString(CultureInfo.InvariantCulture) + " errors); previous configuration kept");
                return new ReloadOutcome(false, messages);
            }

            var old = Current;
            var (next, restartOnly) = KeepStartupSettings(old, result.Settings!);
            var applied = SettingsKeys.Changed(old, next).Where(k => !restartOnly.Contains(SettingsKeys.Generic(k))).ToList();
            // Video is stamped at its first byte through the reorder window, which is set up at start:
            // a video input added without one records, stamped when each frame is complete (a frame late).
            if (_initialRecording!.ReorderWindow < VideoReorderWindow && next.Topics.Any(IsRawVideo) && !old.Topics.Any(IsRawVideo))
                restartOnly.Add("topics[].format h264/h265 (first-byte timestamps)");
            if (restartOnly.Count > 0)
            {
                var keys = string.Join(", ", restartOnly);
                DaemonLog.ReloadNeedsRestart(_logger, keys);
                messages.Add($"changed but only applied by a restart: {keys}");
            }

            // 1. The writer's options, in queue order: what came before is written under the old ones.
            var reconfigure = new ReconfigureCommand(RecordingOptionsFor(next));
            _queue!.EnqueueCommand(reconfigure);
            // 2. Topic selection; connected producers re-select at their next read.
            Volatile.Write(ref _current, next);
            Interlocked.Increment(ref _selectionVersion);
            // 3. Topic inputs (FIFOs and sockets).
            var (added, removed) = ApplyTopicInputs(TopicInputsFrom(next));
            // 4. Device metadata that the configuration changed (runtime changes such as `recorder operator` stay otherwise).
            var before = ConfiguredIdentity(old);
            foreach (var (key, value) in ConfiguredIdentity(next))
                if (key != "device_id" && (!before.TryGetValue(key, out var was) || was != value)) _queue.EnqueueCommand(new SetMetadataCommand(key, value));

            // 5. The offload stage: its options are fixed when it starts, so a change restarts it
            //    (and a stage that could not start, say for a missing certificate, is tried again).
            var failures = new List<string>();
            if (applied.Any(k => k.StartsWith("offload.", StringComparison.Ordinal)) || (next.Offload is { Enabled: true } && Volatile.Read(ref _offload) is null))
            {
                StopOffloadAsync().GetAwaiter().GetResult();
                if (StartOffloadAsync(next).GetAwaiter().GetResult() is { } why) failures.Add($"offload cannot start with the new settings: {why}; recording goes on without it");
                else DaemonLog.OffloadRestarted(_logger, next.Offload is { Enabled: true } ? "restarted with the new settings" : "stopped (no enabled offload section)");
            }

            // The reply says "applied" only once the writer has taken the options.
            if (!reconfigure.Applied.Task.Wait(ReloadApplyTimeout))
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"the writer has not taken the new recording settings within {ReloadApplyTimeout.TotalSeconds} s (stalled?); they apply when it resumes"));

            DaemonLog.Reloaded(_logger, next.Topics.Count, added, removed);
            messages.Insert(0, string.Create(CultureInfo.InvariantCulture, $"reloaded: {next.Topics.Count} topics, {added} FIFO inputs added, {removed} removed"));
            messages.Insert(1, applied.Count == 0 ? "applied: nothing changed" : "applied: " + string.Join(", ", applied));
            if (failures.Count > 0)
            {
                foreach (var failure in failures) DaemonLog.ReloadNotApplied(_logger, failure);
                messages.InsertRange(0, failures);
                SystemdNotifier.Notify("READY=1\nSTATUS=configuration reloaded, not all of it in force: " + failures[0]);
                return new ReloadOutcome(false, messages);
            }
            SystemdNotifier.Notify("READY=1\nSTATUS=configuration reloaded");
            return new ReloadOutcome(true, messages);
        }
    }

    /// <summary>
    /// The new settings with the values bound at start-up put back (the keys the tables declare
    /// <see cref="ReloadClass.Restart"/>), and the keys that differed.
    /// </summary>
    private static (RecorderSettings Settings, List<string> RestartOnly) KeepStartupSettings(RecorderSettings old, RecorderSettings next)
    {
        var (kept, keys) = RecorderKeys.KeepRestartOnly(old, next);
        // topics[].timestamps: the writer's reorder buffer is built for the topics that used producer time at start.
        if (!ProducerTimeTopics(old).SetEquals(ProducerTimeTopics(next))) keys.Add("topics[].timestamps");
        return (kept, keys);

        static HashSet<string> ProducerTimeTopics(RecorderSettings s) =>
            s.Topics.Where(t => (t.Timestamps ?? s.Ingest.Timestamps) == TimestampMode.Producer).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Recording options for reloaded settings; reordering stays as the writer was built with.</summary>
    private RecordingOptions RecordingOptionsFor(RecorderSettings s)
    {
        var initial = _initialRecording!;
        return RecordingOptionsFrom(s) with
        {
            UsesProducerTime = initial.UsesProducerTime,
            ReorderWindow = initial.ReorderWindow,
        };
    }

    /// <summary>Starts the topic inputs (FIFOs and sockets) not running yet and stops those no longer configured. Under the reload lock.</summary>
    private (int Added, int Removed) ApplyTopicInputs(List<TopicInputOptions> wanted)
    {
        var removed = 0;
        foreach (var (options, input) in _topicInputs.Where(p => !wanted.Contains(p.Key)).ToList())
        {
            input.Dispose();
            _topicInputs.Remove(options);
            DaemonLog.FifoRemoved(_logger, options.Path, options.Topic);
            removed++;
        }
        var added = 0;
        foreach (var options in wanted.Where(w => !_topicInputs.ContainsKey(w)))
        {
            var input = TopicInputs.Create(options, _ingest!);
            input.Start(); // a refused input logs why and stays listed
            _topicInputs[options] = input;
            added++;
        }
        return (added, removed);
    }
}

/// <summary>The result of a reload: whether it applied, and its errors, warnings and summary as lines.</summary>
public sealed record ReloadOutcome(bool Applied, IReadOnlyList<string> Messages);
