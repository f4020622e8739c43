using Microsoft.Extensions.Logging;

namespace Recorder.Daemon;

/// <summary>The host's log events, source-generated with stable ids (300–399).</summary>
internal static partial class DaemonLog
{
    [LoggerMessage(300, LogLevel.Information, "Control socket on {Path}")]
    public static partial void ControlListening(ILogger logger, string path);

    [LoggerMessage(301, LogLevel.Debug, "Control command {Command}")]
    public static partial void ControlCommand(ILogger logger, string command);

    [LoggerMessage(302, LogLevel.Information, "Recorder {Version} started: device {DeviceId}, recording under {Directory}")]
    public static partial void Started(ILogger logger, string version, string deviceId, string directory);

    [LoggerMessage(303, LogLevel.Information, "Stopping ({Signal})")]
    public static partial void Stopping(ILogger logger, string signal);

    [LoggerMessage(304, LogLevel.Information, "Stopped cleanly")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(305, LogLevel.Information, "Demo producers running: /imu 200 Hz (protobuf), /gps 10 Hz (json), /vehicle/diagnostics 1 Hz (json)")]
    public static partial void DemoRunning(ILogger logger);

    [LoggerMessage(306, LogLevel.Warning, "Demo producer {Name} stopped: {Reason}")]
    public static partial void DemoFailed(ILogger logger, string name, string reason);

    [LoggerMessage(322, LogLevel.Warning, "Demo producer {Name}: {Sent} messages sent, {Lost} not sent while the daemon was away ({Reconnects} reconnects)")]
    public static partial void DemoLost(ILogger logger, string name, ulong sent, ulong lost, int reconnects);

    [LoggerMessage(307, LogLevel.Error, "The writer failed; stopping")]
    public static partial void WriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(308, LogLevel.Information, "Reloading the configuration ({Trigger})")]
    public static partial void Reloading(ILogger logger, string trigger);

    [LoggerMessage(309, LogLevel.Information, "Configuration reloaded: {Topics} topics, {Added} FIFO inputs added, {Removed} removed")]
    public static partial void Reloaded(ILogger logger, int topics, int added, int removed);

    [LoggerMessage(310, LogLevel.Error, "Configuration error: {Error}")]
    public static partial void ConfigError(ILogger logger, string error);

    [LoggerMessage(311, LogLevel.Warning, "Configuration warning: {Warning}")]
    public static partial void ConfigWarning(ILogger logger, string warning);

    [LoggerMessage(312, LogLevel.Error, "Reload rejected ({Errors} errors); the previous configuration stays in force")]
    public static partial void ReloadRejected(ILogger logger, int errors);

    [LoggerMessage(313, LogLevel.Warning, "Changed in the configuration but only applied by a restart: {Keys}")]
    public static partial void ReloadNeedsRestart(ILogger logger, string keys);

    [LoggerMessage(314, LogLevel.Information, "FIFO input {Path} ({Topic}) removed by the reload")]
    public static partial void FifoRemoved(ILogger logger, string path, string topic);

    [LoggerMessage(315, LogLevel.Information, "systemd watchdog: pinging every {Interval} s / 2 while no writer operation takes longer than {StallLimit} s")]
    public static partial void WatchdogEnabled(ILogger logger, double interval, double stallLimit);

    [LoggerMessage(316, LogLevel.Warning, "Test hook: writer stall of {Seconds} s requested over the control socket")]
    public static partial void TestStallRequested(ILogger logger, double seconds);

    [LoggerMessage(317, LogLevel.Error, "Offload is configured but cannot start: {Reason}; recording without it")]
    public static partial void OffloadFailed(ILogger logger, string reason);

    [LoggerMessage(318, LogLevel.Information, "Offload {What} (an offload key changed in the reload)")]
    public static partial void OffloadRestarted(ILogger logger, string what);

    [LoggerMessage(319, LogLevel.Error, "Reload not fully in force: {Reason}")]
    public static partial void ReloadNotApplied(ILogger logger, string reason);
}
