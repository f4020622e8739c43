using System.Diagnostics;
using System.Text.Json;
using Recorder.Config;
using Recorder.Daemon;
using Recorder.Mcap;

namespace Recorder.Tests;

/// <summary>
/// A reload never reports a key as applied that is not: every key of config/fleet.example.yaml
/// (its offload section included) is changed alone, and the reply names it either as applied,
/// with the effect visible in what the stages run with (`status` settings: the writer's own
/// options, the ingest's own selection, the running inputs; `offload status` settings: the
/// running offload stage's options; the device metadata in the file), or as needing a restart.
/// </summary>
[Collection("daemon")]
public sealed class ReloadKeysTests
{
    private static string Base(string r) => $$"""
        fleet: east
        recording:
          dir: {{r}}/rec
          chunk: { size: 64KiB, max_age: 100ms, compression: lz4 }
          split: { size: 2GiB, duration: 10m, keyframe_wait: 2s }
          fsync: never
        storage: { max_bytes: 0, min_free_bytes: 1MiB, when_full: stop }
        ingest: { socket: {{r}}/ingest.sock, queue: 64MiB, timestamps: receive, reorder_window: 100ms, max_attachment_bytes: 16MiB, include: [".*"], exclude: [] }
        control_socket: {{r}}/control.sock
        topics:
          - { topic: /tf_static, latched: true }
          - { topic: /imu, drop: drop_oldest }
          - { topic: /vehicle/diag, fifo: {{r}}/diag.jsonl, format: jsonl }
          - { topic: /camera/front, fifo: {{r}}/front.h264, format: h264, frame_id: camera_front, tags: { sensitivity: pii } }
          - { topic: /camera/rear, socket: {{r}}/rear.sock, format: h265, store: sidecar, frame_id: camera_rear }
        metadata: { required: [operator] }
        metrics: { interval: 15s }
        offload:
          endpoint: http://127.0.0.1:9/files
          insecure: true
          presence: manual
          probe_interval: 30s
          enter_after: 2
          leave_after: 3
          parallel: 1
          bandwidth: 0
          chunk_size: 16MiB
          inactivity_timeout: 60s
          retry: { min: 1s, max: 5m }
          delete_after_upload: false
          token_file: {{r}}/token
          state_dir: {{r}}/state

        """;

    /// <summary>One change: the keys it changes, the text replaced in <see cref="Base"/>, and how its effect shows (null: it needs a restart).</summary>
    private sealed record Case(string[] Keys, string Find, string Replace, Func<JsonElement, JsonElement, bool>? Effect);

    private static JsonElement Input(JsonElement status, string topic) =>
        status.GetProperty("settings").GetProperty("inputs").EnumerateArray().Single(i => i.GetProperty("topic").GetString() == topic);

    private static JsonElement Topic(JsonElement status, string topic) => status.GetProperty("settings").GetProperty("topics").GetProperty(topic);

