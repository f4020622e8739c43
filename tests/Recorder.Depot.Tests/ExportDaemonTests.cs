using System.Globalization;
using System.Text.Json.Nodes;
using Recorder.Depot.Export;
using Recorder.Mcap;
using Recorder.Mcap.Tests;
using Recorder.Tests;

namespace Recorder.Depot.Tests;

/// <summary>
/// Recordings made by the real recorder daemon (its demo producers: protobuf IMU and GPS, JSON
/// diagnostics, H.264 camera), in two sessions with a split, a mark and an operator change, are
/// exported by <c>recorder-depot export</c> straight from the daemon's directory (the depot's layout).
/// </summary>
[Collection("depot-process")]
public sealed class ExportDaemonTests
{
    private const string Device = "test-0001"; // DaemonProcess's device.yaml

    static ExportDaemonTests()
    {
        // As RecorderOffloadTests: run the recorder from its own build output unless $RECORDER_BINARY names one.
        if (DaemonProcess.NativeBinary is not null) return;
        var own = AppContext.BaseDirectory.Replace(Path.Combine("tests", "Recorder.Depot.Tests"), Path.Combine("src", "Recorder"), StringComparison.Ordinal);
        Environment.SetEnvironmentVariable("RECORDER_BINARY", Path.Combine(own, "recorder"));
    }

    private static ulong ImuCount(DaemonProcess daemon) => daemon.TopicCounts().GetValueOrDefault("/imu");

    [Fact]
    public void Export_across_three_daemon_recordings_of_two_sessions_equals_the_sources_in_the_window()
    {
        var root = Directory.CreateTempSubdirectory("export-daemon-").FullName;
        try
        {
            // Session 1: two files (a split), a mark in the first, an operator change in the second.
            using (var daemon = DaemonProcess.Start(demo: true, root: root))
            {
                daemon.KeepRoot = true; // the second session records into the same directory
                daemon.WaitFor(() => ImuCount(daemon) > 300, TimeSpan.FromSeconds(60), "300 IMU messages");
                Assert.True(daemon.Control("mark", ("text", "hard brake")).GetProperty("ok").GetBoolean());
                daemon.WaitFor(() => ImuCount(daemon) > 450, TimeSpan.FromSeconds(60), "450 IMU messages");
                Assert.True(daemon.Control("split").GetProperty("ok").GetBoolean());
                Assert.True(daemon.Control("operator", ("name", "rosa")).GetProperty("ok").GetBoolean());
                daemon.WaitFor(() => ImuCount(daemon) > 700, TimeSpan.FromSeconds(60), "700 IMU messages");
                Assert.Equal(0, daemon.Stop());
            }
            // Session 2: the daemon again, on the same directory.
            using (var daemon = DaemonProcess.Start(demo: true, root: root))
            {
                daemon.KeepRoot = true;
                daemon.WaitFor(() => ImuCount(daemon) > 300, TimeSpan.FromSeconds(60), "300 IMU messages");
                Assert.Equal(0, daemon.Stop());
            }

            var storage = Path.Combine(root, "rec");
            var all = Directory.EnumerateFiles(storage, "*.mcap", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(3, all.Count);
            var ranges = all.Select(f => { using var r = McapIndexedReader.Open(f); return (r.Statistics!.MessageStartTime, r.Statistics.MessageEndTime); }).ToList();
            // From the middle of the first file to the middle of the last: cuts chunks at both ends, spans both sessions.
            var start = ranges[0].MessageStartTime + (ranges[0].MessageEndTime - ranges[0].MessageStartTime) / 2;
            var end = ranges[2].MessageStartTime + (ranges[2].MessageEndTime - ranges[2].MessageStartTime) / 2;
            Assert.True(ExportRequest.TryParse(Device, start.ToString(CultureInfo.InvariantCulture), end.ToString(CultureInfo.InvariantCulture), [], out var request, out var why), why);
            var selected = ExportSelection.LocalFiles(storage, request);
            Assert.Equal(all, selected.Order(StringComparer.Ordinal));

            var config = Path.Combine(root, "depot.yaml");
            File.WriteAllText(config, $"storage:\n  dir: {storage}\nstate_dir: {Path.Combine(root, "state")}\n");
            var output = Path.Combine(root, "export.mcap");
            var stderr = new StringWriter();
            var code = DepotCommandLine.Run(["export", "--config", config, "--device", Device, "--start", start.ToString(CultureInfo.InvariantCulture),
                "--end", end.ToString(CultureInfo.InvariantCulture), "-o", output], new StringWriter(), stderr);
            Assert.True(code == 0, stderr.ToString());

            // What @mcap/core reads from the sources in the window, in log-time order (ties: selection order, then file order).
            var expected = selected.SelectMany((path, source) => Messages(NodeInterop.Dump(path)).Select((m, i) => (m, source, i)))
                .Where(p => p.m.LogTime >= start && p.m.LogTime <= end)
                .OrderBy(p => p.m.LogTime).ThenBy(p => p.source).ThenBy(p => p.i).Select(p => p.m).ToList();
            Assert.Contains(expected, m => m.Topic == "/imu");
            Assert.Contains(expected, m => m.Topic == "/camera/demo");
            var report = McapDoctor.Check(output, new McapDoctorOptions { StrictMessageOrder = true });
            var findings = report.Diagnostics.Where(d => !d.Message.Contains("repeats the identical", StringComparison.Ordinal)).ToList();
            Assert.True(findings.Count == 0, string.Join("\n", findings));
            var dump = NodeInterop.Dump(output);
            Assert.Equal(expected.Count, dump["streamed"]!["messageCount"]!.GetValue<int>());
            var actual = Messages(dump);
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++) Assert.True(expected[i] == actual[i], $"message {i}: expected {expected[i]}, got {actual[i]}");

            // Every recorder.device record of the three files (the operator change included), the mark in the window, no per-file bookkeeping.
            var metadata = dump["metadata"]!.AsArray().Select(m => (Name: m!["name"]!.GetValue<string>(), Values: m["metadata"]!.AsObject())).ToList();
            var devices = metadata.Where(m => m.Name == "recorder.device").ToList();
            Assert.True(devices.Count >= 4, string.Join(", ", metadata.Select(m => m.Name)));
            Assert.Contains(devices, d => d.Values["operator"]!.GetValue<string>() == "rosa");
            Assert.DoesNotContain(metadata, m => m.Name is "recorder.topic_stats" or "recorder.file_end");
            Assert.Equal("recorder.export", metadata[^1].Name);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Seen(string Topic, string SchemaName, string SchemaData, ulong LogTime, string PublishTime, long Sequence, string Data);

    private static List<Seen> Messages(JsonObject dump)
    {
        var schemas = dump["schemas"]!.AsArray().ToDictionary(s => s!["id"]!.GetValue<int>(), s => s!);
        var channels = dump["channels"]!.AsArray().ToDictionary(c => c!["id"]!.GetValue<int>(), c => c!);
        return dump["messages"]!.AsArray().Select(m =>
        {
            var channel = channels[m!["channelId"]!.GetValue<int>()];
            var schema = schemas.GetValueOrDefault(channel["schemaId"]!.GetValue<int>());
            return new Seen(channel["topic"]!.GetValue<string>(), schema?["name"]!.GetValue<string>() ?? "", schema?["data"]!.GetValue<string>() ?? "",
                ulong.Parse(m["logTime"]!.GetValue<string>(), CultureInfo.InvariantCulture), m["publishTime"]!.GetValue<string>(), m["sequence"]!.GetValue<long>(), m["data"]!.GetValue<string>());
        }).ToList();
    }
}
