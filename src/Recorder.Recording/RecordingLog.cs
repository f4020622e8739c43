using Microsoft.Extensions.Logging;

namespace Recorder.Recording;

/// <summary>The recording stage's log events, source-generated with stable ids (100–199).</summary>
internal static partial class RecordingLog
{
    [LoggerMessage(100, LogLevel.Information, "Recording to {Path} (file {Sequence}, previous ended by {Reason})")]
    public static partial void FileOpened(ILogger logger, string path, int sequence, string reason);

    [LoggerMessage(101, LogLevel.Information, "Finished {Path}: {Messages} messages, {Bytes} bytes, {Chunks} chunks, ended by {Reason}")]
    public static partial void FileFinished(ILogger logger, string path, ulong messages, long bytes, uint chunks, string reason);

    [LoggerMessage(102, LogLevel.Warning, "System clock stepped by {DeltaMs} ms; recorded as an event")]
    public static partial void ClockStepped(ILogger logger, double deltaMs);

    [LoggerMessage(103, LogLevel.Error, "Writing {Path} failed: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string path, string reason, Exception exception);

    [LoggerMessage(104, LogLevel.Warning, "Recovered unfinished file {Path} from an earlier run: {Messages} messages kept, exit class {ExitCode}")]
    public static partial void RecoveredLeftover(ILogger logger, string path, ulong messages, int exitCode);

    [LoggerMessage(105, LogLevel.Error, "Could not recover unfinished file {Path}: {Reason}")]
    public static partial void LeftoverRecoveryFailed(ILogger logger, string path, string reason);

    [LoggerMessage(130, LogLevel.Warning, "Removed the unfinished copy of {Path}: a crash interrupted its recovery after the recovered file was complete")]
    public static partial void LeftoverAlreadyRecovered(ILogger logger, string path);

    [LoggerMessage(106, LogLevel.Error, "Message on unknown global channel {ChannelId} dropped")]
    public static partial void UnknownChannel(ILogger logger, int channelId);

    // 107 (deleted to make room) is the store's now: StorageLog in Recorder.Storage.

    [LoggerMessage(108, LogLevel.Error, "Disk full: {Reason}; not writing, counting every message until space returns")]
    public static partial void DiskFull(ILogger logger, string reason);

    [LoggerMessage(109, LogLevel.Warning, "Writing again after {Cause}: {Messages} messages were not written over {Seconds:0.0} s")]
    public static partial void Resumed(ILogger logger, string cause, ulong messages, double seconds);

    [LoggerMessage(111, LogLevel.Warning, "Split went ahead without a keyframe on {Topics} after waiting {Seconds:0.0} s; those topics start the new file mid-GOP")]
    public static partial void KeyframeWaitExpired(ILogger logger, string topics, double seconds);

    [LoggerMessage(112, LogLevel.Warning, "Producer {Source} sent a message on {Topic} {SkewMs:0.###} ms older than what is already written; under producer timestamps it is written at the edge and counted as late (first occurrence for this producer)")]
    public static partial void LateMessageClamped(ILogger logger, string source, string topic, double skewMs);

    [LoggerMessage(110, LogLevel.Warning, "A FileFinished handler failed for {Path}: {Reason}")]
    public static partial void FileFinishedHandlerFailed(ILogger logger, string path, string reason);
}
