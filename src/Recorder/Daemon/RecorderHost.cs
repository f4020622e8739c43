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
/// queue → writer, plus the control socket and, with --demo, the demo producers. Stops on SIGTERM
/// or SIGINT: ingest first, then the writer drains the queue and finishes the open file.
/// </summary>
public sealed class RecorderHost
{
    private readonly RecorderSettings _settings;
    private readonly ILoggerFactory _loggers;
    private readonly bool _demo;

    public RecorderHost(RecorderSettings settings, ILoggerFactory loggers, bool demo)
    {
        _settings = settings;
        _loggers = loggers;
        _demo = demo;
    }

    public static RecordingOptions RecordingOptionsFrom(RecorderSettings s) => new()
    {
        Directory = s.Recording.Dir,
        ChunkSize = (int)s.Recording.ChunkSize,
        ChunkMaxAge = s.Recording.ChunkMaxAge,
        Compression = s.Recording.Compression switch
        {
            ChunkCompression.None => McapCompression.None,
            ChunkCompression.Lz4 => McapCompression.Lz4,
            _ => McapCompression.Zstd,
        },
        SplitSize = s.Recording.SplitSize,
        SplitDuration = s.Recording.SplitDuration,
        Fsync = s.Recording.Fsync switch
        {
            FsyncMode.Interval => FsyncPolicy.Interval,
            FsyncMode.Never => FsyncPolicy.Never,
            _ => FsyncPolicy.Chunk,
        },
        LatchedTopics = s.Topics.Where(t => t.Latched).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal),
        UsesProducerTime = topic => (s.FindTopic(topic)?.Timestamps ?? s.Ingest.Timestamps) == TimestampMode.Producer,
        ReorderWindow = s.Ingest.Timestamps == TimestampMode.Producer || s.Topics.Any(t => t.Timestamps == TimestampMode.Producer)
            ? s.Ingest.ReorderWindow
            : TimeSpan.Zero,
    };

    public static IngestOptions IngestOptionsFrom(RecorderSettings s) => new()
    {
        SocketPath = s.Ingest.Socket,
        SelectTopic = s.Ingest.Selects,
        ConfiguredMetadata = s.ChannelMetadataFor,
        Fifos = s.Topics.Where(t => t.Fifo is not null).Select(t => new FifoInputOptions(t.Fifo!, t.Topic, t.Format switch
        {
            InputFormat.Jsonl => FifoFormat.Jsonl,
            InputFormat.H264 => FifoFormat.H264,
            InputFormat.H265 => FifoFormat.H265,
            _ => FifoFormat.Mcap,
        }, t.JsonSchema)).ToList(),
    };

    /// <summary>The offload stage's options from the <c>offload:</c> section; null when it is absent or disabled.</summary>
    public static OffloadOptions? OffloadOptionsFrom(RecorderSettings s)
    {
        if (s.Offload is not { Enabled: true } o) return null;
        return new OffloadOptions
        {
            Endpoint = new Uri(o.Endpoint),
            RecordingsDirectory = s.Recording.Dir,
            DeviceId = s.Device.DeviceId,
            StateDirectory = o.StateDir,
            Presence = o.Presence switch
            {
                OffloadPresence.NetworkManager => PresenceMode.NetworkManager,
                OffloadPresence.Manual => PresenceMode.Manual,
                _ => PresenceMode.Probe,
            },
            ProbeInterval = o.ProbeInterval,
            ProbeTimeout = o.ProbeTimeout,
            EnterAfter = o.EnterAfter,
            LeaveAfter = o.LeaveAfter,
            Ssids = o.Ssids,
            Parallel = o.Parallel,
            Bandwidth = o.Bandwidth,
            ChunkSize = o.ChunkSize,
            InactivityTimeout = o.InactivityTimeout,
            RetryMin = o.RetryMin,
            RetryMax = o.RetryMax,
            DeleteAfterUpload = o.DeleteAfterUpload,
            MinFreeBytes = s.Storage.MinFreeBytes,
            RescanInterval = o.RescanInterval,
            TokenFile = o.TokenFile,
            ClientCertificateFile = o.ClientCertificate,
            ClientKeyFile = o.ClientKey,
            CaFile = o.Ca,
            Insecure = o.Insecure,
        };
    }

    /// <summary>The values of `recorder.device`: configuration plus what only the running machine knows.</summary>
    public static DeviceIdentity IdentityFrom(RecorderSettings s)
    {
        var d = s.Device;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in d.Extra) values[k] = v;
        values["device_id"] = d.DeviceId;
        values["device_version"] = d.DeviceVersion;
        values["software_version"] = SoftwareVersion(d);
        values["recorder_version"] = Cli.BuildInfo.Version;
        values["fleet"] = s.Fleet;
        values["vehicle"] = d.Vehicle ?? "";
        values["operator"] = d.Operator;
        values["hostname"] = Environment.MachineName;
        values["boot_id"] = ReadFirstLine("/proc/sys/kernel/random/boot_id") ?? "unknown";
        values["session_id"] = Guid.NewGuid().ToString("N");
        return new DeviceIdentity(d.DeviceId, values);
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
        var logger = _loggers.CreateLogger("recorder");
        var clock = new RecordingClock();
        var registry = new ChannelRegistry();
        var queue = new BatchQueue(_settings.Ingest.QueueBytes, clock);
        var identity = IdentityFrom(_settings);
        using var writer = new RecordingWriter(RecordingOptionsFrom(_settings), queue, registry, identity, _loggers.CreateLogger("recorder.recording"));
        writer.Start();
        DaemonLog.Started(logger, Cli.BuildInfo.Version, identity.DeviceId, Path.GetFullPath(_settings.Recording.Dir));

        var ingestOptions = IngestOptionsFrom(_settings);
        var ingestLogger = _loggers.CreateLogger("recorder.ingest");
        var socket = new UnixSocketIngest(ingestOptions, queue, registry, ingestLogger);
        socket.Start();
        var fifos = ingestOptions.Fifos.Select(f => new FifoIngest(f, ingestOptions, queue, registry, ingestLogger)).ToList();
        foreach (var fifo in fifos) fifo.Start();
        OffloadService? offload = null;
        if (OffloadOptionsFrom(_settings) is { } offloadOptions)
        {
            try
            {
                offload = new OffloadService(offloadOptions, _loggers.CreateLogger("recorder.offload"));
                writer.FileFinished += offload.NotifyFinished;
                offload.Start();
            }
            catch (Exception e) when (e is OffloadJournalException or IOException or UnauthorizedAccessException or ArgumentException
                or System.Security.Cryptography.CryptographicException)
            {
                // Recording goes on without offload; the status says why.
                DaemonLog.OffloadFailed(logger, e.Message);
                if (offload is not null) await offload.DisposeAsync().ConfigureAwait(false);
                offload = null;
            }
        }
        var control = new ControlServer(_settings.ControlSocket, writer, queue, socket, _loggers.CreateLogger("recorder.control"), offload);
        control.Start();

        using var demoStop = new CancellationTokenSource();
        var demo = _demo ? DemoProducers.RunAsync(_settings.Ingest.Socket, logger, demoStop.Token) : Task.CompletedTask;

        var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult("SIGTERM"); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult("SIGINT"); });
        using var external = externalStop.Register(() => stop.TrySetResult("requested"));
        SystemdNotifier.Notify("READY=1\nSTATUS=recording");

        var finished = await Task.WhenAny(stop.Task, writer.Stopped).ConfigureAwait(false);
        var exitCode = 0;
        if (finished == writer.Stopped)
        {
            exitCode = 1;
            if (writer.Stopped.Exception is { } failure) DaemonLog.WriterFailed(logger, failure.InnerException ?? failure);
        }
        else
        {
            DaemonLog.Stopping(logger, stop.Task.Result);
        }
        SystemdNotifier.Notify("STOPPING=1");

        demoStop.Cancel();
        await demo.ConfigureAwait(false);
        await control.DisposeAsync().ConfigureAwait(false);
        await socket.DisposeAsync().ConfigureAwait(false);
        foreach (var fifo in fifos) fifo.Dispose();
        try
        {
            await writer.StopAsync().WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or IOException or McapException)
        {
            DaemonLog.WriterFailed(logger, e);
            exitCode = 1;
        }
        if (offload is not null) await offload.DisposeAsync().ConfigureAwait(false);
        if (exitCode == 0) DaemonLog.Stopped(logger);
        return exitCode;
    }
}
