using Recorder.Config.Loading;

namespace Recorder.Config;

/// <summary>
/// Loads the fleet file and the device file into <see cref="RecorderSettings"/>.
/// <para>
/// Strict and helpful: defaults are applied first and a file overrides only what it names; a
/// list in a file replaces the default list. Unknown keys, wrong types, bad units and names,
/// missing required keys, out-of-range values and conflicts between sections are errors with
/// <c>file:line:column</c>. Every error of every file is collected: each file is parsed, then one
/// validation pass runs over the merged settings. Only a YAML syntax error stops the reading of
/// its file (the other file is still read).
/// </para>
/// The device file may also set any fleet key; it wins (see <c>ConfigMapper.ReadDevice</c>).
/// Nothing here touches the file system beyond reading the two files unless an
/// <see cref="IHostProbe"/> is given: then sockets, FIFOs and the recordings directory are
/// checked against read-only mounts and the quota against the volume. Paths are not checked for
/// existence, and relative paths stay relative to the daemon's working directory. Loading never throws for bad
/// input; for a reload, load again and keep the old settings unless <see cref="ConfigLoadResult.Succeeded"/>.
/// </summary>
public static class ConfigLoader
{
    /// <summary>
    /// Loads <paramref name="fleetPath"/> and <paramref name="devicePath"/>; either may be null for
    /// its embedded defaults (both null: <c>./recordings</c>, <c>./run/ingest.sock</c>,
    /// <c>./run/control.sock</c>, device_id = the host name, operator <c>unassigned</c>, fleet
    /// <c>default</c>). Errors name each file as given here.
    /// </summary>
    public static ConfigLoadResult Load(string? fleetPath, string? devicePath) => Load(fleetPath, devicePath, host: null);

    /// <summary>
    /// As <see cref="Load(string?, string?)"/>, then, when <paramref name="host"/> is given, the
    /// checks against the machine the daemon runs on (<see cref="IHostProbe"/>): a socket, FIFO or
    /// the recordings directory inside a read-only path is an error, a quota larger than the
    /// volume a warning. <c>recorder run</c>, <c>config check</c> and a reload pass <see cref="SystemHostProbe"/>.
    /// </summary>
    /// <param name="fleetPath">The fleet file, or null for its embedded defaults.</param>
    /// <param name="devicePath">The device file, or null for its embedded defaults.</param>
    /// <param name="host">The machine to check against, or null to skip those checks.</param>
    /// <param name="unit">
    /// With <paramref name="host"/>: the service unit the daemon runs under (`config check` as root
    /// on an installed package, or <c>--unit</c>); a path it may not write is an error naming the fix.
    /// </param>
    public static ConfigLoadResult Load(string? fleetPath, string? devicePath, IHostProbe? host, ServiceUnit? unit = null)
    {
        var errors = new List<ConfigError>();
        var fleet = fleetPath is null ? null : Read(fleetPath, errors);
        var device = devicePath is null ? null : Read(devicePath, errors);
        return Build(fleetPath, fleet, devicePath, device, errors, host, unit);
    }

    /// <summary>
    /// Loads configuration from text already in memory, for tests and for callers that read the
    /// files themselves. A null text means "no such file": its embedded defaults apply.
    /// </summary>
    /// <param name="fleetYaml">The fleet file's content, or null.</param>
    /// <param name="deviceYaml">The device file's content, or null.</param>
    /// <param name="fleetFile">The name errors give the fleet file.</param>
    /// <param name="deviceFile">The name errors give the device file.</param>
    /// <param name="host">The machine to check against, or null to skip those checks.</param>
    /// <param name="unit">The service unit to check write paths against (with <paramref name="host"/>), or null.</param>
    public static ConfigLoadResult LoadFromText(string? fleetYaml, string? deviceYaml, string fleetFile = "fleet.yaml", string deviceFile = "device.yaml", IHostProbe? host = null,
        ServiceUnit? unit = null) =>
        Build(fleetYaml is null ? null : fleetFile, fleetYaml, deviceYaml is null ? null : deviceFile, deviceYaml, [], host, unit);

    private static string? Read(string path, List<ConfigError> errors)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            errors.Add(new ConfigError(path, 0, 0, "no such file"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add(new ConfigError(path, 0, 0, $"cannot read: {e.Message}"));
        }
        return null;
    }

    private static ConfigLoadResult Build(string? fleetFile, string? fleetText, string? deviceFile, string? deviceText, List<ConfigError> errors, IHostProbe? host,
        ServiceUnit? unit)
    {
        var map = new SourceMap();
        var warnings = new List<ConfigError>();
        var settings = new RecorderSettings { FleetFile = fleetFile, DeviceFile = deviceFile };

        if (fleetFile is not null)
        {
            var reader = new YamlReader(fleetFile, errors, map);
            if (fleetText is not null && reader.TryLoad(fleetText, out var root))
                settings = ConfigMapper.ReadFleet(reader, root, settings);
            else
                FailAll(map, ConfigMapper.FleetKeys);
        }
        if (deviceFile is not null)
        {
            var reader = new YamlReader(deviceFile, errors, map);
            if (deviceText is not null && reader.TryLoad(deviceText, out var root))
                settings = ConfigMapper.ReadDevice(reader, root, settings, warnings);
            else
                FailAll(map, ConfigMapper.DeviceKeys);
        }

        // One pass over everything. Values of a file that could not be read or parsed count as
        // failed, so no cross-check judges the defaults standing in for them.
        new ConfigValidator(settings, map, errors).Run();
        if (host is not null) new HostChecks(settings, map, host, errors, warnings, unit).Run();

        var ordered = Order(errors, fleetFile, deviceFile);
        return new ConfigLoadResult(ordered.Count == 0 ? settings : null, ordered)
        {
            Warnings = Order(warnings, fleetFile, deviceFile),
            Sources = map,
        };
    }

    private static System.Collections.ObjectModel.ReadOnlyCollection<ConfigError> Order(List<ConfigError> list, string? fleetFile, string? deviceFile) => list
        .OrderBy(e => e.File == fleetFile ? 0 : e.File == deviceFile ? 1 : 2)
        .ThenBy(e => e.Line)
        .ThenBy(e => e.Column)
        .ToList()
        .AsReadOnly();

    private static void FailAll(SourceMap map, IEnumerable<string> keys)
    {
        foreach (var key in keys) map.Fail(key);
    }
}
