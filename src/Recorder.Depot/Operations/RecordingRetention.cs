using Microsoft.Extensions.Logging;
using Recorder.Depot.Config;
using Recorder.Depot.Storage;

namespace Recorder.Depot.Operations;

/// <summary>
/// <c>storage.keep_for</c>: removes verified recordings that arrived longer ago than that.
/// <para>
/// Counted from <b>arrival</b> (when the depot verified the file, on its clock), not from the
/// recording time in the name: a vehicle that comes back after months offline must not see its
/// uploads removed as they land, and "the depot keeps what it received for N days" is the promise
/// storage is budgeted by. A recording is removed as a group (<c>.mcap</c>, <c>.vidx</c>, streams)
/// once its newest file is past <c>keep_for</c>, so companions never outlive or predecease it.
/// Uploads in progress are not touched (uploads.expire_after is theirs).
/// </para>
/// </summary>
public sealed class RecordingRetention(IUploadStore store, DepotSettings settings, DepotClock clock, DepotMetrics metrics, ILogger<RecordingRetention> logger)
{
    private bool _unsupportedLogged;

    /// <summary>Removes every recording group whose newest file arrived <c>keep_for</c> ago or earlier; returns how many groups.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        if (settings.Storage.KeepFor is not { } keepFor) return 0;
        if (store is not IStoredRecordings stored)
        {
            if (!_unsupportedLogged) DepotLog.RetentionUnsupported(logger, store.GetType().Name);
            _unsupportedLogged = true;
            return 0;
        }
        var cutoff = clock.Time.GetUtcNow() - keepFor;
        // Group key: device/day/stem (a file name up to its first '.'), the recording a file belongs to.
        var groups = new Dictionary<string, (DateTimeOffset Newest, List<string> Files)>(StringComparer.Ordinal);
        await foreach (var file in stored.ListStoredAsync(cancellationToken).ConfigureAwait(false))
        {
            var slash = file.StoragePath.LastIndexOf('/');
            var dot = file.StoragePath.IndexOf('.', slash + 1);
            var key = dot < 0 ? file.StoragePath : file.StoragePath[..dot];
            if (!groups.TryGetValue(key, out var group)) group = (file.Arrived, new List<string>());
            group.Files.Add(file.StoragePath);
            groups[key] = (file.Arrived > group.Newest ? file.Arrived : group.Newest, group.Files);
        }
        var removed = 0;
        foreach (var (key, (newest, files)) in groups)
        {
            if (newest > cutoff) continue;
            foreach (var path in files) await stored.DeleteStoredAsync(path, cancellationToken).ConfigureAwait(false);
            removed++;
            metrics.RetentionRemovedOne(files.Count);
            DepotLog.RetentionRemoved(logger, key, files.Count, newest, keepFor);
        }
        return removed;
    }
}
