using Recorder.Config.Loading;
using Recorder.Mcap;

namespace Recorder.Config.Tests;

/// <summary>
/// The service's configuration lifecycle: the device file overriding fleet keys, warnings, the
/// checks against the machine (a fake one: mounts and sizes are given), the effective
/// configuration, and the files the package installs. Tables map each case to its exact messages.
/// </summary>
public sealed class ServiceConfigTests
{
    /// <summary>/ rw 100GiB, /data rw 50GiB, /etc and /usr read-only (as under ProtectSystem=strict), /run rw.</summary>
    private sealed class FakeHost : IHostProbe
    {
        private static readonly HostVolume[] Volumes =
        [
            new("/", false, 100L << 30),
            new("/data", false, 50L << 30),
            new("/etc", true, 100L << 30),
            new("/usr", true, 100L << 30),
            new("/run", false, 1L << 30),
        ];

        public Dictionary<string, string> Unreadable { get; } = new(StringComparer.Ordinal);

        public HostVolume? VolumeOf(string path)
        {
            var full = Path.GetFullPath(path);
            return Volumes.Where(v => v.MountPoint == "/" || full == v.MountPoint || full.StartsWith(v.MountPoint + "/", StringComparison.Ordinal))
                .MaxBy(v => v.MountPoint.Length);
        }

        public string? WhyUnreadable(string path) => Unreadable.GetValueOrDefault(path);
    }

    public static TheoryData<string, string?, string?, string[], string[]> HostCases => new()
    {
        {
            "ingest socket in a read-only path (its control socket beside it is the same mistake: one error)",
            "ingest: { socket: /etc/recorder/ingest.sock }",
            null,
            ["fleet.yaml:1:19: ingest.socket '/etc/recorder/ingest.sock' is inside a read-only path (/etc is mounted read-only); the recorder cannot create it there"],
            []
        },
        {
            "control socket placed in a read-only path",
            "ingest: { socket: /run/recorder/ingest.sock }\ncontrol_socket: /usr/lib/recorder/control.sock",
            null,
            ["fleet.yaml:2:17: control_socket '/usr/lib/recorder/control.sock' is inside a read-only path (/usr is mounted read-only); the recorder cannot create it there"],
            []
        },
        {
            "FIFO in a read-only path",
            "topics:\n  - { topic: /diag, fifo: /usr/share/recorder/diag.jsonl, format: jsonl }",
            null,
            ["fleet.yaml:2:27: topics[0].fifo '/usr/share/recorder/diag.jsonl' is inside a read-only path (/usr is mounted read-only); the recorder cannot create it there"],
            []
        },
        {
            "metrics textfile in a read-only path",
            "metrics: { textfile: /usr/share/recorder/recorder.prom }",
            null,
            ["fleet.yaml:1:22: metrics.textfile '/usr/share/recorder/recorder.prom' is inside a read-only path (/usr is mounted read-only); the recorder cannot create it there"],
            []
        },
        {
            "recordings directory in a read-only path",
            "recording: { dir: /etc/recorder/recordings }",
            null,
            ["fleet.yaml:1:19: recording.dir '/etc/recorder/recordings' is inside a read-only path (/etc is mounted read-only); the recorder cannot create it there"],
            []
        },
        {
            "a device socket override into a read-only path names the device file",
            "ingest: { socket: /run/recorder/ingest.sock }",
            "device_id: rt-1\ningest: { socket: /etc/ingest.sock }",
            ["device.yaml:2:19: ingest.socket '/etc/ingest.sock' is inside a read-only path (/etc is mounted read-only); the recorder cannot create it there"],
            []
        },
        {
            "two inputs on one FIFO",
            "topics:\n  - { topic: /a, fifo: /run/recorder/x, format: jsonl }\n  - { topic: /b, fifo: /run/recorder/x, format: mcap }",
            null,
            ["fleet.yaml:3:24: topics[1].fifo '/run/recorder/x' is the same path as topics[0].fifo (fleet.yaml:2:24); every input needs its own path"],
            []
        },
        {
            "quota larger than the volume",
            "recording: { dir: /data/recordings }\nstorage: { max_bytes: 64GiB }",
            null,
            [],
            ["fleet.yaml:2:23: storage.max_bytes (64GiB) is larger than the volume holding recording.dir '/data/recordings' (50GiB at /data); the disk fills up before the quota applies"]
        },
        {
            "quota larger than the volume, set by the device file",
            "recording: { dir: /data/recordings }\nstorage: { max_bytes: 40GiB }",
            "device_id: rt-1\nstorage: { max_bytes: 60GB }",
            [],
            ["device.yaml:2:23: storage.max_bytes (60GB) is larger than the volume holding recording.dir '/data/recordings' (50GiB at /data); the disk fills up before the quota applies"]
        },
        {
            "the device file brings a fleet quota down to its disk: no warning",
            "recording: { dir: /data/recordings }\nstorage: { max_bytes: 200GiB }",
            "device_id: rt-1\nstorage: { max_bytes: 40GiB }",
            [],
            []
        },
        {
            "a device file without device_id",
            null,
            "# this vehicle\ndevice_version: rev-a\noperator: alice",
            [],
            [$"device.yaml:2:1: device_id is not set; this device records as its host name '{Environment.MachineName}'"]
        },
        {
            "an empty device file",
            null,
            "",
            [],
            [$"device.yaml:1:1: device_id is not set; this device records as its host name '{Environment.MachineName}'"]
        },
        {
            "errors and warnings together: every one is reported",
            "recording: { dir: /data/r }\nstorage: { max_bytes: 1TiB }\ningest: { socket: /usr/in.sock }",
            "vehicle: v1",
            ["fleet.yaml:3:19: ingest.socket '/usr/in.sock' is inside a read-only path (/usr is mounted read-only); the recorder cannot create it there"],
            [
                "fleet.yaml:2:23: storage.max_bytes (1TiB) is larger than the volume holding recording.dir '/data/r' (50GiB at /data); the disk fills up before the quota applies",
                $"device.yaml:1:1: device_id is not set; this device records as its host name '{Environment.MachineName}'",
            ]
        },
        {
            "a value that failed to read is not checked against the machine",
            "recording: { dir: [a] }\nstorage: { max_bytes: 1TiB }\ningest: { socket: { p: 1 } }",
            null,
            [
                "fleet.yaml:1:19: recording.dir: expected a string, got a list",
                "fleet.yaml:3:19: ingest.socket: expected a string, got a mapping",
            ],
            []
        },
    };

