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
}
