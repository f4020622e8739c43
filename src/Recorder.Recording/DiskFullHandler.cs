namespace Recorder.Recording;

/// <summary>
/// The writer's side of storage limits and a full disk: how often it looks at storage again (once
/// per <see cref="CheckInterval"/> while writing, and while it waits for space to resume), and
/// asking the <see cref="RecordingStore"/> for room for what is being written under the configured
/// limits. The store decides what goes (offloaded recordings first, then with delete_oldest the
/// oldest, each recording whole) and its ledger journals every deletion. Used on the writer thread only.
/// </summary>
internal sealed class DiskFullHandler
{
    /// <summary>How often storage is looked at between files: the free space can only be known by asking.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private long _lastCheck;
    private bool _checked;

    public DiskFullHandler(RecordingStore store, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        Store = store;
        _time = time;
    }

    /// <summary>The finished recordings and the one place that deletes them.</summary>
    public RecordingStore Store { get; }

    /// <summary>True when storage has not been looked at for <see cref="CheckInterval"/> (or ever).</summary>
    public bool CheckDue => !_checked || _time.GetElapsedTime(_lastCheck) >= CheckInterval;

    /// <summary>The retention policy the recording options configure (storage.max_bytes, min_free_bytes, when_full).</summary>
    public static RetentionPolicy PolicyOf(RecordingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new RetentionPolicy(options.MaxBytes, options.MinFreeBytes, options.DeleteOldestWhenFull);
    }

    /// <summary>
    /// Asks the store for room under <paramref name="options"/>' limits, counting
    /// <paramref name="bytesInProgress"/> for the files being written; the next check is due a
    /// <see cref="CheckInterval"/> from now. False when the limits still cannot be met: the disk is full.
    /// </summary>
    public bool TryMakeRoom(RecordingOptions options, long bytesInProgress)
    {
        _lastCheck = _time.GetTimestamp();
        _checked = true;
        return Store.MakeRoom(PolicyOf(options), bytesInProgress);
    }
}