    [Theory]
    [MemberData(nameof(HostCases))]
    public void Each_configuration_gives_exactly_its_errors_and_warnings_on_the_machine(string name, string? fleet, string? device, string[] errors, string[] warnings)
    {
        var result = ConfigLoader.LoadFromText(fleet, device, host: new FakeHost());
        var actualErrors = result.Errors.Select(e => e.ToString()).ToArray();
        var actualWarnings = result.Warnings.Select(e => e.ToString()).ToArray();
        Assert.True(errors.SequenceEqual(actualErrors) && warnings.SequenceEqual(actualWarnings),
            $"{name}\nexpected errors:\n  {string.Join("\n  ", errors)}\nactual:\n  {string.Join("\n  ", actualErrors)}" +
            $"\nexpected warnings:\n  {string.Join("\n  ", warnings)}\nactual:\n  {string.Join("\n  ", actualWarnings)}");
        Assert.Equal(errors.Length == 0, result.Succeeded);
    }

    private static ServiceUnit PackagedUnit(string? dropIn = null)
    {
        var dir = Directory.CreateTempSubdirectory("recorder-unit-").FullName;
        var unit = Path.Combine(dir, "recorder.service");
        File.Copy(Path.Combine(RepoPaths.Root, "recorder.service"), unit);
        if (dropIn is not null)
        {
            Directory.CreateDirectory(unit + ".d");
            File.WriteAllText(Path.Combine(unit + ".d", "override.conf"), dropIn);
        }
        return ServiceUnit.Load(unit);
    }

    private const string PackagedWritable = "ReadWritePaths=/data/recordings; also /run/recorder, /var/lib/recorder, /tmp, /var/tmp";