    private static List<Case> Cases(string r)
    {
        static Func<JsonElement, JsonElement, bool> W(string field, Func<JsonElement, bool> ok) => (s, _) => ok(s.GetProperty("settings").GetProperty(field));
        static Func<JsonElement, JsonElement, bool> O(string field, Func<JsonElement, bool> ok) => (_, o) => o.ValueKind == JsonValueKind.Object && ok(o.GetProperty("settings").GetProperty(field));
        return
        [
            new(["fleet"], "fleet: east", "fleet: west", (_, _) => true), // the effect, recorder.device metadata in the file, is checked at the end
            new(["recording.dir"], $"dir: {r}/rec", $"dir: {r}/rec2", null),
            new(["recording.chunk.size"], "size: 64KiB", "size: 128KiB", W("chunk_size", v => v.GetInt64() == 128 << 10)),
            new(["recording.chunk.max_age"], "max_age: 100ms", "max_age: 250ms", W("chunk_max_age_s", v => v.GetDouble() == 0.25)),
            new(["recording.chunk.compression"], "compression: lz4", "compression: zstd", W("compression", v => v.GetString() == "zstd")),
            new(["recording.split.size"], "size: 2GiB", "size: 1GiB", W("split_size", v => v.GetInt64() == 1L << 30)),
            new(["recording.split.duration"], "duration: 10m", "duration: 5m", W("split_duration_s", v => v.GetDouble() == 300)),
            new(["recording.split.keyframe_wait"], "keyframe_wait: 2s", "keyframe_wait: 1s", W("keyframe_wait_s", v => v.GetDouble() == 1)),
            new(["recording.fsync"], "fsync: never", "fsync: interval", W("fsync", v => v.GetString() == "interval")),
            new(["storage.max_bytes"], "max_bytes: 0,", "max_bytes: 100GiB,", W("max_bytes", v => v.GetInt64() == 100L << 30)),
            new(["storage.min_free_bytes"], "min_free_bytes: 1MiB", "min_free_bytes: 2MiB", W("min_free_bytes", v => v.GetInt64() == 2L << 20)),
            new(["storage.when_full"], "when_full: stop", "when_full: delete_oldest", W("delete_oldest_when_full", v => v.GetBoolean())),
            new(["ingest.socket"], $"socket: {r}/ingest.sock", $"socket: {r}/ingest2.sock", null),
            new(["ingest.queue"], "queue: 64MiB", "queue: 32MiB", null),
            new(["ingest.timestamps"], "timestamps: receive", "timestamps: producer", null),
            new(["ingest.reorder_window"], "reorder_window: 100ms", "reorder_window: 200ms", null),
            // Read from the settings in force at each attachment (the ingest options read the host's current settings).
            new(["ingest.max_attachment_bytes"], "max_attachment_bytes: 16MiB", "max_attachment_bytes: 1MiB", (_, _) => true),
            // /other: a topic a producer sent, not configured (a configured topic that is not selected is a configuration error).
            new(["ingest.include"], "include: [\".*\"]", "include: [\"/imu\", \"/tf_static\", \"/vehicle/.*\", \"/camera/.*\"]",
                (s, _) => Topic(s, "/imu").GetProperty("selected").GetBoolean() && !Topic(s, "/other").GetProperty("selected").GetBoolean()),
            new(["ingest.exclude"], "exclude: []", "exclude: [\"/other\"]",
                (s, _) => !Topic(s, "/other").GetProperty("selected").GetBoolean() && Topic(s, "/imu").GetProperty("selected").GetBoolean()),
            new(["control_socket"], $"control_socket: {r}/control.sock", $"control_socket: {r}/control2.sock", null),
            new(["topics[/tf_static].latched"], "{ topic: /tf_static, latched: true }", "{ topic: /tf_static, latched: false }",
                W("latched", v => v.GetArrayLength() == 0)),
            new(["topics[/imu].drop"], "drop: drop_oldest", "drop: drop_newest", (s, _) => Topic(s, "/imu").GetProperty("drop").GetString() == "dropnewest"),
            new(["topics[].timestamps"], "{ topic: /imu, drop: drop_oldest }", "{ topic: /imu, drop: drop_oldest, timestamps: producer }", null),
            new(["topics[/vehicle/diag].fifo"], $"fifo: {r}/diag.jsonl", $"fifo: {r}/diag2.jsonl",
                (s, _) => Input(s, "/vehicle/diag").GetProperty("path").GetString() == $"{r}/diag2.jsonl" && File.Exists($"{r}/diag2.jsonl")),
            new(["topics[/camera/rear].socket"], $"socket: {r}/rear.sock", $"socket: {r}/rear2.sock",
                (s, _) => Input(s, "/camera/rear").GetProperty("path").GetString() == $"{r}/rear2.sock" && File.Exists($"{r}/rear2.sock")),
            new(["topics[/vehicle/diag].format"], "diag.jsonl, format: jsonl", "diag.jsonl, format: mcap",
                (s, _) => Input(s, "/vehicle/diag").GetProperty("format").GetString() == "mcap"),
            new(["topics[/camera/rear].store"], "store: sidecar", "store: container", (s, _) => Input(s, "/camera/rear").GetProperty("store").GetString() == "container"),
            new(["topics[/vehicle/diag].json_schema"], "format: jsonl }", "format: jsonl, json_schema: '{\"type\":\"object\"}' }",
                (s, _) => Input(s, "/vehicle/diag").GetProperty("json_schema").GetString() == "{\"type\":\"object\"}"),
            new(["topics[/camera/front].frame_id"], "frame_id: camera_front", "frame_id: cam_f",
                (s, _) => Topic(s, "/camera/front").GetProperty("metadata").GetProperty("frame_id").GetString() == "cam_f"),
            new(["topics[/camera/front].tags"], "sensitivity: pii", "sensitivity: public",
                (s, _) => Topic(s, "/camera/front").GetProperty("metadata").GetProperty("sensitivity").GetString() == "public"),
            new(["topics[/new]"], "topics:\n", "topics:\n  - { topic: /new, latched: true }\n", W("latched", v => v.EnumerateArray().Any(t => t.GetString() == "/new"))),
            // The textfile writer reads the settings in force at each write.
            new(["metrics.interval"], "interval: 15s", "interval: 30s", (_, _) => true),
            new(["metrics.textfile"], "metrics: { interval: 15s }", $"metrics: {{ interval: 15s, textfile: {r}/recorder.prom }}", (_, _) => true),
            new(["metadata.required"], "required: [operator]", "required: [operator, vehicle]", (_, _) => true), // checked at load: a missing key is an error
            new(["offload.enabled"], "offload:\n", "offload:\n  enabled: false\n", (_, o) => o.ValueKind == JsonValueKind.Undefined),
            new(["offload.endpoint"], "127.0.0.1:9/files", "127.0.0.1:9/depot", O("endpoint", v => v.GetString() == "http://127.0.0.1:9/depot")),
            new(["offload.insecure"], "endpoint: http://127.0.0.1:9/files\n  insecure: true", "endpoint: https://127.0.0.1:9/files\n  insecure: false",
                O("insecure", v => !v.GetBoolean())),
            new(["offload.presence"], "presence: manual", "presence: probe", O("presence", v => v.GetString() == "probe")),
            new(["offload.ssids"], "presence: manual", "presence: networkmanager\n  ssids: [depot-east]",
                O("ssids", v => v.EnumerateArray().Single().GetString() == "depot-east")),
            new(["offload.probe_interval"], "probe_interval: 30s", "probe_interval: 45s", O("probe_interval_s", v => v.GetDouble() == 45)),
            new(["offload.probe_timeout"], "probe_interval: 30s", "probe_interval: 30s\n  probe_timeout: 7s", O("probe_timeout_s", v => v.GetDouble() == 7)),
            new(["offload.enter_after"], "enter_after: 2", "enter_after: 3", O("enter_after", v => v.GetInt32() == 3)),
            new(["offload.leave_after"], "leave_after: 3", "leave_after: 4", O("leave_after", v => v.GetInt32() == 4)),
            new(["offload.parallel"], "parallel: 1", "parallel: 2", O("parallel", v => v.GetInt32() == 2)),
            new(["offload.bandwidth"], "bandwidth: 0", "bandwidth: 20MB", O("bandwidth", v => v.GetInt64() == 20_000_000)),
            new(["offload.chunk_size"], "chunk_size: 16MiB", "chunk_size: 8MiB", O("chunk_size", v => v.GetInt64() == 8L << 20)),
            new(["offload.inactivity_timeout"], "inactivity_timeout: 60s", "inactivity_timeout: 90s", O("inactivity_timeout_s", v => v.GetDouble() == 90)),
            new(["offload.retry.min"], "min: 1s", "min: 2s", O("retry_min_s", v => v.GetDouble() == 2)),
            new(["offload.retry.max"], "max: 5m", "max: 10m", O("retry_max_s", v => v.GetDouble() == 600)),
            new(["offload.rescan_interval"], "probe_interval: 30s", "probe_interval: 30s\n  rescan_interval: 20s", O("rescan_interval_s", v => v.GetDouble() == 20)),
            new(["offload.delete_after_upload"], "delete_after_upload: false", "delete_after_upload: true", O("delete_after_upload", v => v.GetBoolean())),
            new(["offload.token_file"], $"token_file: {r}/token", $"token_file: {r}/token2", O("token_file", v => v.GetString() == $"{r}/token2")),
            new(["offload.client_certificate", "offload.client_key", "offload.token_file"], $"token_file: {r}/token",
                $"client_certificate: {r}/cert.pem\n  client_key: {r}/key.pem", O("client_certificate", v => v.GetString() == $"{r}/cert.pem")),
            new(["offload.ca"], $"token_file: {r}/token", $"token_file: {r}/token\n  ca: {r}/cert.pem", O("ca", v => v.GetString() == $"{r}/cert.pem")),
            new(["offload.state_dir"], $"state_dir: {r}/state", $"state_dir: {r}/state2", O("state_dir", v => v.GetString() == $"{r}/state2")),
        ];
    }

