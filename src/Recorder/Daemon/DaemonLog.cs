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

    [LoggerMessage(307, LogLevel.Error, "The writer failed; stopping")]
    public static partial void WriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(308, LogLevel.Error, "Offload is configured but cannot start: {Reason}; recording without it")]
    public static partial void OffloadFailed(ILogger logger, string reason);
}
