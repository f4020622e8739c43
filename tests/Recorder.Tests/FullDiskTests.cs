using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Recorder.Mcap;
using Recorder.Mcap.Tests;

namespace Recorder.Tests;

/// <summary>
/// A real full disk: the daemon records onto a small tmpfs until the kernel says ENOSPC. Root is
/// needed to mount it (the tests run as root here and in CI). Where mounting is not permitted the
/// test fails, unless RECORDER_TESTS_NO_MOUNT=1 says this machine cannot mount (then it says so
/// and returns): a silent skip would let CI pass without the check.
/// </summary>
[Collection("daemon")]
public sealed class FullDiskTests
{
    private const int PayloadBytes = 2048;

    [Fact]
    public async Task A_full_filesystem_is_survived_losses_are_counted_per_topic_and_recording_resumes_when_space_returns()
    {
        var root = Directory.CreateTempSubdirectory("recorder-fulldisk-").FullName;
        var mount = Path.Combine(root, "disk");
        Directory.CreateDirectory(mount);
        if (!TryMountTmpfs(mount, "8m", out var why))
        {
            Directory.Delete(root, recursive: true);
            if (Environment.GetEnvironmentVariable("RECORDER_TESTS_NO_MOUNT") == "1") return; // declared: this machine cannot mount
            Assert.Fail($"cannot mount a tmpfs for the full-disk test ({why}); run as root, or set RECORDER_TESTS_NO_MOUNT=1 where mounting is impossible");
        }
        try
        {
            // 5 MiB of the 8 taken by a filler: what the daemon can write before ENOSPC is about 3 MiB.
            var filler = Path.Combine(mount, "filler.bin");
            File.WriteAllBytes(filler, new byte[5 << 20]);
            using var d = DaemonProcess.Start(
                recording: "",
                // min_free_bytes 0: no storage limit steps in first; the kernel's ENOSPC is what is under test.
                fleetExtra: "storage: { min_free_bytes: 0 }",
                chunk: "{ size: 32KiB, max_age: 100ms, compression: none }",
                root: root,
                recordingDir: Path.Combine(mount, "rec"));

            // Two producers, 2 KiB messages, about 8 MiB in all: far more than fits.
            var sent = new Dictionary<string, int> { ["/full/a"] = 2000, ["/full/b"] = 2000 };
            await Task.WhenAll(sent.Select(p => Produce(d.IngestSocket, p.Key, 0, p.Value)));
            d.WaitFor(() => State(d) == "disk_full", TimeSpan.FromSeconds(60), "the writer to report disk_full");
            WaitAccounted(d, sent, "every message sent to be counted as written, dropped or lost");
            Assert.True(d.IsRunning);

            // Space returns: the cut-off file is finished and recording resumes.
            File.Delete(filler);
            d.WaitFor(() => State(d) is "recording" or "idle", TimeSpan.FromSeconds(60), "the writer to resume");
            foreach (var topic in sent.Keys.ToList())
            {
                await Produce(d.IngestSocket, topic, sent[topic], 100);
                sent[topic] += 100;
            }
            WaitAccounted(d, sent, "the messages after the resume to be counted");
            var status = d.Control("status").GetProperty("result");
            Assert.Equal(0, d.Stop());

            var files = d.FinishedFiles(Path.Combine(mount, "rec"));
            var held = new Dictionary<string, List<uint>>();
            var cutOff = 0;
            foreach (var file in files)
            {
                var doctor = new StringWriter();
                Assert.True(Recorder.Cli.CommandLine.Run(["doctor", file], doctor, doctor) == 0, $"recorder doctor {file}:\n{doctor}");
                var dump = NodeInterop.Dump(file); // @mcap/core reads it, the cut-off file included
                using var reader = McapIndexedReader.Open(file);
                // The cut-off file has no file_end record: it was finished by recovery, not by the writer.
                if (!reader.MetadataIndexes.Any(m => m.Name == "recorder.file_end")) cutOff++;
                var messages = reader.ReadMessages().ToList();
                Assert.Equal(messages.Count, dump["messages"]!.AsArray().Count);
                foreach (var m in messages.Where(m => sent.ContainsKey(m.Channel.Topic)))
                    (held.TryGetValue(m.Channel.Topic, out var list) ? list : held[m.Channel.Topic] = new()).Add(m.Message.Sequence);
            }
            Assert.True(cutOff >= 1, "a file was cut off by ENOSPC and recovered");

            var lostOrDropped = 0UL;
            foreach (var t in status.GetProperty("topics").EnumerateArray().Where(t => sent.ContainsKey(t.GetProperty("topic").GetString()!)))
            {
                var topic = t.GetProperty("topic").GetString()!;
                var sequences = held.GetValueOrDefault(topic) ?? [];
                Assert.Equal(sequences.Count, sequences.Distinct().Count()); // nothing twice
                var inFiles = (ulong)sequences.Count;
                var messages = t.GetProperty("messages").GetUInt64();
                var drops = t.GetProperty("drops").GetUInt64();
                var lost = t.GetProperty("lost").GetUInt64();
                // Per topic: "messages" is what the files hold plus what was lost in the open chunk,
                // and what the producer sent minus what the files hold is exactly what is reported lost or dropped.
                Assert.Equal(messages, inFiles + lost);
                Assert.Equal((ulong)sent[topic] - inFiles, lost + drops);
                // Everything sent after the resume is there.
                Assert.True(Enumerable.Range(sent[topic] - 100, 100).All(i => sequences.Contains((uint)i)), $"{topic}: messages after the resume are missing");
                lostOrDropped += lost + drops;
            }
            Assert.True(lostOrDropped > 0, "the disk filled up, so something must have been lost or dropped; else this test proved nothing");
            Assert.True(status.GetProperty("lost_in_open_chunks").GetUInt64() > 0, "ENOSPC cut off an open chunk");
        }
        finally
        {
            Unmount(mount);
            Directory.Delete(root, recursive: true);
        }
    }

