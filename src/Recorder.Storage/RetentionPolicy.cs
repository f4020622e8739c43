namespace Recorder.Storage;

/// <summary>
/// How much the finished recordings on a disk may take (<c>storage:</c> in the configuration).
/// When a limit is passed, recordings leave as a unit (the <c>.mcap</c> with its <c>.vidx</c> and
/// sidecar streams), oldest first: those already offloaded (verified by the depot) before any
/// other, and the others only with <see cref="DeleteOldest"/>.
/// </summary>
/// <param name="MaxBytes">Most bytes the recordings may occupy, the one being written included (0: no limit).</param>
/// <param name="MinFreeBytes">Free space to leave on the volume (0: none).</param>
/// <param name="DeleteOldest">
/// <c>when_full: delete_oldest</c>: when deleting offloaded recordings is not enough, delete the
/// oldest ones that are not. Otherwise (<c>stop</c>) the writer stops and counts what it could not write.
/// </param>
public sealed record RetentionPolicy(long MaxBytes, long MinFreeBytes, bool DeleteOldest)
{
    /// <summary>No limit: nothing is ever deleted to make room.</summary>
    public static RetentionPolicy Unlimited { get; } = new(0, 0, false);

    /// <summary>True when <paramref name="usedBytes"/> on a volume with <paramref name="freeBytes"/> free (negative: unknown) passes a limit.</summary>
    public bool IsExceeded(long usedBytes, long freeBytes) =>
        (freeBytes >= 0 && freeBytes < MinFreeBytes) || (MaxBytes > 0 && usedBytes > MaxBytes);
}

/// <summary>
/// What the offload stage tells the store and learns from it: which recordings are offloaded (so
/// they may go first), and every file the store deletes (so the offload journal records it,
/// whoever asked for the room). Called under the store's lock; implementations must not call back
/// into the store.
/// </summary>
public interface IRetentionLedger
{
    /// <summary>Whether the recording <paramref name="mcapPath"/> and every companion of it was verified by the depot and is unchanged since.</summary>
    bool IsOffloaded(string mcapPath);

    /// <summary>Just before <paramref name="path"/> is deleted.</summary>
    void Deleting(string path);

    /// <summary>Once <paramref name="path"/> is gone from the disk.</summary>
    void Deleted(string path);
}
