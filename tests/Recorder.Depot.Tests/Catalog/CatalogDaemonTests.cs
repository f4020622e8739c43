using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Recorder.Depot.Catalog;
using Recorder.Depot.Identity;
using Recorder.Mcap;
using Recorder.Tests;

namespace Recorder.Depot.Tests.Catalog;

public abstract partial class CatalogTests
{
    private const string DaemonDevice = "test-0001"; // DaemonProcess's device.yaml
    private const string Camera = "/camera/front";
    private const string Lidar = "/lidar";

    static CatalogTests()
    {
        // As in RecorderOffloadTests: run the recorder from its own build output (its apphost), unless $RECORDER_BINARY names one.
        if (DaemonProcess.NativeBinary is not null) return;
        var own = AppContext.BaseDirectory.Replace(Path.Combine("tests", "Recorder.Depot.Tests"), Path.Combine("src", "Recorder"), StringComparison.Ordinal);
        Environment.SetEnvironmentVariable("RECORDER_BINARY", Path.Combine(own, "recorder"));
    }

    /// <summary>
    /// The real recorder daemon records video (H.264 over a FIFO), JSON topics, marks, an operator
    /// change and drops (the writer stalled by the test hook while a drop_newest topic floods a
    /// 1 MiB queue), splits into files and offloads them into the depot. The catalog then holds,
    /// per file, exactly what `recorder info`, `recorder frames` and `recorder cat` report for the
    /// stored files, and the drops the daemon counted.
    /// </summary>
    [Fact]
    public async Task Recordings_from_the_recorder_daemon_are_cataloged_as_recorder_info_frames_and_cat_report_them()
    {
        var clip = Path.Combine(Depot.Root, "clip.h264");
        Run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "2", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-g", "15", "-bf", "0", "-f", "h264", clip);
        var packets = Run("ffprobe", "-v", "error", "-f", "h264", "-show_packets", "-show_entries", "packet=flags", "-of", "csv=p=0", clip)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.True(packets > 0, "ffprobe found no packets in the clip");

        var root = Directory.CreateTempSubdirectory("recorder-catalog-daemon-").FullName;
        File.WriteAllText(Path.Combine(root, "depot.token"), new TokenStore(Depot.App.Settings.TokensFile).Add(DaemonDevice) + "\n");
        var fleet = $$"""
            fleet: test-fleet
            recording:
              dir: {{Path.Combine(root, "rec")}}
              chunk: { size: 64KiB, max_age: 100ms, compression: lz4 }
              fsync: never
            ingest: { socket: {{Path.Combine(root, "ingest.sock")}}, queue: 1MiB }
            control_socket: {{Path.Combine(root, "control.sock")}}
            topics:
              - { topic: {{Camera}}, fifo: {{Path.Combine(root, "front.h264")}}, format: h264, frame_id: camera_front }
              - { topic: {{Lidar}}, drop: drop_newest }
            offload:
              endpoint: {{Depot.Endpoint}}
              insecure: true
              presence: manual
              token_file: {{Path.Combine(root, "depot.token")}}
              inactivity_timeout: 5s
              retry: { min: 50ms, max: 300ms }
              rescan_interval: 200ms
              delete_after_upload: true
            """;
        using var d = DaemonProcess.Start(fleetText: fleet, root: root, environment: new Dictionary<string, string> { ["RECORDER_TEST_HOOKS"] = "1" });

        // File 1: video, a JSON topic, two marks around an operator change.
        var fifo = Path.Combine(root, "front.h264");
        d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the video FIFO");
        await using (var w = new FileStream(fifo, FileMode.Open, FileAccess.Write)) await w.WriteAsync(await File.ReadAllBytesAsync(clip));
        await SocketProducer.Send(d.IngestSocket, "/imu", 200, chunked: true);
        d.WaitFor(() => d.TopicCounts().GetValueOrDefault(Camera) == (ulong)packets && d.TopicCounts().GetValueOrDefault("/imu") == 200, TimeSpan.FromSeconds(30), "the frames and /imu recorded");
        Assert.True(d.Control("mark", ("text", "hard brake at the gate")).GetProperty("ok").GetBoolean());
        Assert.True(d.Control("operator", ("name", "rosa")).GetProperty("ok").GetBoolean());
        Assert.True(d.Control("mark", ("text", "second lap")).GetProperty("ok").GetBoolean());
        d.Control("split");
        d.WaitFor(() => d.FinishedFiles().Count == 1, TimeSpan.FromSeconds(30), "the first file to finish");

        // File 2: the writer stalls (test hook, as a hung disk) while /lidar floods the 1 MiB queue: drop_newest drops.
        Assert.True(d.Control("test-stall", ("seconds", "2")).GetProperty("ok").GetBoolean());
        await Flood(d.IngestSocket, Lidar, 1500, 2048);
        d.WaitFor(() => LidarAccounted(d) == 1500, TimeSpan.FromSeconds(60), "every /lidar message written or dropped");
        var statusDrops = TopicDrops(d);
        Assert.True(statusDrops.GetValueOrDefault(Lidar) > 0, "the flood during the stall dropped nothing: this round proves nothing");
        d.Control("split");
        d.WaitFor(() => d.FinishedFiles().Count == 2, TimeSpan.FromSeconds(30), "the second file to finish");

        // Offload both finished files (and their companions) into the depot.
        var finished = Directory.EnumerateFiles(Path.Combine(root, "rec", DaemonDevice), "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".active", StringComparison.Ordinal)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Contains(finished, f => f!.EndsWith(".vidx", StringComparison.Ordinal));
        Assert.True(d.Control("offload", ("action", "now")).GetProperty("ok").GetBoolean());
        d.WaitFor(() => d.Control("offload", ("action", "status")).GetProperty("result").GetProperty("deleted").GetInt32() >= finished.Count,
            TimeSpan.FromSeconds(120), "every finished file verified at the depot");
        Assert.Equal(0, d.Stop());
        await Indexer.WhenIdleAsync();

        var day = Directory.EnumerateDirectories(Path.Combine(Depot.Storage, DaemonDevice)).Single();
        // The two files offloaded while the daemon ran (the third, finished by the stop, may or may not have followed).
        var mcaps = finished.Where(f => f!.EndsWith(".mcap", StringComparison.Ordinal)).Select(f => Path.Combine(day, f!)).ToList();
        Assert.Equal(2, mcaps.Count);
        var catalogDrops = new Dictionary<string, long>(StringComparer.Ordinal);
        var allEvents = new List<string>();
        foreach (var mcap in mcaps)
        {
            var key = $"{DaemonDevice}/{Path.GetFileName(day)}/{Path.GetFileName(mcap)}";
            var entry = Database.GetRecording(key);
            Assert.True(entry is not null, $"{key} is not in the catalog:\n{string.Join("\n", Depot.Log.Lines)}");
            Assert.Equal(RecordingStatus.Ok, entry.Recording.Status);

            // recorder info --json: the same time range, message count and per-topic counts, encodings and schemas.
            var info = Cli(root, "info", "--json", mcap);
            Assert.Equal(info.GetProperty("message_count").GetInt64(), entry.Recording.Messages);
            Assert.Equal(info.GetProperty("start_time").GetInt64(), entry.Recording.StartNs);
            Assert.Equal(info.GetProperty("end_time").GetInt64(), entry.Recording.EndNs);
            var channels = info.GetProperty("channels").EnumerateArray().ToList();
            foreach (var channel in channels)
            {
                var topic = entry.Topics.Single(t => t.Topic == channel.GetProperty("topic").GetString());
                Assert.Equal(channel.GetProperty("message_count").GetInt64(), topic.Messages);
                Assert.Equal(channel.GetProperty("message_encoding").GetString(), topic.MessageEncoding);
                Assert.Equal(channel.TryGetProperty("schema_name", out var schema) ? schema.GetString() : null, topic.SchemaName);
                Assert.Equal(channel.GetProperty("rate_hz").GetDouble(), Math.Round(topic.RateHz, 3), 3);
            }
            Assert.All(entry.Topics.Where(t => !channels.Any(c => c.GetProperty("topic").GetString() == t.Topic)), t => Assert.Equal(0, t.Messages));
            foreach (var t in entry.Topics) catalogDrops[t.Topic] = catalogDrops.GetValueOrDefault(t.Topic) + t.Drops;

            // recorder cat of /recorder/events: the same events, at the same times.
            var cat = CliLines(root, "cat", "--topic", "/recorder/events", "--json", mcap);
            Assert.Equal(cat.Select(e => (e.GetProperty("log_time").GetInt64(), e.GetProperty("data").GetProperty("type").GetString())),
                entry.Events.Select(e => (e.TimeNs, (string?)e.Type)));
            allEvents.AddRange(entry.Events.Select(e => e.Type + ":" + e.Text));

            // recorder frames --json: the same video topics, frames, keyframes, resolution and rate.
            var vidx = Path.ChangeExtension(mcap, ".vidx");
            if (File.Exists(vidx))
            {
                var frames = Cli(root, "frames", "--json", mcap).GetProperty("topics").EnumerateArray().ToList();
                Assert.Equal(frames.Count, entry.Video.Count);
                foreach (var f in frames)
                {
                    var v = entry.Video.Single(v => v.Topic == f.GetProperty("topic").GetString());
                    Assert.Equal((f.GetProperty("frames").GetInt64(), f.GetProperty("keyframes").GetInt64()), (v.Frames, v.Keyframes));
                    Assert.Equal((f.GetProperty("width").GetInt64(), f.GetProperty("height").GetInt64()), (v.Width, v.Height));
                    Assert.Equal(f.GetProperty("frame_rate_hz").GetDouble(), v.Fps, 2);
                }
            }
            else Assert.Empty(entry.Video);

            // Files: each stored file with its size and sha256.
            Assert.Equal(Directory.EnumerateFiles(day).Where(f => Recorder.Storage.RecordingLayout.BelongsTo(Path.GetFileName(f), Path.GetFileName(mcap)))
                    .Select(f => (Path.GetFileName(f), new FileInfo(f).Length, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))))).Order(),
                entry.Files.Select(f => (f.Name, f.Size, f.Sha256)).Order());
        }
        var first = Database.GetRecording($"{DaemonDevice}/{Path.GetFileName(day)}/{Path.GetFileName(mcaps[0])}")!;
        Assert.Equal(packets, first.Video.Single(v => v.Topic == Camera).Frames);
        // The operator change: a later recorder.device record in the same file, and the entry's operator is the last one.
        Assert.Equal(["tester", "rosa"], first.Metadata.Where(m => m.Record == "recorder.device" && m.Key == "operator").Select(m => m.Value));
        Assert.Equal("rosa", first.Recording.Operator);
        Assert.Equal("9.9.9", first.Recording.SoftwareVersion);
        Assert.Contains("mark:hard brake at the gate", allEvents);
        Assert.Contains("mark:second lap", allEvents);
        // The split waited for a keyframe that never came (the clip had ended): keyframe_wait_expired opens file 2, a gap.
        var second = Database.GetRecording($"{DaemonDevice}/{Path.GetFileName(day)}/{Path.GetFileName(mcaps[1])}")!;
        Assert.Contains(second.Events, e => e.Type == "keyframe_wait_expired");
        Assert.Equal(1, second.Recording.Gaps);
        // Drops: the catalog's per-topic sums are the daemon's own counts.
        Assert.Equal(statusDrops.Where(p => p.Value > 0).OrderBy(p => p.Key, StringComparer.Ordinal),
            catalogDrops.Where(p => p.Value > 0).ToDictionary(p => p.Key, p => (ulong)p.Value).OrderBy(p => p.Key, StringComparer.Ordinal));

        // And the API finds them by what happened.
        Assert.Equal([first.Recording.GroupKey], await Keys("event=" + Uri.EscapeDataString("hard brake")));
        Assert.Equal([first.Recording.GroupKey], await Keys("meta=operator:tester")); // only the first file began before the change
        Assert.DoesNotContain(first.Recording.GroupKey, await Keys("has_drops=true"));
        Assert.NotEmpty(await Keys("has_drops=true&topic=" + Uri.EscapeDataString(Lidar)));
        var device = (await Get("/api/devices")).GetProperty("devices").EnumerateArray().Single(x => x.GetProperty("device_id").GetString() == DaemonDevice);
        Assert.Equal((long)statusDrops.Values.Aggregate(0UL, (a, b) => a + b), device.GetProperty("drops").GetInt64());
        Assert.Equal("9.9.9", device.GetProperty("software_version").GetString());
    }

    /// <summary>
    /// A real full disk (a tmpfs, as in FullDiskTests): the daemon cannot write, drops what it
    /// cannot hold, resumes when space returns and opens the next file with a write_gap event.
    /// Offloaded into the depot, the catalog counts the gap and holds the event as `recorder cat` shows it.
    /// </summary>
    [Fact]
    public async Task A_write_gap_from_a_full_disk_is_cataloged_with_its_event()
    {
        var root = Directory.CreateTempSubdirectory("recorder-catalog-gap-").FullName;
        var mount = Path.Combine(root, "disk");
        Directory.CreateDirectory(mount);
        if (Run2("mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mount) is { Code: not 0 } failed)
        {
            if (Environment.GetEnvironmentVariable("RECORDER_TESTS_NO_MOUNT") == "1") return; // declared: this machine cannot mount
            Assert.Fail($"cannot mount a tmpfs for the write-gap test ({failed.Output.Trim()}); run as root, or set RECORDER_TESTS_NO_MOUNT=1 where mounting is impossible");
        }
        try
        {
            var filler = Path.Combine(mount, "filler.bin");
            File.WriteAllBytes(filler, new byte[5 << 20]); // about 3 MiB left for the daemon
            File.WriteAllText(Path.Combine(root, "depot.token"), new TokenStore(Depot.App.Settings.TokensFile).Add(DaemonDevice) + "\n");
            var fleet = $$"""
                fleet: test-fleet
                recording:
                  dir: {{Path.Combine(mount, "rec")}}
                  chunk: { size: 32KiB, max_age: 100ms, compression: none }
                  fsync: never
                storage: { min_free_bytes: 0 }
                ingest: { socket: {{Path.Combine(root, "ingest.sock")}} }
                control_socket: {{Path.Combine(root, "control.sock")}}
                offload:
                  endpoint: {{Depot.Endpoint}}
                  insecure: true
                  presence: manual
                  token_file: {{Path.Combine(root, "depot.token")}}
                  inactivity_timeout: 5s
                  retry: { min: 50ms, max: 300ms }
                  rescan_interval: 200ms
                  delete_after_upload: true
                """;
            using var d = DaemonProcess.Start(fleetText: fleet, root: root);
            await Flood(d.IngestSocket, "/full", 3000, 2048); // about 6 MiB: more than fits
            d.WaitFor(() => State(d) == "disk_full", TimeSpan.FromSeconds(60), "the writer to report disk_full");
            File.Delete(filler);
            d.WaitFor(() => State(d) is "recording" or "idle", TimeSpan.FromSeconds(60), "the writer to resume");
            await Flood(d.IngestSocket, "/full", 100, 2048);
            d.Control("split");
            var device = Path.Combine(mount, "rec", DaemonDevice);
            d.WaitFor(() => Directory.EnumerateFiles(device, "*.mcap", SearchOption.AllDirectories).Count() >= 2, TimeSpan.FromSeconds(60), "the cut-off file (recovered) and the resumed one (split)");
            var finished = Directory.EnumerateFiles(device, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".active", StringComparison.Ordinal))
                .Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToList();
            Assert.True(d.Control("offload", ("action", "now")).GetProperty("ok").GetBoolean());
            d.WaitFor(() => d.Control("offload", ("action", "status")).GetProperty("result").GetProperty("deleted").GetInt32() >= finished.Count,
                TimeSpan.FromSeconds(120), "every finished file verified at the depot");
            Assert.Equal(0, d.Stop());
            await Indexer.WhenIdleAsync();

            var day = Directory.EnumerateDirectories(Path.Combine(Depot.Storage, DaemonDevice)).Single();
            var gaps = 0L;
            foreach (var name in finished.Where(f => f.EndsWith(".mcap", StringComparison.Ordinal)))
            {
                var entry = Database.GetRecording($"{DaemonDevice}/{Path.GetFileName(day)}/{name}")!;
                Assert.Equal(RecordingStatus.Ok, entry.Recording.Status);
                var cat = CliLines(root, "cat", "--topic", "/recorder/events", "--json", Path.Combine(day, name));
                Assert.Equal(cat.Select(e => (e.GetProperty("log_time").GetInt64(), e.GetProperty("data").GetProperty("type").GetString())),
                    entry.Events.Select(e => (e.TimeNs, (string?)e.Type)));
                Assert.Equal(cat.Count(e => e.GetProperty("data").GetProperty("type").GetString() is "write_gap" or "keyframe_wait_expired"), entry.Recording.Gaps);
                gaps += entry.Recording.Gaps;
            }
            Assert.True(gaps >= 1, "the disk filled and space returned, so a file must carry write_gap; else this test proved nothing");
            Assert.NotEmpty(await Keys("event=" + Uri.EscapeDataString("write gap")));
            var row = (await Get("/api/devices")).GetProperty("devices").EnumerateArray().Single(x => x.GetProperty("device_id").GetString() == DaemonDevice);
            Assert.Equal(gaps, row.GetProperty("gaps").GetInt64());
        }
        finally
        {
            if (Run2("umount", mount).Code != 0) Run2("umount", "-l", mount); // never leave it mounted
            Directory.Delete(root, recursive: true);
        }
    }

    private static string? State(DaemonProcess d) => d.Control("status").GetProperty("result").GetProperty("state").GetString();

    private static (int Code, string Output) Run2(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static ulong LidarAccounted(DaemonProcess d)
    {
        var t = d.Control("status").GetProperty("result").GetProperty("topics").EnumerateArray().FirstOrDefault(t => t.GetProperty("topic").GetString() == Lidar);
        return t.ValueKind == JsonValueKind.Undefined ? 0 : t.GetProperty("messages").GetUInt64() + t.GetProperty("drops").GetUInt64();
    }

    private static Dictionary<string, ulong> TopicDrops(DaemonProcess d) =>
        d.Control("status").GetProperty("result").GetProperty("topics").EnumerateArray()
            .ToDictionary(t => t.GetProperty("topic").GetString()!, t => t.GetProperty("drops").GetUInt64());

    /// <summary>An MCAP producer on the ingest socket sending <paramref name="count"/> messages of <paramref name="size"/> bytes as fast as it can.</summary>
    private static async Task Flood(string socketPath, string topic, int count, int size)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false, Library = "flood" }, leaveOpen: true);
        var channel = writer.AddChannel(topic, "application/octet-stream");
        var payload = new byte[size];
        for (var i = 0; i < count; i++)
        {
            var now = (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
            writer.WriteMessage(channel, (uint)i, now, now, payload);
        }
        writer.Finish();
    }

    private static JsonElement Cli(string root, params string[] args)
    {
        var (code, output, error) = DaemonProcess.RunCli(root, null, args);
        Assert.True(code == 0, $"recorder {string.Join(' ', args)}: {code}\n{error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static List<JsonElement> CliLines(string root, params string[] args)
    {
        var (code, output, error) = DaemonProcess.RunCli(root, null, args);
        Assert.True(code == 0, $"recorder {string.Join(' ', args)}: {code}\n{error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    private static string Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} failed ({p.ExitCode}; install it with .ci/setup): {stderr.Result}");
        return stdout;
    }
}
