using Microsoft.Extensions.Logging;

namespace Recorder.Depot;

/// <summary>The depot's log messages (source-generated, stable event ids). Never a token, header or key.</summary>
internal static partial class DepotLog
{
    [LoggerMessage(1, LogLevel.Information, "recorder-depot listening on {Url}, tus endpoint {Endpoint}, storage {Storage}")]
    public static partial void Listening(ILogger logger, string url, string endpoint, string storage);

    [LoggerMessage(2, LogLevel.Warning, "refused {Status} {Method} upload {Upload} from device {Device} ({Remote}): {Reason}")]
    public static partial void Refused(ILogger logger, int status, string method, string upload, string device, string remote, string reason);

    [LoggerMessage(3, LogLevel.Information, "created upload {Upload} for device {Device}: {StoragePath}, {Length} bytes")]
    public static partial void Created(ILogger logger, string upload, string device, string storagePath, long length);

    [LoggerMessage(4, LogLevel.Information, "verified upload {Upload} from device {Device}: {StoragePath} sha256 {Sha256}")]
    public static partial void Verified(ILogger logger, string upload, string device, string storagePath, string sha256);

    [LoggerMessage(5, LogLevel.Warning, "upload {Upload} from device {Device} failed verification: declared sha256 {Declared}, stored bytes hash to {Actual}; removed")]
    public static partial void VerificationFailed(ILogger logger, string upload, string device, string declared, string actual);

    [LoggerMessage(6, LogLevel.Debug, "PATCH {Upload} from device {Device} ended early at offset {Offset}: {Reason}")]
    public static partial void PatchCut(ILogger logger, string upload, string device, long offset, string reason);

    [LoggerMessage(7, LogLevel.Information, "upload {Upload} of device {Device} expired (no bytes since {Since}); removed")]
    public static partial void Expired(ILogger logger, string upload, string device, DateTimeOffset since);

    [LoggerMessage(8, LogLevel.Information, "upload {Upload} of device {Device} terminated by the device")]
    public static partial void Terminated(ILogger logger, string upload, string device);

    [LoggerMessage(9, LogLevel.Information, "upload {Upload} of device {Device}: hashed the {Offset} stored bytes again (after a restart)")]
    public static partial void Rehashed(ILogger logger, string upload, string device, long offset);

    [LoggerMessage(10, LogLevel.Error, "upload {Upload}: storage failed: {Error}")]
    public static partial void StorageFailed(ILogger logger, string upload, string error);

    [LoggerMessage(11, LogLevel.Error, "expiry sweep failed: {Error}")]
    public static partial void SweepFailed(ILogger logger, string error);

    [LoggerMessage(12, LogLevel.Information, "retention: removed recording {Recording} ({Files} files), arrived {Arrived}, older than storage.keep_for {KeepFor}")]
    public static partial void RetentionRemoved(ILogger logger, string recording, int files, DateTimeOffset arrived, TimeSpan keepFor);

    [LoggerMessage(13, LogLevel.Warning, "storage.keep_for is set but the {Store} cannot list its files: nothing is removed")]
    public static partial void RetentionUnsupported(ILogger logger, string store);
}
