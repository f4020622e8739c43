using Microsoft.Extensions.Logging;

namespace Recorder.Ingest;

/// <summary>The ingest stage's log events, source-generated with stable ids (200–299).</summary>
internal static partial class IngestLog
{
    [LoggerMessage(200, LogLevel.Information, "Listening for producers on {Path}")]
    public static partial void Listening(ILogger logger, string path);

    [LoggerMessage(201, LogLevel.Information, "Producer {Source} connected")]
    public static partial void ProducerConnected(ILogger logger, string source);

    [LoggerMessage(202, LogLevel.Information, "Producer {Source} finished: {Messages} messages, {Bytes} bytes")]
    public static partial void ProducerFinished(ILogger logger, string source, ulong messages, ulong bytes);

    [LoggerMessage(203, LogLevel.Warning, "Producer {Source} refused: {Reason} ({Messages} messages before it were kept)")]
    public static partial void ProducerRefused(ILogger logger, string source, string reason, ulong messages);

    [LoggerMessage(204, LogLevel.Debug, "Producer {Source} reset the connection")]
    public static partial void ProducerReset(ILogger logger, string source);

    [LoggerMessage(205, LogLevel.Information, "Reading FIFO {Path} for topic {Topic} ({Format})")]
    public static partial void FifoOpened(ILogger logger, string path, string topic, TopicInputFormat format);

    [LoggerMessage(206, LogLevel.Error, "FIFO input {Path} refused: {Reason}")]
    public static partial void FifoRefused(ILogger logger, string path, string reason);

    [LoggerMessage(207, LogLevel.Warning, "{Source}: line {Line} is not a JSON value and was refused ({Refused} refused so far)")]
    public static partial void BadJsonLine(ILogger logger, string source, ulong line, ulong refused);

    [LoggerMessage(208, LogLevel.Error, "Producer {Source} failed unexpectedly")]
    public static partial void ProducerCrashed(ILogger logger, string source, Exception exception);

    [LoggerMessage(210, LogLevel.Information, "Listening on {Path} for topic {Topic} ({Format})")]
    public static partial void TopicSocketListening(ILogger logger, string path, string topic, TopicInputFormat format);

    [LoggerMessage(211, LogLevel.Warning, "{Path}: a second writer for topic {Topic} was refused: {Reason}")]
    public static partial void TopicSocketBusy(ILogger logger, string path, string topic, string reason);

    [LoggerMessage(212, LogLevel.Warning, "{Source}: video on {Topic} has B-frames (first at access unit {AccessUnit}); Foxglove's player does not support them")]
    public static partial void VideoHasBFrames(ILogger logger, string source, string topic, long accessUnit);

    [LoggerMessage(213, LogLevel.Debug, "Producer {Source} connected and closed without sending anything (a health probe?)")]
    public static partial void ProducerSentNothing(ILogger logger, string source);

    [LoggerMessage(214, LogLevel.Warning, "Producer {Source}: {What} refused: {Reason}")]
    public static partial void RecordRefused(ILogger logger, string source, string what, string reason);

    [LoggerMessage(209, LogLevel.Debug, "{Source}: topic {Topic} is not selected by ingest.include/exclude; its messages are skipped")]
    public static partial void TopicNotSelected(ILogger logger, string source, string topic);
}
