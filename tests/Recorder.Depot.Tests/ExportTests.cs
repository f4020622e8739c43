using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Recorder.Depot.Export;
using Recorder.Mcap;
using Recorder.Mcap.Tests;

namespace Recorder.Depot.Tests;

/// <summary>
/// <c>GET /api/export</c> and <c>recorder-depot export</c> over recordings laid out in the depot's
/// storage as the recorder writes them (recorder.device first, marks, topic_stats and file_end
/// last), read back with @mcap/core and the doctor.
/// </summary>
public sealed class ExportTests
{
    private const ulong Ms = 1_000_000;
    private static readonly DateTimeOffset Day = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly ulong T0 = (ulong)(Day - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static readonly byte[] ImuV1 = Encoding.UTF8.GetBytes("""{"type":"object","properties":{"ax":{"type":"number"}}}""");
    private static readonly byte[] ImuV2 = Encoding.UTF8.GetBytes("""{"type":"object","properties":{"ax":{"type":"number"},"az":{"type":"number"}}}""");

    /// <summary>A recording as the daemon lays it out: <c>store/DEVICE/YYYY-MM-DD/DEVICE_…_NNNN.mcap</c>.</summary>
    private static string Store(string storage, string device, string session, int sequence, ulong start, ulong duration, byte[] imuSchema, ulong? markAt = null)
    {
        var startTime = DateTimeOffset.UnixEpoch.AddTicks((long)(start / 100));
        var dir = Path.Combine(storage, device, Recorder.Storage.RecordingLayout.DateDirectory(startTime));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, Recorder.Storage.RecordingLayout.McapFileName(device, startTime, sequence));
        using var writer = new McapWriter(File.Create(path), new McapWriterOptions { ChunkSize = 8 * 1024 });
        writer.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = device,
            ["session_id"] = session,
            ["file_sequence"] = sequence.ToString(CultureInfo.InvariantCulture),
        }));
        writer.WriteMetadata(new Metadata("weather", new Dictionary<string, string> { ["sky"] = "rain" }));
        var imu = writer.AddChannel("/imu", "json", writer.AddSchema("demo.Imu", "jsonschema", imuSchema));
        var events = writer.AddChannel("/recorder/events", "json", writer.AddSchema("recorder.Event", "jsonschema", Encoding.UTF8.GetBytes("""{"type":"object"}""")));
        var camera = writer.AddChannel("/camera", "application/octet-stream");
        uint seq = 0;
        for (var t = start; t < start + duration; t += 5 * Ms, seq++)
        {
            writer.WriteMessage(imu, seq, t, t, Encoding.UTF8.GetBytes($"{{\"ax\":{seq % 17},\"file\":\"{session}-{sequence}\"}}"));
            if (seq % 7 == 0) writer.WriteMessage(camera, seq / 7, t, t, new byte[300 + (int)(seq % 50)]);
            if (markAt is { } m && t <= m && m < t + 5 * Ms)
            {
                writer.WriteMessage(events, 0, m, m, Encoding.UTF8.GetBytes("""{"type":"mark","text":"hard brake"}"""));
                writer.WriteMetadata(new Metadata("recorder.mark", new Dictionary<string, string>
                {
                    ["text"] = "hard brake",
                    ["log_time_ns"] = m.ToString(CultureInfo.InvariantCulture),
                }));
            }
        }
        writer.WriteMetadata(new Metadata("recorder.topic_stats", new Dictionary<string, string> { ["/imu"] = "{}" }));
        writer.WriteMetadata(new Metadata("recorder.file_end", new Dictionary<string, string> { ["reason"] = "size" }));
        return path;
    }

    /// <summary>Three recordings of dev-a from two sessions (the second session overlaps the first's last file) and one of dev-b.</summary>
    private static List<string> Fleet(string storage) =>
    [
        Store(storage, "dev-a", "s1", 1, T0, 1000 * Ms, ImuV1, markAt: T0 + 700 * Ms + 1),
        Store(storage, "dev-a", "s1", 2, T0 + 1000 * Ms, 1000 * Ms, ImuV1, markAt: T0 + 1200 * Ms + 2),
        Store(storage, "dev-a", "s2", 1, T0 + 1500 * Ms, 1000 * Ms, ImuV2),
        Store(storage, "dev-b", "s9", 1, T0, 3000 * Ms, ImuV1),
    ];

    private sealed record Seen(string Topic, string SchemaData, string LogTime, long Sequence, string Data);

    private static List<Seen> MessagesOf(JsonObject dump)
    {
        var schemas = dump["schemas"]!.AsArray().ToDictionary(s => s!["id"]!.GetValue<int>(), s => s!["data"]!.GetValue<string>());
        var channels = dump["channels"]!.AsArray().ToDictionary(c => c!["id"]!.GetValue<int>(), c => c!);
        return dump["messages"]!.AsArray().Select(m =>
        {
            var channel = channels[m!["channelId"]!.GetValue<int>()];
            return new Seen(channel["topic"]!.GetValue<string>(), schemas.GetValueOrDefault(channel["schemaId"]!.GetValue<int>(), ""),
                m["logTime"]!.GetValue<string>(), m["sequence"]!.GetValue<long>(), m["data"]!.GetValue<string>());
        }).ToList();
    }

    private static List<Seen> Expected(IEnumerable<string> sources, ulong start, ulong end, string[]? topics = null) =>
        sources.SelectMany((path, source) => MessagesOf(NodeInterop.Dump(path)).Select((m, i) => (m, source, i)))
            .Where(p => ulong.Parse(p.m.LogTime, CultureInfo.InvariantCulture) is var t && t >= start && t <= end && (topics is null || topics.Contains(p.m.Topic)))
            .OrderBy(p => ulong.Parse(p.m.LogTime, CultureInfo.InvariantCulture)).ThenBy(p => p.source).ThenBy(p => p.i)
            .Select(p => p.m).ToList();

    /// <summary>The sources in the order the export reads them (ties in log time go to the earlier source).</summary>
    private static IReadOnlyList<string> Selected(string storage, ulong start, ulong end)
    {
        Assert.True(ExportRequest.TryParse("dev-a", start.ToString(CultureInfo.InvariantCulture), end.ToString(CultureInfo.InvariantCulture), [], out var request, out var why), why);
        var files = ExportSelection.LocalFiles(storage, request);
        Assert.Equal(3, files.Count);
        return files;
    }

    private static JsonObject CheckedDump(string path, int expectedMessages)
    {
        var report = McapDoctor.Check(path, new McapDoctorOptions { StrictMessageOrder = true });
        var findings = report.Diagnostics.Where(d => !d.Message.Contains("repeats the identical", StringComparison.Ordinal)).ToList();
        Assert.True(findings.Count == 0, string.Join("\n", findings));
        var dump = NodeInterop.Dump(path);
        Assert.True(dump["streamed"]!["done"]!.GetValue<bool>());
        Assert.Equal(expectedMessages, dump["streamed"]!["messageCount"]!.GetValue<int>());
        return dump;
    }

    private static string Rfc3339(ulong ns) => DateTimeOffset.UnixEpoch.AddTicks((long)(ns / 100)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Api_export_streams_the_merged_window_of_a_device_with_its_device_records()
    {
        await using var depot = await TestDepot.StartAsync();
        var files = Fleet(depot.Storage);
        var start = T0 + 600 * Ms + 123;
        var end = T0 + 1900 * Ms + 456;
        using var client = depot.Client(null);

        using var response = await client.GetAsync(new Uri(depot.App.Url, $"/api/export?device=dev-a&start={Rfc3339(start)}&end={end}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3", response.Headers.GetValues("X-Recorder-Export-Sources").Single());
        var output = Path.Combine(depot.Root, "export.mcap");
        await File.WriteAllBytesAsync(output, await response.Content.ReadAsByteArrayAsync());

        // Rfc3339 keeps 100 ns ticks: the start rounds down to a tick.
        var tickStart = start / 100 * 100;
        var expected = Expected(Selected(depot.Storage, tickStart, end), tickStart, end);
        Assert.True(expected.Count > 300, $"{expected.Count} messages in the window");
        var dump = CheckedDump(output, expected.Count);
        Assert.Equal(expected, MessagesOf(dump));

        var metadata = dump["metadata"]!.AsArray().Select(m => (Name: m!["name"]!.GetValue<string>(), Values: m["metadata"]!.AsObject())).ToList();
        // Sources in name order (s1 #1, s2 #1, s1 #2); the identical weather tag once; marks only inside the window; no per-file bookkeeping.
        Assert.Equal(["recorder.device", "weather", "recorder.mark", "recorder.device", "recorder.device", "recorder.mark", "recorder.export"], metadata.Select(m => m.Name));
        var export = metadata[^1].Values;
        Assert.Equal("1", export["version"]!.GetValue<string>());
        Assert.Equal("dev-a", export["device_id"]!.GetValue<string>());
        Assert.Equal(3, export["sources"]!.GetValue<string>().Split('\n').Length);
        Assert.All(metadata.Where(m => m.Name == "recorder.mark"), m => Assert.InRange(ulong.Parse(m.Values["log_time_ns"]!.GetValue<string>(), CultureInfo.InvariantCulture), tickStart, end));
    }

    [Fact]
    public async Task Api_export_with_topics_keeps_only_them()
    {
        await using var depot = await TestDepot.StartAsync();
        var files = Fleet(depot.Storage);
        using var client = depot.Client(null);

        var bytes = await client.GetByteArrayAsync(new Uri(depot.App.Url, $"/api/export?device=dev-a&start={T0}&end={T0 + 5000 * Ms}&topic=/camera&topic=/recorder/events"));
        var output = Path.Combine(depot.Root, "topics.mcap");
        await File.WriteAllBytesAsync(output, bytes);

        string[] topics = ["/camera", "/recorder/events"];
        var expected = Expected(Selected(depot.Storage, T0, T0 + 5000 * Ms), T0, T0 + 5000 * Ms, topics);
        Assert.Contains(expected, m => m.Topic == "/recorder/events");
        Assert.Equal(expected, MessagesOf(CheckedDump(output, expected.Count)));
    }

    [Theory]
    [InlineData("start=2026-11-27T10:00:00Z&end=2026-11-27T11:00:00Z", "device is required")]
    [InlineData("device=dev-a&end=2026-11-27T11:00:00Z", "start is required")]
    [InlineData("device=dev-a&start=2026-11-27T10:00:00&end=2026-11-27T11:00:00Z", "neither RFC 3339")]
    [InlineData("device=dev-a&start=yesterday&end=2026-11-27T11:00:00Z", "neither RFC 3339")]
    [InlineData("device=dev-a&start=2026-11-27T12:00:00Z&end=2026-11-27T11:00:00Z", "is after end")]
    [InlineData("device=../etc&start=1&end=2", "not a valid device id")]
    [InlineData("around=42", "needs the catalog")]
    public async Task Bad_export_requests_get_a_clear_error(string query, string message)
    {
        await using var depot = await TestDepot.StartAsync();
        using var client = depot.Client(null);
        using var response = await client.GetAsync(new Uri(depot.App.Url, "/api/export?" + query));
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotImplemented, response.StatusCode.ToString());
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>();
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_export_of_an_empty_window_is_a_valid_empty_mcap()
    {
        await using var depot = await TestDepot.StartAsync();
        Fleet(depot.Storage);
        using var client = depot.Client(null);
        var bytes = await client.GetByteArrayAsync(new Uri(depot.App.Url, $"/api/export?device=dev-a&start={T0 + 3_600_000 * Ms}&end={T0 + 3_700_000 * Ms}"));
        var output = Path.Combine(depot.Root, "empty.mcap");
        await File.WriteAllBytesAsync(output, bytes);
        var dump = CheckedDump(output, 0);
        Assert.Equal("recorder.export", Assert.Single(dump["metadata"]!.AsArray())!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Api_export_refuses_a_torn_recording_by_name_before_answering_200()
    {
        await using var depot = await TestDepot.StartAsync();
        var files = Fleet(depot.Storage);
        var bytes = await File.ReadAllBytesAsync(files[1]);
        await File.WriteAllBytesAsync(files[1], bytes.AsSpan(0, bytes.Length - 100).ToArray());
        using var client = depot.Client(null);

        using var response = await client.GetAsync(new Uri(depot.App.Url, $"/api/export?device=dev-a&start={T0}&end={T0 + 5000 * Ms}"));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>();
        Assert.Contains(Path.GetFileName(files[1]), error, StringComparison.Ordinal);
        Assert.Contains(depot.Log.Lines, l => l.Contains("export of dev-a refused", StringComparison.Ordinal));
    }

    [Fact]
    public void Cli_export_writes_the_same_merge_to_a_file()
    {
        var root = Directory.CreateTempSubdirectory("depot-export-cli-").FullName;
        try
        {
            var storage = Path.Combine(root, "store");
            var files = Fleet(storage);
            var config = Path.Combine(root, "depot.yaml");
            File.WriteAllText(config, $"storage:\n  dir: {storage}\nstate_dir: {Path.Combine(root, "state")}\n");
            var output = Path.Combine(root, "cli.mcap");
            var (stdout, stderr) = (new StringWriter(), new StringWriter());

            var code = DepotCommandLine.Run(["export", "--config", config, "--device", "dev-a", "--start", Rfc3339(T0 + 900 * Ms), "--end", Rfc3339(T0 + 1600 * Ms),
                "--topic", "/imu", "-o", output], stdout, stderr);

            Assert.True(code == 0, stderr.ToString());
            var expected = Expected(Selected(storage, T0 + 900 * Ms, T0 + 1600 * Ms), T0 + 900 * Ms, T0 + 1600 * Ms, ["/imu"]);
            Assert.Contains(expected, m => m.SchemaData == Convert.ToBase64String(ImuV2));
            Assert.Equal(expected, MessagesOf(CheckedDump(output, expected.Count)));
            Assert.Contains($"{expected.Count} messages", stderr.ToString(), StringComparison.Ordinal);
            Assert.False(File.Exists(output + ".partial"));

            Assert.Equal(2, DepotCommandLine.Run(["export", "--config", config, "--around", "42", "-o", output], stdout, stderr));
            Assert.Contains("needs the catalog", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Selection_takes_the_devices_files_from_the_day_before_the_start_to_the_end_day_in_time_order()
    {
        var root = Directory.CreateTempSubdirectory("depot-select-").FullName;
        try
        {
            foreach (var day in new[] { "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "not-a-day" })
            {
                Directory.CreateDirectory(Path.Combine(root, "dev-a", day));
                File.WriteAllText(Path.Combine(root, "dev-a", day, $"dev-a_{day.Replace("-", "", StringComparison.Ordinal)}T230000Z_0002.mcap"), "");
                File.WriteAllText(Path.Combine(root, "dev-a", day, $"dev-a_{day.Replace("-", "", StringComparison.Ordinal)}T010000Z_0001.mcap"), "");
                File.WriteAllText(Path.Combine(root, "dev-a", day, "x.vidx"), "");
            }
            Assert.True(ExportRequest.TryParse("dev-a", "2026-11-27T08:00:00Z", "2026-11-27T09:00:00+01:00", [], out var request, out var why), why);
            var names = ExportSelection.LocalFiles(root, request).Select(Path.GetFileName).ToList();
            Assert.Equal(["dev-a_20261126T010000Z_0001.mcap", "dev-a_20261126T230000Z_0002.mcap", "dev-a_20261127T010000Z_0001.mcap", "dev-a_20261127T230000Z_0002.mcap"], names);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
