using System.Text.RegularExpressions;
using Recorder.Cli;
using static Recorder.Tests.RecorderCli;

namespace Recorder.Tests;

/// <summary>`recorder config check`, run in-process.</summary>
public sealed class ConfigCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-config-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string RepoConfig(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Recorder.sln"))) return Path.Combine(dir.FullName, "config", name);
        throw new InvalidOperationException("Recorder.sln not found");
    }

    [Fact]
    public void Check_of_the_example_files_prints_config_ok_and_a_summary()
    {
        var (code, output, err) = Run("config", "check", "--config", RepoConfig("fleet.example.yaml"), "--device", RepoConfig("device.example.yaml"));
        Assert.Equal(0, code);
        Assert.Equal("", err);
        var lines = output.Split('\n');
        Assert.Equal("config ok", lines[0]);
        Assert.Contains("fleet:     east-robotaxi (", output);
        Assert.Contains("device:    rt-0042, compute-rev-c, vehicle 0042, operator unassigned (", output);
        Assert.Contains("recording: /var/lib/recorder/recordings; chunk 1MiB or 1s, lz4; split 2GiB or 10m; fsync chunk", output);
        Assert.Contains("storage:   max 100GiB, keep 5GiB free, when full stop", output);
        Assert.Contains("control:   /run/recorder/control.sock", output);
        Assert.Contains("topics:    5", output);
        Assert.Contains("  /camera/front: fifo /run/recorder/camera_front.h264 (h264), frame_id=camera_front, sensitivity=pii", output);
    }

    [Fact]
    public void Check_without_files_checks_the_embedded_defaults()
    {
        var (code, output, _) = Run("config", "check");
        Assert.Equal(0, code);
        Assert.StartsWith("config ok", output);
        Assert.Contains("fleet:     default (embedded defaults)", output);
        Assert.Contains("recording: ./recordings;", output);
        Assert.Contains("ingest:    ./run/ingest.sock;", output);
        Assert.Contains("control:   ./run/control.sock", output);
        Assert.Contains($"device:    {Environment.MachineName}, unknown, operator unassigned (embedded defaults)", output);
    }

    [Fact]
    public void Check_prints_every_error_one_per_line_and_exits_one()
    {
        var fleet = Write("fleet.yaml", "fleet: f\nrecording:\n    chunk_sise: 1MiB\n    split: { size: lots }\n");
        var device = Write("device.yaml", "operator: alice\n");
        var (code, output, err) = Run("config", "check", "--config", fleet, "--device", device);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal(
        [
            $"{fleet}:3:5: unknown key 'chunk_sise' in 'recording' (did you mean 'chunk'?)",
            $"{fleet}:4:20: recording.split.size: expected a size like 512MiB or 2GiB, got 'lots'",
            $"{device}:1:1: warning: device_id is not set; this device records as its host name '{Environment.MachineName}'",
        ], err.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Check_of_a_missing_file_exits_one_and_names_it()
    {
        var missing = Path.Combine(_dir, "nope.yaml");
        var (code, _, err) = Run("config", "check", "--device", missing);
        Assert.Equal(1, code);
        Assert.Equal($"{missing}: no such file{Environment.NewLine}", err);
    }

    [Fact]
    public void Options_take_the_equals_form_too()
    {
        var fleet = Write("fleet.yaml", "fleet: west\n");
        var (code, output, _) = Run("config", "check", $"--config={fleet}");
        Assert.Equal(0, code);
        Assert.Contains("fleet:     west (", output);
    }

    [Theory]
    [InlineData(new[] { "config" }, "config needs a sub-command: check")]
    [InlineData(new[] { "config", "lint" }, "unknown config command 'lint' (expected check)")]
    [InlineData(new[] { "config", "check", "fleet.yaml" }, "config check takes no file arguments; use --config FLEET.yaml --device DEVICE.yaml, not 'fleet.yaml'")]
    [InlineData(new[] { "config", "check", "--fleet", "x" }, "unknown option '--fleet'")]
    [InlineData(new[] { "config", "check", "--config" }, "option --config needs a value")]
    public void Config_usage_errors_exit_two_with_a_specific_message(string[] args, string message)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains($"recorder: {message}", err);
        Assert.Contains("config check [--config FLEET.yaml] [--device DEVICE.yaml]", err);
    }

    [Fact]
    public void Check_prints_warnings_and_still_exits_zero()
    {
        var device = Write("device.yaml", "vehicle: v7\n");
        var (code, output, err) = Run("config", "check", "--device", device, "--quiet");
        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Equal($"{device}:1:1: warning: device_id is not set; this device records as its host name '{Environment.MachineName}'{Environment.NewLine}", err);
    }

    [Fact]
    public void Check_with_a_unit_reports_a_recording_directory_the_service_may_not_write_and_passes_once_a_drop_in_allows_it()
    {
        var fleet = Write("fleet.yaml", "recording: { dir: /srv/rec }\ningest: { socket: /run/recorder/ingest.sock }\n");
        var device = Write("device.yaml", "device_id: rt-1\n");
        var unit = Path.Combine(_dir, "recorder.service");
        File.Copy(Path.Combine(Recorder.Mcap.Tests.RepoPaths.Root, "recorder.service"), unit);

        var (code, output, err) = Run("config", "check", "--config", fleet, "--device", device, "--unit", unit);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith($"{fleet}:1:19: recording.dir '/srv/rec' is outside the paths recorder.service may write (ReadWritePaths=/data/recordings; ", err);
        Assert.EndsWith("Fix: `systemctl edit recorder` and add [Service] ReadWritePaths=/srv/rec" + Environment.NewLine, err);

        Directory.CreateDirectory(unit + ".d");
        File.WriteAllText(Path.Combine(unit + ".d", "override.conf"), "[Service]\nReadWritePaths=/srv/rec\n");
        (code, output, err) = Run("config", "check", "--config", fleet, "--device", device, "--unit", unit, "--quiet");
        Assert.True(code == 0, err);

        (code, _, err) = Run("config", "check", "--config", fleet, "--unit", Path.Combine(_dir, "none.service"));
        Assert.Equal(1, code);
        Assert.Contains("--unit " + Path.Combine(_dir, "none.service") + ": no such file", err);
    }

    [Fact]
    public void Check_effective_prints_the_merged_configuration_with_the_source_of_each_value()
    {
        var fleet = Write("fleet.yaml", "fleet: west\nrecording: { dir: /data/r, chunk: { size: 2MiB } }\n");
        var device = Write("device.yaml", "device_id: rt-5\nrecording: { chunk: { size: 4MiB } }\n");
        var (code, output, err) = Run("config", "check", "--config", fleet, "--device", device, "--effective");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.StartsWith($"# effective configuration: the embedded defaults, then {fleet}, then {device}", output);
        Assert.Matches($@"\n  dir: ""/data/r"" +# {Regex.Escape(fleet)}:2:19\n", output);
        Assert.Matches($@"\n    size: 4MiB +# {Regex.Escape(device)}:2:29\n", output);
        Assert.Matches(@"\n    max_age: 1s +# default\n", output);
        Assert.Matches($@"\ndevice_id: ""rt-5"" +# {Regex.Escape(device)}:1:12\n", output);
    }

    [Fact]
    public void Default_files_are_the_etc_recorder_ones_that_exist()
    {
        var args = Arguments.Parse([], [], ["--config", "--device"]);
        Assert.Equal((null, null), ConfigFiles.Resolve(args, _dir));
        var fleet = Write("fleet.yaml", "fleet: x\n");
        Assert.Equal((fleet, null), ConfigFiles.Resolve(args, _dir));
        var device = Write("device.yaml", "device_id: d\n");
        Assert.Equal((fleet, device), ConfigFiles.Resolve(args, _dir));
        var given = Arguments.Parse(["--config", "/x/f.yaml"], [], ["--config", "--device"]);
        Assert.Equal(("/x/f.yaml", device), ConfigFiles.Resolve(given, _dir));
        Assert.Equal("/etc/recorder", ConfigFiles.DefaultDirectory);
    }
}
