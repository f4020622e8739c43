using Microsoft.Extensions.Logging;

namespace Recorder.Offload;

/// <summary>
/// The offload stage's log events, source-generated with stable ids (500–599). Fields are explicit:
/// file, upload URL (never carries credentials), offset, status. No header, token or key is ever logged.
/// </summary>
internal static partial class OffloadLog
{
    [LoggerMessage(500, LogLevel.Information, "Offload to {Endpoint}: presence {Presence}, {Parallel} at a time, journal {Journal} ({Entries} entries, {Discarded} torn bytes cut)")]
    public static partial void Started(ILogger logger, string endpoint, string presence, int parallel, string journal, int entries, long discarded);

    [LoggerMessage(501, LogLevel.Information, "Depot in range ({Reason})")]
    public static partial void EnteredRange(ILogger logger, string reason);

    [LoggerMessage(502, LogLevel.Information, "Depot out of range ({Reason})")]
    public static partial void LeftRange(ILogger logger, string reason);

    [LoggerMessage(503, LogLevel.Debug, "Probe failed: {Reason}")]
    public static partial void ProbeFailed(ILogger logger, string reason);

    [LoggerMessage(504, LogLevel.Information, "Created upload of {File} ({Size} bytes) at {Url}")]
    public static partial void Created(ILogger logger, string file, long size, string url);

    [LoggerMessage(505, LogLevel.Information, "Resuming {File} at {Offset} of {Size} bytes")]
    public static partial void Resuming(ILogger logger, string file, long offset, long size);

    [LoggerMessage(506, LogLevel.Information, "Uploaded and verified {File} ({Size} bytes, sha256 {Sha256})")]
    public static partial void Verified(ILogger logger, string file, long size, string sha256);

    [LoggerMessage(507, LogLevel.Information, "Deleted {File} after verified upload")]
    public static partial void Deleted(ILogger logger, string file);

    [LoggerMessage(508, LogLevel.Debug, "Upload of {File} failed at {Offset}: {Reason}; retrying in {DelayMs} ms")]
    public static partial void Retrying(ILogger logger, string file, long offset, string reason, long delayMs);

    [LoggerMessage(509, LogLevel.Warning, "Upload of {File} starts over: {Reason}")]
    public static partial void StartingOver(ILogger logger, string file, string reason);

    [LoggerMessage(510, LogLevel.Error, "Depot failed verification of {File}: {Reason} (kept locally)")]
    public static partial void VerificationFailed(ILogger logger, string file, string reason);

    [LoggerMessage(511, LogLevel.Error, "Upload of {File} parked until the next session: {Reason}")]
    public static partial void Parked(ILogger logger, string file, string reason);

    [LoggerMessage(512, LogLevel.Warning, "Cannot read {File} for offload: {Reason}")]
    public static partial void Unreadable(ILogger logger, string file, string reason);

    [LoggerMessage(513, LogLevel.Warning, "Offload journal: {Reason}")]
    public static partial void JournalProblem(ILogger logger, string reason);

    [LoggerMessage(514, LogLevel.Information, "Offload {Command}")]
    public static partial void Command(ILogger logger, string command);

    [LoggerMessage(515, LogLevel.Warning, "Not deleting {File}: {Reason}")]
    public static partial void KeptLocal(ILogger logger, string file, string reason);

    [LoggerMessage(518, LogLevel.Information, "The depot {Verification}")]
    public static partial void DepotVerification(ILogger logger, string verification);

    [LoggerMessage(519, LogLevel.Warning, "Uploaded {File} ({Size} bytes) to a depot that does not verify: kept locally, not uploaded again")]
    public static partial void UploadedUnverified(ILogger logger, string file, long size);

    [LoggerMessage(517, LogLevel.Error, "Offload loop failed: {Reason}")]
    public static partial void LoopFailed(ILogger logger, string reason, Exception exception);
}
