namespace Recorder.Config;

/// <summary>Who is recording: the per-vehicle device file, written into every file's <c>recorder.device</c> metadata.</summary>
public sealed record DeviceSettings
{
    /// <summary>
    /// The keys the recorder itself writes into <c>recorder.device</c>; <see cref="Extra"/> may not
    /// reuse them.
    /// </summary>
    public static IReadOnlyList<string> StandardMetadataKeys { get; } =
    [
        "device_id", "device_version", "software_version", "recorder_version", "fleet", "vehicle",
        "operator", "hostname", "boot_id", "session_id", "sequence", "previous_file_end",
    ];

    /// <summary>
    /// <c>device_id</c>: names this device in file names and directories; required in a device file.
    /// 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit. Without a device
    /// file it is the host name.
    /// </summary>
    public string DeviceId { get; init; } = Environment.MachineName;

    /// <summary><c>device_version</c>: the hardware revision. <c>unknown</c> when not given.</summary>
    public string DeviceVersion { get; init; } = "unknown";

    /// <summary><c>vehicle</c>: the vehicle this device is mounted in, if any.</summary>
    public string? Vehicle { get; init; }

    /// <summary><c>software_version</c>: the vehicle stack's version, given inline. Excludes <see cref="SoftwareVersionFile"/>.</summary>
    public string? SoftwareVersion { get; init; }

    /// <summary>
    /// <c>software_version_file</c>: a file whose trimmed content is the vehicle stack's version,
    /// read by the daemon when it starts a recording file (not checked at load time). Excludes
    /// <see cref="SoftwareVersion"/>.
    /// </summary>
    public string? SoftwareVersionFile { get; init; }

    /// <summary><c>operator</c>: who operates the vehicle; changed at run time by <c>recorder operator</c>. <c>unassigned</c> by default.</summary>
    public string Operator { get; init; } = "unassigned";

    /// <summary><c>extra</c>: free-form key/values added to <c>recorder.device</c>. Empty by default.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = EmptyMap.Instance;
}

internal static class EmptyMap
{
    public static readonly IReadOnlyDictionary<string, string> Instance =
        new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(new Dictionary<string, string>(StringComparer.Ordinal));
}
