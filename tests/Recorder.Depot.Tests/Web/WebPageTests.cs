using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Recorder.Depot.Catalog;
using Recorder.Depot.Identity;
using Recorder.Depot.Web;
using Recorder.Mcap;
using Recorder.Mcap.Tests;
using Recorder.Tests;

namespace Recorder.Depot.Tests.Web;

/// <summary>
/// The depot's web pages in headless Chromium (Debian's, driven by puppeteer-core from
/// tests/interop/web-pages.mjs) against a depot filled by the real recorder daemon: video, marks,
/// an operator change, drops, and a second device. What the browser shows is compared with the
/// catalog (the truth the catalog tests establish against `recorder info`) and the thumbnail with
/// ffmpeg's own decode of the recorded clip. Screenshots go to $RECORDER_WEB_SCREENSHOTS, or
/// screenshots/ beside the test assembly.
/// </summary>
public sealed class WebPageTests : IAsyncLifetime
{
    private const string Device = "test-0001"; // DaemonProcess's device.yaml
    private const string OtherDevice = "dev-b";
    private const string Camera = "/camera/front";
    private const string Lidar = "/lidar";
    private TestDepot _depot = null!;

    static WebPageTests()
    {
        // As the catalog daemon test: the recorder from its own build output, unless $RECORDER_BINARY names one.
        if (DaemonProcess.NativeBinary is not null) return;
        var own = AppContext.BaseDirectory.Replace(Path.Combine("tests", "Recorder.Depot.Tests"), Path.Combine("src", "Recorder"), StringComparison.Ordinal);
        Environment.SetEnvironmentVariable("RECORDER_BINARY", Path.Combine(own, "recorder"));
    }

    public async Task InitializeAsync() => _depot = await TestDepot.StartAsync();

    public async Task DisposeAsync() => await _depot.DisposeAsync();

    private CatalogDatabase Database => (CatalogDatabase)_depot.App.Services.GetService(typeof(CatalogDatabase))!;

    private CatalogIndexer Indexer => (CatalogIndexer)_depot.App.Services.GetService(typeof(CatalogIndexer))!;

    public static string ScreenshotDir => Environment.GetEnvironmentVariable("RECORDER_WEB_SCREENSHOTS") is { Length: > 0 } dir
        ? dir : Path.Combine(AppContext.BaseDirectory, "screenshots");