    public static TheoryData<string, string, string?, string[]> UnitCases => new()
    {
        { "the packaged files fit the packaged unit", "recording: { dir: /data/recordings }\ningest: { socket: /run/recorder/ingest.sock }", null, [] },
        {
            "a recordings directory outside ReadWritePaths names the unit's writable paths and the fix",
            "recording: { dir: /srv/rec }\ningest: { socket: /run/recorder/ingest.sock }",
            null,
            [$"fleet.yaml:1:19: recording.dir '/srv/rec' is outside the paths recorder.service may write ({PackagedWritable}); the service cannot create it there. Fix: `systemctl edit recorder` and add [Service] ReadWritePaths=/srv/rec"]
        },
        {
            "the fix applied as a drop-in",
            "recording: { dir: /srv/rec }\ningest: { socket: /run/recorder/ingest.sock }",
            "[Service]\nReadWritePaths=/srv/rec\n",
            []
        },
        {
            "an empty assignment in a drop-in resets the list",
            "recording: { dir: /data/recordings }\ningest: { socket: /run/recorder/ingest.sock }",
            "[Service]\nReadWritePaths=\nReadWritePaths=-/srv/rec /srv/other\n",
            ["fleet.yaml:1:19: recording.dir '/data/recordings' is outside the paths recorder.service may write (ReadWritePaths=/srv/rec /srv/other; also /run/recorder, /var/lib/recorder, /tmp, /var/tmp); the service cannot create it there. Fix: `systemctl edit recorder` and add [Service] ReadWritePaths=/data/recordings"]
        },
        {
            "sockets and FIFOs: their directory must be writable; /run/recorder and the state directory are",
            "recording: { dir: /data/recordings }\ningest: { socket: /run/recorder/ingest.sock }\ncontrol_socket: /var/lib/recorder/control.sock\n" +
                "topics:\n  - { topic: /a, fifo: /srv/fifos/a.jsonl, format: jsonl }\n  - { topic: /b, socket: /run/recorder/b.sock, format: h264 }",
            null,
            [$"fleet.yaml:5:24: topics[0].fifo '/srv/fifos/a.jsonl' is outside the paths recorder.service may write ({PackagedWritable}); the service cannot create it there. Fix: `systemctl edit recorder` and add [Service] ReadWritePaths=/srv/fifos"]
        },
        {
            "outside the unit and read-only as well: one error, the one with the fix",
            "recording: { dir: /etc/recorder/rec }\ningest: { socket: /run/recorder/ingest.sock }",
            null,
            [$"fleet.yaml:1:19: recording.dir '/etc/recorder/rec' is outside the paths recorder.service may write ({PackagedWritable}); the service cannot create it there. Fix: `systemctl edit recorder` and add [Service] ReadWritePaths=/etc/recorder/rec"]
        },
        {
            "without ProtectSystem=strict the unit restricts nothing",
            "recording: { dir: /srv/rec }\ningest: { socket: /run/recorder/ingest.sock }",
            "[Service]\nProtectSystem=full\n",
            []
        },
    };

    [Theory]
    [MemberData(nameof(UnitCases))]
    public void A_path_the_service_unit_may_not_write_is_an_error_with_the_systemctl_edit_fix(string name, string fleet, string? dropIn, string[] errors)
    {
        var result = ConfigLoader.LoadFromText(fleet, "device_id: rt-1", host: new FakeHost(), unit: PackagedUnit(dropIn));
        var actual = result.Errors.Select(e => e.ToString()).ToArray();
        Assert.True(errors.SequenceEqual(actual), $"{name}\nexpected:\n  {string.Join("\n  ", errors)}\nactual:\n  {string.Join("\n  ", actual)}");
    }

    [Fact]
    public void Without_a_machine_to_check_against_only_the_files_are_judged()
    {
        var result = ConfigLoader.LoadFromText("ingest: { socket: /etc/in.sock }\nstorage: { max_bytes: 1000TiB }", "device_id: rt-1");
        Assert.True(result.Succeeded);
        Assert.Empty(result.Warnings);
    }

