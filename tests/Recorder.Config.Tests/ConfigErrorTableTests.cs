namespace Recorder.Config.Tests;

/// <summary>
/// The table: each bad configuration and exactly the errors it must give, with file:line:column.
/// A fleet snippet loads with the device defaults and a device snippet with the fleet defaults,
/// unless a case gives both.
/// </summary>
public sealed class ConfigErrorTableTests
{
    public static TheoryData<string, string?, string?, string[]> Cases => new()
    {
        // ---- unknown keys -------------------------------------------------------------------
        {
            "unknown key, did you mean the section it starts with",
            """
            fleet: f
            recording:
                chunk_sise: 1MiB
            """,
            null,
            ["fleet.yaml:3:5: unknown key 'chunk_sise' in 'recording' (did you mean 'chunk'?)"]
        },
        {
            "unknown key, did you mean by edit distance",
            """
            recording:
              chunk: { size: 1MiB, max_aeg: 1s, compresion: lz4 }
            """,
            null,
            [
                "fleet.yaml:2:24: unknown key 'max_aeg' in 'recording.chunk' (did you mean 'max_age'?)",
                "fleet.yaml:2:37: unknown key 'compresion' in 'recording.chunk' (did you mean 'compression'?)",
            ]
        },
        {
            "unknown key in camelCase suggests the underscored key",
            "storage: { maxBytes: 1GiB }",
            null,
            ["fleet.yaml:1:12: unknown key 'maxBytes' in 'storage' (did you mean 'max_bytes'?)"]
        },
        {
            "unknown key with nothing close lists the known keys",
            "recording: { bogus: 1 }",
            null,
            ["fleet.yaml:1:14: unknown key 'bogus' in 'recording' (known keys: dir, chunk, split, fsync)"]
        },
        {
            "unknown top-level key",
            "topic: [/imu]",
            null,
            ["fleet.yaml:1:1: unknown key 'topic' (did you mean 'topics'?)"]
        },
        {
            "device key in the fleet file",
            "fleet: f\ndevice_id: rt-1",
            null,
            ["fleet.yaml:2:1: unknown key 'device_id' (it belongs in the device file)"]
        },
        {
            "a fleet key the device file overrides is checked there",
            "recording: { chunk: { size: 1MiB } }",
            "device_id: rt-1\nrecording: { chunk: { size: 1GiB } }",
            ["device.yaml:2:29: recording.chunk.size must be between 1KiB and 64MiB, got 1GiB"]
        },
        {
            "unknown key in the device file lists device and fleet keys",
            null,
            "device_id: rt-1\nstorge: { max_bytes: 1GiB }\nflavour: x",
            [
                "device.yaml:2:1: unknown key 'storge' (did you mean 'storage'?)",
                "device.yaml:3:1: unknown key 'flavour' (known keys: device_id, device_version, vehicle, software_version, software_version_file, operator, extra, fleet, recording, storage, ingest, control_socket, topics, metadata, offload, metrics)",
            ]
        },
        {
            "a device topic list replaces the fleet's, and its errors name the device file",
            "topics:\n  - { topic: /a, fifo: /run/r/a, format: jsonl }\n  - { topic: /b, fifo: /run/r/b, format: jsonl }",
            "device_id: rt-1\ntopics:\n  - { topic: /c, fifo: /run/r/c, format: jsonl }\n  - { topic: /d, fifo: /run/r/c, format: jsonl }",
            ["device.yaml:4:24: topics[1].fifo '/run/r/c' is the same path as topics[0].fifo (device.yaml:3:24); every input needs its own path"]
        },
        {
            "a device ingest socket on a fleet FIFO's path",
            "topics:\n  - { topic: /a, fifo: /run/r/a, format: jsonl }",
            "device_id: rt-1\ningest: { socket: /run/r/a }",
            ["fleet.yaml:2:24: topics[0].fifo '/run/r/a' is the same path as ingest.socket (device.yaml:2:19); every input needs its own path"]
        },
        {
            "unknown key in a topic",
            "topics:\n  - { topic: /cam, fifo: /run/cam, format: h264, fram_id: cam }",
            null,
            ["fleet.yaml:2:50: unknown key 'fram_id' in 'topics[0]' (did you mean 'frame_id'?)"]
        },

        // ---- wrong types, units and names -----------------------------------------------------
        {
            "size that is not a size",
            "recording:\n  split: { size: lots }",
            null,
            ["fleet.yaml:2:18: recording.split.size: expected a size like 512MiB or 2GiB, got 'lots'"]
        },
        {
            "size with a unit of the wrong case",
            "ingest: { queue: 256mb }",
            null,
            ["fleet.yaml:1:18: ingest.queue: unknown size unit 'mb' in '256mb' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"]
        },
        {
            "negative size",
            "storage: { max_bytes: -1GiB }",
            null,
            ["fleet.yaml:1:23: storage.max_bytes: a size cannot be negative, got '-1GiB'"]
        },
        {
            "size given as a list",
            "storage:\n  min_free_bytes: [1GiB]",
            null,
            ["fleet.yaml:2:19: storage.min_free_bytes: expected a size like 512MiB or 2GiB, got a list"]
        },
        {
            "size left empty",
            "recording:\n  chunk:\n    size:\n",
            null,
            ["fleet.yaml:3:10: recording.chunk.size: expected a size like 512MiB or 2GiB, got nothing"]
        },
        {
            "duration without a unit",
            "recording: { chunk: { max_age: 10 } }",
            null,
            ["fleet.yaml:1:32: recording.chunk.max_age: missing unit in duration '10' (use us, ms, s, m or h)"]
        },
        {
            "duration with an unknown unit",
            "recording: { split: { duration: 10min } }",
            null,
            ["fleet.yaml:1:33: recording.split.duration: unknown duration unit 'min' in '10min' (use us, ms, s, m or h)"]
        },
        {
            "duration that is not a duration",
            "ingest: { reorder_window: soon }",
            null,
            ["fleet.yaml:1:27: ingest.reorder_window: expected a duration like 500ms, 1s or 10m, got 'soon'"]
        },
        {
            "compression not among the allowed names",
            "recording:\n  chunk: { compression: brotli }",
            null,
            ["fleet.yaml:2:25: recording.chunk.compression must be one of none, lz4, zstd, got 'brotli'"]
        },
        {
            "enum in the wrong case suggests the right name",
            "recording: { chunk: { compression: LZ4 }, fsync: always }",
            null,
            [
                "fleet.yaml:1:36: recording.chunk.compression must be one of none, lz4, zstd, got 'LZ4' (did you mean 'lz4'?)",
                "fleet.yaml:1:50: recording.fsync must be one of chunk, interval, never, got 'always'",
            ]
        },
        {
            "enum with a dash suggests the underscore",
            "storage: { when_full: delete-oldest }\ntopics: [{ topic: /a, drop: oldest }]",
            null,
            [
                "fleet.yaml:1:23: storage.when_full must be one of stop, delete_oldest, got 'delete-oldest' (did you mean 'delete_oldest'?)",
                "fleet.yaml:2:29: topics[0].drop must be one of block, drop_oldest, drop_newest, got 'oldest'",
            ]
        },
        {
            "timestamps and format names",
            "ingest: { timestamps: sender }\ntopics: [{ topic: /a, fifo: /run/a, format: json, timestamps: producer }]",
            null,
            [
                "fleet.yaml:1:23: ingest.timestamps must be one of receive, producer, got 'sender'",
                "fleet.yaml:2:45: topics[0].format must be one of mcap, jsonl, h264, h265, got 'json' (did you mean 'jsonl'?)",
            ]
        },
        {
            "boolean that is not true or false",
            "topics:\n  - topic: /tf_static\n    latched: yes",
            null,
            ["fleet.yaml:3:14: topics[0].latched: expected true or false, got 'yes'"]
        },
        {
            "scalar where a list is expected",
            "ingest: { include: \".*\" }",
            null,
            ["fleet.yaml:1:20: ingest.include: expected a list, got '.*'"]
        },
        {
            "mapping where a list is expected",
            "topics: { topic: /imu }",
            null,
            ["fleet.yaml:1:9: topics: expected a list, got a mapping"]
        },
        {
            "a topic written as a bare name",
            "topics:\n  - /imu\n  - { topic: /gps }",
            null,
            ["fleet.yaml:2:5: topics[0]: expected a mapping like { topic: /imu }, got '/imu'"]
        },
        {
            "section written as a scalar",
            "recording: /var/lib/recorder",
            null,
            ["fleet.yaml:1:12: recording: expected a mapping of keys to values, got '/var/lib/recorder'"]
        },
        {
            "whole file is a list",
            "- fleet: f",
            null,
            ["fleet.yaml:1:1: expected a mapping of keys to values at the top of the file, got a list"]
        },
        {
            "string where a mapping is expected in tags",
            "topics:\n  - { topic: /a, tags: { sensitivity: [pii] } }",
            null,
            ["fleet.yaml:2:39: topics[0].tags.sensitivity: expected a string, got a list"]
        },
        {
            "list item that is not a string",
            "ingest:\n  exclude:\n    - /debug/.*\n    - { topic: x }",
            null,
            ["fleet.yaml:4:7: ingest.exclude[1]: expected a string, got a mapping"]
        },
        {
            "string key left empty",
            "fleet:\n",
            null,
            ["fleet.yaml:1:7: fleet: expected a string, got nothing"]
        },

        // ---- regular expressions ----------------------------------------------------------------
        {
            "invalid regular expressions in include and exclude",
            "ingest:\n  include: [\"/camera/.*\", \"([a-z\"]\n  exclude: [\"*\"]",
            null,
            [
                "fleet.yaml:2:27: ingest.include[1]: invalid regular expression '([a-z': unterminated bracket at offset 5",
                "fleet.yaml:3:13: ingest.exclude[0]: invalid regular expression '*': quantifier after nothing at offset 1",
            ]
        },
        {
            "regular expression that would escape the anchors",
            "ingest: { include: [\"a)|(b\"] }",
            null,
            ["fleet.yaml:1:21: ingest.include[0]: invalid regular expression 'a)|(b': insufficient opening parentheses at offset 2"]
        },

        // ---- ranges -----------------------------------------------------------------------------
        {
            "chunk size above 64MiB",
            "recording: { chunk: { size: 128MiB }, split: { size: 1GiB } }",
            null,
            ["fleet.yaml:1:29: recording.chunk.size must be between 1KiB and 64MiB, got 128MiB"]
        },
        {
            "chunk size below 1KiB",
            "recording: { chunk: { size: 512 } }",
            null,
            ["fleet.yaml:1:29: recording.chunk.size must be between 1KiB and 64MiB, got 512"]
        },
        {
            "chunk max_age outside 10ms to 1h",
            "recording:\n  chunk: { max_age: 5ms }",
            null,
            ["fleet.yaml:2:21: recording.chunk.max_age must be between 10ms and 1h, got 5ms"]
        },
        {
            "chunk max_age above 1h",
            "recording:\n  chunk: { max_age: 2h }",
            null,
            ["fleet.yaml:2:21: recording.chunk.max_age must be between 10ms and 1h, got 2h"]
        },
        {
            "split duration under a second",
            "recording: { split: { duration: 500ms } }",
            null,
            ["fleet.yaml:1:33: recording.split.duration must be at least 1s, got 500ms"]
        },
        {
            "queue under 1MiB",
            "ingest: { queue: 512KiB }",
            null,
            ["fleet.yaml:1:18: ingest.queue must be at least 1MiB, got 512KiB"]
        },
        {
            "reorder window over a minute",
            "ingest: { reorder_window: 5m }",
            null,
            ["fleet.yaml:1:27: ingest.reorder_window must be at most 1m, got 5m"]
        },
        {
            "attachment limit over the largest record a producer may send",
            "ingest: { max_attachment_bytes: 100MiB }",
            null,
            ["fleet.yaml:1:33: ingest.max_attachment_bytes must be at most 64MiB (the largest record a producer may send), got 100MiB"]
        },
        {
            "attachment limit that is not a size",
            "ingest: { max_attachment_bytes: 16mb }",
            null,
            ["fleet.yaml:1:33: ingest.max_attachment_bytes: unknown size unit 'mb' in '16mb' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"]
        },
        {
            "empty strings where a value is needed",
            "fleet: ''\nrecording: { dir: \"\" }\ningest: { socket: '' }",
            null,
            [
                "fleet.yaml:1:8: fleet must not be empty",
                "fleet.yaml:2:19: recording.dir must not be empty",
                "fleet.yaml:3:19: ingest.socket must not be empty",
            ]
        },

        // ---- cross-checks -----------------------------------------------------------------------
        {
            "chunk size larger than split size",
            "recording:\n  chunk: { size: 4MiB }\n  split: { size: 2MiB }",
            null,
            ["fleet.yaml:2:18: recording.chunk.size (4MiB) must not be larger than recording.split.size (2MiB)"]
        },
        {
            "split size below the default chunk size",
            "recording:\n  split: { size: 512KiB }",
            null,
            ["fleet.yaml:2:18: recording.chunk.size (1MiB) must not be larger than recording.split.size (512KiB)"]
        },
        {
            "min_free_bytes not below max_bytes",
            "storage: { max_bytes: 1GiB, min_free_bytes: 5GiB }",
            null,
            ["fleet.yaml:1:45: storage.min_free_bytes (5GiB) must be smaller than storage.max_bytes (1GiB)"]
        },
        {
            "max_bytes below the default min_free_bytes",
            "storage:\n  max_bytes: 128MiB",
            null,
            ["fleet.yaml:2:14: storage.min_free_bytes (256MiB) must be smaller than storage.max_bytes (128MiB)"]
        },
        {
            "two topics with the same name",
            "topics:\n  - { topic: /imu }\n  - { topic: /gps }\n  - { topic: /imu, latched: true }",
            null,
            ["fleet.yaml:4:14: topics[2]: topic '/imu' is declared twice (first at fleet.yaml:2:14)"]
        },
        {
            "a fifo on the ingest socket's path",
            "ingest: { socket: /run/rec/ingest.sock }\ntopics:\n  - { topic: /d, fifo: /run/rec/ingest.sock, format: jsonl }",
            null,
            ["fleet.yaml:3:24: topics[0].fifo '/run/rec/ingest.sock' is the same path as ingest.socket (fleet.yaml:1:19); every input needs its own path"]
        },
        {
            "two fifos on one path, written differently",
            "topics:\n  - { topic: /a, fifo: run/a.fifo, format: jsonl }\n  - { topic: /b, fifo: ./run/a.fifo, format: mcap }",
            null,
            ["fleet.yaml:3:24: topics[1].fifo './run/a.fifo' is the same path as topics[0].fifo (fleet.yaml:2:24); every input needs its own path"]
        },
        {
            "the control socket on the ingest socket's path",
            "ingest: { socket: /run/rec/x.sock }\ncontrol_socket: /run/rec/x.sock",
            null,
            ["fleet.yaml:2:17: control_socket '/run/rec/x.sock' is the same path as ingest.socket (fleet.yaml:1:19); every input needs its own path"]
        },
        {
            "an ingest socket named like the control socket beside it",
            "ingest: { socket: /run/rec/control.sock }",
            null,
            ["fleet.yaml:1:19: control_socket (beside ingest.socket) '/run/rec/control.sock' is the same path as ingest.socket (fleet.yaml:1:19); every input needs its own path"]
        },
        {
            "a format without a fifo",
            "topics:\n  - { topic: /cam, format: h264 }",
            null,
            ["fleet.yaml:2:28: topics[0]: format 'h264' needs a fifo or a socket (topics without one arrive on the ingest socket as MCAP)"]
        },
        {
            "a fifo without a format",
            "topics:\n  - { topic: /cam, fifo: /run/cam.h264 }",
            null,
            ["fleet.yaml:2:26: topics[0]: fifo needs a format (one of mcap, jsonl, h264, h265)"]
        },
        {
            "a topic without a name",
            "topics:\n  - { fifo: /run/a, format: jsonl }\n  - topic: ''",
            null,
            [
                "fleet.yaml:2:5: topics[0]: missing required key 'topic'",
                "fleet.yaml:3:12: topics[1].topic must not be empty",
            ]
        },
        {
            "a json schema on a topic that is not jsonl",
            "topics:\n  - { topic: /cam, fifo: /run/cam, format: h264, json_schema: '{}' }",
            null,
            ["fleet.yaml:2:63: topics[0].json_schema only applies to format jsonl"]
        },
        {
            "a json schema that is not JSON",
            "topics:\n  - topic: /diag\n    fifo: /run/diag\n    format: jsonl\n    json_schema: |\n      {\"type\": \"object\",\n",
            null,
            ["fleet.yaml:5:18: topics[0].json_schema is not valid JSON (line 2, column 1 of the schema): expected start of a property name or value, but instead reached end of data"]
        },
        {
            "a json schema that is not an object",
            "topics:\n  - { topic: /diag, fifo: /run/diag, format: jsonl, json_schema: '[1]' }",
            null,
            ["fleet.yaml:2:66: topics[0].json_schema must be a JSON object, got array"]
        },
        {
            "frame_id given twice",
            "topics:\n  - { topic: /cam, frame_id: cam, tags: { frame_id: cam2 } }",
            null,
            ["fleet.yaml:2:53: topics[0].tags.frame_id conflicts with topics[0].frame_id; set only one"]
        },
        {
            "a socket topic the ingest selection excludes",
            "ingest: { exclude: [\"/debug/.*\"] }\ntopics:\n  - { topic: /debug/x, drop: drop_newest }\n  - { topic: /debug/y, fifo: /run/y, format: jsonl }",
            null,
            ["fleet.yaml:3:14: topics[0]: topic '/debug/x' is not selected by ingest.include/ingest.exclude, so its settings never apply"]
        },

        // ---- device file ------------------------------------------------------------------------
        {
            "device_id that cannot name a directory",
            null,
            "device_id: rt/0042",
            ["device.yaml:1:12: device_id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names directories and files), got 'rt/0042'"]
        },
        {
            "software_version and software_version_file both set",
            null,
            "device_id: rt-1\nsoftware_version: 4.2.1\nsoftware_version_file: /etc/av-stack/VERSION",
            ["device.yaml:3:24: software_version and software_version_file are both set; keep one"]
        },
        {
            "device values that are empty or of the wrong shape",
            null,
            "device_id: rt-1\nvehicle: ''\ndevice_version: [a]\nextra: [site]",
            [
                "device.yaml:2:10: vehicle must not be empty (leave it out instead)",
                "device.yaml:3:17: device_version: expected a string, got a list",
                "device.yaml:4:8: extra: expected a mapping of keys to values, got a list",
            ]
        },
        {
            "extra reusing a standard metadata key",
            null,
            "device_id: rt-1\nextra: { operator: bob, hostname: h, site: east }",
            [
                "device.yaml:2:20: extra.operator: 'operator' is a standard recorder.device key; set it with the top-level key 'operator'",
                "device.yaml:2:35: extra.hostname: 'hostname' is a standard recorder.device key; choose another name",
            ]
        },
        {
            "required metadata the device file does not set",
            "metadata: { required: [operator, vehicle, software_version, operator] }",
            "device_id: rt-1",
            [
                "fleet.yaml:1:34: metadata.required[1]: 'vehicle' is required but device.yaml does not set it",
                "fleet.yaml:1:43: metadata.required[2]: 'software_version' is required but device.yaml does not set it",
                "fleet.yaml:1:61: metadata.required[3]: 'operator' is listed twice",
            ]
        },
        {
            "required metadata without a device file",
            "metadata: { required: [vehicle] }",
            null,
            ["fleet.yaml:1:24: metadata.required[0]: 'vehicle' is required but there is no device file to set it"]
        },

        // ---- offload ----------------------------------------------------------------------------
        {
            "offload without an endpoint",
            "offload:\n  token_file: /etc/recorder/depot.token\n",
            null,
            ["fleet.yaml:2:3: offload.endpoint is required (the depot's tus URL, e.g. https://depot.example/files)"]
        },
        {
            "offload over plain http without insecure",
            "offload: { endpoint: http://depot.lan/files, token_file: /t }",
            null,
            ["fleet.yaml:1:22: offload.endpoint uses http://; TLS is required unless offload.insecure: true (for tests on loopback)"]
        },
        {
            "offload endpoint with credentials in the URL",
            "offload: { endpoint: 'https://robot:hunter2@depot.lan/files', token_file: /t }",
            null,
            ["fleet.yaml:1:22: offload.endpoint must not carry credentials (user:password@); use offload.token_file or a client certificate"]
        },
        {
            "offload endpoint that is not a URL",
            "offload: { endpoint: depot.lan, token_file: /t }",
            null,
            ["fleet.yaml:1:22: offload.endpoint must be an absolute http:// or https:// URL, got 'depot.lan'"]
        },
        {
            "offload without credentials, and a certificate without its key",
            "offload:\n  endpoint: https://depot.lan/files\n  ca: /etc/recorder/depot-ca.pem\n",
            null,
            ["fleet.yaml:2:3: offload needs credentials: offload.token_file, or offload.client_certificate with offload.client_key"]
        },
        {
            "offload client certificate without its key",
            "offload: { endpoint: https://depot.lan/files, client_certificate: /etc/recorder/device.crt }",
            null,
            ["fleet.yaml:1:67: offload.client_certificate needs offload.client_key"]
        },
        {
            "offload networkmanager presence without SSIDs",
            "offload: { endpoint: https://d/files, token_file: /t, presence: networkmanager }",
            null,
            ["fleet.yaml:1:65: offload.presence networkmanager needs offload.ssids (the depot Wi-Fi networks)"]
        },
        {
            "offload SSIDs with probe presence",
            "offload: { endpoint: https://d/files, token_file: /t, ssids: [depot-a] }",
            null,
            ["fleet.yaml:1:62: offload.ssids only applies to presence networkmanager (presence is probe)"]
        },
        {
            "offload presence misspelt",
            "offload: { endpoint: https://d/files, token_file: /t, presence: network_manager }",
            null,
            ["fleet.yaml:1:65: offload.presence must be one of probe, networkmanager, manual, got 'network_manager' (did you mean 'networkmanager'?)"]
        },
        {
            "offload counts out of range and not numbers",
            "offload:\n  endpoint: https://d/files\n  token_file: /t\n  parallel: 0\n  enter_after: many\n  leave_after: 1000\n",
            null,
            [
                "fleet.yaml:4:13: offload.parallel must be between 1 and 16, got 0",
                "fleet.yaml:5:16: offload.enter_after: expected a whole number, got 'many'",
                "fleet.yaml:6:16: offload.leave_after must be between 1 and 100, got 1000",
            ]
        },
        {
            "offload durations and sizes out of range",
            "offload:\n  endpoint: https://d/files\n  token_file: /t\n  probe_interval: 10ms\n  retry: { min: 10m, max: 1m }\n  chunk_size: 1KiB\n  bandwidth: 100\n",
            null,
            [
                "fleet.yaml:4:19: offload.probe_interval must be between 100ms and 1h, got 10ms",
                "fleet.yaml:5:17: offload.retry.min (10m) must not be larger than offload.retry.max (1m)",
                "fleet.yaml:6:15: offload.chunk_size must be between 64KiB and 4GiB, got 1KiB",
                "fleet.yaml:7:14: offload.bandwidth must be 0 (unlimited) or at least 1KiB per second, got 100",
            ]
        },
        {
            "offload unknown key",
            "offload: { endpoint: https://d/files, token_file: /t, delete_after_uplaod: true }",
            null,
            ["fleet.yaml:1:55: unknown key 'delete_after_uplaod' in 'offload' (did you mean 'delete_after_upload'?)"]
        },
        {
            "offload enabled not a boolean stops the offload checks",
            "offload: { enabled: maybe }",
            null,
            ["fleet.yaml:1:21: offload.enabled: expected true or false, got 'maybe'"]
        },

        // ---- YAML syntax ------------------------------------------------------------------------
        {
            "unterminated quoted string",
            "fleet: \"east\nrecording: {}\n",
            null,
            ["fleet.yaml:1:8: invalid YAML: unterminated quoted string"]
        },
        {
            "bad indentation",
            "recording:\n  dir: /r\n fsync: chunk\n",
            null,
            ["fleet.yaml:3:2: invalid YAML: bad indentation (a key is not aligned with the keys above it)"]
        },
        {
            "a value containing ': ' unquoted",
            "fleet: east: west\n",
            null,
            ["fleet.yaml:1:12: invalid YAML: unexpected ':' (check the indentation, or quote a value that contains ': ')"]
        },
        {
            "duplicate key",
            "fleet: a\nrecording: {}\nfleet: b\n",
            null,
            ["fleet.yaml:3:1: duplicate key 'fleet'"]
        },
        {
            "tab indentation",
            "recording:\n\tdir: /r\n",
            null,
            ["fleet.yaml:2:1: invalid YAML: tabs cannot indent; use spaces"]
        },
        {
            "unterminated flow list",
            "ingest: { include: [\".*\" }\n",
            null,
            ["fleet.yaml:1:26: invalid YAML: unterminated list, expected ',' or ']'"]
        },
        {
            "alias to no anchor",
            "fleet: *name\n",
            null,
            ["fleet.yaml:1:8: invalid YAML: alias '*name' refers to no anchor"]
        },
        // ---- metrics ------------------------------------------------------------------------
        {
            "metrics.interval out of range and a textfile node_exporter would not read",
            """
            metrics:
              textfile: /var/lib/prometheus/node-exporter/recorder.txt
              interval: 500ms
            """,
            null,
            [
                "fleet.yaml:2:13: metrics.textfile must name a *.prom file (node_exporter's textfile collector reads only those), got '/var/lib/prometheus/node-exporter/recorder.txt'",
                "fleet.yaml:3:13: metrics.interval must be between 1s and 1h, got 500ms",
            ]
        },
        {
            "metrics.textfile empty, and an unknown metrics key",
            "metrics: { textfile: '', intervall: 5s }",
            null,
            [
                "fleet.yaml:1:22: metrics.textfile must not be empty (leave it out to turn the metrics off)",
                "fleet.yaml:1:26: unknown key 'intervall' in 'metrics' (did you mean 'interval'?)",
            ]
        },
        {
            "two documents in one file",
            "fleet: a\n---\nfleet: b\n",
            null,
            ["fleet.yaml:3:1: expected one YAML document, found a second one (remove the '---' separator)"]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_bad_configuration_gives_exactly_its_errors_at_file_line_and_column(string name, string? fleet, string? device, string[] expected)
    {
        var result = ConfigLoader.LoadFromText(fleet, device);
        var actual = result.Errors.Select(e => e.ToString()).ToArray();
        Assert.True(expected.SequenceEqual(actual),
            $"{name}\nexpected:\n  {string.Join("\n  ", expected)}\nactual:\n  {string.Join("\n  ", actual)}");
        Assert.Null(result.Settings);
        Assert.False(result.Succeeded);
    }
}