    [Fact]
    public async Task Search_timeline_and_recording_pages_show_what_the_recorder_recorded_and_the_thumbnail_is_its_first_frame()
    {
        var (clip, first, second) = await FillFromRecorder();
        var all = Database.FindRecordings(new RecordingQuery { Limit = 1000 }).Recordings.Select(r => r.Id).ToList();
        Assert.True(all.Count >= 3, $"the depot holds {all.Count} recordings: too few to narrow");

        // Each filter, typed into the form; the truth is the catalog's answer to the same filter, and it must narrow.
        var firstEntry = Database.GetRecording(first)!;
        var secondEntry = Database.GetRecording(second)!;
        // The files of one session touch (the first one's last message may be logged after the second one's first): the range filters use its ends.
        var from = Format.Rfc3339(secondEntry.Recording.EndNs);
        var to = Format.Rfc3339(firstEntry.Recording.StartNs + 100); // RFC 3339 here has 100 ns resolution: round up
        (string Name, Dictionary<string, string> Fields, RecordingQuery Query, string? Screenshot)[] searches =
        [
            ("device", new() { ["device"] = OtherDevice }, new RecordingQuery { Device = OtherDevice }, null),
            ("from", new() { ["from"] = from }, new RecordingQuery { FromNs = CatalogApi.Time(from, "from") }, null),
            ("to", new() { ["to"] = to }, new RecordingQuery { ToNs = CatalogApi.Time(to, "to") }, null),
            ("topic", new() { ["topic"] = Camera }, new RecordingQuery { Topic = Camera }, null),
            ("event", new() { ["event"] = "hard bra" }, new RecordingQuery { EventText = "hard bra" }, "search-event.png"),
            ("meta", new() { ["meta"] = "file_sequence:1" }, new RecordingQuery { Meta = MetaTerm.ParseAll(["file_sequence:1"]) }, null),
            ("has_drops", new() { ["has_drops"] = "true" }, new RecordingQuery { HasDrops = true }, null),
            ("device+has_drops", new() { ["device"] = Device, ["has_drops"] = "true" }, new RecordingQuery { Device = Device, HasDrops = true }, null),
        ];
        var expected = searches.ToDictionary(s => s.Name, s => Database.FindRecordings(s.Query with { Limit = 1000 }).Recordings.Select(r => r.Id).ToList());
        foreach (var (name, ids) in expected)
            Assert.True(ids.Count > 0 && ids.Count < all.Count, $"the filter '{name}' selects {ids.Count} of {all.Count}: it proves nothing");
        Assert.Equal([first], expected["topic"]);
        Assert.Equal([first], expected["event"]);
        Assert.Equal([first], expected["to"]);
        Assert.DoesNotContain(first, expected["from"]);
        Assert.Contains(second, expected["has_drops"]);

        var plan = new
        {
            searches = searches.Select(s => new { name = s.Name, fields = s.Fields, screenshot = s.Screenshot }),
            device = Device,
            detail = first,
        };
        var report = RunBrowser(plan);

        foreach (var search in report.GetProperty("searches").EnumerateArray())
        {
            var name = search.GetProperty("name").GetString()!;
            var url = search.GetProperty("url").GetString()!;
            Assert.Equal(expected[name], Ids(search.GetProperty("ids")));
            Assert.Equal(expected[name], Ids(search.GetProperty("afterReload")));
            Assert.Equal(expected[name], Ids(search.GetProperty("fromUrl")));
            foreach (var (key, value) in searches.Single(s => s.Name == name).Fields)
            {
                Assert.Contains(Uri.EscapeDataString(key) + "=", url, StringComparison.Ordinal); // the filter is in the shareable URL
                if (key != "has_drops") Assert.Equal(value, search.GetProperty("values").GetProperty(key).GetString()); // and back in the form
            }
        }
        var recordings = Database.FindRecordings(new RecordingQuery { Limit = 1000 }).Recordings;
        Assert.Equal(recordings.OrderByDescending(r => r.EndNs - r.StartNs).ThenByDescending(r => r.Id).Select(r => r.Id), Ids(report.GetProperty("sorts").GetProperty("duration")));
        Assert.Equal(recordings.OrderByDescending(r => r.Bytes).ThenByDescending(r => r.Id).Select(r => r.Id), Ids(report.GetProperty("sorts").GetProperty("size")));
        Assert.Equal(all, Ids(report.GetProperty("sorts").GetProperty("time")));
        Assert.Equal(all, Ids(report.GetProperty("pages"))); // one per page, every one once, in order

        // The timeline: a bar per recording of the device (they are seconds long: none crosses midnight), a mark per event.
        var timeline = report.GetProperty("timeline");
        var deviceRecordings = Database.FindRecordings(new RecordingQuery { Device = Device, Limit = 1000 }).Recordings;
        var deviceEvents = Database.FindEvents(new EventQuery { Device = Device, Limit = 1000 }).Events;
        Assert.True(deviceEvents.Count >= 2, "the device has no marks: the timeline's marks prove nothing");
        Assert.Equal(deviceRecordings.Select(r => r.Id).Order(), Ids(timeline.GetProperty("bars")).Order());
        Assert.Equal(deviceEvents.Select(e => e.Id).Order(), Ids(timeline.GetProperty("marks")).Order());
        Assert.Equal(deviceRecordings.Where(r => r.Drops > 0).Select(r => r.Id).Order(), Ids(timeline.GetProperty("dropBars")).Order());
        Assert.StartsWith("/recordings/", timeline.GetProperty("enterOpens").GetString(), StringComparison.Ordinal);

        // The recording: its topics with their counts and drops, its events, its video's first keyframe.
        var detail = report.GetProperty("detail");
        Assert.Equal(firstEntry.Topics.Select(t => (t.Topic, Format.Number(t.Messages), Format.Number(t.Drops))),
            detail.GetProperty("topics").EnumerateArray().Select(t => (t.GetProperty("topic").GetString()!, t.GetProperty("messages").GetString()!, t.GetProperty("drops").GetString()!)));
        Assert.Contains(firstEntry.Topics, t => t.Topic == Camera && t.Messages > 0);
        Assert.Equal(firstEntry.Events.Select(e => e.Text), detail.GetProperty("events").EnumerateArray().Select(e => e.GetString()!));
        Assert.Contains("hard brake at the gate", firstEntry.Events.Select(e => e.Text));
        var thumbnail = detail.GetProperty("thumbnailFiles").EnumerateArray().Single().GetString()!;
        var png = await File.ReadAllBytesAsync(thumbnail);
        Assert.True(png.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]),
            $"the thumbnail is not a PNG: {System.Text.Encoding.UTF8.GetString(png.AsSpan(0, Math.Min(png.Length, 300)))}\n{string.Join("\n", _depot.Log.Lines.Where(l => l.Contains("thumbnail", StringComparison.Ordinal)))}");
        var shown = Rgb(thumbnail, null);
        var recorded = Rgb(clip, "h264");
        Assert.Equal(320 * 240 * 3, shown.Length);
        Assert.Equal(recorded.Length, shown.Length);
        var meanDifference = shown.Zip(recorded, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(meanDifference < 1.0, $"the thumbnail differs from the clip's first frame by {meanDifference:0.00} per channel on average");
        Assert.Equal(320, detail.GetProperty("thumbnails")[0].GetProperty("width").GetInt32());

        // Downloads serve the stored bytes with Range; Foxglove is pointed at the .mcap's download URL.
        var mcapPath = Path.Combine(_depot.Storage, firstEntry.Recording.GroupKey);
        Assert.Equal(206, detail.GetProperty("rangeStatus").GetInt32());
        Assert.Equal((await File.ReadAllBytesAsync(mcapPath))[..8].Select(b => (int)b), detail.GetProperty("rangeBytes").EnumerateArray().Select(b => b.GetInt32()));
        var foxglove = new Uri(detail.GetProperty("foxglove").GetString()!);
        Assert.Equal("app.foxglove.dev", foxglove.Host);
        Assert.Contains("ds=remote-file", foxglove.Query, StringComparison.Ordinal);
        Assert.Contains(Uri.EscapeDataString($"/download/{firstEntry.Recording.GroupKey}"), foxglove.Query, StringComparison.Ordinal);

        // The export link is /api/export of the recording's window: a valid MCAP (read by @mcap/core) holding the window, nothing outside it.
        var exportHref = detail.GetProperty("exportHref").GetString()!;
        Assert.Equal($"/api/export?device={Device}&start={firstEntry.Recording.StartNs}&end={firstEntry.Recording.EndNs}", exportHref);
        Assert.Equal(200, detail.GetProperty("exportStatus").GetInt32());
        var dump = NodeInterop.Run("node", ["mcap-dump.mjs", detail.GetProperty("exportFile").GetString()!], NodeInterop.Directory, TimeSpan.FromMinutes(2));
        Assert.True(dump.Code == 0, "@mcap/core refused the export: " + dump.Stderr);
        var exported = JsonDocument.Parse(dump.Stdout).RootElement.GetProperty("messages").EnumerateArray()
            .Select(m => long.Parse(m.GetProperty("logTime").GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(exported.Count >= firstEntry.Recording.Messages, $"the export holds {exported.Count} messages; the recording alone has {firstEntry.Recording.Messages} in its window");
        Assert.All(exported, t => Assert.InRange(t, firstEntry.Recording.StartNs, firstEntry.Recording.EndNs));

        // A depot without ffmpeg: no thumbnail, and the page says why.
        var withoutFfmpeg = new WebPages(Database, new Thumbnails(_depot.Storage, Path.Combine(_depot.Root, "no-thumbnails"),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Thumbnails>.Instance, useFfmpeg: false), _depot.Storage);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = $"/recordings/{first}";
        context.Request.Scheme = "http";
        context.Request.Host = new Microsoft.AspNetCore.Http.HostString("127.0.0.1");
        context.Response.Body = new MemoryStream();
        await withoutFfmpeg.HandleAsync(context);
        var withoutPage = System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.Equal(200, context.Response.StatusCode);
        Assert.Contains("ffmpeg is not installed", withoutPage, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", withoutPage, StringComparison.Ordinal);
        Assert.Contains(Camera, withoutPage, StringComparison.Ordinal);

        foreach (var shot in new[] { "recordings.png", "timeline.png", "recording.png", "devices.png", "search-event.png" })
            Assert.True(new FileInfo(Path.Combine(ScreenshotDir, shot)).Length > 1000, $"no screenshot {shot}");
    }

    private static List<long> Ids(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt64()).ToList();

    private JsonElement RunBrowser(object plan)
    {
        var work = Path.Combine(_depot.Root, "browser");
        Directory.CreateDirectory(work);
        var planFile = Path.Combine(work, "plan.json");
        File.WriteAllText(planFile, JsonSerializer.Serialize(plan));
        var (code, output, error) = NodeInterop.Run("node", ["web-pages.mjs", _depot.App.Url.ToString(), planFile, ScreenshotDir, work], NodeInterop.Directory, TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"web-pages.mjs failed ({code}):\n{error}\n{output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    /// <summary>The first frame of an image or clip as ffmpeg decodes it: 320×240 RGB24 bytes.</summary>
    private static byte[] Rgb(string file, string? format)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-v", "error", .. format is null ? [] : new[] { "-f", format }, "-i", file, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        using var bytes = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(bytes);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffmpeg could not decode {file}: {stderr.Result}");
        return bytes.ToArray();
    }

    /// <summary>
    /// The real recorder daemon records two files and offloads them: the first with H.264 video, a
    /// JSON topic and two marks around an operator change; the second with drops (the writer
    /// stalled by the test hook while a drop_newest topic floods its queue). A copy of the second
    /// file stored under another device makes the device filter narrow.
    /// </summary>
    private async Task<(string Clip, long First, long Second)> FillFromRecorder()
    {
        var clip = Path.Combine(_depot.Root, "clip.h264");
        Run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "2", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-g", "15", "-bf", "0", "-f", "h264", clip);
        var root = Directory.CreateTempSubdirectory("recorder-web-daemon-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(root, "depot.token"), new TokenStore(_depot.App.Settings.TokensFile).Add(Device) + "\n");
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
                  endpoint: {{_depot.Endpoint}}
                  insecure: true
                  presence: manual
                  token_file: {{Path.Combine(root, "depot.token")}}
                  inactivity_timeout: 5s
                  retry: { min: 50ms, max: 300ms }
                  rescan_interval: 200ms
                  delete_after_upload: true
                """;
            using var d = DaemonProcess.Start(fleetText: fleet, root: root, environment: new Dictionary<string, string> { ["RECORDER_TEST_HOOKS"] = "1" });
            var fifo = Path.Combine(root, "front.h264");
            d.WaitFor(() => File.Exists(fifo), TimeSpan.FromSeconds(10), "the video FIFO");
            var packets = Run("ffprobe", "-v", "error", "-f", "h264", "-show_packets", "-show_entries", "packet=flags", "-of", "csv=p=0", clip)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            await using (var w = new FileStream(fifo, FileMode.Open, FileAccess.Write)) await w.WriteAsync(await File.ReadAllBytesAsync(clip));
            await SocketProducer.Send(d.IngestSocket, "/imu", 200, chunked: true);
            d.WaitFor(() => d.TopicCounts().GetValueOrDefault(Camera) == (ulong)packets && d.TopicCounts().GetValueOrDefault("/imu") == 200, TimeSpan.FromSeconds(30), "the frames and /imu recorded");
            Assert.True(d.Control("mark", ("text", "hard brake at the gate")).GetProperty("ok").GetBoolean());
            Assert.True(d.Control("operator", ("name", "rosa")).GetProperty("ok").GetBoolean());
            Assert.True(d.Control("mark", ("text", "second lap")).GetProperty("ok").GetBoolean());
            d.Control("split");
            d.WaitFor(() => d.FinishedFiles().Count == 1, TimeSpan.FromSeconds(30), "the first file to finish");

            Assert.True(d.Control("test-stall", ("seconds", "2")).GetProperty("ok").GetBoolean());
            await Flood(d.IngestSocket, Lidar, 1500, 2048);
            d.WaitFor(() => LidarAccounted(d) == 1500, TimeSpan.FromSeconds(60), "every /lidar message written or dropped");
            d.Control("split");
            d.WaitFor(() => d.FinishedFiles().Count == 2, TimeSpan.FromSeconds(30), "the second file to finish");

            var finished = Directory.EnumerateFiles(Path.Combine(root, "rec", Device), "*", SearchOption.AllDirectories)
                .Where(f => !f.EndsWith(".active", StringComparison.Ordinal)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            Assert.True(d.Control("offload", ("action", "now")).GetProperty("ok").GetBoolean());
            d.WaitFor(() => d.Control("offload", ("action", "status")).GetProperty("result").GetProperty("deleted").GetInt32() >= finished.Count,
                TimeSpan.FromSeconds(120), "every finished file verified at the depot");
            Assert.Equal(0, d.Stop());
            await Indexer.WhenIdleAsync();

            var day = Directory.EnumerateDirectories(Path.Combine(_depot.Storage, Device)).Single();
            var mcaps = finished.Where(f => f!.EndsWith(".mcap", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(2, mcaps.Count);
            var firstKey = $"{Device}/{Path.GetFileName(day)}/{mcaps[0]}";
            var secondKey = $"{Device}/{Path.GetFileName(day)}/{mcaps[1]}";
            var copyDir = Path.Combine(_depot.Storage, OtherDevice, Path.GetFileName(day));
            Directory.CreateDirectory(copyDir);
            File.Copy(Path.Combine(day, mcaps[1]!), Path.Combine(copyDir, mcaps[1]!));
            Indexer.Enqueue($"{OtherDevice}/{Path.GetFileName(day)}/{mcaps[1]}");
            await Indexer.WhenIdleAsync();
            var firstId = Database.GetRecording(firstKey)?.Recording.Id ?? throw new InvalidOperationException(firstKey + " not cataloged");
            var second = Database.GetRecording(secondKey)!;
            Assert.True(second.Recording.Drops > 0, "the flood during the stall dropped nothing: the drops filter proves nothing");
            return (clip, firstId, second.Recording.Id);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true); // the daemon's disposal removes it when it ran
        }
    }

    private static ulong LidarAccounted(DaemonProcess d)
    {
        var t = d.Control("status").GetProperty("result").GetProperty("topics").EnumerateArray().FirstOrDefault(t => t.GetProperty("topic").GetString() == Lidar);
        return t.ValueKind == JsonValueKind.Undefined ? 0 : t.GetProperty("messages").GetUInt64() + t.GetProperty("drops").GetUInt64();
    }

    /// <summary>An MCAP producer on the ingest socket sending <paramref name="count"/> messages as fast as it can.</summary>
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
