using Microsoft.Extensions.Logging;

namespace Recorder.Storage;

internal static partial class StorageLog
{
    [LoggerMessage(107, LogLevel.Warning, "Deleted {Path} to make room ({Why})")]
    public static partial void DeletedForSpace(ILogger logger, string path, string why);

    [LoggerMessage(190, LogLevel.Warning, "Could not delete {Path}: {Reason}; the recording stays")]
    public static partial void DeleteFailed(ILogger logger, string path, string reason);
}
