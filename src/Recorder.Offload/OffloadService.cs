using System.Globalization;
using System.Net.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Recorder.Storage;

namespace Recorder.Offload;

/// <summary>
/// The offload stage: knows every finished file (the writer's notifications plus a periodic
/// rescan), decides when the depot is in range (probe, NetworkManager or manual, with
/// hysteresis), uploads files in order (recordings with marks first, then oldest) over tus with
/// resume, and deletes a local file only after the depot confirmed the complete upload, verified
/// its SHA-256, the journal recorded that durably, and the retention policy allows it. A
/// recording travels as a unit: its <c>.mcap</c>, <c>.vidx</c> and sidecar video streams are
/// uploaded together and leave the disk together, only once every one of them is verified.
/// It deletes nothing itself: the <see cref="RecordingStore"/> does, and this service is its
/// ledger (<see cref="IRetentionLedger"/>), so every deletion, whoever asked for it, is journaled.
/// </summary>
public sealed class OffloadService : IAsyncDisposable, IRetentionLedger
{
    private readonly OffloadOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IWifiState? _wifi;
    private readonly DepotConnection _depot;
    private readonly TusClient _client;
    private readonly OffloadJournal _journal;
    private readonly RecordingStore _store;
    private readonly Hysteresis _presence;
    private readonly object _lock = new();
    private readonly Dictionary<string, Item> _items = new(StringComparer.Ordinal);
    private readonly HashSet<string> _busyGroups = new(StringComparer.Ordinal);
    private readonly List<Task> _workers = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wakeDispatcher = new(0);
    private readonly SemaphoreSlim _wakePresence = new(0);
    private readonly SemaphoreSlim _wakeScanner = new(0);
    private CancellationTokenSource _session = new();
    private TusServerInfo? _serverInfo;
    // The OPTIONS answer that decides, once per session, whether the depot verifies (X-Ingest-Verify).
    private Task<TusServerInfo>? _sessionDepot;
    private bool? _depotVerifies;
    private bool _paused;
    private bool _manualSession;
    private bool _started;
    private int _disposed;
    private int _deleted;
    private long _bytesVerified;
    private DateTimeOffset? _lastProbe;
    private string? _lastProbeError;
    private string? _lastError;
    private Task? _dispatcher;
    private Task? _prober;
    private Task? _scanner;

    /// <param name="store">
    /// The recordings' store, shared with the recording stage: this service becomes its ledger
    /// until disposed. By default one of its own over <see cref="OffloadOptions.RecordingsDirectory"/>.
    /// </param>
    public OffloadService(OffloadOptions options, ILogger? logger = null, TimeProvider? time = null, IWifiState? wifi = null,
        Action<SocketsHttpHandler>? configureHandler = null, RecordingStore? store = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _wifi = options.Presence == PresenceMode.NetworkManager ? wifi ?? new NetworkManagerWifi() : null;
        // A change NetworkManager announces wakes the probe at once; the probe interval is only the backstop.
        if (_wifi is not null) _wifi.Changed += WakePresence;
        _presence = new Hysteresis(options.EnterAfter, options.LeaveAfter);
        _depot = new DepotConnection(options, configureHandler);
        _client = new TusClient(_depot.Handler, options.Endpoint, _depot.Token, options.InactivityTimeout, new BandwidthLimiter(options.Bandwidth, _time), _time);
        _journal = OffloadJournal.Open(options.StatePath, out var info);
        JournalInfo = info;
        _session.Cancel(); // no session until the depot is in range
        _store = store ?? new RecordingStore(options.RecordingsDirectory);
        _store.Ledger = this;
    }

    /// <summary>The store that deletes the recordings; this service is its ledger.</summary>
    public RecordingStore Store => _store;

    /// <summary>What opening the journal found (records replayed, torn bytes cut).</summary>
    public JournalOpenInfo JournalInfo { get; }

    /// <summary>
    /// Raised just before a local file the depot verified is deleted (after its upload, or by the
    /// store to make room), with its path and the SHA-256 the depot verified.
    /// </summary>
    public event Action<string, string>? Deleting;

    /// <summary>Raised when the depot comes into range (true) or leaves it (false).</summary>
    public event Action<bool>? PresenceChanged;

    /// <summary>Raised when a file is verified by the depot (path, sha256 hex).</summary>
    public event Action<string, string>? FileVerified;

    /// <summary>Upload body bytes handed to the network by this service (re-sent bytes included).</summary>
    public long BytesSent => _client.BytesSent;

    /// <summary>PATCH requests that failed (see <see cref="TusClient.FailedPatches"/>): each re-sends at most its own body.</summary>
    public long FailedPatches => _client.FailedPatches;

    public OffloadOptions Options => _options;

