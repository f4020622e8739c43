namespace Recorder.Config;

/// <summary>How the recorder decides that the depot is in range (<c>offload.presence</c>).</summary>
public enum OffloadPresence
{
    /// <summary><c>probe</c>: an authenticated request to the depot every <c>probe_interval</c>, with hysteresis. The default.</summary>
    Probe,

    /// <summary><c>networkmanager</c>: NetworkManager's active Wi-Fi SSID must be one of <c>offload.ssids</c>; the probe then confirms.</summary>
    NetworkManager,

    /// <summary><c>manual</c>: only <c>recorder offload now</c>.</summary>
    Manual,
}

/// <summary>
/// Offloading finished recordings to the depot over tus (<c>offload:</c> in the fleet file). The
/// section is absent by default: no offload. Every default lives in the initialiser of its property.
/// </summary>
public sealed record OffloadSettings
{
    /// <summary><c>offload.enabled</c>: <c>true</c> when the section is present; <c>false</c> keeps the section but turns offload off.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>offload.endpoint</c>: the depot's tus creation URL, e.g. <c>https://depot.example/files</c>. Required.</summary>
    public string Endpoint { get; init; } = "";

    /// <summary><c>offload.presence</c>: <c>probe</c> (default), <c>networkmanager</c> or <c>manual</c>.</summary>
    public OffloadPresence Presence { get; init; } = OffloadPresence.Probe;

    /// <summary><c>offload.probe_interval</c>: how often the depot is probed. 30s.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>offload.probe_timeout</c>: how long one probe may take. 5s.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>offload.enter_after</c>: consecutive successful probes to enter range (k). 2.</summary>
    public int EnterAfter { get; init; } = 2;

    /// <summary><c>offload.leave_after</c>: consecutive failures to leave range (m). 3.</summary>
    public int LeaveAfter { get; init; } = 3;

    /// <summary><c>offload.ssids</c>: the depot Wi-Fi networks, for <c>presence: networkmanager</c>.</summary>
    public IReadOnlyList<string> Ssids { get; init; } = [];

    /// <summary><c>offload.parallel</c>: files uploaded at once, 1..16. 1.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary><c>offload.bandwidth</c>: upload cap in bytes per second over all uploads; 0 (the default) is unlimited.</summary>
    public long Bandwidth { get; init; }

    /// <summary><c>offload.chunk_size</c>: the most one PATCH request carries. 16MiB.</summary>
    public long ChunkSize { get; init; } = 16L << 20;

    /// <summary><c>offload.inactivity_timeout</c>: a request that moves no byte this long is cut (there is no total timeout). 60s.</summary>
    public TimeSpan InactivityTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>offload.retry.min</c>: the first retry delay; doubles per attempt, with jitter. 1s.</summary>
    public TimeSpan RetryMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>offload.retry.max</c>: the cap of the retry delay. 5m.</summary>
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary><c>offload.delete_after_upload</c>: delete local files once the depot verified them. Otherwise they stay until disk pressure. false.</summary>
    public bool DeleteAfterUpload { get; init; }

    /// <summary><c>offload.rescan_interval</c>: how often the recordings directory is rescanned. 30s.</summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>offload.state_dir</c>: where the offload journal lives; default <c>.offload</c> under <c>recording.dir</c>.</summary>
    public string? StateDir { get; init; }

    /// <summary><c>offload.token_file</c>: a file holding the bearer token.</summary>
    public string? TokenFile { get; init; }

    /// <summary><c>offload.client_certificate</c>: PEM device certificate for mTLS (with <c>client_key</c>).</summary>
    public string? ClientCertificate { get; init; }

    /// <summary><c>offload.client_key</c>: PEM private key of the device certificate.</summary>
    public string? ClientKey { get; init; }

    /// <summary><c>offload.ca</c>: PEM CA the depot's certificate must chain to (pinned: the system store is then not used).</summary>
    public string? Ca { get; init; }

    /// <summary><c>offload.insecure</c>: allow an <c>http://</c> endpoint (loopback tests only). false.</summary>
    public bool Insecure { get; init; }
}
