using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Recorder.Depot.Storage;
using Recorder.Depot.Tus;

namespace Recorder.Depot.Catalog;

/// <summary>
/// Catalogs recording groups off the upload path: a verified upload only enqueues its group key
/// (the PATCH answers at once); one background worker reads the group's files and writes the
/// entry. Each verified file of a group enqueues it again (the <c>.mcap</c> arrives first, then
/// its <c>.vidx</c> and streams), and a group already waiting is not queued twice.
/// </summary>
public sealed partial class CatalogIndexer : BackgroundService
{
    private readonly CatalogDatabase _database;
    private readonly ICatalogSource _source;
    private readonly ILogger _logger;
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<string> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, (long, string)>> _arrivedHashes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _busy = 1; // the catch-up at start: not idle before it has queued what it found
    private TaskCompletionSource _idle = NewIdle(completed: false);

    private readonly RecordingAnalysis _analysis;
    private readonly Operations.DepotMetrics _metrics;

    public CatalogIndexer(CatalogDatabase database, ICatalogSource source, RecordingAnalysis analysis, Operations.DepotMetrics metrics, ILogger<CatalogIndexer> logger)
    {
        _analysis = analysis;
        _metrics = metrics;
        _database = database;
        _source = source;
        _logger = logger;
    }

    /// <summary>Raised on the worker after each entry is written (the web pages make video thumbnails then).</summary>
    public event Action<RecordingEntry>? EntryCataloged;

    /// <summary>A verified upload: its group is (re)cataloged soon. Its hash is known, so it is not hashed again.</summary>
    public void Arrived(UploadRecord verified)
    {
        if (verified.VerifiedSha256 is not { } sha) return;
        var slash = verified.StoragePath.LastIndexOf('/');
        if (slash < 0) return;
        var dir = verified.StoragePath[..slash];
        var file = verified.StoragePath[(slash + 1)..];
        var recording = UploadMetadata.TryParse(verified.MetadataHeader, out var values, out _) && values.TryGetValue("recording", out var r) && r.Length > 0 ? r : file;
        if (!recording.EndsWith(Recorder.Storage.RecordingLayout.McapExtension, StringComparison.Ordinal)) return; // not part of a recording group
        var group = dir + "/" + recording;
        lock (_gate)
        {
            if (!_arrivedHashes.TryGetValue(group, out var hashes)) _arrivedHashes[group] = hashes = new(StringComparer.Ordinal);
            hashes[file] = (verified.Length, sha);
        }
        Enqueue(group);
    }

    /// <summary>Queues a group for (re)cataloging.</summary>
    public void Enqueue(string groupKey)
    {
        lock (_gate)
        {
            if (!_waiting.Add(groupKey)) return;
            _busy++;
            if (_idle.Task.IsCompleted) _idle = NewIdle(completed: false);
        }
        _queue.Writer.TryWrite(groupKey);
    }

    /// <summary>Completes when nothing is queued or being cataloged (tests, and `reindex` before it exits).</summary>
    public Task WhenIdleAsync()
    {
        lock (_gate) return _idle.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        CatchUp(stoppingToken);
        Done();
        try
        {
            await foreach (var group in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                Dictionary<string, (long, string)>? arrived;
                lock (_gate)
                {
                    _waiting.Remove(group);
                    _arrivedHashes.Remove(group, out arrived);
                }
                try
                {
                    CatalogOne(group, arrived);
                }
                catch (Exception e) when (e is System.Data.Common.DbException or IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    // The database or storage failed, not the recording: it is cataloged again on its next file or by `reindex`.
                    CatalogFailed(_logger, group, e.Message);
                }
                finally
                {
                    Done();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Done()
    {
        lock (_gate)
        {
            if (--_busy == 0) _idle.TrySetResult();
        }
    }

    /// <summary>Groups stored but not cataloged (the depot stopped between a commit and its catalog entry) are queued at start.</summary>
    private void CatchUp(CancellationToken stoppingToken)
    {
        try
        {
            var known = _database.GroupKeys();
            foreach (var group in _source.Groups())
            {
                if (stoppingToken.IsCancellationRequested) return;
                if (!known.Contains(group)) Enqueue(group);
            }
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or UnauthorizedAccessException)
        {
            CatalogFailed(_logger, "(catch-up at start)", e.Message);
        }
    }

    private void CatalogOne(string group, Dictionary<string, (long, string)>? arrived)
    {
        var started = Stopwatch.GetTimestamp();
        var known = _database.KnownFiles(group);
        if (arrived is not null) foreach (var (file, hash) in arrived) known[file] = hash;
        var entry = RecordingIndexer.Index(_source, group, known);
        var result = _database.Save(entry);
        if (_analysis.Run(_database, _source, entry) is { Count: > 0 } breaches)
        {
            _metrics.SchemaPinBroken();
            foreach (var b in breaches) PinBroken(_logger, group, b.Topic, b.SchemaSha256 ?? "(none)", b.PinnedSha256);
        }
        EntryCataloged?.Invoke(entry);
        if (entry.Status != RecordingStatus.Ok) CatalogedProblem(_logger, group, entry.Status, entry.Error ?? "");
        else Cataloged(_logger, group, result.ToString().ToLowerInvariant(), entry.Topics.Count, entry.Events.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Catalogs every group in storage, in the calling thread; returns (groups, added, replaced, unchanged). Idempotent.</summary>
    /// <param name="analysis">Profiles and schema pins to work out too (those whose .mcap or settings changed), or null for the catalog entries alone.</param>
    public static (int Groups, int Added, int Replaced, int Unchanged) Reindex(CatalogDatabase database, ICatalogSource source, RecordingAnalysis? analysis = null)
    {
        int groups = 0, added = 0, replaced = 0, unchanged = 0;
        foreach (var group in source.Groups())
        {
            groups++;
            var entry = RecordingIndexer.Index(source, group, database.KnownFiles(group));
            var saved = database.Save(entry);
            analysis?.Run(database, source, entry);
            switch (saved)
            {
                case CatalogDatabase.SaveResult.Added: added++; break;
                case CatalogDatabase.SaveResult.Replaced: replaced++; break;
                default: unchanged++; break;
            }
        }
        return (groups, added, replaced, unchanged);
    }

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed) tcs.SetResult();
        return tcs;
    }

    [LoggerMessage(40, LogLevel.Information, "cataloged {Group} ({Result}): {Topics} topics, {Events} events in {Ms:0.0} ms")]
    private static partial void Cataloged(ILogger logger, string group, string result, int topics, int events, double ms);

    [LoggerMessage(41, LogLevel.Warning, "cataloged {Group} as {Status}: {Reason}")]
    private static partial void CatalogedProblem(ILogger logger, string group, string status, string reason);

    [LoggerMessage(43, LogLevel.Warning, "{Group} breaks the schema pin of {Topic}: it carries schema {Schema}, the pin is {Pinned}")]
    private static partial void PinBroken(ILogger logger, string group, string topic, string schema, string pinned);

    [LoggerMessage(42, LogLevel.Error, "cataloging {Group} failed (it is tried again on its next file or by `recorder-depot reindex`): {Error}")]
    private static partial void CatalogFailed(ILogger logger, string group, string error);
}
