using System.Globalization;

namespace Recorder.Config.Loading;

/// <summary>
/// Checks of the merged settings against the machine (<see cref="IHostProbe"/>), after the
/// validation pass: a socket, FIFO or the recordings directory inside a read-only path is an
/// error (creating it would fail at start-up; under systemd's <c>ProtectSystem=strict</c> that is
/// anything outside <c>RuntimeDirectory=</c>, <c>StateDirectory=</c> and <c>ReadWritePaths=</c>),
/// and a quota larger than the volume is a warning (a fleet file is shared by vehicles with
/// different disks; <c>storage.min_free_bytes</c> still guards the disk). Values that already
/// failed are skipped. Errors are placed like the validator's.
/// </summary>
internal sealed class HostChecks(RecorderSettings settings, SourceMap map, IHostProbe host, List<ConfigError> errors, List<ConfigError> warnings,
    ServiceUnit? unit = null)
{
    private readonly RecorderSettings _s = settings;

    public void Run()
    {
        WritablePaths();
        Quota();
        // Offload TLS material: the offload settings are not in this branch yet. When they land,
        // call TlsMaterial("offload.tls.ca", _s.Offload.Tls.Ca) and the like from here.
    }

    /// <summary>Sockets and FIFOs the recorder creates, and the recordings directory, must not be on a read-only mount.</summary>
    private void WritablePaths()
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        void Check(string label, string path, string where)
        {
            if (path.Length == 0 || map.Failed(where)) return;
            var isDirectory = label is "recording.dir" or "offload.state_dir";
            var dir = isDirectory ? path : Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
            // The unit's sandbox first: its message carries the fix (the read-only mount is the same fact seen from inside).
            if (unit is not null)
            {
                var servicePath = ServicePath(path);
                var serviceDir = isDirectory ? servicePath : Path.GetDirectoryName(servicePath) ?? "/";
                if (!unit.MayWrite(serviceDir))
                {
                    if (reported.Add(label + "\0" + where))
                        Error($"{label} '{path}' is outside the paths {unit.Name}.service may write ({unit.Describe()}); the service cannot create it there. " +
                            $"Fix: `systemctl edit {unit.Name}` and add [Service] ReadWritePaths={serviceDir}", where);
                    return;
                }
            }
            if (host.VolumeOf(dir) is not { ReadOnly: true } volume) return;
            if (!reported.Add(label + "\0" + where)) return;
            Error($"{label} '{path}' is inside a read-only path ({volume.MountPoint} is mounted read-only); the recorder cannot create it there", where);
        }

        Check("recording.dir", _s.Recording.Directory, "recording.dir");
        Check("ingest.socket", _s.Ingest.Socket, "ingest.socket");
        var controlBeside = !map.IsSet("control_socket") && map.IsSet("ingest.socket");
        // A control socket placed beside a read-only ingest socket is the same mistake: one error.
        if (!(controlBeside && SameDirectory(_s.ControlSocket, _s.Ingest.Socket)))
            Check("control_socket", _s.ControlSocket, controlBeside ? "ingest.socket" : "control_socket");
        for (var n = 0; n < _s.Topics.Count; n++)
        {
            if (_s.Topics[n].Fifo is { } fifo)
                Check(Indexed("topics", n) + ".fifo", fifo, Indexed("topics", n) + ".fifo");
            if (_s.Topics[n].Socket is { } socket)
                Check(Indexed("topics", n) + ".socket", socket, Indexed("topics", n) + ".socket");
        }
        if (_s.Metrics.Textfile is { Length: > 0 } textfile)
            Check("metrics.textfile", textfile, "metrics.textfile");
        if (_s.Offload is { Enabled: true, StateDirectory: { } stateDir }) Check("offload.state_dir", stateDir, "offload.state_dir");
    }

    /// <summary>A path as the service sees it: relative paths start at its working directory, / for a system service.</summary>
    private static string ServicePath(string path) => Path.GetFullPath(path, "/").TrimEnd('/') is { Length: > 0 } full ? full : "/";

    private void Quota()
    {
        var max = _s.Storage.MaxBytes;
        if (max <= 0 || map.Failed("storage.max_bytes") || map.Failed("recording.dir")) return;
        if (host.VolumeOf(_s.Recording.Directory) is not { TotalBytes: > 0 } volume || max <= volume.TotalBytes) return;
        var got = map.Get("storage.max_bytes")?.Text ?? Units.FormatSize(max);
        Warn($"storage.max_bytes ({got}) is larger than the volume holding recording.dir '{_s.Recording.Directory}' ({Approximate(volume.TotalBytes)} at {volume.MountPoint}); the disk fills up before the quota applies",
            "storage.max_bytes");
    }

    /// <summary>
    /// A certificate or key file the daemon must read (offload TLS material): missing, unreadable
    /// by this user, a directory or empty is an error at <paramref name="keyPath"/>. A hook for
    /// the offload settings; it runs as the service's user under ExecStartPre.
    /// </summary>
    internal void TlsMaterial(string keyPath, string? file)
    {
        if (file is null || file.Length == 0 || map.Failed(keyPath)) return;
        if (host.WhyUnreadable(file) is { } why) Error($"{keyPath} '{file}' cannot be read: {why}", keyPath);
    }

    private static bool SameDirectory(string a, string b)
    {
        try
        {
            return Path.GetDirectoryName(Path.GetFullPath(a)) == Path.GetDirectoryName(Path.GetFullPath(b));
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>58.4GiB: one decimal in the largest binary unit, for sizes the file system reports.</summary>
    internal static string Approximate(long bytes)
    {
        var (value, unit) = Units.InLargestBinaryUnit(bytes);
        return unit == "B" ? string.Create(CultureInfo.InvariantCulture, $"{bytes}B") : string.Create(CultureInfo.InvariantCulture, $"{value:0.#}{unit}");
    }

    private void Error(string message, string path) => errors.Add(At(message, path));

    private void Warn(string message, string path) => warnings.Add(At(message, path));

    private ConfigError At(string message, string path) =>
        map.Get(path) is { } location
            ? new ConfigError(location.File, location.Line, location.Column, message)
            : new ConfigError(ConfigError.DefaultsFile, 0, 0, message);

    private static string Indexed(string path, int n) => string.Create(CultureInfo.InvariantCulture, $"{path}[{n}]");
}
