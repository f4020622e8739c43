using System.Globalization;
using Recorder.Storage;

namespace Recorder.Depot.Export;

/// <summary>
/// Which stored recordings an export reads. For now a scan of the device's day directories in local
/// storage; the catalog replaces this with a query (recordings overlapping the window), behind the
/// same signature.
/// </summary>
public static class ExportSelection
{
    /// <summary>
    /// The device's <c>.mcap</c> files in the day directories from the day before the window's start
    /// (a recording that began before midnight may reach into the window) to the window's end day,
    /// in name order: recording start time, then file sequence. The merger then skips those whose
    /// summary shows nothing in the window.
    /// </summary>
    public static IReadOnlyList<string> LocalFiles(string storageRoot, ExportRequest request)
    {
        ArgumentNullException.ThrowIfNull(storageRoot);
        ArgumentNullException.ThrowIfNull(request);
        var deviceDir = Path.Combine(storageRoot, request.Device);
        if (!Directory.Exists(deviceDir)) return [];
        var first = request.Start.UtcDateTime.Date.AddDays(-1);
        var last = request.End.UtcDateTime.Date;
        var files = new List<string>();
        foreach (var dayDir in Directory.EnumerateDirectories(deviceDir))
        {
            if (!DateTime.TryParseExact(Path.GetFileName(dayDir), "yyyy-MM-dd", CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var day)) continue;
            if (day < first || day > last) continue;
            foreach (var file in Directory.EnumerateFiles(dayDir, "*" + RecordingLayout.McapExtension))
                files.Add(file);
        }
        files.Sort((a, b) => string.CompareOrdinal(Path.GetFileName(a), Path.GetFileName(b)) is var byName and not 0 ? byName : string.CompareOrdinal(a, b));
        return files;
    }
}
