using Recorder.Config.Loading;

namespace Recorder.Config;

/// <summary>
/// The merged configuration the daemon runs with, as YAML: every key with its value, each marked
/// with where the value came from (<c>file:line:column</c> or <c>default</c>), in the order of the
/// key tables (<see cref="RecorderKeys"/>). The output is itself a valid device file (a device
/// file may hold every fleet key), so <c>recorder config check --device effective.yaml</c> loads
/// the same settings.
/// </summary>
public static class EffectiveConfig
{
    /// <summary>The effective configuration of a successful load.</summary>
    public static string ToYaml(ConfigLoadResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var s = result.Settings ?? throw new ArgumentException("the configuration has errors", nameof(result));
        var w = new YamlOut(result.Sources);
        var files = new List<string> { "the embedded defaults" };
        if (s.FleetFile is not null) files.Add(s.FleetFile);
        if (s.DeviceFile is not null) files.Add(s.DeviceFile);
        w.Comment($"effective configuration: {string.Join(", then ", files)} (each file overrides what it names)");
        RecorderKeys.Fleet.Write(w, s, 0, "");
        RecorderKeys.Device.Write(w, s.Device, 0, "");
        return w.ToString();
    }
}
