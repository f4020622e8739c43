using System.Diagnostics;

namespace Recorder.Tests;

/// <summary>
/// What the packaged service needs of the daemon and the CLI beyond recording: the modes of what
/// it creates under the unit's UMask=, journal priorities on stderr, and control verbs that work
/// while the fleet file is broken.
/// </summary>
[Collection("daemon")]
public sealed class ServiceTests
{
    private const UnixFileMode OwnerAndGroupReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>Every socket and FIFO under <paramref name="root"/>, found by type (find -type s/p), with its permission bits.</summary>
    private static Dictionary<string, string> SocketsAndFifos(string root)
    {
        var info = new ProcessStartInfo("find", [root, "(", "-type", "s", "-o", "-type", "p", ")", "-printf", "%y %m %p\\n"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var find = Process.Start(info)!;
        var lines = find.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        find.WaitForExit();
        return lines.Select(l => l.Split(' ', 3)).ToDictionary(p => Path.GetRelativePath(root, p[2]), p => p[0] + " " + p[1]);
    }

    [Theory]
    [InlineData("0077")]
    [InlineData("0027")]
    public void Every_socket_and_FIFO_the_daemon_creates_is_group_writable_under_a_restrictive_umask(string umask)
    {
        var root = Directory.CreateTempSubdirectory("recorder-umask-").FullName;
        var topics = $$"""
            topics:
              - { topic: /diag, fifo: {{Path.Combine(root, "in", "diag.jsonl")}}, format: jsonl }
              - { topic: /raw, fifo: {{Path.Combine(root, "raw.mcap")}}, format: mcap }
              - { topic: /cam, socket: {{Path.Combine(root, "in", "cam.sock")}}, format: h264 }
            """;
        using var d = DaemonProcess.Start(fleetExtra: topics, root: root, umask: umask);
        d.WaitFor(() => File.Exists(Path.Combine(root, "in", "cam.sock")) && File.Exists(Path.Combine(root, "in", "diag.jsonl")) && File.Exists(Path.Combine(root, "raw.mcap")),
            TimeSpan.FromSeconds(30), "the topic inputs");

        var found = SocketsAndFifos(root);
        // Types: s = socket, p = FIFO; 660 = rw for the recorder's user and group, nothing for others.
        Assert.Equal(new Dictionary<string, string>
        {
            ["ingest.sock"] = "s 660",
            ["control.sock"] = "s 660",
            [Path.Combine("in", "cam.sock")] = "s 660",
            [Path.Combine("in", "diag.jsonl")] = "p 660",
            ["raw.mcap"] = "p 660",
        }, found);
        Assert.Equal(0, d.Stop());
    }

    [Fact]
    public void A_FIFO_kept_from_an_earlier_run_with_a_narrower_mode_is_given_the_group_write_bit()
    {
        var root = Directory.CreateTempSubdirectory("recorder-umask-").FullName;
        var fifo = Path.Combine(root, "diag.jsonl");
        using (var mkfifo = Process.Start("mkfifo", ["-m", "0640", fifo])) mkfifo.WaitForExit();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(fifo));
        using var d = DaemonProcess.Start(fleetExtra: $"topics:\n  - {{ topic: /diag, fifo: {fifo}, format: jsonl }}", root: root, umask: "0027");
        // The topic inputs start before the control socket listens, and Start waited for that.
        Assert.Equal(OwnerAndGroupReadWrite, File.GetUnixFileMode(fifo));
        Assert.Equal(0, d.Stop());
    }

    /// <summary>
    /// Runs `recorder ARGS` with stdout and stderr on one pipe that JOURNAL_STREAM names, as
    /// systemd connects a service to journald. A daemon (<paramref name="untilControlSocket"/>)
    /// is stopped with SIGTERM once its control socket exists. Returns the output lines.
    /// </summary>
    private static string[] RunUnderJournal(string root, string[] args, string? untilControlSocket = null)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        // The shell's own stdout ($$): inside $(...) fd 1 is the substitution's pipe.
        info.ArgumentList.Add("JOURNAL_STREAM=0:$(stat -L -c %i /proc/$$/fd/1) exec \"$@\" 2>&1");
        info.ArgumentList.Add("sh");
        foreach (var a in DaemonProcess.RecorderInvocation.Concat(args)) info.ArgumentList.Add(a);
        info.Environment["RECORDER_CONFIG_DIR"] = Path.Combine(root, "no-etc-recorder");
        info.Environment.Remove("NOTIFY_SOCKET");
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        if (untilControlSocket is not null)
        {
            var watch = Stopwatch.StartNew();
            while (!File.Exists(untilControlSocket) && !process.HasExited && watch.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(20);
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)));
        return output.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void Under_systemd_config_errors_and_warnings_reach_the_journal_at_error_and_warning_priority()
    {
        var root = Directory.CreateTempSubdirectory("recorder-journal-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(root, "fleet.yaml"), "recording:\n  chunk: { compression: brotli }\n");
            File.WriteAllText(Path.Combine(root, "device.yaml"), "vehicle: v1\n");
            var lines = RunUnderJournal(root, ["config", "check", "--config", Path.Combine(root, "fleet.yaml"), "--device", Path.Combine(root, "device.yaml")]);
            Assert.Equal(
            [
                $"<3>{root}/fleet.yaml:2:25: recording.chunk.compression must be one of none, lz4, zstd, got 'brotli'",
                $"<4>{root}/device.yaml:1:1: warning: device_id is not set; this device records as its host name '{Environment.MachineName}'",
            ], lines);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_service_start_reports_device_id_is_not_set_once_at_warning_priority()
    {
        var root = Directory.CreateTempSubdirectory("recorder-journal-").FullName;
        try
        {
            DaemonProcess.WriteFleet(root);
            File.WriteAllText(Path.Combine(root, "device.yaml"), "vehicle: v1\n");
            string[] Unit(string directive) => File.ReadLines(Path.Combine(Recorder.Mcap.Tests.RepoPaths.Root, "recorder.service"))
                .Single(l => l.StartsWith(directive + "=", StringComparison.Ordinal))[(directive.Length + 1)..]
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(w => w.Replace("/etc/recorder", root, StringComparison.Ordinal)).ToArray();

            // ExecStartPre=, then ExecStart=, as systemd runs them on a start.
            var pre = RunUnderJournal(root, Unit("ExecStartPre"));
            var run = RunUnderJournal(root, Unit("ExecStart"), untilControlSocket: Path.Combine(root, "control.sock"));
            var warnings = pre.Concat(run).Where(l => l.Contains("device_id is not set", StringComparison.Ordinal)).ToList();
            Assert.Equal([$"<4>{root}/device.yaml:1:1: warning: device_id is not set; this device records as its host name '{Environment.MachineName}'"], warnings);
            Assert.All(run, l => Assert.Matches(@"^<[0-7]>", l));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Control_verbs_reach_the_daemon_on_the_packaged_socket_while_the_fleet_file_is_broken()
    {
        using var d = DaemonProcess.Start();
        // The CLI's view: the daemon's files are the machine's /etc/recorder ones, and its control socket the packaged one.
        var machine = new Dictionary<string, string> { ["RECORDER_CONFIG_DIR"] = d.Root, ["RECORDER_RUNTIME_DIR"] = d.Root };
        Assert.Equal(0, DaemonProcess.RunCli(d.Root, machine, "status").Code);

        File.AppendAllText(d.FleetFile, "\nrecording: [\n");
        var warning = $"recorder: warning: {d.FleetFile} has 1 error(s) (first: {d.FleetFile}:";
        var (code, stdout, stderr) = DaemonProcess.RunCli(d.Root, machine, "status");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("state:", stdout);
        Assert.StartsWith(warning, stderr);
        Assert.Contains($"); using the packaged control socket {d.ControlSocket}", stderr);

        // reload: the daemon answers with the same errors, and the command fails.
        (code, stdout, stderr) = DaemonProcess.RunCli(d.Root, machine, "reload");
        Assert.Equal(1, code);
        Assert.StartsWith(warning, stderr);
        Assert.Contains($"\nrecorder: {d.FleetFile}:", stderr);
        Assert.Equal(0, d.Stop());
    }
}
