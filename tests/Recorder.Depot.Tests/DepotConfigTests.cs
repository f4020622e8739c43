using Recorder.Depot.Config;

namespace Recorder.Depot.Tests;

/// <summary>depot.yaml: the embedded defaults, the example file, and a table of bad files mapped to exact messages.</summary>
public sealed class DepotConfigTests
{
    private static string ExampleFile => Path.Combine(Mcap.Tests.RepoPaths.Root, "config", "depot.example.yaml");

    [Fact]
    public void The_embedded_defaults_are_plain_http_on_loopback_1080_with_files_under_depot()
    {
        var result = DepotConfigLoader.Load(null);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var s = result.Settings!;
        Assert.Equal("127.0.0.1:1080", s.Listen);
        Assert.False(s.Tls.Enabled);
        Assert.False(s.Insecure);
        Assert.Equal("/files/", s.Tus.Path);
        Assert.Equal("./depot", s.Storage.Dir);
        Assert.Equal(TimeSpan.FromDays(7), s.Uploads.ExpireAfter);
    }

    [Fact]
    public void The_example_file_states_every_default()
    {
        var result = DepotConfigLoader.Load(ExampleFile);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(new DepotSettings() with { File = ExampleFile }, result.Settings);
        // Every key the loader knows is in the example.
        var text = File.ReadAllText(ExampleFile);
        foreach (var key in DepotConfigLoader.RootKeys) Assert.Contains("\n" + key + ":", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("listen: 10.0.0.5:1080\n", "depot.yaml:1:9: listen: plain HTTP on 10.0.0.5:1080, an address other than loopback, is refused: set tls.certificate and tls.key, or insecure: true")]
    [InlineData("listen: somewhere\n", "depot.yaml:1:9: listen: expected ADDRESS:PORT like 127.0.0.1:1080 or [::1]:1080, got 'somewhere'")]
    [InlineData("listen: 127.0.0.1:99999\n", "depot.yaml:1:9: listen: expected a port from 0 to 65535 after ':', got '99999'")]
    [InlineData("listen: depot.lan:1080\n", "depot.yaml:1:9: listen: expected an IP address (or localhost) before the port, got 'depot.lan'")]
    [InlineData("lisen: 127.0.0.1:1\n", "depot.yaml:1:1: unknown key 'lisen' (did you mean 'listen'?)")]
    [InlineData("insecure: maybe\n", "depot.yaml:1:11: insecure: expected true or false, got 'maybe'")]
    [InlineData("uploads:\n  expire_after: 7d\n", "depot.yaml:2:17: uploads.expire_after: unknown duration unit 'd' in '7d' (use us, ms, s, m or h)")]
    [InlineData("uploads: { expire_after: 0 }\n", "depot.yaml:1:26: uploads.expire_after must be more than 0")]
    [InlineData("uploads: { sweep_interval: 1000h }\n", "depot.yaml:1:28: uploads.sweep_interval must be more than 0 and at most 720h")]
    [InlineData("tus: { path: files }\n", "depot.yaml:1:14: tus.path must start and end with '/', like /files/, got 'files'")]
    [InlineData("tus: { max_size: lots }\n", "depot.yaml:1:18: tus.max_size: expected a size like 512MiB or 2GiB, got 'lots'")]
    [InlineData("tls: { key: /nonexistent/key.pem }\n", "depot.yaml:1:13: tls.key needs tls.certificate")]
    [InlineData("storage: { bucket: x }\n", "depot.yaml:1:12: unknown key 'bucket' in 'storage' (known keys: dir, keep_for, s3)")]
    [InlineData("storage: { s3: { endpoint: http://127.0.0.1:9000, bucket: depot, access_key: a, secret_key: b } }\n", "depot.yaml:1:16: storage.s3 needs state.postgres: the upload state (offset, parts, hash, lock) of S3 uploads lives in PostgreSQL")]
    [InlineData("storage: { s3: { endpoint: s3.example, bucket: depot, access_key: a, secret_key: b } }\nstate: { postgres: Host=db }\n", "depot.yaml:1:28: storage.s3.endpoint must be an http:// or https:// URL, got 's3.example'")]
    [InlineData("storage: { s3: { endpoint: http://s3, bucket: Depot, access_key: a, secret_key: b } }\nstate: { postgres: Host=db }\n", "depot.yaml:1:47: storage.s3.bucket must be a bucket name (lowercase letters, digits, '-' and '.'), got 'Depot'")]
    [InlineData("storage: { s3: { endpoint: http://s3, bucket: d, access_key: a, secret_key: b, part_size: 1MiB } }\nstate: { postgres: Host=db }\n", "depot.yaml:1:91: storage.s3.part_size must be from 5MiB (S3's minimum) to 1GiB (each upload in progress buffers one part in memory)")]
    [InlineData("storage: { s3: { endpoint: http://s3, bucket: d, access_key: a, secret_key: b, prefix: /x } }\nstate: { postgres: Host=db }\n", "depot.yaml:1:88: storage.s3.prefix must be empty or end with '/' (and not start with it), got '/x'")]
    [InlineData("storage: { s3: { endpoint: http://s3, bucket: d, access_key: a, secret_key: b, regin: x } }\nstate: { postgres: Host=db }\n", "depot.yaml:1:80: unknown key 'regin' in 'storage.s3' (did you mean 'region'?)")]
    [InlineData("state: { postgres: Host=db }\n", "depot.yaml:1:20: state.postgres needs storage.s3: shared upload state is for replicas that share S3 storage, not a local directory")]
    [InlineData("state: { postgres: \"not a connection string\" }\n", "depot.yaml:1:20: state.postgres must be a connection string like Host=db;Database=depot;Username=depot")]
    [InlineData("storage: [ ./depot ]\n", "depot.yaml:1:10: storage: expected a mapping of keys to values, got a list")]
    public void A_bad_file_gets_an_exact_error(string yaml, string expected)
    {
        var result = DepotConfigLoader.LoadFromText(yaml, "depot.yaml");
        Assert.False(result.Succeeded);
        Assert.Equal(expected, result.Errors[0].ToString());
    }

    [Fact]
    public void S3_storage_with_postgres_state_loads_with_its_defaults()
    {
        var result = DepotConfigLoader.LoadFromText("storage:\n  s3: { endpoint: http://127.0.0.1:9000, bucket: depot, access_key: a, secret_key: b }\nstate: { postgres: \"Host=db;Database=depot\" }\n", "depot.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var s3 = result.Settings!.Storage.S3!;
        Assert.Equal(("http://127.0.0.1:9000", "depot", "us-east-1", true, "", 8L << 20), (s3.Endpoint, s3.Bucket, s3.Region, s3.PathStyle, s3.Prefix, s3.PartSize));
        Assert.Equal("Host=db;Database=depot", result.Settings.State.ResolvePostgres());
    }

    [Fact]
    public void Every_error_is_collected()
    {
        var result = DepotConfigLoader.LoadFromText("listen: nowhere\ninsecure: 3\ntus: { path: x }\nbogus: 1\n", "depot.yaml");
        Assert.Equal(4, result.Errors.Count);
        Assert.Equal([1, 2, 3, 4], result.Errors.Select(e => e.Line));
    }

    [Fact]
    public void Plain_http_off_loopback_is_allowed_with_insecure_true()
    {
        var result = DepotConfigLoader.LoadFromText("listen: 0.0.0.0:1080\ninsecure: true\n", "depot.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
    }

    [Fact]
    public void The_listen_option_overrides_the_file_and_is_checked_the_same()
    {
        var result = DepotConfigLoader.LoadFromText("listen: 127.0.0.1:1080\n", "depot.yaml", listen: "192.168.1.2:8080");
        Assert.Equal("--listen: listen: plain HTTP on 192.168.1.2:8080, an address other than loopback, is refused: set tls.certificate and tls.key, or insecure: true",
            Assert.Single(result.Errors).ToString());
        Assert.Equal("[::1]:9000", DepotConfigLoader.LoadFromText(null, "depot.yaml", listen: "[::1]:9000").Settings!.Listen);
    }

    [Fact]
    public void Config_check_prints_every_error_and_exits_1()
    {
        var dir = Directory.CreateTempSubdirectory("depot-config-").FullName;
        try
        {
            var file = Path.Combine(dir, "depot.yaml");
            File.WriteAllText(file, "listen: 8.8.8.8:80\nuploads: { expire_after: soon }\n");
            var (code, output, error) = Cli("config", "check", "--config", file);
            Assert.Equal(1, code);
            Assert.Equal("", output);
            Assert.Equal(
                $"{file}:1:9: listen: plain HTTP on 8.8.8.8:80, an address other than loopback, is refused: set tls.certificate and tls.key, or insecure: true\n" +
                $"{file}:2:26: uploads.expire_after: expected a duration like 500ms, 1s or 10m, got 'soon'\n", error.Replace("\r", "", StringComparison.Ordinal));
            Assert.Equal((0, "(defaults): ok\n", ""), Cli("config", "check"));
            Assert.Equal(1, Cli("config", "check", "--config", Path.Combine(dir, "missing.yaml")).Code);
            Assert.Equal(2, Cli("config", "frobnicate").Code);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Token_add_prints_the_token_once_and_keeps_only_its_hash()
    {
        var dir = Directory.CreateTempSubdirectory("depot-tokens-").FullName;
        try
        {
            var file = Path.Combine(dir, "depot.yaml");
            File.WriteAllText(file, $"state_dir: {Path.Combine(dir, "state")}\n");
            var (code, output, _) = Cli("token", "add", "rt-0042", "--config", file);
            Assert.Equal(0, code);
            var token = output.Trim();
            Assert.StartsWith("rdt_", token, StringComparison.Ordinal);
            var stored = File.ReadAllText(Path.Combine(dir, "state", "tokens"));
            Assert.DoesNotContain(token, stored, StringComparison.Ordinal);
            Assert.Equal("rt-0042 " + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token))) + "\n", stored);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "state", "tokens")));
            Assert.Equal("rt-0042", new Identity.TokenStore(Path.Combine(dir, "state", "tokens")).DeviceOf(token));
            Assert.Equal(1, Cli("token", "add", "../etc", "--config", file).Code);
            Assert.Equal((0, "rt-0042\t1\n", ""), Cli("token", "list", "--config", file));
            Assert.Equal(0, Cli("token", "remove", "rt-0042", "--config", file).Code);
            Assert.Null(new Identity.TokenStore(Path.Combine(dir, "state", "tokens")).DeviceOf(token));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Output, string Error) Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = DepotCommandLine.Run(args, output, error);
        return (code, output.ToString().Replace("\r", "", StringComparison.Ordinal), error.ToString().Replace("\r", "", StringComparison.Ordinal));
    }
}
