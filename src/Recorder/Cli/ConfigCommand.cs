using Recorder.Config;

namespace Recorder.Cli;

/// <summary>
/// `recorder config check [--config FLEET.yaml] [--device DEVICE.yaml] [--unit UNIT] [--effective] [--quiet | --errors-only]`:
/// loads the configuration the daemon would run with (see <see cref="ConfigFiles"/> for which
/// files), checks it against this machine too, and prints every error and every warning on
/// stderr, one per line as <c>file:line:column: message</c> (warnings as
/// <c>file:line:column: warning: message</c>). Exit 1 on errors; otherwise "config ok" and a
/// summary (or, with --effective, the merged configuration as YAML) on stdout and exit 0.
/// </summary>
public static class ConfigCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Positionals.Count == 0) throw new UsageException("config needs a sub-command: check");
        if (args.Positionals[0] != "check") throw new UsageException($"unknown config command '{args.Positionals[0]}' (expected check)");
        if (args.Positionals.Count > 1) throw new UsageException($"config check takes no file arguments; use --config FLEET.yaml --device DEVICE.yaml, not '{args.Positionals[1]}'");

        var (fleet, device) = ConfigFiles.Resolve(args);
        var result = ConfigLoader.Load(fleet, device, new SystemHostProbe(), UnitFor(args, fleet));
        foreach (var error in result.Errors) Problems.Error(stderr, error.ToString());
        // --errors-only: the service's ExecStartPre=, where `recorder run` reports the warnings itself (once per start).
        if (!args.Has("--errors-only"))
            foreach (var warning in result.Warnings) Problems.Warning(stderr, Warning(warning));
        if (!result.Succeeded) return CommandLine.ExitError;
        if (args.Has("--effective")) stdout.Write(EffectiveConfig.ToYaml(result));
        else if (!args.Has("--quiet") && !args.Has("--errors-only")) WriteSummary(result.Settings!, stdout);
        return CommandLine.ExitOk;
    }

    /// <summary>
    /// The service unit whose sandbox the paths are checked against: --unit PATH (drop-ins in
    /// PATH.d/), else, when the files checked are the packaged service's (/etc/recorder), the
    /// installed recorder.service with its drop-ins; else none (a development checkout).
    /// </summary>
    private static ServiceUnit? UnitFor(Arguments args, string? fleet)
    {
        if (args.Value("--unit") is { } path)
            return File.Exists(path) ? ServiceUnit.Load(path) : throw new FileNotFoundException($"--unit {path}: no such file");
        var packaged = fleet is not null && Path.GetFullPath(fleet).StartsWith(ConfigFiles.DefaultDirectory + "/", StringComparison.Ordinal);
        return packaged ? ServiceUnit.Installed() : null;
    }

    /// <summary><c>file:line:column: warning: message</c>.</summary>
    public static string Warning(ConfigError warning) => (warning with { Message = "warning: " + warning.Message }).ToString();

    private static void WriteSummary(RecorderSettings s, TextWriter stdout)
    {
        var r = s.Recording;
        var d = s.Device;
        var i = s.Ingest;
        stdout.WriteLine("config ok");
        stdout.WriteLine($"fleet:     {s.Fleet} ({s.FleetFile ?? "embedded defaults"})");
        stdout.WriteLine($"device:    {d.DeviceId}, {d.DeviceVersion}{(d.Vehicle is null ? "" : $", vehicle {d.Vehicle}")}, operator {d.Operator} ({s.DeviceFile ?? "embedded defaults"})");
        stdout.WriteLine($"software:  {d.SoftwareVersion ?? (d.SoftwareVersionFile is { } file ? $"from {file}" : "not set")}");
        stdout.WriteLine($"recording: {r.Directory}; chunk {Units.FormatSize(r.ChunkSize)} or {Units.FormatDuration(r.ChunkMaxAge)}, {YamlNames.Of(r.Compression)}; split {Units.FormatSize(r.SplitSize)} or {Units.FormatDuration(r.SplitDuration)}; fsync {YamlNames.Of(r.Fsync)}");
        stdout.WriteLine($"storage:   max {(s.Storage.MaxBytes == 0 ? "unlimited" : Units.FormatSize(s.Storage.MaxBytes))}, keep {Units.FormatSize(s.Storage.MinFreeBytes)} free, when full {YamlNames.Of(s.Storage.WhenFull)}");
        stdout.WriteLine($"ingest:    {i.Socket}; queue {Units.FormatSize(i.QueueBytes)}; timestamps {YamlNames.Of(i.Timestamps)}; include [{string.Join(", ", i.Include)}]; exclude [{string.Join(", ", i.Exclude)}]");
        stdout.WriteLine($"control:   {s.ControlSocket}");
        stdout.WriteLine($"topics:    {s.Topics.Count}");
        foreach (var t in s.Topics)
        {
            var notes = new List<string>();
            if (t.Fifo is not null) notes.Add($"fifo {t.Fifo} ({YamlNames.Of(t.Format!.Value)})");
            if (t.Latched) notes.Add("latched");
            if (t.Drop != Recording.DropPolicy.Block) notes.Add(YamlNames.Of(t.Drop));
            if (t.Timestamps is { } ts) notes.Add($"timestamps {YamlNames.Of(ts)}");
            foreach (var (key, value) in s.ChannelMetadataFor(t.Topic)) notes.Add($"{key}={value}");
            stdout.WriteLine(notes.Count == 0 ? $"  {t.Topic}" : $"  {t.Topic}: {string.Join(", ", notes)}");
        }
        if (s.Metadata.Required.Count > 0) stdout.WriteLine($"required:  {string.Join(", ", s.Metadata.Required)}");
    }
}