    public void Start()
    {
        if (_started) throw new InvalidOperationException("already started");
        _started = true;
        foreach (var entry in _journal.Entries.Values)
        {
            var path = Path.Combine(_options.RecordingsDirectory, entry.Key);
            var file = new RecordingFile(path, entry.Key, entry.Kind, entry.Recording, entry.Size, entry.MtimeNs, entry.StartNs, entry.EndNs, entry.Marks);
            _items[entry.Key] = new Item(file)
            {
                Sha256 = entry.Sha256,
                Url = entry.Url is null ? null : new Uri(entry.Url),
                Offset = entry.Offset,
                Verified = entry.Verified,
                UploadedUnverified = entry.UploadedUnverified,
            };
        }
        OffloadLog.Started(_logger, _options.Endpoint.GetLeftPart(UriPartial.Path), Name(_options.Presence), _options.Parallel, _journal.Path, _items.Count, JournalInfo.DiscardedBytes);
        Rescan();
        _scanner = Task.Run(ScanLoop);
        _prober = Task.Run(PresenceLoop);
        _dispatcher = Task.Run(DispatchLoop);
    }

    /// <summary>
    /// Whether <paramref name="path"/> has been uploaded and verified by the depot (the journal says so,
    /// durably) and is unchanged since, so that at a storage limit the recording store may delete it
    /// before anything not yet offloaded. A recording with a sidecar that is not verified yet is not.
    /// Safe from any thread; reads the journal only.
    /// </summary>
    public bool IsVerified(string path)
    {
        if (!VerifiedUnchanged(path)) return false;
        // The recording is deleted whole, so every companion (.vidx, sidecar streams) must be at the depot too.
        var (companions, active) = RecordingCatalog.Companions(Path.GetFullPath(path));
        return !active && companions.TrueForAll(VerifiedUnchanged);
    }

    bool IRetentionLedger.IsOffloaded(string mcapPath) => IsVerified(mcapPath);

    void IRetentionLedger.Deleting(string path)
    {
        if (_journal.TryGetEntry(KeyOf(path), out var entry) && entry.Verified) Deleting?.Invoke(path, Convert.ToHexStringLower(entry.Sha256));
    }

    /// <summary>Every deletion is journaled (durably), whoever asked for it: a file the writer deleted to make room is not offered for upload again.</summary>
    void IRetentionLedger.Deleted(string path)
    {
        var key = KeyOf(path);
        _journal.Append(new DeletedRecord(key), durable: true);
        lock (_lock)
            if (_items.Remove(key, out var item) && item.Verified) _deleted++;
    }

    private string KeyOf(string path) => RecordingCatalog.KeyOf(Path.GetFullPath(_options.RecordingsDirectory), Path.GetFullPath(path));

