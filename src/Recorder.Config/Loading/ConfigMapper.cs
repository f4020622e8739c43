using YamlDotNet.RepresentationModel;

namespace Recorder.Config.Loading;

/// <summary>
/// Reads the two files' roots through the key tables (<see cref="RecorderKeys"/>), the one place
/// where YAML keys map onto the options types. Each read starts from the settings it is given (the
/// defaults) and overrides only the keys the file names. Structural problems (unknown keys, wrong
/// types, bad units and names) are reported here; ranges, required values and cross-checks are the
/// validation pass's (<see cref="ConfigValidator"/>). What is particular to the two files lives
/// here: which keys belong in which file, and where the control socket goes by default.
/// </summary>
internal static class ConfigMapper
{
    public static IReadOnlyList<string> FleetKeys => RecorderKeys.Fleet.Names;

    public static IReadOnlyList<string> DeviceKeys => RecorderKeys.Device.Names;

    /// <summary>The keys a device file may contain: its own, then every fleet key.</summary>
    public static readonly string[] AllDeviceFileKeys = [.. RecorderKeys.Device.Names, .. RecorderKeys.Fleet.Names];

    /// <summary>Reads a fleet file's root onto <paramref name="settings"/>. Device keys are errors here.</summary>
    public static RecorderSettings ReadFleet(YamlReader r, YamlNode? root, RecorderSettings settings)
    {
        var s = RecorderKeys.Fleet.Read(r, root, "", settings, key => RecorderKeys.Device.Has(key) ? "it belongs in the device file" : null);
        return PlaceControlSocket(r, s);
    }

    /// <summary>
    /// Reads a device file's root onto <paramref name="settings"/> (the fleet file already applied).
    /// Besides the device keys it may set any fleet key, with the same rules as the fleet file: a
    /// key it names overrides the fleet's value (a mapping key by key, a list as a whole), and
    /// errors in those keys name the device file. <c>device_id</c> is optional: without it the
    /// device is named after the host, which is reported as a warning.
    /// </summary>
    public static RecorderSettings ReadDevice(YamlReader r, YamlNode? root, RecorderSettings settings, List<ConfigError> warnings)
    {
        var s = settings;
        var d = settings.Device;
        var fleetKeysSet = false;
        foreach (var (key, value, path) in r.Keys(root, "", AllDeviceFileKeys))
        {
            if (RecorderKeys.Device.Has(key))
            {
                d = RecorderKeys.Device.ReadKey(r, key, value, path, d);
                continue;
            }
            s = RecorderKeys.Fleet.ReadKey(r, key, value, path, s);
            fleetKeysSet = true;
        }
        if (fleetKeysSet) s = PlaceControlSocket(r, s);
        if (!r.Map.IsSet("device_id") && (root is null || root is YamlMappingNode || YamlReader.IsNull(root)))
        {
            var line = root is null || YamlReader.IsNull(root) ? 1 : (int)root.Start.Line;
            var column = root is null || YamlReader.IsNull(root) ? 1 : (int)root.Start.Column;
            warnings.Add(new ConfigError(r.File, line, column, $"device_id is not set; this device records as its host name '{d.DeviceId}'"));
        }
        return s with { Device = d };
    }

    /// <summary>The control socket sits beside the ingest socket unless a file places it.</summary>
    private static RecorderSettings PlaceControlSocket(YamlReader r, RecorderSettings s) =>
        !r.Map.IsSet("control_socket") && r.Map.IsSet("ingest.socket") && !r.Map.Failed("ingest.socket")
            ? s with { ControlSocket = Path.Combine(Path.GetDirectoryName(s.Ingest.Socket) ?? "", "control.sock") }
            : s;
}