    /// <summary>The keys of the example fleet file, its commented offload section included, as <see cref="SettingsKeys"/> names them (topics without their names).</summary>
    private static HashSet<string> ExampleKeys()
    {
        var lines = File.ReadAllLines(Path.Combine(Recorder.Mcap.Tests.RepoPaths.Root, "config", "fleet.example.yaml")).ToList();
        var offload = lines.FindIndex(l => l.TrimEnd() == "# offload:");
        Assert.True(offload > 0, "the example's offload section");
        for (var n = offload; n < lines.Count && lines[n].StartsWith('#'); n++) lines[n] = lines[n][2..];
        var result = ConfigLoader.LoadFromText(string.Join('\n', lines), null);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.NotNull(result.Settings!.Offload);
        string[] deviceFileKeys = ["device_id", "device_version", "vehicle", "software_version", "software_version_file", "operator", "extra"];
        return SettingsKeys.Flatten(result.Settings).Keys.Select(SettingsKeys.Generic).Except(deviceFileKeys).ToHashSet(StringComparer.Ordinal);
    }

    private static void Openssl(string dir)
    {
        using var openssl = Process.Start(new ProcessStartInfo("openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", Path.Combine(dir, "key.pem"),
                "-out", Path.Combine(dir, "cert.pem"), "-days", "1", "-subj", "/CN=recorder-test"]) { RedirectStandardError = true, UseShellExecute = false })!;
        openssl.StandardError.ReadToEnd();
        openssl.WaitForExit();
        Assert.Equal(0, openssl.ExitCode);
    }

    private static List<string> Listed(string reply, string prefix) =>
        reply.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).SelectMany(l => l[prefix.Length..].Split(", ")).ToList();

    [Fact]
    public async Task Every_key_of_the_example_fleet_file_is_applied_by_a_reload_or_named_as_needing_a_restart()
    {
        var root = Directory.CreateTempSubdirectory("recorder-reload-keys-").FullName;
        File.WriteAllText(Path.Combine(root, "token"), "secret-1\n");
        File.WriteAllText(Path.Combine(root, "token2"), "secret-2\n");
        Openssl(root);
        var cases = Cases(root);
        var covered = cases.SelectMany(c => c.Keys).Select(SettingsKeys.Generic).ToHashSet(StringComparer.Ordinal);
        Assert.Empty(ExampleKeys().Except(covered));

        var baseText = Base(root);
        using var d = DaemonProcess.Start(root: root, fleetText: baseText);
        await SocketProducer.Send(d.IngestSocket, "/other", 1, chunked: false);
        d.WaitFor(() => d.TopicCounts().ContainsKey("/other"), TimeSpan.FromSeconds(10), "/other to be recorded");
        foreach (var c in cases)
        {
            Assert.Equal(1, baseText.Split(c.Find).Length - 1); // each change is one unambiguous edit
            File.WriteAllText(d.FleetFile, baseText.Replace(c.Find, c.Replace, StringComparison.Ordinal));
            var response = d.Control("reload");
            Assert.True(response.GetProperty("ok").GetBoolean(), $"{c.Keys[0]}: {response}");
            var reply = response.GetProperty("result").GetString()!;
            var applied = Listed(reply, "applied: ");
            var restart = Listed(reply, "changed but only applied by a restart: ");
            var status = d.Control("status").GetProperty("result");
            var offloadResponse = d.Control("offload", ("action", "status"));
            var offload = offloadResponse.GetProperty("ok").GetBoolean() ? offloadResponse.GetProperty("result") : default;
            foreach (var key in c.Keys)
            {
                if (c.Effect is null)
                {
                    Assert.True(restart.Contains(SettingsKeys.Generic(key)) && !applied.Contains(key), $"{key} must be listed as needing a restart:\n{reply}");
                }
                else
                {
                    Assert.True(applied.Contains(key) || applied.Any(a => a.StartsWith(key + ".", StringComparison.Ordinal)), $"{key} must be listed as applied:\n{reply}");
                    Assert.DoesNotContain(SettingsKeys.Generic(key), restart);
                }
            }
            if (c.Effect is not null) Assert.True(c.Effect(status, offload), $"{c.Keys[0]}: the reply says applied, but the stage does not run with it:\n{reply}\n{status}\n{offload}");
        }
        // A restart-only key kept its old value where it is used.
        Assert.Equal($"{root}/rec", d.Control("status").GetProperty("result").GetProperty("settings").GetProperty("dir").GetString());

        // metadata.required is judged when the files load: a bad list is rejected, and the old configuration stays.
        File.WriteAllText(d.FleetFile, baseText.Replace("required: [operator]", "required: [operator, operator]", StringComparison.Ordinal));
        var rejected = d.Control("reload");
        Assert.False(rejected.GetProperty("ok").GetBoolean());
        Assert.EndsWith("metadata.required[1]: 'operator' is listed twice", rejected.GetProperty("error").GetString(), StringComparison.Ordinal);

        // fleet: the device metadata in the file follows the reload.
        Assert.True(d.Control("split").GetProperty("ok").GetBoolean());
        Assert.Equal(0, d.Stop());
        var first = d.FinishedFiles().First();
        using var reader = McapIndexedReader.Open(first);
        var fleets = reader.MetadataIndexes.Where(m => m.Name == "recorder.device").Select(reader.ReadMetadata).Select(m => m.Values["fleet"]).ToList();
        Assert.Equal("east", fleets[0]);
        Assert.Contains("west", fleets);
    }
}
