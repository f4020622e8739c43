using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Recorder.Mcap;

namespace Recorder.Tests;

/// <summary>SIGHUP reloads while producers write: nothing is lost, topic changes take effect, a bad file changes nothing.</summary>
[Collection("daemon")]
public sealed class ReloadTests
{
    private const string Before = """
        topics:
          - { topic: /a, tags: { rev: "1" } }
        """;

    private static string After(string root) => $$"""
        topics:
          - { topic: /a, latched: true, tags: { rev: "2" } }
          - { topic: /fifo/new, fifo: {{Path.Combine(root, "new.jsonl")}}, format: jsonl, tags: { source: fifo } }
        """;

    /// <summary>One producer connection with two topics, /a and /b, a message on each every couple of milliseconds.</summary>
    private static async Task<int> Produce(string socketPath, TimeSpan duration)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false, Library = "reload-test" }, leaveOpen: true);
        var schema = writer.AddSchema("test.Sample", "jsonschema", "{\"type\":\"object\"}"u8.ToArray());
        var a = writer.AddChannel("/a", "json", schema);
        var b = writer.AddChannel("/b", "json", schema);
        var clock = Stopwatch.StartNew();
        var i = 0;
        for (; clock.Elapsed < duration; i++)
        {
            var now = (ulong)DateTime.UtcNow.Ticks * 100;
            writer.WriteMessage(a, (uint)i, now, now, Encoding.UTF8.GetBytes($"{{\"seq\":{i}}}"));
            writer.WriteMessage(b, (uint)i, now, now, Encoding.UTF8.GetBytes($"{{\"seq\":{i}}}"));
            writer.Flush();
            await Task.Delay(2);
        }
        writer.Finish();
        return i;
    }

    private static async Task WriteFifo(string path, int from, int count)
    {
        await using var fifo = new StreamWriter(new FileStream(path, FileMode.Open, FileAccess.Write));
        for (var n = from; n < from + count; n++) await fifo.WriteLineAsync($"{{\"n\":{n}}}");
    }

    [Fact]
    public async Task SIGHUP_applies_topic_changes_to_running_producers_without_losing_a_message_or_restarting_the_file()
    {
        using var d = DaemonProcess.Start(fleetExtra: Before, ingestExtra: ", exclude: [\"/b\"]");
        var producer = Produce(d.IngestSocket, TimeSpan.FromSeconds(6));
        await Task.Delay(1500);
        Assert.Equal(0UL, d.TopicCounts().GetValueOrDefault("/b")); // excluded so far

        // The new configuration: /a latched with a new tag, a new FIFO topic, /b no longer excluded, bigger chunks.
        DaemonProcess.WriteFleet(d.Root, After(d.Root), chunk: "{ size: 256KiB, max_age: 200ms, compression: zstd }");
        d.Signal("HUP");
        d.WaitFor(() => d.Output.Contains("Configuration reloaded: 2 topics, 1 FIFO inputs added, 0 removed", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the reload");
        var fifo = Path.Combine(d.Root, "new.jsonl");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the new FIFO");
        await WriteFifo(fifo, 0, 10);
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault("/b") > 0, TimeSpan.FromSeconds(10), "/b to be recorded");

        // A broken file: rejected with its exact error, the configuration in force stays (the FIFO keeps working).
        File.AppendAllText(d.FleetFile, "\nstorage: { max_bytes: lots }\n");
        var line = File.ReadAllLines(d.FleetFile).Length;
        d.Signal("HUP");
        d.WaitFor(() => d.Output.Contains("Reload rejected (1 errors); the previous configuration stays in force", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the rejected reload");
        var error = $"{d.FleetFile}:{line}:23: storage.max_bytes: expected a size like 512MiB or 2GiB, got 'lots'";
        Assert.True(d.Output.Contains("Configuration error: " + error, StringComparison.Ordinal), $"expected '{error}' in:\n{d.Output}");
        var viaControl = d.Control("reload");
        Assert.False(viaControl.GetProperty("ok").GetBoolean());
        Assert.Equal(error, viaControl.GetProperty("error").GetString());
        await WriteFifo(fifo, 10, 5);

        // The tag change shows in the next file.
        Assert.True(d.Control("split").GetProperty("ok").GetBoolean());
        var total = await producer;
        Assert.Equal(0, d.Stop());

        var files = d.FinishedFiles();
        Assert.Equal(2, files.Count); // the reloads did not restart the file; the split did
        var perFile = files.Select(Read).ToList();
        foreach (var file in files)
        {
            var doctor = new StringWriter();
            Assert.True(Recorder.Cli.CommandLine.Run(["doctor", file], doctor, doctor) == 0, doctor.ToString());
        }

        // /a: every message exactly once (the second file also repeats the last one, now latched).
        var first = perFile[0].Messages.Where(m => m.Topic == "/a").Select(m => m.Sequence).ToList();
        var second = perFile[1].Messages.Where(m => m.Topic == "/a").Select(m => m.Sequence).ToList();
        Assert.Equal(first.Max(), second[0]); // the latched repeat opens the next file
        Assert.Equal(Enumerable.Range(0, total).Select(i => (uint)i), first.Concat(second.Skip(1)).Order());

        // /b: nothing while excluded, then every message from the first one selected.
        var b = perFile.SelectMany(f => f.Messages).Where(m => m.Topic == "/b").Select(m => m.Sequence).Order().ToList();
        Assert.NotEmpty(b);
        Assert.Equal(Enumerable.Range((int)b[0], total - (int)b[0]).Select(i => (uint)i), b);
        Assert.True(b[0] > 0);

        // The FIFO topic added by the reload, including what was written after the rejected reload.
        Assert.Equal(15, perFile.SelectMany(f => f.Messages).Count(m => m.Topic == "/fifo/new"));
        Assert.Equal("fifo", perFile[0].Channels["/fifo/new"]["source"]);

        // Channel metadata: the file open during the reload keeps rev 1; the next file has rev 2.
        Assert.Equal("1", perFile[0].Channels["/a"]["rev"]);
        Assert.Equal("2", perFile[1].Channels["/a"]["rev"]);
    }

    /// <summary>The unit's ExecReload= command line, with the packaged paths replaced by the test's.</summary>
    internal static string[] UnitCommand(string directive, DaemonProcess d)
    {
        var line = File.ReadLines(Path.Combine(Recorder.Mcap.Tests.RepoPaths.Root, "recorder.service")).Single(l => l.StartsWith(directive + "=", StringComparison.Ordinal));
        var words = line[(directive.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("/usr/bin/recorder", words[0]);
        return words.Skip(1).Select(w => w switch
        {
            "/etc/recorder/fleet.yaml" => d.FleetFile,
            "/etc/recorder/device.yaml" => Path.Combine(d.Root, "device.yaml"),
            _ => w,
        }).ToArray();
    }

    [Fact]
    public void The_units_reload_command_returns_once_the_new_configuration_is_in_force_and_fails_with_the_errors_when_it_is_rejected()
    {
        using var d = DaemonProcess.Start(fleetExtra: Before);
        var reload = UnitCommand("ExecReload", d);
        // The machine's packaged control socket is the daemon's: where `recorder reload` looks when the new file is broken.
        var machine = new Dictionary<string, string> { ["RECORDER_RUNTIME_DIR"] = d.Root };
        Assert.Equal("reload", reload[0]);

        // A good file: exit 0, and when the command returns the writer and the inputs already run with it (no waiting here).
        DaemonProcess.WriteFleet(d.Root, After(d.Root), chunk: "{ size: 256KiB, max_age: 200ms, compression: zstd }");
        var (code, stdout, stderr) = DaemonProcess.RunCli(d.Root, machine, reload);
        Assert.True(code == 0, stderr);
        Assert.StartsWith("reloaded: 2 topics, 1 FIFO inputs added, 0 removed\napplied: ", stdout.Replace("\r", "", StringComparison.Ordinal));
        Assert.Contains("recording.chunk.size", stdout);
        var settings = d.Control("status").GetProperty("result").GetProperty("settings");
        Assert.Equal(256 * 1024, settings.GetProperty("chunk_size").GetInt32());
        Assert.Equal("zstd", settings.GetProperty("compression").GetString());
        Assert.Equal(["/a"], settings.GetProperty("latched").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(Path.Combine(d.Root, "new.jsonl"), settings.GetProperty("inputs").EnumerateArray().Single().GetProperty("path").GetString());
        Assert.True(File.Exists(Path.Combine(d.Root, "new.jsonl")));

        // A broken file: exit 1 with the error on stderr; the configuration in force stays.
        File.AppendAllText(d.FleetFile, "\nstorage: { max_bytes: lots }\n");
        var line = File.ReadAllLines(d.FleetFile).Length;
        (code, stdout, stderr) = DaemonProcess.RunCli(d.Root, machine, reload);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains($"recorder: {d.FleetFile}:{line}:23: storage.max_bytes: expected a size like 512MiB or 2GiB, got 'lots'", stderr);
        Assert.Equal(256 * 1024, d.Control("status").GetProperty("result").GetProperty("settings").GetProperty("chunk_size").GetInt32());

        // SIGHUP still reloads (without an answer).
        DaemonProcess.WriteFleet(d.Root, After(d.Root), chunk: "{ size: 128KiB, max_age: 200ms, compression: zstd }");
        d.Signal("HUP");
        d.WaitFor(() => d.Control("status").GetProperty("result").GetProperty("settings").GetProperty("chunk_size").GetInt32() == 128 * 1024,
            TimeSpan.FromSeconds(10), "the SIGHUP reload");
        Assert.Equal(0, d.Stop());
    }

    private static (List<(string Topic, uint Sequence)> Messages, Dictionary<string, IReadOnlyDictionary<string, string>> Channels) Read(string file)
    {
        using var reader = McapIndexedReader.Open(file);
        var messages = reader.ReadMessages().Select(m => (m.Channel.Topic, m.Message.Sequence)).ToList();
        var channels = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var c in reader.Channels.Values) channels[c.Topic] = c.Metadata;
        return (messages, channels);
    }
}
