using System.Text.RegularExpressions;
using Recorder.Offload;
using Recorder.Recording;

namespace Recorder.Config.Tests;

/// <summary>
/// The key tables (<see cref="RecorderKeys"/>) are the one declaration of every key: the example
/// files document each with its default, each declares how a reload treats it, the options types
/// they map onto are the stages' own, and what they print loads back.
/// </summary>
public sealed class KeyTableTests
{
    /// <summary>
    /// A key is documented when a line naming it (<c>key:</c>) either gives it a value equal to the
    /// default or says "default" next to the default's text. An unset or required key only needs to
    /// be named; an empty list or mapping may be written "none".
    /// </summary>
    private static bool Documented(string[] lines, OptionKeyInfo key, string? defaultText)
    {
        var leaf = key.Path[(key.Path.LastIndexOf('.') + 1)..];
        var naming = lines.Where(l => Regex.IsMatch(l, $@"(^|[^\w]){Regex.Escape(leaf)}:")).ToList();
        if (naming.Count == 0) return false;
        if (defaultText is null) return true;
        List<string> spellings = [defaultText];
        if (defaultText is "[]" or "{}") spellings.Add("none");
        foreach (var line in naming)
        {
            if (line.Contains("default", StringComparison.Ordinal) && spellings.Exists(s => line.Contains(s, StringComparison.Ordinal))) return true;
            var written = Regex.Match(line, $@"(^|[^\w.]){Regex.Escape(leaf)}:\s*([^\s,}}#]+)");
            if (written.Success && SameValue(written.Groups[2].Value, defaultText)) return true;
        }
        return false;
    }

    private static bool SameValue(string written, string value) =>
        written == value
        || (Units.TryParseDuration(written, out var a, out _) && Units.TryParseDuration(value, out var b, out _) && a == b)
        || (Units.TryParseSize(written, out var x, out _) && Units.TryParseSize(value, out var y, out _) && x == y);

    [Fact]
    public void Every_key_of_the_tables_is_in_the_example_files_with_its_default()
    {
        var fleet = File.ReadAllLines(RepoPaths.Config("fleet.example.yaml"));
        var device = File.ReadAllLines(RepoPaths.Config("device.example.yaml"));
        var fleetKeys = RecorderKeys.Fleet.Describe().ToList();
        var deviceKeys = RecorderKeys.Device.Describe().ToList();
        Assert.True(fleetKeys.Count > 50, "the fleet keys"); // the tables are not empty: a vacuous pass fails
        Assert.Equal(7, deviceKeys.Count);

        var missing = new List<string>();
        foreach (var key in fleetKeys)
            if (!Documented(fleet, key, Unquoted(key.Default))) missing.Add($"{key.Path} (default {key.Default ?? "unset"})");
        foreach (var key in deviceKeys)
        {
            // device_id defaults to the host name, whatever the machine is called.
            var text = key.Path == "device_id" ? "the host name" : Unquoted(key.Default);
            if (!Documented(device, key, text)) missing.Add($"{key.Path} (default {key.Default ?? "unset"})");
        }
        Assert.True(missing.Count == 0, "not documented with its default in the example files:\n" + string.Join("\n", missing));

        // A required key (an empty string by default) is named without a default.
        static string? Unquoted(string? text) => text is null or "\"\"" ? null : text.Trim('"');
    }

    [Fact]
    public void Each_key_declares_how_a_reload_treats_it_and_the_restart_only_ones_are_those_bound_at_start()
    {
        var keys = RecorderKeys.Describe().ToList();
        Assert.All(keys, k => Assert.True(Enum.IsDefined(k.Reload), k.Path));
        Assert.All(keys, k => Assert.False(string.IsNullOrWhiteSpace(k.Doc), k.Path + " has no documentation"));
        Assert.Equal(keys.Count, keys.Select(k => k.Path).Distinct().Count()); // each key declared once
        Assert.Equal(
            ["recording.dir", "ingest.socket", "ingest.queue", "ingest.timestamps", "ingest.reorder_window", "control_socket", "topics[].timestamps", "device_id"],
            keys.Where(k => k.Reload == ReloadClass.Restart).Select(k => k.Path));
    }