    private bool VerifiedUnchanged(string path)
    {
        var key = KeyOf(path);
        if (!_journal.TryGetEntry(key, out var entry) || !entry.Verified || entry.Deleted) return false;
        var info = new FileInfo(path);
        return info.Exists && info.Length == entry.Size && (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100 == entry.MtimeNs;
    }

    /// <summary>The recording stage finished <paramref name="path"/> (called after the rename).</summary>
    public void NotifyFinished(string path)
    {
        _ = path;
        _wakeScanner.Release();
    }

    /// <summary><c>recorder offload now</c>: start a session at once, whatever the presence says; parked files get another try.</summary>
    public void Now()
    {
        OffloadLog.Command(_logger, "now");
        lock (_lock)
        {
            _manualSession = true;
            _paused = false;
            foreach (var item in _items.Values) item.ResetSession();
            if (_presence.Force(true)) OnPresenceChangedLocked(true, "offload now");
            else StartSessionLocked();
        }
        _wakeScanner.Release();
        _wakeDispatcher.Release();
    }

    /// <summary><c>recorder offload pause</c>: in-flight uploads stop (they resume from the depot's offset later).</summary>
    public void Pause()
    {
        OffloadLog.Command(_logger, "pause");
        lock (_lock)
        {
            _paused = true;
            _session.Cancel();
        }
    }

    /// <summary><c>recorder offload resume</c>.</summary>
    public void Resume()
    {
        OffloadLog.Command(_logger, "resume");
        lock (_lock)
        {
            _paused = false;
            if (_presence.InRange) StartSessionLocked();
        }
        _wakeDispatcher.Release();
    }

    // ---- discovery -----------------------------------------------------------------------------

    private async Task ScanLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await WakeOrAfterAsync(_wakeScanner, _options.RescanInterval).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            try
            {
                while (_wakeScanner.CurrentCount > 0) _wakeScanner.Wait(0);
                Rescan();
                SweepVerifiedGroups();
                _journal.CompactIfLarge();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                OffloadLog.LoopFailed(_logger, e.Message, e);
            }
        }
    }

    /// <summary>Brings the items in line with the disk: new finished files, changed ones, vanished ones.</summary>
    internal void Rescan()
    {
        var root = _options.RecordingsDirectory;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // Added in one step at the end, so the dispatcher sees a recording's files together.
        var found = new List<Item>();
        foreach (var path in RecordingCatalog.Scan(root))
        {
            var key = RecordingCatalog.KeyOf(root, path);
            seen.Add(key);
            Item? known;
            lock (_lock) _items.TryGetValue(key, out known);
            if (known is not null)
            {
                if (known.Busy) continue;
                var now = new FileInfo(path);
                if (now.Exists && now.Length == known.File.Size && (now.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100 == known.File.MtimeNs) continue;
                // Replaced on disk (recovered, rewritten): it is a new file; the old upload is abandoned.
                _journal.Append(new ForgottenRecord(key), durable: false);
                lock (_lock) _items.Remove(key);
            }
            if (RecordingCatalog.Describe(root, path) is not { } file) continue;
            found.Add(new Item(file));
        }
        lock (_lock)
            foreach (var item in found) _items[item.File.Key] = item;
        List<Item> vanished;
        lock (_lock) vanished = _items.Values.Where(i => !seen.Contains(i.File.Key) && !i.Busy).ToList();
        foreach (var item in vanished)
        {
            _journal.Append(new ForgottenRecord(item.File.Key), durable: false);
            lock (_lock) _items.Remove(item.File.Key);
        }
        _wakeDispatcher.Release();
    }

    // ---- presence ------------------------------------------------------------------------------

    private async Task PresenceLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            bool probe;
            lock (_lock) probe = _options.Presence != PresenceMode.Manual || _manualSession;
            if (probe)
            {
                var (ok, reason) = await ProbeAsync().ConfigureAwait(false);
                if (_stop.IsCancellationRequested) break;
                Observe(ok, ok ? "probe succeeded" : reason);
            }
            // Until the probe interval passes, or something wakes the probe earlier.
            try
            {
                await WakeOrAfterAsync(_wakePresence, _options.ProbeInterval).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="wake"/> is released or <paramref name="interval"/> passes on the
    /// injected clock (a fake one in tests), whichever comes first; throws when the service stops.
    /// </summary>
    private async Task WakeOrAfterAsync(SemaphoreSlim wake, TimeSpan interval)
    {
        using var elapsed = new CancellationTokenSource(interval, _time);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(elapsed.Token, _stop.Token);
        try
        {
            await wake.WaitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            // The interval passed.
        }
    }

    private void WakePresence()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        try
        {
            _wakePresence.Release();
        }
        catch (ObjectDisposedException)
        {
            // A signal raced the shutdown.
        }
    }

    private async Task<(bool Ok, string Reason)> ProbeAsync()
    {
        try
        {
            if (_wifi is not null)
            {
                IReadOnlyList<string> ssids;
                try
                {
                    ssids = await _wifi.ActiveSsidsAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    return Probed(false, $"NetworkManager unavailable: {e.Message}");
                }
                if (!SsidMatch.Any(ssids, _options.Ssids))
                    return Probed(false, ssids.Count == 0 ? "no active Wi-Fi connection" : $"on Wi-Fi {string.Join(", ", ssids)}, not a depot SSID");
            }
            var info = await _client.OptionsAsync(_options.ProbeTimeout, _stop.Token).ConfigureAwait(false);
            lock (_lock) _serverInfo = info;
            return Probed(true, "");
        }
        catch (TusException e)
        {
            return Probed(false, e.Message);
        }
        catch (OperationCanceledException)
        {
            return (false, "stopping");
        }
    }

    private (bool, string) Probed(bool ok, string reason)
    {
        lock (_lock)
        {
            _lastProbe = _time.GetUtcNow();
            _lastProbeError = ok ? null : reason;
        }
        if (!ok) OffloadLog.ProbeFailed(_logger, reason);
        return (ok, reason);
    }

    /// <summary>One presence outcome (a probe, or an upload request reaching or failing to reach the depot).</summary>
    private void Observe(bool ok, string reason)
    {
        lock (_lock)
        {
            if (_presence.Observe(ok)) OnPresenceChangedLocked(_presence.InRange, reason);
        }
    }

    private void OnPresenceChangedLocked(bool inRange, string reason)
    {
        if (inRange)
        {
            OffloadLog.EnteredRange(_logger, reason);
            foreach (var item in _items.Values) item.ResetSession();
            StartSessionLocked();
        }
        else
        {
            OffloadLog.LeftRange(_logger, reason);
            _session.Cancel();
            _manualSession = false;
        }
        var handler = PresenceChanged;
        if (handler is not null) ThreadPool.QueueUserWorkItem(static s => s.Item1(s.inRange), (handler, inRange), preferLocal: false);
        _wakeDispatcher.Release();
    }

    private void StartSessionLocked()
    {
        if (_paused || !_session.IsCancellationRequested) return;
        _session.Dispose();
        _session = new CancellationTokenSource();
        _sessionDepot = null; // asked again: the depot behind the endpoint may have changed since the last session
        _wakeDispatcher.Release();
    }

    // ---- dispatch ------------------------------------------------------------------------------

    private async Task DispatchLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await WakeOrAfterAsync(_wakeDispatcher, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            lock (_lock)
            {
                _workers.RemoveAll(t => t.IsCompleted);
                if (_paused || !_presence.InRange || _session.IsCancellationRequested) continue;
                var token = _session.Token;
                while (_workers.Count < _options.Parallel && NextGroupLocked() is { } group)
                {
                    _busyGroups.Add(group[0].File.GroupKey);
                    foreach (var item in group) item.Busy = true;
                    _workers.Add(Task.Run(() => UploadGroupAsync(group, token)));
                }
                if (_workers.Count == 0 && _manualSession && !HasWorkLocked())
                {
                    // A manual session ends when everything it could do is done.
                    _manualSession = false;
                    if (_options.Presence == PresenceMode.Manual && _presence.Force(false)) OnPresenceChangedLocked(false, "offload now: queue done");
                }
            }
        }
    }

    private bool HasWorkLocked() => _items.Values.Any(i => i.NeedsUpload);

    /// <summary>The next recording to upload: marks first, then oldest; its .mcap first, then its .vidx, then its streams.</summary>
    private List<Item>? NextGroupLocked()
    {
        var groups = _items.Values
            .GroupBy(i => i.File.GroupKey, StringComparer.Ordinal)
            .Where(g => !_busyGroups.Contains(g.Key) && g.Any(i => i.NeedsUpload))
            .Select(g => g.OrderBy(i => i.File.Kind).ThenBy(i => i.File.Key, StringComparer.Ordinal).ToList())
            .ToList();
        if (groups.Count == 0) return null;
        groups.Sort((a, b) => Compare(a[0].File, b[0].File));
        return groups[0];
    }

    /// <summary>The upload order: files with <c>recorder.mark</c> first, then by start time (oldest first), then by path.</summary>
    public static int Compare(RecordingFile a, RecordingFile b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Marks != b.Marks) return a.Marks ? -1 : 1;
        var sa = a.StartNs != 0 ? a.StartNs : (ulong)Math.Max(a.MtimeNs, 0);
        var sb = b.StartNs != 0 ? b.StartNs : (ulong)Math.Max(b.MtimeNs, 0);
        var byTime = sa.CompareTo(sb);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.Key, b.Key);
    }

    private async Task UploadGroupAsync(List<Item> group, CancellationToken session)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(session, _stop.Token);
        var token = linked.Token;
        try
        {
            foreach (var item in group)
            {
                if (!item.NeedsUpload) continue;
                await UploadAsync(item, token).ConfigureAwait(false);
            }
            ApplyRetention(group);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Out of range, paused or stopping: the depot's offset is where we pick up.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lock (_lock) _lastError = e.Message;
            OffloadLog.Unreadable(_logger, group[0].File.Key, e.Message);
            foreach (var item in group) item.Park(e.Message);
        }
        finally
        {
            lock (_lock)
            {
                _busyGroups.Remove(group[0].File.GroupKey);
                foreach (var item in group)
                {
                    item.Busy = false;
                    item.RateBytesPerSecond = 0;
                }
            }
            _wakeDispatcher.Release();
        }
    }

    private List<KeyValuePair<string, string>> Metadata(Item item) =>
    [
        new("filename", Path.GetFileName(item.File.Path)),
        new("sha256", Convert.ToHexStringLower(item.Sha256!)),
        new("size", item.File.Size.ToString(CultureInfo.InvariantCulture)),
        new("device_id", _options.DeviceId),
        new("start_time", item.File.StartNs.ToString(CultureInfo.InvariantCulture)),
        new("end_time", item.File.EndNs.ToString(CultureInfo.InvariantCulture)),
        new("kind", RecordingLayout.KindName(item.File.Kind)),
        new("recording", item.File.Recording),
    ];

    /// <summary>One file until the depot verified it, it is parked, or the session ends (cancellation).</summary>
    private async Task UploadAsync(Item item, CancellationToken token)
    {
        var file = item.File;
        if (item.Sha256 is null)
        {
            item.State = "hashing";
            item.Sha256 = await RecordingCatalog.Sha256Async(file.Path, token).ConfigureAwait(false);
            _journal.Append(new QueuedRecord(file.Key, file.Size, file.MtimeNs, item.Sha256, file.Kind, file.Recording, file.StartNs, file.EndNs, file.Marks), durable: false);
        }
        var sha = Convert.ToHexStringLower(item.Sha256);
        var attempt = 0;
        var resumed = false;
        while (true)
        {
            token.ThrowIfCancellationRequested();
            // "uploading" only once the depot has an upload we know the URL of: until the POST's
            // 201 is back, an interruption cannot be resumed (tus 1.0 has no way to find an upload
            // whose Location was lost), so the file is only being created.
            item.State = item.Url is null ? "creating" : "uploading";
            string? failure = null;
            try
            {
                var depot = await SessionDepotAsync(token).ConfigureAwait(false);
                long offset;
                string? verified = null;
                if (item.Url is null)
                {
                    var info = _serverInfo;
                    if (info?.MaxSize is { } max && file.Size > max)
                    {
                        Park(item, $"{file.Size} bytes is more than the depot's Tus-Max-Size {max}");
                        return;
                    }
                    var created = await _client.CreateAsync(file.Size, Metadata(item), token).ConfigureAwait(false);
                    // The URL is on disk before the first byte is sent.
                    _journal.Append(new CreatedRecord(file.Key, created.Url.AbsoluteUri, created.Expires?.ToUnixTimeMilliseconds() ?? 0), durable: true);
                    item.Url = created.Url;
                    item.Offset = offset = 0;
                    item.State = "uploading";
                    OffloadLog.Created(_logger, file.Key, file.Size, created.Url.AbsoluteUri);
                }
                else
                {
                    var head = await _client.HeadAsync(item.Url, token).ConfigureAwait(false);
                    if (head.Length != file.Size)
                    {
                        await AbandonAsync(item, $"the depot's upload is {head.Length} bytes, the file {file.Size}").ConfigureAwait(false);
                        continue;
                    }
                    offset = head.Offset;
                    verified = head.VerifiedSha256;
                    if (!resumed || offset != item.Offset) OffloadLog.Resuming(_logger, file.Key, offset, file.Size);
                    resumed = true;
                    item.Offset = offset;
                }
                Observe(true, "upload request answered");

                while (offset < file.Size)
                {
                    var count = Math.Min(_options.ChunkSize, file.Size - offset);
                    var result = await _client.PatchAsync(item.Url, file.Path, offset, count, n => item.Progress(n, _time), token).ConfigureAwait(false);
                    Observe(true, "upload progressed");
                    if (result.Offset <= offset || result.Offset > offset + count)
                        throw new TusException(TusErrorKind.Protocol, $"PATCH of {count} bytes at {offset} answered Upload-Offset {result.Offset}");
                    offset = item.Offset = result.Offset;
                    attempt = 0;
                    _journal.Append(new OffsetRecord(file.Key, offset), durable: false);
                    verified = result.VerifiedSha256;
                }

                // Complete on the depot. Delete-worthy only with the depot's word that the bytes hash to ours.
                // The final answer may have been lost: HEAD carries the verification too.
                verified ??= await VerificationOfCompleteUploadAsync(item, depot, token).ConfigureAwait(false);
                if (verified == sha)
                {
                    MarkVerified(item, sha);
                    return;
                }
                if (verified is null && !depot.Verifies)
                {
                    // A stock tus server: complete is all it can say. Once is enough; the file stays.
                    MarkUploadedUnverified(item);
                    return;
                }
                failure = verified is null
                    ? "the depot reports the upload complete but not verified"
                    : $"the depot's sha256 {verified} differs from ours {sha}";
            }
            catch (TusException e) when (e.IsGone)
            {
                await AbandonAsync(item, e.Message, terminate: false).ConfigureAwait(false);
                await DelayAsync(item, ++attempt, e.Message, token).ConfigureAwait(false);
                continue;
            }
            catch (TusException e) when (e.IsChecksumMismatch)
            {
                failure = $"the depot's hash check failed ({e.Message})";
            }
            catch (TusException e) when (e.Kind == TusErrorKind.ForeignLocation)
            {
                Park(item, e.Message);
                return;
            }
            catch (TusException e) when (e.IsRetryable)
            {
                if (e.Kind is TusErrorKind.Network or TusErrorKind.Inactivity) Observe(false, e.Message);
                if (e.Kind == TusErrorKind.Protocol && ++item.Suspicions >= _options.MaxVerificationFailures * 2)
                {
                    Park(item, $"the depot keeps breaking the protocol: {e.Message}");
                    return;
                }
                await DelayAsync(item, ++attempt, e.Message, token).ConfigureAwait(false);
                continue;
            }
            catch (TusException e)
            {
                // 400, 401, 403, 412, 413, 415 …: configuration or a bug; nothing to gain by hammering.
                Park(item, e.Message);
                return;
            }

            // Verification failed: never delete; start over with a fresh upload, a few times per session.
            OffloadLog.VerificationFailed(_logger, file.Key, failure);
            lock (_lock) _lastError = $"{file.Key}: {failure}";
            await AbandonAsync(item, failure).ConfigureAwait(false);
            if (++item.VerificationFailures >= _options.MaxVerificationFailures)
            {
                Park(item, $"verification failed {item.VerificationFailures} times: {failure}");
                return;
            }
            await DelayAsync(item, ++attempt, failure, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// HEAD of an upload the depot holds completely: its verification, if any. A verifying depot may
    /// still be hashing: @tus/server releases the upload's lock before its finish hook runs, so for a
    /// moment HEAD shows the upload complete and not yet verified (a PATCH that timed out on our side
    /// while the depot finished it lands exactly there). So HEAD is asked again, with backoff, for up
    /// to the inactivity timeout before "complete but not verified" counts as a verification failure,
    /// which would cost a whole new upload.
    /// </summary>
    private async Task<string?> VerificationOfCompleteUploadAsync(Item item, TusServerInfo depot, CancellationToken token)
    {
        var file = item.File;
        var started = _time.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            var head = await _client.HeadAsync(item.Url!, token).ConfigureAwait(false);
            if (head.Offset != file.Size || head.Length != file.Size)
                throw new TusException(TusErrorKind.Protocol, $"the depot acknowledged all {file.Size} bytes but HEAD says {head.Offset} of {head.Length}");
            if (head.VerifiedSha256 is not null || !depot.Verifies || _time.GetElapsedTime(started) >= _options.InactivityTimeout) return head.VerifiedSha256;
            item.State = "verifying";
            await Task.Delay(Backoff.Delay(attempt, _options.RetryMin, _options.RetryMax, Random.Shared), _time, token).ConfigureAwait(false);
        }
    }

    private async Task DelayAsync(Item item, int attempt, string reason, CancellationToken token)
    {
        // Random.Shared: the workers back off in parallel, and a shared Random instance is not thread-safe.
        var delay = Backoff.Delay(attempt, _options.RetryMin, _options.RetryMax, Random.Shared);
        item.State = "retrying";
        item.Error = reason;
        OffloadLog.Retrying(_logger, item.File.Key, item.Offset, reason, (long)delay.TotalMilliseconds);
        await Task.Delay(delay, _time, token).ConfigureAwait(false);
    }

    /// <summary>Drops the upload URL (durably) so the next attempt creates a fresh upload; DELETEs it when the depot offers termination.</summary>
    private async Task AbandonAsync(Item item, string reason, bool terminate = true)
    {
        OffloadLog.StartingOver(_logger, item.File.Key, reason);
        var url = item.Url;
        _journal.Append(new DroppedRecord(item.File.Key, reason), durable: true);
        item.Url = null;
        item.Offset = 0;
        if (terminate && url is not null && _serverInfo?.Supports("termination") == true)
        {
            try
            {
                using var limit = new CancellationTokenSource(_options.InactivityTimeout, _time);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, limit.Token);
                await _client.DeleteAsync(url, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TusException or OperationCanceledException)
            {
                // Best effort: an abandoned upload expires on the depot anyway.
            }
        }
    }

    private void Park(Item item, string reason)
    {
        OffloadLog.Parked(_logger, item.File.Key, reason);
        lock (_lock) _lastError = $"{item.File.Key}: {reason}";
        item.Park(reason);
    }

    /// <summary>
    /// The session's depot description: the first OPTIONS answer of the session decides whether the
    /// depot verifies (<c>X-Ingest-Verify: sha256</c>); every worker of the session shares it. A
    /// failed OPTIONS is not kept, so the next attempt asks again.
    /// </summary>
    private async Task<TusServerInfo> SessionDepotAsync(CancellationToken token)
    {
        Task<TusServerInfo> ask;
        lock (_lock) ask = _sessionDepot ??= AskDepotAsync();
        try
        {
            return await ask.WaitAsync(token).ConfigureAwait(false);
        }
        catch (TusException)
        {
            lock (_lock)
                if (ReferenceEquals(_sessionDepot, ask)) _sessionDepot = null;
            throw;
        }
    }

    private async Task<TusServerInfo> AskDepotAsync()
    {
        var info = await _client.OptionsAsync(_options.ProbeTimeout, _stop.Token).ConfigureAwait(false);
        bool changed;
        lock (_lock)
        {
            _serverInfo = info;
            changed = _depotVerifies != info.Verifies;
            _depotVerifies = info.Verifies;
        }
        if (changed) OffloadLog.DepotVerification(_logger, info.Verifies ? "verifies uploads" : $"does not verify uploads (no {TusClient.VerifyHeader}: {TusClient.VerifyAlgorithm}): each file is uploaded once and kept locally");
        return info;
    }

    /// <summary>Complete on a depot that does not verify: uploaded once, never deleted on that basis (durable, so a restart does not upload it again).</summary>
    private void MarkUploadedUnverified(Item item)
    {
        _journal.Append(new UploadedRecord(item.File.Key, item.Sha256!), durable: true);
        lock (_lock)
        {
            item.UploadedUnverified = true;
            item.Offset = item.File.Size;
            item.State = UploadedUnverifiedState;
            item.Error = null;
        }
        OffloadLog.UploadedUnverified(_logger, item.File.Key, item.File.Size);
    }

    private void MarkVerified(Item item, string sha)
    {
        // Durable before anything may delete the file.
        _journal.Append(new VerifiedRecord(item.File.Key, item.Sha256!), durable: true);
        item.Verified = true;
        item.Offset = item.File.Size;
        item.State = "verified";
        item.Error = null;
        Interlocked.Add(ref _bytesVerified, item.File.Size);
        OffloadLog.Verified(_logger, item.File.Key, item.File.Size, sha);
        FileVerified?.Invoke(item.File.Path, sha);
    }

    // ---- retention -----------------------------------------------------------------------------

    /// <summary>With <c>delete_after_upload</c>, a recording whose every file is verified leaves the disk (.mcap, .vidx and streams together).</summary>
    private void ApplyRetention(List<Item> group)
    {
        if (!_options.DeleteAfterUpload) return;
        TryDeleteGroup(group, afterUpload: true);
    }

    /// <summary>
    /// With <c>delete_after_upload</c>, at each rescan: recordings that are verified but still on
    /// disk (a restart or an I/O error came between the journal's <c>verified</c> and the deletes,
    /// or a companion held the group back) finish leaving it.
    /// </summary>
    private void SweepVerifiedGroups()
    {
        if (!_options.DeleteAfterUpload) return;
        List<List<Item>> groups;
        lock (_lock)
        {
            groups = _items.Values
                .Where(i => !i.Busy)
                .GroupBy(i => i.File.GroupKey, StringComparer.Ordinal)
                .Where(g => !_busyGroups.Contains(g.Key) && g.All(i => i.Verified))
                .Select(g => g.ToList())
                .ToList();
        }
        foreach (var group in groups) TryDeleteGroup(group, afterUpload: false);
    }

    /// <summary>
    /// Deletes a recording's files only as a unit: every file of the group known now is verified,
    /// every finished companion on disk (<c>.vidx</c>, streams) is one of them, none is still
    /// <c>.active</c>, and none changed since its upload. Companions go first and the <c>.mcap</c>
    /// last, so an interruption never leaves companions without their MCAP (the next sweep or
    /// pressure pass finishes the group from the journal's verified entries).
    /// <paramref name="afterUpload"/>: called by a worker that just uploaded the group, which then
    /// reports a file still to upload and wakes the scanner; the scan loop's own sweep runs right
    /// after a rescan and stays quiet about it. The store deletes the files, and tells this service
    /// (its ledger) about each, which journals it.
    /// </summary>
    private bool TryDeleteGroup(List<Item> group, bool afterUpload)
    {
        var groupKey = group[0].File.GroupKey;
        lock (_lock)
        {
            // Files found since the group was dispatched belong to it too.
            group = _items.Values.Where(i => string.Equals(i.File.GroupKey, groupKey, StringComparison.Ordinal)).ToList();
        }
        if (group.Count == 0 || group.Any(i => !i.Verified)) return false;
        var mcapPath = Path.Combine(_options.RecordingsDirectory, groupKey);
        var mcap = group.FirstOrDefault(i => i.File.Kind == RecordingFileKind.Mcap);
        if (mcap is null && File.Exists(mcapPath))
        {
            // Its MCAP is on disk but not (yet, or no longer) an uploaded file of the group.
            if (afterUpload)
            {
                OffloadLog.KeptLocal(_logger, group[0].File.Key, "its .mcap is not uploaded yet");
                _wakeScanner.Release();
            }
            return false;
        }
        var (companions, active) = RecordingCatalog.Companions(mcapPath);
        if (active)
        {
            if (afterUpload) OffloadLog.KeptLocal(_logger, groupKey, "a companion file of the recording is still .active");
            return false;
        }
        // A companion that appeared after the scan must travel too: not before it is verified.
        foreach (var companion in companions)
        {
            var key = RecordingCatalog.KeyOf(_options.RecordingsDirectory, companion);
            if (!group.Any(i => string.Equals(i.File.Key, key, StringComparison.Ordinal)))
            {
                if (afterUpload)
                {
                    OffloadLog.KeptLocal(_logger, groupKey, $"its {Path.GetFileName(companion)} is not uploaded yet");
                    _wakeScanner.Release();
                }
                return false;
            }
        }
        foreach (var item in group)
        {
            var info = new FileInfo(item.File.Path);
            if (info.Exists && (info.Length != item.File.Size || (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100 != item.File.MtimeNs))
            {
                OffloadLog.KeptLocal(_logger, item.File.Key, "it changed after it was uploaded");
                return false;
            }
        }
        // The store deletes companions first (in name order), the .mcap last; each is journaled through IRetentionLedger.
        if (!_store.Delete(mcapPath, group.ConvertAll(i => i.File.Path)))
        {
            OffloadLog.KeptLocal(_logger, groupKey, "a file of the recording could not be deleted");
            return false;
        }
        foreach (var item in group) OffloadLog.Deleted(_logger, item.File.Key);
        return true;
    }

    // ---- status --------------------------------------------------------------------------------

    public OffloadStatus Status()
    {
        lock (_lock)
        {
            var files = new List<OffloadFileStatus>();
            double rate = 0;
            long pendingBytes = 0;
            int pending = 0, active = 0, verified = 0, failed = 0, unverified = 0;
            long bytesUnverified = 0;
            var resumable = false; // an active file has an upload on the depot (its URL is known)
            foreach (var item in _items.Values.OrderBy(i => i.Busy ? 0 : 1).ThenBy(i => i.File, Comparer<RecordingFile>.Create(Compare)))
            {
                if (item.Verified) verified++;
                else if (item.UploadedUnverified)
                {
                    unverified++;
                    bytesUnverified += item.File.Size;
                }
                else if (item.Parked) failed++;
                else if (item.Busy)
                {
                    active++;
                    resumable |= item.Url is not null;
                }
                else pending++;
                if (item.NeedsUpload) pendingBytes += item.File.Size - item.Offset;
                var itemRate = item.Busy ? item.RateBytesPerSecond : 0;
                rate += itemRate;
                double? eta = itemRate > 0 ? (item.File.Size - item.Offset) / itemRate : null;
                var state = item.Verified ? "verified" : item.UploadedUnverified ? UploadedUnverifiedState : item.Parked ? "failed" : item.Busy ? item.State : "queued";
                if (files.Count < 200)
                    files.Add(new OffloadFileStatus(item.File.Key, RecordingLayout.KindName(item.File.Kind), item.File.Size, item.Offset, state,
                        Math.Round(itemRate, 1), eta is null ? null : Math.Round(eta.Value, 1), item.File.Marks, item.Error));
            }
            var stateName = _paused ? "paused"
                : _presence.InRange && resumable ? "uploading"
                : _presence.InRange && active > 0 ? "preparing"
                : _presence.InRange ? "in_range"
                : _options.Presence == PresenceMode.Manual ? "waiting"
                : "out_of_range";
            return new OffloadStatus(stateName, Name(_options.Presence), _presence.InRange, _paused, _manualSession,
                _presence.Successes, _presence.Failures, _lastProbe, _lastProbeError, pending, active, verified, _deleted, failed, pendingBytes,
                _client.BytesSent, Interlocked.Read(ref _bytesVerified), Math.Round(rate, 1), rate > 0 ? Math.Round(pendingBytes / rate, 1) : null, _lastError, files,
                unverified, bytesUnverified, _depotVerifies);
        }
    }

    /// <summary>A file's state once a depot that does not verify holds all of it.</summary>
    public const string UploadedUnverifiedState = "uploaded_unverified";

    public static string Name(PresenceMode mode) => mode switch
    {
        PresenceMode.NetworkManager => "networkmanager",
        PresenceMode.Manual => "manual",
        _ => "probe",
    };

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        lock (_lock) _session.Cancel();
        var loops = new[] { _dispatcher, _prober, _scanner }.Where(t => t is not null).Cast<Task>().ToList();
        Task[] workers;
        lock (_lock) workers = _workers.ToArray();
        try
        {
            // Real time on purpose: a bound on shutting down real tasks, which must hold even while a test's fake clock stands still.
            await Task.WhenAll(loops.Concat(workers)).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
        // Waits for a deletion under way (the writer's, say): none is journaled through a closed journal.
        _store.Detach(this);
        _journal.Dispose();
        _client.Dispose();
        _depot.Dispose();
        if (_wifi is not null) _wifi.Changed -= WakePresence;
        (_wifi as IDisposable)?.Dispose();
        _session.Dispose();
        _stop.Dispose();
        _wakeDispatcher.Dispose();
        _wakePresence.Dispose();
        _wakeScanner.Dispose();
    }

    /// <summary>One file's upload state. Fields are written by its one worker and read (for status) under the service lock.</summary>
    private sealed class Item(RecordingFile file)
    {
        private long _rateStart;
        private long _rateBytes;

        public RecordingFile File { get; } = file;
        public byte[]? Sha256 { get; set; }
        public Uri? Url { get; set; }
        public long Offset { get; set; }
        public bool Verified { get; set; }

        /// <summary>A depot that does not verify holds all of it: not uploaded again, never deleted on that basis.</summary>
        public bool UploadedUnverified { get; set; }

        public bool NeedsUpload => !Verified && !UploadedUnverified && !Parked;
        public volatile bool Busy;
        public string State { get; set; } = "queued";
        public string? Error { get; set; }
        public bool Parked { get; private set; }
        public int VerificationFailures { get; set; }
        public int Suspicions { get; set; }
        public double RateBytesPerSecond { get; set; }

        public void Park(string reason)
        {
            Parked = true;
            Error = reason;
            State = "failed";
        }

        /// <summary>A new session: parked files and failure counts get a fresh start.</summary>
        public void ResetSession()
        {
            Parked = false;
            VerificationFailures = 0;
            Suspicions = 0;
            if (!Verified && !UploadedUnverified)
            {
                State = "queued";
                Error = null;
            }
        }

        public void Progress(long bytes, TimeProvider time)
        {
            var now = time.GetTimestamp();
            if (_rateStart == 0) _rateStart = now;
            _rateBytes += bytes;
            var elapsed = time.GetElapsedTime(_rateStart, now).TotalSeconds;
            if (elapsed >= 0.5)
            {
                var instant = _rateBytes / elapsed;
                RateBytesPerSecond = RateBytesPerSecond == 0 ? instant : 0.7 * RateBytesPerSecond + 0.3 * instant;
                _rateStart = now;
                _rateBytes = 0;
            }
            Error = null;
        }
    }
}
