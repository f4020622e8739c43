using Recorder.Config;

namespace Recorder.Cli;

/// <summary>
/// Which files a verb reads: <c>--config</c> and <c>--device</c> when given; otherwise
/// <c>/etc/recorder/fleet.yaml</c> and <c>/etc/recorder/device.yaml</c> when they exist (the
/// packaged service's files); otherwise none, and the embedded defaults apply (a development
/// checkout: <c>recorder run --demo</c> records under ./recordings). <c>RECORDER_CONFIG_DIR</c>
/// replaces <c>/etc/recorder</c> (tests point it elsewhere).
/// </summary>
public static class ConfigFiles
{
    public const string DefaultDirectory = "/etc/recorder";

    public static string Directory => Environment.GetEnvironmentVariable("RECORDER_CONFIG_DIR") is { Length: > 0 } dir ? dir : DefaultDirectory;

    /// <summary>The packaged service's runtime directory (RuntimeDirectory=recorder); <c>RECORDER_RUNTIME_DIR</c> replaces it (tests).</summary>
    public const string DefaultRuntimeDirectory = "/run/recorder";

    /// <summary>
    /// The control socket of the packaged configuration, where the control verbs look when the
    /// configuration cannot be read: <c>/run/recorder/control.sock</c>.
    /// </summary>
    public static string PackagedControlSocket => Path.Combine(
        Environment.GetEnvironmentVariable("RECORDER_RUNTIME_DIR") is { Length: > 0 } dir ? dir : DefaultRuntimeDirectory, "control.sock");

    public static (string? Fleet, string? Device) Resolve(Arguments args) => Resolve(args, Directory);

    /// <summary>As <see cref="Resolve(Arguments)"/> with <paramref name="directory"/> in place of /etc/recorder.</summary>
    public static (string? Fleet, string? Device) Resolve(Arguments args, string directory) =>
        (args.Value("--config") ?? Existing(directory, "fleet.yaml"), args.Value("--device") ?? Existing(directory, "device.yaml"));

    private static string? Existing(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Loads what <see cref="Resolve"/> names; with <paramref name="checkHost"/>, also against this machine.</summary>
    public static ConfigLoadResult Load(Arguments args, bool checkHost)
    {
        var (fleet, device) = Resolve(args);
        return ConfigLoader.Load(fleet, device, checkHost ? new SystemHostProbe() : null);
    }
}