    [Fact]
    public void A_reload_keeps_the_restart_only_values_and_names_them()
    {
        var old = ConfigLoader.LoadFromText("recording: { dir: /a, chunk: { size: 1MiB } }\ningest: { socket: /run/a.sock }\n", "device_id: rt-1\n").Settings!;
        var next = ConfigLoader.LoadFromText("recording: { dir: /b, chunk: { size: 2MiB } }\ningest: { socket: /run/b.sock }\n", "device_id: rt-2\n").Settings!;
        var (kept, restartOnly) = RecorderKeys.KeepRestartOnly(old, next);
        Assert.Equal(["recording.dir", "ingest.socket", "device_id"], restartOnly); // the control socket stays beside the ingest socket: /run/control.sock
        Assert.Equal(("/a", 2 << 20), (kept.Recording.Directory, kept.Recording.ChunkSize)); // the live key takes the new value
        Assert.Equal(("/run/a.sock", "/run/control.sock", "rt-1"), (kept.Ingest.Socket, kept.ControlSocket, kept.Device.DeviceId));
    }

    [Fact]
    public void The_sections_load_onto_the_stages_own_options_types()
    {
        var s = ConfigLoader.LoadFromText("recording: { dir: /d, fsync: never }\noffload: { endpoint: https://depot/files, token_file: /t }\n", null).Settings!;
        RecordingOptions recording = s.Recording;
        OffloadOptions offload = s.Offload!;
        Assert.Equal(("/d", FsyncPolicy.Never), (recording.Directory, recording.Fsync));
        Assert.Equal((new Uri("https://depot/files"), "/t"), (offload.Endpoint, offload.TokenFile));
        // The defaults are the stages' own: nothing in between repeats them.
        Assert.Equal(new RecordingOptions(), ConfigLoader.LoadFromText("", null).Settings!.Recording);
    }

    [Fact]
    public void The_effective_configuration_with_an_offload_section_loads_back_to_itself()
    {
        var fleet = """
            offload:
              endpoint: https://depot.example/files
              token_file: /etc/recorder/depot.token
              presence: networkmanager
              ssids: [depot-east]
              retry: { min: 2s }
            """;
        var result = ConfigLoader.LoadFromText(fleet, "device_id: rt-1\n");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var yaml = EffectiveConfig.ToYaml(result);
        Assert.Contains("\noffload:\n  enabled: true ", yaml, StringComparison.Ordinal);
        Assert.Matches(@"\n  endpoint: ""https://depot.example/files"" +# fleet.yaml:2:13\n", yaml);
        Assert.Matches(@"\n  retry:\n    min: 2s +# fleet.yaml:6:17\n    max: 5m +# default\n", yaml);

        var again = ConfigLoader.LoadFromText(null, yaml, deviceFile: "effective.yaml");
        Assert.True(again.Succeeded, string.Join("\n", again.Errors));
        Assert.Equal(RecorderKeys.Flatten(result.Settings!), RecorderKeys.Flatten(again.Settings!));
    }

    [Fact]
    public void A_chunk_size_beyond_what_the_writer_holds_is_judged_as_written()
    {
        var result = ConfigLoader.LoadFromText("recording: { chunk: { size: 8GiB } }", null);
        Assert.Equal(
        [
            "fleet.yaml:1:29: recording.chunk.size (8GiB) must not be larger than recording.split.size (2GiB)",
            "fleet.yaml:1:29: recording.chunk.size must be between 1KiB and 64MiB, got 8GiB",
        ], result.Errors.Select(e => e.ToString()).Order(StringComparer.Ordinal));
    }
}