    public static TheoryData<string, string?, string> TlsCases => new()
    {
        { "missing", "no such file", "fleet.yaml:1:1: offload.tls.ca '/etc/recorder/ca.pem' cannot be read: no such file" },
        { "unreadable by the service user", "permission denied", "fleet.yaml:1:1: offload.tls.ca '/etc/recorder/ca.pem' cannot be read: permission denied" },
        { "empty", "it is empty", "fleet.yaml:1:1: offload.tls.ca '/etc/recorder/ca.pem' cannot be read: it is empty" },
        { "readable", null, "" },
    };

    /// <summary>The hook the offload settings will call (they are not in this branch yet): TLS material must be readable by the service.</summary>
    [Theory]
    [MemberData(nameof(TlsCases))]
    public void Offload_TLS_material_that_cannot_be_read_is_an_error_at_its_key(string name, string? why, string expected)
    {
        var host = new FakeHost();
        if (why is not null) host.Unreadable["/etc/recorder/ca.pem"] = why;
        var map = new SourceMap();
        map.Set("offload.tls.ca", new Location("fleet.yaml", 1, 1, "/etc/recorder/ca.pem"));
        var errors = new List<ConfigError>();
        new HostChecks(new RecorderSettings(), map, host, errors, []).TlsMaterial("offload.tls.ca", "/etc/recorder/ca.pem");
        Assert.True(expected.Length == 0 ? errors.Count == 0 : errors.Count == 1 && errors[0].ToString() == expected, $"{name}: {string.Join("; ", errors)}");
    }