    private static string? State(DaemonProcess d) => d.Control("status").GetProperty("result").GetProperty("state").GetString();

    /// <summary>True when, per topic, written + dropped = sent (everything the producers sent has been dealt with).</summary>
    private static void WaitAccounted(DaemonProcess d, Dictionary<string, int> sent, string what)
    {
        try
        {
            d.WaitFor(() => Accounted(d, sent), TimeSpan.FromSeconds(60), what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\nsent: {string.Join(", ", sent)}\nstatus: {d.Control("status").GetProperty("result")}", e);
        }
    }

    private static bool Accounted(DaemonProcess d, Dictionary<string, int> sent)
    {
        var topics = d.Control("status").GetProperty("result").GetProperty("topics").EnumerateArray()
            .ToDictionary(t => t.GetProperty("topic").GetString()!, t => t.GetProperty("messages").GetUInt64() + t.GetProperty("drops").GetUInt64());
        return sent.All(p => topics.GetValueOrDefault(p.Key) == (ulong)p.Value);
    }

    /// <summary>Messages <paramref name="first"/>.. of a topic with 2 KiB payloads, unchunked, flushed every 50 so they arrive over time.</summary>
    private static async Task Produce(string socketPath, string topic, int first, int count)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false, Library = "full-disk-test" }, leaveOpen: true);
        var channel = writer.AddChannel(topic, "json", writer.AddSchema("test.Padded", "jsonschema", "{\"type\":\"object\"}"u8.ToArray()));
        var random = new Random(topic.GetHashCode(StringComparison.Ordinal) ^ first);
        var pad = new byte[PayloadBytes / 2];
        for (var i = first; i < first + count; i++)
        {
            random.NextBytes(pad); // incompressible, so bytes on disk track bytes sent
            var now = (ulong)(DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            writer.WriteMessage(channel, (uint)i, now, now, Encoding.UTF8.GetBytes($"{{\"seq\":{i},\"pad\":\"{Convert.ToHexString(pad)}\"}}"));
            if (i % 50 == 0) writer.Flush();
        }
        writer.Finish();
    }

    private static bool TryMountTmpfs(string path, string size, out string why)
    {
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "tmpfs", path);
        why = $"mount exited {code}: {output.Trim()}";
        return code == 0;
    }

    private static void Unmount(string path)
    {
        if (Run("umount", path).Code != 0) Run("umount", "-l", path); // lazy as a last resort: never leave it mounted
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
