using Recorder.Ingest;
using Recorder.Mcap;
using Recorder.Offload;
using Recorder.Recording;
using Recorder.Video;

namespace Recorder.Config.Tests;

/// <summary>Loading: defaults, the example files, overriding, error collection, and the settings' own behaviour.</summary>
public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RecorderSettings LoadOk(string? fleet, string? device = null)
    {
        var result = ConfigLoader.LoadFromText(fleet, device);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Settings!;
    }

    [Fact]
    public void Embedded_defaults_load_without_errors()
    {
        var result = ConfigLoader.Load(null, null);
        Assert.Empty(result.Errors);
        Assert.True(result.Succeeded);
        var s = result.Settings!;

        Assert.Equal("default", s.Fleet);
        Assert.Null(s.FleetFile);
        Assert.Null(s.DeviceFile);
        Assert.Equal("./recordings", s.Recording.Directory);
        Assert.Equal(1L << 20, s.Recording.ChunkSize);
        Assert.Equal(TimeSpan.FromSeconds(1), s.Recording.ChunkMaxAge);
        Assert.Equal(McapCompression.Zstd, s.Recording.Compression);
        Assert.Equal(2L << 30, s.Recording.SplitSize);
        Assert.Equal(TimeSpan.FromMinutes(10), s.Recording.SplitDuration);
        Assert.Equal(FsyncPolicy.Chunk, s.Recording.Fsync);
        Assert.Equal(0L, s.Storage.MaxBytes);
        Assert.Equal(256L << 20, s.Storage.MinFreeBytes);
        Assert.Equal(WhenFull.Stop, s.Storage.WhenFull);
        Assert.Equal("./run/ingest.sock", s.Ingest.Socket);
        Assert.Equal(256L << 20, s.Ingest.QueueBytes);
        Assert.Equal(TimestampMode.Receive, s.Ingest.Timestamps);
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.Ingest.ReorderWindow);
        Assert.Equal([".*"], s.Ingest.Include);
        Assert.Empty(s.Ingest.Exclude);
        Assert.Equal("./run/control.sock", s.ControlSocket);
        Assert.Empty(s.Topics);
        Assert.Empty(s.Metadata.Required);
        Assert.Equal(Environment.MachineName, s.Device.DeviceId);
        Assert.Equal("unknown", s.Device.DeviceVersion);
        Assert.Equal("unassigned", s.Device.Operator);
        Assert.Null(s.Device.Vehicle);
        Assert.Null(s.Device.SoftwareVersion);
        Assert.Null(s.Device.SoftwareVersionFile);
        Assert.Empty(s.Device.Extra);
        Assert.Null(s.Metrics.Textfile);
        Assert.Equal(TimeSpan.FromSeconds(15), s.Metrics.Interval);
    }

    [Fact]
    public void Metrics_textfile_and_interval_are_read()
    {
        var s = LoadOk("metrics: { textfile: /var/lib/prometheus/node-exporter/recorder.prom, interval: 30s }");
        Assert.Equal("/var/lib/prometheus/node-exporter/recorder.prom", s.Metrics.Textfile);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Metrics.Interval);
    }

    [Fact]
    public void The_settings_types_alone_are_the_embedded_defaults()
    {
        var loaded = ConfigLoader.Load(null, null).Settings!;
        var built = new RecorderSettings();
        Assert.Equal(built.Recording, loaded.Recording);
        Assert.Equal(built.Storage, loaded.Storage);
        Assert.Equal(built.ControlSocket, loaded.ControlSocket);
        Assert.Equal(built.Device.DeviceId, loaded.Device.DeviceId);
    }

    [Fact]
    public void Example_files_load_with_zero_errors_and_their_values()
    {
        var fleetPath = RepoPaths.Config("fleet.example.yaml");
        var devicePath = RepoPaths.Config("device.example.yaml");
        var result = ConfigLoader.Load(fleetPath, devicePath);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var s = result.Settings!;

        Assert.Equal(fleetPath, s.FleetFile);
        Assert.Equal(devicePath, s.DeviceFile);
        Assert.Equal("east-robotaxi", s.Fleet);
        Assert.Equal("/var/lib/recorder/recordings", s.Recording.Directory);
        Assert.Equal(1L << 20, s.Recording.ChunkSize);
        Assert.Equal(TimeSpan.FromSeconds(1), s.Recording.ChunkMaxAge);
        Assert.Equal(McapCompression.Lz4, s.Recording.Compression);
        Assert.Equal(2L << 30, s.Recording.SplitSize);
        Assert.Equal(TimeSpan.FromMinutes(10), s.Recording.SplitDuration);
        Assert.Equal(FsyncPolicy.Chunk, s.Recording.Fsync);
        Assert.Equal(100L << 30, s.Storage.MaxBytes); // the device file overrides the fleet's 200GiB
        Assert.Equal(5L << 30, s.Storage.MinFreeBytes);
        Assert.Equal(WhenFull.Stop, s.Storage.WhenFull);
        Assert.Equal("/run/recorder/ingest.sock", s.Ingest.Socket);
        Assert.Equal(256L << 20, s.Ingest.QueueBytes);
        Assert.Equal(TimestampMode.Receive, s.Ingest.Timestamps);
        Assert.Equal(16L << 20, s.Ingest.MaxAttachmentBytes);
        Assert.Equal([".*"], s.Ingest.Include);
        Assert.Empty(s.Ingest.Exclude);
        Assert.Equal("/run/recorder/control.sock", s.ControlSocket);

        Assert.Equal(["/tf_static", "/imu", "/vehicle/diag", "/camera/front", "/camera/rear"], s.Topics.Select(t => t.Topic));
        Assert.True(s.Topics[0].Latched);
        Assert.Equal(DropPolicy.Block, s.Topics[0].Drop);
        Assert.Equal(DropPolicy.DropOldest, s.Topics[1].Drop);
        Assert.Null(s.Topics[1].Fifo);
        Assert.Equal("/run/recorder/diag.jsonl", s.Topics[2].Fifo);
        Assert.Equal(TopicInputFormat.Jsonl, s.Topics[2].Format);
        Assert.Equal("/run/recorder/camera_front.h264", s.Topics[3].Fifo);
        Assert.Equal(TopicInputFormat.H264, s.Topics[3].Format);
        Assert.Equal("camera_front", s.Topics[3].FrameId);
        Assert.Equal("pii", s.Topics[3].Tags["sensitivity"]);
        Assert.Null(s.Topics[3].Store); // container by default
        Assert.Equal("/run/recorder/camera_rear.sock", s.Topics[4].Socket);
        Assert.Null(s.Topics[4].Fifo);
        Assert.Equal(TopicInputFormat.H265, s.Topics[4].Format);
        Assert.Equal(FrameStore.Sidecar, s.Topics[4].Store);
        Assert.Equal(TimeSpan.FromSeconds(2), s.Recording.KeyframeWait);
        Assert.Equal(["operator"], s.Metadata.Required);

        Assert.Equal("rt-0042", s.Device.DeviceId);
        Assert.Equal("compute-rev-c", s.Device.DeviceVersion);
        Assert.Equal("0042", s.Device.Vehicle);
        Assert.Null(s.Device.SoftwareVersion);
        Assert.Equal("/etc/av-stack/VERSION", s.Device.SoftwareVersionFile);
        Assert.Equal("unassigned", s.Device.Operator);
    }

    [Fact]
    public void Offload_is_absent_by_default_and_every_key_maps_onto_its_settings()
    {
        Assert.Null(LoadOk(null).Offload);
        var defaults = LoadOk("offload: { endpoint: https://depot.lan/files, token_file: /etc/recorder/depot.token }").Offload!;
        Assert.Equal(new OffloadOptions { Endpoint = new Uri("https://depot.lan/files"), TokenFile = "/etc/recorder/depot.token" }, defaults);
        Assert.True(defaults.Enabled);
        Assert.Equal(PresenceMode.Probe, defaults.Presence);
        Assert.Equal(TimeSpan.FromSeconds(30), defaults.ProbeInterval);
        Assert.Equal(2, defaults.EnterAfter);
        Assert.Equal(3, defaults.LeaveAfter);
        Assert.Equal(1, defaults.Parallel);
        Assert.Equal(0, defaults.Bandwidth);
        Assert.Equal(16L << 20, defaults.ChunkSize);
        Assert.Equal(TimeSpan.FromSeconds(60), defaults.InactivityTimeout);
        Assert.False(defaults.DeleteAfterUpload);
        Assert.False(defaults.Insecure);

        var o = LoadOk("""
            offload:
              enabled: true
              endpoint: http://127.0.0.1:1080/files
              insecure: true
              presence: networkmanager
              ssids: [depot-a, depot-b]
              probe_interval: 10s
              probe_timeout: 2s
              enter_after: 3
              leave_after: 4
              parallel: 2
              bandwidth: 20MB
              chunk_size: 8MiB
              inactivity_timeout: 30s
              retry: { min: 500ms, max: 2m }
              delete_after_upload: true
              rescan_interval: 1m
              state_dir: /var/lib/recorder/offload
              token_file: /etc/recorder/depot.token
              client_certificate: /etc/recorder/device.crt
              client_key: /etc/recorder/device.key
              ca: /etc/recorder/depot-ca.pem
            """).Offload!;
        Assert.Equal(PresenceMode.NetworkManager, o.Presence);
        Assert.Equal(["depot-a", "depot-b"], o.Ssids);
        Assert.Equal(TimeSpan.FromSeconds(10), o.ProbeInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), o.ProbeTimeout);
        Assert.Equal((3, 4, 2), (o.EnterAfter, o.LeaveAfter, o.Parallel));
        Assert.Equal(20_000_000, o.Bandwidth);
        Assert.Equal(8L << 20, o.ChunkSize);
        Assert.Equal(TimeSpan.FromSeconds(30), o.InactivityTimeout);
        Assert.Equal((TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(2)), (o.RetryMin, o.RetryMax));
        Assert.True(o.DeleteAfterUpload);
        Assert.Equal(TimeSpan.FromMinutes(1), o.RescanInterval);
        Assert.Equal("/var/lib/recorder/offload", o.StateDirectory);
        Assert.Equal(("/etc/recorder/device.crt", "/etc/recorder/device.key", "/etc/recorder/depot-ca.pem"), (o.ClientCertificateFile, o.ClientKeyFile, o.CaFile));
        Assert.True(o.Insecure);

        // Turned off, the section keeps its values and is not checked further.
        Assert.False(LoadOk("offload: { enabled: false }").Offload!.Enabled);
    }

    [Fact]
    public void The_commented_offload_section_of_the_example_fleet_file_loads_when_uncommented()
    {
        var lines = File.ReadAllLines(RepoPaths.Config("fleet.yaml"));
        var start = Array.FindIndex(lines, l => l == "# offload:");
        Assert.True(start > 0, "fleet.yaml has no commented offload: section");
        var section = lines.Skip(start).TakeWhile(l => l.StartsWith('#')).Select(l => l.Length > 2 ? l[2..] : "").ToList();
        var result = ConfigLoader.LoadFromText(string.Join('\n', lines.Take(start).Concat(section)), null);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var o = result.Settings!.Offload!;
        Assert.Equal("https://depot.example/files", o.Endpoint.OriginalString);
        Assert.Equal("/etc/recorder/depot.token", o.TokenFile);
        Assert.Equal("/etc/recorder/depot-ca.pem", o.CaFile);
        Assert.Equal(PresenceMode.Probe, o.Presence);
        Assert.Null(ConfigLoader.Load(RepoPaths.Config("fleet.yaml"), null).Settings!.Offload);
    }

    [Fact]
    public void A_file_overrides_only_the_keys_it_names()
    {
        var s = LoadOk("recording:\n  chunk: { size: 4MiB }\nstorage: { when_full: delete_oldest }");
        Assert.Equal(4L << 20, s.Recording.ChunkSize);
        Assert.Equal(TimeSpan.FromSeconds(1), s.Recording.ChunkMaxAge);
        Assert.Equal(McapCompression.Zstd, s.Recording.Compression);
        Assert.Equal("./recordings", s.Recording.Directory);
        Assert.Equal(WhenFull.DeleteOldest, s.Storage.WhenFull);
        Assert.Equal(256L << 20, s.Storage.MinFreeBytes);
        Assert.Equal("default", s.Fleet);
    }

    [Fact]
    public void A_list_in_a_file_replaces_the_default_list()
    {
        var s = LoadOk("ingest: { include: [\"/camera/.*\", \"/imu\"] }");
        Assert.Equal(["/camera/.*", "/imu"], s.Ingest.Include);
    }

    [Fact]
    public void A_device_file_alone_keeps_the_fleet_defaults()
    {
        var s = LoadOk(null, "device_id: rt-7\nsoftware_version: 4.2.1\nextra: { site: depot-east }");
        Assert.Equal("rt-7", s.Device.DeviceId);
        Assert.Equal("4.2.1", s.Device.SoftwareVersion);
        Assert.Equal("depot-east", s.Device.Extra["site"]);
        Assert.Equal("default", s.Fleet);
        Assert.Equal("device.yaml", s.DeviceFile);
        Assert.Null(s.FleetFile);
    }

    [Fact]
    public void Empty_files_and_comment_only_files_keep_the_defaults()
    {
        Assert.Equal(new RecorderSettings().Recording, LoadOk("").Recording);
        Assert.Equal("default", LoadOk("# nothing yet\n").Fleet);
        Assert.Equal("./recordings", LoadOk("recording:\n").Recording.Directory);
        Assert.Equal("f", LoadOk("fleet: f\n---\n").Fleet);
    }

    [Fact]
    public void Null_values_leave_optional_keys_unset_and_scalars_keep_their_text()
    {
        var s = LoadOk(null, "device_id: rt-1\nvehicle: 0042\nsoftware_version: ~\noperator: 'null'");
        Assert.Equal("0042", s.Device.Vehicle);
        Assert.Null(s.Device.SoftwareVersion);
        Assert.Equal("null", s.Device.Operator);
    }

    [Fact]
    public void Anchors_and_aliases_can_share_values()
    {
        var s = LoadOk("topics:\n  - { topic: /cam/a, tags: &pii { sensitivity: pii } }\n  - { topic: /cam/b, tags: *pii }");
        Assert.Equal("pii", s.Topics[1].Tags["sensitivity"]);
    }

    [Fact]
    public void Every_error_of_both_files_is_collected_in_file_order()
    {
        const string fleet = """
            fleet: east
            recording:
              dir: /data
              chunk: { size: 128MiB, max_age: 1s, compression: brotli }
              split: { size: lots, duration: 500ms }
            storage: { max_bytes: 1GiB, min_free_bytes: 5GiB }
            ingest: { socket: /run/r/ingest.sock, queue: 512KiB, include: [".*"], exclude: ["("] }
            topics:
              - { topic: /imu, fifo: /run/r/ingest.sock, format: jsonl }
              - { topic: /imu, format: h264 }
              - { topic: /gps, fram_id: gps }
            metadata: { required: [vehicle] }
            """;
        const string device = """
            device_version: rev-c
            software_version: 4.2.1
            software_version_file: /etc/av-stack/VERSION
            """;
        var result = ConfigLoader.LoadFromText(fleet, device);
        Assert.Equal(
        [
            "fleet.yaml:4:18: recording.chunk.size must be between 1KiB and 64MiB, got 128MiB",
            "fleet.yaml:4:52: recording.chunk.compression must be one of none, lz4, zstd, got 'brotli'",
            "fleet.yaml:5:18: recording.split.size: expected a size like 512MiB or 2GiB, got 'lots'",
            "fleet.yaml:5:34: recording.split.duration must be at least 1s, got 500ms",
            "fleet.yaml:6:45: storage.min_free_bytes (5GiB) must be smaller than storage.max_bytes (1GiB)",
            "fleet.yaml:7:46: ingest.queue must be at least 1MiB, got 512KiB",
            "fleet.yaml:7:81: ingest.exclude[0]: invalid regular expression '(': insufficient closing parentheses at offset 1",
            "fleet.yaml:9:26: topics[0].fifo '/run/r/ingest.sock' is the same path as ingest.socket (fleet.yaml:7:19); every input needs its own path",
            "fleet.yaml:10:14: topics[1]: topic '/imu' is declared twice (first at fleet.yaml:9:14)",
            "fleet.yaml:10:28: topics[1]: format 'h264' needs a fifo or a socket (topics without one arrive on the ingest socket as MCAP)",
            "fleet.yaml:11:20: unknown key 'fram_id' in 'topics[2]' (did you mean 'frame_id'?)",
            "fleet.yaml:12:24: metadata.required[0]: 'vehicle' is required but device.yaml does not set it",
            "device.yaml:3:24: software_version and software_version_file are both set; keep one",
        ], result.Errors.Select(e => e.ToString()));
        Assert.Null(result.Settings);
    }

    [Fact]
    public void Video_inputs_are_checked_exactly()
    {
        var result = ConfigLoader.LoadFromText("""
            recording:
              split: { keyframe_wait: 2m }
            topics:
              - { topic: /a, fifo: ./a.h264, socket: ./a.sock, format: h264 }
              - { topic: /b, socket: ./b.sock }
              - { topic: /c, fifo: ./c.jsonl, format: jsonl, store: sidecar }
              - { topic: /d, socket: ./a.sock, format: h265, store: box }
            """, null);
        Assert.Equal(
        [
            "fleet.yaml:2:27: recording.split.keyframe_wait must be between 0s and 1m, got 2m",
            "fleet.yaml:4:42: topics[0]: set fifo or socket, not both (a topic has one input)",
            "fleet.yaml:5:26: topics[1]: socket needs a format (one of mcap, jsonl, h264, h265)",
            "fleet.yaml:6:57: topics[2].store 'sidecar' only applies to format h264 or h265",
            "fleet.yaml:7:26: topics[3].socket './a.sock' is the same path as topics[0].socket (fleet.yaml:4:42); every input needs its own path",
            "fleet.yaml:7:57: topics[3].store must be one of container, sidecar, got 'box'",
        ], result.Errors.Select(e => e.ToString()));
        var ok = LoadOk("topics:\n  - { topic: /cam, socket: ./cam.sock, format: h264, store: sidecar }\nrecording:\n  split: { keyframe_wait: 0s }");
        Assert.Equal(("./cam.sock", FrameStore.Sidecar), (ok.Topics[0].Socket, ok.Topics[0].Store));
        Assert.Equal(TimeSpan.Zero, ok.Recording.KeyframeWait);
    }

    [Fact]
    public void A_value_that_fails_to_read_gives_one_error_and_no_cross_check_on_it()
    {
        // chunk.size is unreadable, so "chunk.size larger than split.size" is not judged on the default standing in for it.
        var result = ConfigLoader.LoadFromText("recording:\n  chunk: { size: huge }\n  split: { size: 512KiB }", null);
        Assert.Equal(["fleet.yaml:2:18: recording.chunk.size: expected a size like 512MiB or 2GiB, got 'huge'"], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void A_syntax_error_stops_its_own_file_but_the_other_file_is_still_checked()
    {
        var result = ConfigLoader.LoadFromText("fleet: [east\nmetadata: { required: [vehicle] }\n", "device_id: rt/1\n");
        Assert.Equal(
        [
            "fleet.yaml:2:1: invalid YAML: unterminated flow list or mapping (a '[' or '{' without its closing bracket)",
            "device.yaml:1:12: device_id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names directories and files), got 'rt/1'",
        ], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Missing_files_are_errors_named_as_given_and_the_other_file_is_still_checked()
    {
        var device = Path.Combine(_dir, "device.yaml");
        File.WriteAllText(device, "device_id: rt-1\nbogus: 1\n");
        var missing = Path.Combine(_dir, "nope.yaml");
        var result = ConfigLoader.Load(missing, device);
        Assert.Equal(
        [
            $"{missing}: no such file",
            $"{device}:2:1: unknown key 'bogus' (known keys: device_id, device_version, vehicle, software_version, software_version_file, operator, extra, fleet, recording, storage, ingest, control_socket, topics, metadata, offload, metrics)",
        ], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Files_on_disk_are_named_in_errors_exactly_as_passed()
    {
        var fleet = Path.Combine(_dir, "fleet.yaml");
        File.WriteAllText(fleet, "fleet: f\nrecording:\n    chunk_sise: 1MiB\n");
        var result = ConfigLoader.Load(fleet, null);
        Assert.Equal([$"{fleet}:3:5: unknown key 'chunk_sise' in 'recording' (did you mean 'chunk'?)"], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void The_control_socket_sits_beside_the_ingest_socket_unless_placed()
    {
        Assert.Equal("/run/rec/control.sock", LoadOk("ingest: { socket: /run/rec/ingest.sock }").ControlSocket);
        Assert.Equal("control.sock", LoadOk("ingest: { socket: ingest.sock }").ControlSocket);
        Assert.Equal("/tmp/ctl.sock", LoadOk("ingest: { socket: /run/rec/ingest.sock }\ncontrol_socket: /tmp/ctl.sock").ControlSocket);
        Assert.Equal("./run/control.sock", LoadOk("fleet: f").ControlSocket);
    }

    [Fact]
    public void Config_errors_print_as_file_line_column_message()
    {
        Assert.Equal("fleet.yaml:3:5: bad", new ConfigError("fleet.yaml", 3, 5, "bad").ToString());
        Assert.Equal("fleet.yaml: no such file", new ConfigError("fleet.yaml", 0, 0, "no such file").ToString());
    }

    [Theory]
    [InlineData("/imu", true)]
    [InlineData("/camera/front", true)]
    [InlineData("/camera/debug", false)]
    [InlineData("/camera", false)]
    [InlineData("imu", false)]
    [InlineData("/imu/raw", false)]
    [InlineData("/IMU", false)]
    public void Ingest_selection_matches_whole_topic_names_and_exclude_wins(string topic, bool selected)
    {
        var ingest = new IngestSettings { Include = ["/imu", "/camera/.*"], Exclude = [".*/debug"] };
        Assert.Equal(selected, ingest.Selects(topic));
    }

    [Fact]
    public void Ingest_selection_by_default_records_everything_and_follows_with_expressions()
    {
        var all = new IngestSettings();
        Assert.True(all.Selects("/anything/at/all"));
        Assert.True(all.Selects(""));
        var none = all with { Include = [] };
        Assert.False(none.Selects("/imu"));
        var noDebug = all with { Exclude = ["/debug/.*"] };
        Assert.False(noDebug.Selects("/debug/x"));
        Assert.True(noDebug.Selects("/imu"));
        Assert.True(all.Selects("/debug/x"));
    }

    [Fact]
    public void A_pattern_cannot_escape_the_full_match_anchors()
    {
        Assert.ThrowsAny<ArgumentException>(() => IngestSettings.CompilePattern("a)|(b"));
        Assert.Matches(IngestSettings.CompilePattern("a|b"), "b");
        Assert.DoesNotMatch(IngestSettings.CompilePattern("a|b"), "ab");
    }

    [Fact]
    public void Channel_metadata_is_the_tags_plus_frame_id_sorted_by_key()
    {
        var s = LoadOk("topics:\n  - { topic: /cam, frame_id: camera_front, tags: { sensitivity: pii, lens: wide } }\n  - { topic: /imu }");
        Assert.Equal(
            [new("frame_id", "camera_front"), new("lens", "wide"), new KeyValuePair<string, string>("sensitivity", "pii")],
            s.ChannelMetadataFor("/cam"));
        Assert.Empty(s.ChannelMetadataFor("/imu"));
        Assert.Empty(s.ChannelMetadataFor("/unknown"));
    }

    [Fact]
    public void Topic_settings_default_to_block_and_inherit_timestamps()
    {
        var s = LoadOk("ingest: { timestamps: producer, reorder_window: 250ms }\ntopics:\n  - { topic: /a }\n  - { topic: /b, timestamps: receive, drop: drop_newest, latched: false }");
        Assert.Equal(TimestampMode.Producer, s.Ingest.Timestamps);
        Assert.Equal(TimeSpan.FromMilliseconds(250), s.Ingest.ReorderWindow);
        Assert.Equal(DropPolicy.Block, s.Topics[0].Drop);
        Assert.Null(s.Topics[0].Timestamps);
        Assert.Equal(TimestampMode.Receive, s.Topics[1].Timestamps);
        Assert.Equal(DropPolicy.DropNewest, s.Topics[1].Drop);
        Assert.Same(s.Topics[1], s.FindTopic("/b"));
        Assert.Null(s.FindTopic("/c"));
    }

    [Fact]
    public void A_jsonl_fifo_carries_its_inline_json_schema()
    {
        var s = LoadOk("""
            topics:
              - topic: /vehicle/diag
                fifo: /run/recorder/diag.jsonl
                format: jsonl
                json_schema: |
                  { "type": "object", "properties": { "speed": { "type": "number" } } }
            """);
        Assert.StartsWith("{ \"type\": \"object\"", s.Topics[0].JsonSchema);
    }

    [Fact]
    public void Every_fifo_format_is_accepted_with_a_fifo()
    {
        var s = LoadOk("""
            topics:
              - { topic: /a, fifo: /run/a, format: mcap }
              - { topic: /b, fifo: /run/b, format: jsonl }
              - { topic: /c, fifo: /run/c, format: h264 }
              - { topic: /d, fifo: /run/d, format: h265 }
            """);
        Assert.Equal([TopicInputFormat.Mcap, TopicInputFormat.Jsonl, TopicInputFormat.H264, TopicInputFormat.H265], s.Topics.Select(t => t.Format!.Value));
    }

    [Fact]
    public void Boundary_values_of_the_ranges_are_accepted()
    {
        var s = LoadOk("""
            recording:
              chunk: { size: 1KiB, max_age: 10ms }
              split: { size: 1KiB, duration: 1s }
            ingest: { queue: 1MiB, reorder_window: 1m }
            storage: { max_bytes: 2GiB, min_free_bytes: 0 }
            """);
        Assert.Equal(1024, s.Recording.ChunkSize);
        Assert.Equal(1024, s.Recording.SplitSize);
        Assert.Equal(TimeSpan.FromMinutes(1), s.Ingest.ReorderWindow);
        var big = LoadOk("recording: { chunk: { size: 64MiB, max_age: 1h } }");
        Assert.Equal(64L << 20, big.Recording.ChunkSize);
    }

    [Fact]
    public void YamlNames_match_the_names_files_use()
    {
        Assert.Equal("lz4", YamlNames.Of(McapCompression.Lz4));
        Assert.Equal("delete_oldest", YamlNames.Of(WhenFull.DeleteOldest));
        Assert.Equal("drop_newest", YamlNames.Of(DropPolicy.DropNewest));
        Assert.Equal("h265", YamlNames.Of(TopicInputFormat.H265));
        Assert.Equal("producer", YamlNames.Of(TimestampMode.Producer));
        Assert.Equal("interval", YamlNames.Of(FsyncPolicy.Interval));
    }
}
