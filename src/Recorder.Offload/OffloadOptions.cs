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
/// Everything the offload stage is configured with, and the settings type of the <c>offload:</c>
/// section: a test builds it in code; the YAML maps onto it in one place (Recorder.Config's
/// <c>RecorderKeys.Offload</c>, which names each property's key). Every default lives here.
/// </summary>
public sealed record OffloadOptions
{
    /// <summary><c>offload.enabled</c>: true when the section is present; false keeps the section but turns offload off.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>offload.endpoint</c>: the tus creation endpoint, e.g. <c>https://depot.example/files</c>. Required: empty until set.</summary>
    public Uri Endpoint { get; init; } = new("", UriKind.Relative);

    /// <summary>The recordings root (the recording stage's directory, <c>recording.dir</c>). Finished <c>.mcap</c> files below it are offloaded.</summary>
    public string RecordingsDirectory { get; init; } = "";

    /// <summary>Written into every upload's metadata as <c>device_id</c> (the device file's).</summary>
    public string DeviceId { get; init; } = "";

    /// <summary><c>offload.state_dir</c>: where the offload journal lives. Default: <c>.offload</c> under the recordings root.</summary>
    public string? StateDirectory { get; init; }

    /// <summary><c>offload.presence</c>: how the depot is found in range. Probe by default.</summary>
    public PresenceMode Presence { get; init; } = PresenceMode.Probe;

    /// <summary><c>offload.probe_interval</c>: how often the probe runs (in and out of range).</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>offload.probe_timeout</c>: how long one probe may take.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>offload.enter_after</c>: consecutive successful probes that put the depot in range (k).</summary>
    public int EnterAfter { get; init; } = 2;

    /// <summary><c>offload.leave_after</c>: consecutive failed probes that take the depot out of range (m).</summary>
    public int LeaveAfter { get; init; } = 3;

    /// <summary><c>offload.ssids</c>: depot Wi-Fi SSIDs for <see cref="PresenceMode.NetworkManager"/>.</summary>
    public IReadOnlyList<string> Ssids { get; init; } = [];

    /// <summary><c>offload.parallel</c>: files uploaded at the same time, 1..16.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary><c>offload.bandwidth</c>: upload bandwidth cap in bytes per second across all uploads; 0 is unlimited.</summary>
    public long Bandwidth { get; init; }

    /// <summary><c>offload.chunk_size</c>: the most bytes one PATCH request carries.</summary>
    public long ChunkSize { get; init; } = 16L << 20;

    /// <summary><c>offload.inactivity_timeout</c>: a request that moves no byte for this long is cancelled (there is no total timeout).</summary>
    public TimeSpan InactivityTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>offload.retry.min</c>: first retry delay after a network error, 5xx, 409 or 423; doubles per attempt.</summary>
    public TimeSpan RetryMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>offload.retry.max</c>: the cap of the retry delay.</summary>
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// <c>offload.delete_after_upload</c>: delete the local files once the depot has verified them.
    /// Otherwise they stay until a storage limit needs the room: then the
    /// <see cref="Recorder.Storage.RecordingStore"/> deletes verified recordings before any other
    /// (storage.max_bytes, storage.min_free_bytes).
    /// </summary>
    public bool DeleteAfterUpload { get; init; }

    /// <summary><c>offload.rescan_interval</c>: how often the recordings directory is rescanned for finished files (besides the writer's notifications).</summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>offload.token_file</c>: a file holding the bearer token (trimmed). Read at start and again when it changes.</summary>
    public string? TokenFile { get; init; }

    /// <summary><c>offload.client_certificate</c>: PEM device certificate for mTLS (with <see cref="ClientKeyFile"/>).</summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary><c>offload.client_key</c>: PEM private key of the device certificate.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary><c>offload.ca</c>: PEM CA certificate(s) the depot's certificate must chain to; when set, the system store is not trusted.</summary>
    public string? CaFile { get; init; }

    /// <summary><c>offload.insecure</c>: allows <c>http://</c> endpoints (loopback tests). Never disables certificate checks.</summary>
    public bool Insecure { get; init; }

    /// <summary>A verification failure (hash mismatch, complete but unverified) this many times in a session parks the file until the next session.</summary>
    public int MaxVerificationFailures { get; init; } = 3;

    public string StatePath => Path.Combine(StateDirectory ?? Path.Combine(RecordingsDirectory, ".offload"), "offload.journal");
}