    [Fact]
    public void The_device_file_overrides_fleet_keys_mappings_key_by_key_and_lists_whole()
    {
        var result = ConfigLoader.LoadFromText(
            """
            fleet: east
            recording: { dir: /data/r, chunk: { size: 2MiB, compression: lz4 } }
            ingest: { socket: /run/recorder/ingest.sock, exclude: ["/debug/.*"] }
            topics:
              - { topic: /tf_static, latched: true }
              - { topic: /cam, fifo: /run/recorder/cam.mcap, format: mcap, tags: { sensitivity: pii } }
            """,
            """
            device_id: rt-9
            recording: { chunk: { size: 4MiB } }
            ingest: { socket: /run/other/ingest.sock }
            topics:
              - { topic: /lidar, fifo: /run/other/lidar.mcap, format: mcap }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var s = result.Settings!;
        Assert.Equal("east", s.Fleet);
        Assert.Equal("/data/r", s.Recording.Directory);                    // fleet, not named by the device file
        Assert.Equal(4L << 20, s.Recording.ChunkSize);               // device wins
        Assert.Equal(McapCompression.Lz4, s.Recording.Compression); // fleet, beside the overridden key
        Assert.Equal("/run/other/ingest.sock", s.Ingest.Socket);
        Assert.Equal("/run/other/control.sock", s.ControlSocket);    // still beside the ingest socket
        Assert.Equal(["/debug/.*"], s.Ingest.Exclude);
        Assert.Equal(["/lidar"], s.Topics.Select(t => t.Topic));     // the list is replaced whole
        Assert.Equal("rt-9", s.Device.DeviceId);
    }

    [Fact]
    public void A_fleet_value_that_failed_can_be_overridden_but_its_error_stays()
    {
        var result = ConfigLoader.LoadFromText("recording: { chunk: { size: huge } }", "device_id: rt-1\nrecording: { chunk: { size: 2MiB } }");
        Assert.Equal(["fleet.yaml:1:29: recording.chunk.size: expected a size like 512MiB or 2GiB, got 'huge'"], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void The_effective_configuration_marks_where_each_value_came_from_and_loads_back_to_itself()
    {
        var result = ConfigLoader.Load(RepoPaths.Config("fleet.example.yaml"), RepoPaths.Config("device.example.yaml"));
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var yaml = EffectiveConfig.ToYaml(result);

        var lines = yaml.Split('\n');
        Assert.StartsWith("# effective configuration: the embedded defaults, then ", lines[0]);
        Assert.Matches(@"^    size: 1MiB +# .*fleet\.example\.yaml:\d+:\d+$", lines.Single(l => l.StartsWith("    size: 1MiB", StringComparison.Ordinal)));
        Assert.Matches(@"^  max_bytes: 100GiB +# .*device\.example\.yaml:\d+:\d+$", lines.Single(l => l.StartsWith("  max_bytes:", StringComparison.Ordinal)));
        Assert.Matches(@"^  min_free_bytes: 5GiB +# .*fleet\.example\.yaml:\d+:\d+$", lines.Single(l => l.StartsWith("  min_free_bytes:", StringComparison.Ordinal)));
        Assert.Matches(@"^control_socket: ""/run/recorder/control.sock"" +# beside ingest.socket$", lines.Single(l => l.StartsWith("control_socket:", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("  fsync: chunk", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("    tags: {\"sensitivity\": \"pii\"}", StringComparison.Ordinal));

        // As a device file (a device file may hold every key), it loads to the same configuration.
        var again = ConfigLoader.LoadFromText(null, yaml, deviceFile: "effective.yaml");
        Assert.True(again.Succeeded, string.Join("\n", again.Errors));
        Assert.Equal(Strip(yaml), Strip(EffectiveConfig.ToYaml(again)));

        static string Strip(string text) => string.Join('\n', text.Split('\n').Skip(1).Select(l => l.Split(" #")[0].TrimEnd()));
    }

    [Fact]
    public void The_effective_configuration_of_the_defaults_says_default_everywhere()
    {
        var yaml = EffectiveConfig.ToYaml(ConfigLoader.Load(null, null));
        Assert.StartsWith("# effective configuration: the embedded defaults (each file overrides what it names)\n", yaml);
        Assert.Contains("  dir: \"./recordings\"", yaml);
        Assert.Contains("topics: []", yaml);
        Assert.Matches(@"device_id: "".*"" +# the host name", yaml);
        Assert.DoesNotContain(":1:", yaml);
    }

    [Fact]
    public void The_packaged_files_load_with_one_warning_until_the_device_is_named()
    {
        var fleet = RepoPaths.Config("fleet.yaml");
        var device = RepoPaths.Config("device.yaml");
        var result = ConfigLoader.Load(fleet, device);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal([$"{device}:1:1: device_id is not set; this device records as its host name '{Environment.MachineName}'"], result.Warnings.Select(w => w.ToString()));
        var s = result.Settings!;
        Assert.Equal("/data/recordings", s.Recording.Directory);
        Assert.Equal("/run/recorder/ingest.sock", s.Ingest.Socket);
        Assert.Equal("/run/recorder/control.sock", s.ControlSocket);
        Assert.Equal(Environment.MachineName, s.Device.DeviceId);

        var named = ConfigLoader.LoadFromText(File.ReadAllText(fleet), File.ReadAllText(device) + "device_id: rt-0042\n");
        Assert.True(named.Succeeded);
        Assert.Empty(named.Warnings);
    }

    [Fact]
    public void Mount_table_lines_give_mount_points_and_read_only_flags()
    {
        var mounts = SystemHostProbe.ReadMounts(
        [
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
            "40 22 8:1 /etc /etc ro,nosuid,relatime shared:1 - ext4 /dev/sda1 rw",
            "41 22 8:2 / /media/usb\\040stick rw,relatime - vfat /dev/sdb1 rw",
            "42 22 8:3 / /data rw,relatime - ext4 /dev/sdc1 ro,errors=remount-ro",
            "bad line",
        ]);
        Assert.Equal([("/", false), ("/etc", true), ("/media/usb stick", false), ("/data", true)], mounts);
    }

    [Fact]
    public void The_real_machine_has_a_volume_under_every_path()
    {
        var probe = new SystemHostProbe();
        var volume = probe.VolumeOf("/surely/not/here/recordings");
        Assert.NotNull(volume);
        Assert.Equal("/", volume.MountPoint);
        Assert.True(volume.TotalBytes > 0);
        Assert.Equal("no such file", probe.WhyUnreadable("/surely/not/here.pem"));
        Assert.Equal("it is a directory", probe.WhyUnreadable("/"));
    }
}
