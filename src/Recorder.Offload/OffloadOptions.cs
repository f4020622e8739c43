namespace Recorder.Offload;

/// <summary>How the offload stage decides that the depot is in range.</summary>
public enum PresenceMode
{
    /// <summary>An authenticated request to the depot every probe interval, with hysteresis.</summary>
    Probe,

    /// <summary>NetworkManager's active Wi-Fi SSID (over D-Bus) must be one of the depot SSIDs; the probe then confirms.</summary>
    NetworkManager,

    /// <summary>Only an operator's <c>recorder offload now</c> starts an upload session.</summary>
    Manual,
}

/// <summary>
/// Everything the offload stage is configured with. A test builds it in code; the host maps the
/// YAML <c>offload:</c> section onto it in one place. Every default lives here.
/// </summary>
public sealed record OffloadOptions
{
    /// <summary>The tus creation endpoint, e.g. <c>https://depot.example/files</c>.</summary>
    public required Uri Endpoint { get; init; }

    /// <summary>The recordings root (the recording stage's directory). Finished <c>.mcap</c> files below it are offloaded.</summary>
    public required string RecordingsDirectory { get; init; }

    /// <summary>Written into every upload's metadata as <c>device_id</c>.</summary>
    public required string DeviceId { get; init; }

    /// <summary>Where the offload journal lives. Default: <c>.offload</c> under the recordings root.</summary>
    public string? StateDirectory { get; init; }

    public PresenceMode Presence { get; init; } = PresenceMode.Probe;

    /// <summary>How often the probe runs (in and out of range).</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one probe may take.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive successful probes that put the depot in range (k).</summary>
    public int EnterAfter { get; init; } = 2;

    /// <summary>Consecutive failed probes that take the depot out of range (m).</summary>
    public int LeaveAfter { get; init; } = 3;

    /// <summary>Depot Wi-Fi SSIDs for <see cref="PresenceMode.NetworkManager"/>.</summary>
    public IReadOnlyList<string> Ssids { get; init; } = [];

    /// <summary>Files uploaded at the same time.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Upload bandwidth cap in bytes per second across all uploads; 0 is unlimited.</summary>
    public long Bandwidth { get; init; }

    /// <summary>The most bytes one PATCH request carries.</summary>
    public long ChunkSize { get; init; } = 16L << 20;

    /// <summary>A request that moves no byte for this long is cancelled (there is no total timeout).</summary>
    public TimeSpan InactivityTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First retry delay after a network error, 5xx, 409 or 423; doubles per attempt.</summary>
    public TimeSpan RetryMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The cap of the retry delay.</summary>
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Delete the local files once the depot has verified them. Otherwise they stay until a storage
    /// limit needs the room: then the <see cref="Recorder.Storage.RecordingStore"/> deletes verified
    /// recordings before any other (storage.max_bytes, storage.min_free_bytes).
    /// </summary>
    public bool DeleteAfterUpload { get; init; }

    /// <summary>How often the recordings directory is rescanned for finished files (besides the writer's notifications).</summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A file holding the bearer token (trimmed). Read at start and again when it changes.</summary>
    public string? TokenFile { get; init; }

    /// <summary>PEM device certificate for mTLS (with <see cref="ClientKeyFile"/>).</summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary>PEM private key of the device certificate.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>PEM CA certificate(s) the depot's certificate must chain to; when set, the system store is not trusted.</summary>
    public string? CaFile { get; init; }

    /// <summary>Allows <c>http://</c> endpoints (loopback tests). Never disables certificate checks.</summary>
    public bool Insecure { get; init; }

    /// <summary>A verification failure (hash mismatch, complete but unverified) this many times in a session parks the file until the next session.</summary>
    public int MaxVerificationFailures { get; init; } = 3;

    public string StatePath => Path.Combine(StateDirectory ?? Path.Combine(RecordingsDirectory, ".offload"), "offload.journal");
}
