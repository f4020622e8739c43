namespace Recorder.Config;

/// <summary>Disk limits for the recordings (<c>storage:</c> in the fleet file).</summary>
public sealed record StorageSettings
{
    /// <summary><c>storage.max_bytes</c>: the most the recordings under <c>recording.dir</c> may take. 0 (the default) is unlimited.</summary>
    public long MaxBytes { get; init; }

    /// <summary><c>storage.min_free_bytes</c>: free space to leave on the file system of the recordings. 256 MiB: enough headroom on a vehicle, and the embedded defaults still record on a nearly full dev machine.</summary>
    public long MinFreeBytes { get; init; } = 256L << 20;

    /// <summary><c>storage.when_full</c>: <c>stop</c> (the default) or <c>delete_oldest</c>.</summary>
    public WhenFull WhenFull { get; init; } = WhenFull.Stop;
}
