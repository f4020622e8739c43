using Microsoft.Extensions.Logging;

namespace Recorder.Depot.Export;

/// <summary>The export's log lines (event ids 100–119, apart from the upload path's).</summary>
internal static partial class ExportLog
{
    [LoggerMessage(100, LogLevel.Information, "export of {Device}: {Sources} source file(s), {Messages} messages, {Bytes} bytes ({Copied} chunks copied, {Rewritten} rewritten)")]
    public static partial void Exported(ILogger logger, string device, int sources, long messages, long bytes, int copied, int rewritten);

    [LoggerMessage(101, LogLevel.Warning, "export of {Device} refused: {Reason}")]
    public static partial void Refused(ILogger logger, string device, string reason);

    [LoggerMessage(102, LogLevel.Information, "export of {Device} cut short: {Reason}")]
    public static partial void Cut(ILogger logger, string device, string reason);
}

/// <summary>Source-generated JSON for the export's answers.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ApiError))]
internal sealed partial class ExportJson : System.Text.Json.Serialization.JsonSerializerContext;
