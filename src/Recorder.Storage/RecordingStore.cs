using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Recorder.Storage;

/// <summary>
/// The finished recordings under one root and the one place that deletes them. The writer tells it
/// when a recording is finished (<see cref="Add"/>) and asks it for room before and while it writes
/// (<see cref="MakeRoom"/>); the offload stage, as its <see cref="Ledger"/>, says what is offloaded,
/// records every deletion in its journal, and asks it to delete a recording it has verified
/// (<see cref="Delete(string, IReadOnlyList{string})"/>). A recording always leaves as a
/// unit: its companions first, the <c>.mcap</c> last, so an interruption never leaves companions
/// without their MCAP. Thread-safe.
/// </summary>
public sealed class RecordingStore
{
    private readonly object _lock = new();
    private readonly List<(string Path, long Bytes)> _finished = new(); // oldest first
    private readonly Func<long> _freeBytes;
    private readonly ILogger _logger;
    private IRetentionLedger? _ledger;

    /// <param name="root">The directory the recordings are under (their day directories and files).</param>
    /// <param name="freeBytes">Free bytes on the volume, negative when unknown; by default asked of the file system.</param>
    /// <param name="logger">Where deletions are logged.</param>
    public RecordingStore(string root, Func<long>? freeBytes = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        Root = root;
        _freeBytes = freeBytes ?? (() => FreeBytesOf(root));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The directory the recordings are under.</summary>
    public string Root { get; }

    /// <summary>
    /// The offload stage, while one runs: it says what is offloaded and journals every deletion.
    /// Setting it waits for a deletion under way, so once the setter returns the old ledger is not called again.
    /// </summary>
    public IRetentionLedger? Ledger
    {
        get
        {
            lock (_lock) return _ledger;
        }
        set
        {
            lock (_lock) _ledger = value;
        }
    }

    /// <summary>Replaces <paramref name="expected"/> as the ledger by null, unless another one took its place meanwhile.</summary>
    public void Detach(IRetentionLedger expected)
    {
        lock (_lock)
            if (ReferenceEquals(_ledger, expected)) _ledger = null;
    }

    /// <summary>The finished recordings known, oldest first.</summary>
    public IReadOnlyList<string> Recordings
    {
        get
        {
            lock (_lock) return _finished.Select(f => f.Path).ToList();
        }
    }

    /// <summary>What the finished recordings known occupy, companions included.</summary>
    public long RecordingsBytes
    {
        get
        {
            lock (_lock) return _finished.Sum(f => f.Bytes);
        }
    }

    /// <summary>Free bytes on the volume; negative when unknown.</summary>
    public long FreeBytes() => _freeBytes();

    /// <summary>Forgets what it knew and takes the finished recordings found under <see cref="Root"/>, oldest first.</summary>
    public void Scan()
    {
        var found = RecordingCatalog.FinishedRecordings(Root).Select(p => (p, RecordingCatalog.RecordingBytes(p))).ToList();
        lock (_lock)
        {
            _finished.Clear();
            _finished.AddRange(found);
        }
    }

    /// <summary>Forgets every recording (they stay on disk, and are no longer deleted to make room).</summary>
    public void Clear()
    {
        lock (_lock) _finished.Clear();
    }

    /// <summary>
    /// The recording <paramref name="mcapPath"/> is finished (renamed into place with its
    /// companions): the newest one. Returns what it occupies, companions included.
    /// </summary>
    public long Add(string mcapPath)
    {
        var bytes = RecordingCatalog.RecordingBytes(mcapPath);
        lock (_lock) _finished.Add((mcapPath, bytes));
        return bytes;
    }

    /// <summary>Whether the ledger says the recording <paramref name="mcapPath"/> is offloaded; false without a ledger.</summary>
    public bool IsOffloaded(string mcapPath)
    {
        lock (_lock) return _ledger?.IsOffloaded(mcapPath) ?? false;
    }

    /// <summary>
    /// Keeps the recordings within <paramref name="policy"/>, counting <paramref name="bytesInProgress"/>
    /// for what is being written: offloaded recordings go first, oldest first; then, with
    /// <see cref="RetentionPolicy.DeleteOldest"/>, the oldest of the rest. False when the limits
    /// still cannot be met.
    /// </summary>
    public bool MakeRoom(RetentionPolicy policy, long bytesInProgress)
    {
        ArgumentNullException.ThrowIfNull(policy);
        lock (_lock)
        {
            bool Short() => policy.IsExceeded(bytesInProgress + _finished.Sum(f => f.Bytes), _freeBytes());
            if (!Short()) return true;
            foreach (var offloadedOnly in new[] { true, false })
            {
                if (!offloadedOnly && !policy.DeleteOldest) break;
                for (var i = 0; i < _finished.Count && Short();)
                {
                    var path = _finished[i].Path;
                    if (offloadedOnly && !(_ledger?.IsOffloaded(path) ?? false))
                    {
                        i++;
                        continue;
                    }
                    var group = RecordingCatalog.Companions(path).Finished;
                    group.Add(path);
                    if (DeleteLocked(path, group))
                    {
                        StorageLog.DeletedForSpace(_logger, path, offloadedOnly ? "offloaded" : "oldest");
                        continue; // removed at i
                    }
                    i++;
                }
            }
            return !Short();
        }
    }

    /// <summary>
    /// Deletes the recording <paramref name="mcapPath"/>: exactly <paramref name="files"/> (the
    /// files of the recording the caller vouches for; the <c>.mcap</c> among them or already gone),
    /// companions first in name order, the <c>.mcap</c> last, each announced to the ledger before
    /// and after. False when a file could not be deleted (the rest of the recording stays).
    /// </summary>
    public bool Delete(string mcapPath, IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(mcapPath);
        ArgumentNullException.ThrowIfNull(files);
        lock (_lock) return DeleteLocked(mcapPath, files);
    }

    /// <summary>Deletes the recording <paramref name="mcapPath"/> with every finished companion on disk (see <see cref="Delete(string, IReadOnlyList{string})"/>).</summary>
    public bool Delete(string mcapPath)
    {
        var group = RecordingCatalog.Companions(mcapPath).Finished;
        group.Add(mcapPath);
        return Delete(mcapPath, group);
    }

    private bool DeleteLocked(string mcapPath, IReadOnlyList<string> files)
    {
        var ordered = files
            .OrderBy(f => string.Equals(f, mcapPath, StringComparison.Ordinal))
            .ThenBy(f => f, StringComparer.Ordinal)
            .ToList();
        foreach (var file in ordered)
        {
            try
            {
                _ledger?.Deleting(file);
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                StorageLog.DeleteFailed(_logger, file, e.Message);
                return false;
            }
            _ledger?.Deleted(file);
        }
        var full = Path.GetFullPath(mcapPath);
        var index = _finished.FindIndex(f => string.Equals(Path.GetFullPath(f.Path), full, StringComparison.Ordinal));
        if (index >= 0) _finished.RemoveAt(index);
        return true;
    }

    private static long FreeBytesOf(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
            return new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return -1;
        }
    }
}
