using System.Globalization;
using Recorder.Mcap;

namespace Recorder.Depot.Export;

/// <summary>
/// The depot's merged time-slice export (proto/depot_export.md): the files a request selects,
/// merged by <see cref="McapMerger"/> with the depot's rules for what the output carries.
/// </summary>
public static class DepotExport
{
    /// <summary>The version of the export format (proto/depot_export.md), written into its <c>recorder.export</c> record.</summary>
    public const int FormatVersion = 1;

    public const string ExportRecordName = "recorder.export";

    /// <summary>
    /// Opens the selected files (throws <see cref="McapException"/> naming a file that is torn or not
    /// indexed, before anything is written). <paramref name="storageRoot"/> names sources in the
    /// <c>recorder.export</c> record relative to it.
    /// </summary>
    public static McapMerger Open(string storageRoot, ExportRequest request, IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(files);
        var export = new Dictionary<string, string>
        {
            ["version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["device_id"] = request.Device,
            ["start_ns"] = request.StartNs.ToString(CultureInfo.InvariantCulture),
            ["end_ns"] = request.EndNs.ToString(CultureInfo.InvariantCulture),
            ["topics"] = request.Topics is null ? "*" : string.Join('\n', request.Topics),
            ["sources"] = string.Join('\n', files.Select(f => Path.GetRelativePath(storageRoot, f).Replace(Path.DirectorySeparatorChar, '/'))),
        };
        var options = new McapMergeOptions
        {
            StartTime = request.StartNs,
            EndTime = request.EndNs,
            Topics = request.Topics,
            CarryMetadata = m => Carries(m, request),
            ExtraMetadata = [new Metadata(ExportRecordName, export)],
            Writer = new McapWriterOptions { Library = "recorder-depot export/" + FormatVersion.ToString(CultureInfo.InvariantCulture) },
        };
        return McapMerger.Open(files, options);
    }

    /// <summary>
    /// Which source metadata an export carries: every <c>recorder.device</c> record (who recorded,
    /// and each change of operator), <c>recorder.mark</c> records inside the window, and every record
    /// a producer wrote (its tags). The recorder's per-file bookkeeping (<c>recorder.topic_stats</c>,
    /// <c>recorder.file_end</c>, ...) describes whole source files, not the export, and stays behind.
    /// </summary>
    public static bool Carries(Metadata metadata, ExportRequest request)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(request);
        return metadata.Name switch
        {
            "recorder.device" => true,
            "recorder.mark" => metadata.Values.TryGetValue("log_time_ns", out var at)
                && ulong.TryParse(at, NumberStyles.None, CultureInfo.InvariantCulture, out var time) && time >= request.StartNs && time <= request.EndNs,
            _ => !metadata.Name.StartsWith("recorder.", StringComparison.Ordinal),
        };
    }
}
