using System.Globalization;
using System.Net;
using Recorder.Config;
using Recorder.Config.Loading;
using YamlDotNet.RepresentationModel;

namespace Recorder.Depot.Config;

/// <summary>The outcome of loading: the settings when there are no errors, otherwise every error found.</summary>
public sealed record DepotConfigResult(DepotSettings? Settings, IReadOnlyList<ConfigError> Errors)
{
    /// <summary>True when the configuration is valid.</summary>
    public bool Succeeded => Settings is not null && Errors.Count == 0;
}

/// <summary>
/// Loads <c>depot.yaml</c> onto <see cref="DepotSettings"/> with the recorder's strict YAML reader:
/// defaults first, unknown keys, wrong types and bad units are errors at <c>file:line:column</c>,
/// then one validation pass (ranges, TLS pairs, plain HTTP off loopback). Every error is collected.
/// </summary>
public static class DepotConfigLoader
{
    internal static readonly string[] RootKeys = ["listen", "insecure", "tls", "tus", "uploads", "storage", "state_dir", "state", "catalog"];
    private static readonly string[] TlsKeys = ["certificate", "key", "client_ca"];
    private static readonly string[] TusKeys = ["path", "max_size"];
    private static readonly string[] UploadKeys = ["expire_after", "sweep_interval"];
    private static readonly string[] StorageKeys = ["dir", "s3"];
    private static readonly string[] S3Keys = ["endpoint", "bucket", "region", "path_style", "prefix", "access_key", "secret_key", "secret_key_file", "part_size"];
    private static readonly string[] StateKeys = ["postgres", "postgres_file"];
    private static readonly string[] CatalogKeys = ["postgres"];

    /// <summary>The longest sweep interval (a timer's period is limited to about 49 days).</summary>
    public static readonly TimeSpan MaxSweepInterval = TimeSpan.FromDays(30);

    /// <summary>The name errors give the <c>--listen</c> option.</summary>
    public const string ListenOption = "--listen";

    /// <summary>Loads <paramref name="path"/> (null: the embedded defaults), then applies <paramref name="listen"/> when given.</summary>
    public static DepotConfigResult Load(string? path, string? listen = null)
    {
        if (path is null) return LoadFromText(null, "(defaults)", listen);
        string text;
        try
        {
            text = System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new DepotConfigResult(null, [new ConfigError(path, 0, 0, "no such file")]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new DepotConfigResult(null, [new ConfigError(path, 0, 0, $"cannot read: {e.Message}")]);
        }
        return LoadFromText(text, path, listen);
    }

    /// <summary>Loads from text in memory (null: the embedded defaults); errors name <paramref name="file"/>.</summary>
    public static DepotConfigResult LoadFromText(string? text, string file, string? listen = null)
    {
        var errors = new List<ConfigError>();
        var map = new SourceMap();
        var settings = new DepotSettings { File = text is null ? null : file };
        if (text is not null)
        {
            var reader = new YamlReader(file, errors, map);
            if (reader.TryLoad(text, out var root)) settings = Read(reader, root, settings);
            else foreach (var key in RootKeys) map.Fail(key);
        }
        if (listen is not null)
        {
            settings = settings with { Listen = listen };
            map.Set("listen", new Location(ListenOption, 0, 0, listen));
        }
        Validate(settings, map, errors);
        var ordered = errors.OrderBy(e => e.File == file ? 0 : 1).ThenBy(e => e.Line).ThenBy(e => e.Column).ToList();
        return new DepotConfigResult(ordered.Count == 0 ? settings : null, ordered);
    }

    private static DepotSettings Read(YamlReader r, YamlNode? root, DepotSettings s)
    {
        foreach (var (key, value, path) in r.Keys(root, "", RootKeys))
        {
            switch (key)
            {
                case "listen":
                    if (r.String(value, path, out var listen)) s = s with { Listen = listen };
                    break;
                case "insecure":
                    if (r.Bool(value, path, out var insecure)) s = s with { Insecure = insecure };
                    break;
                case "state_dir":
                    if (r.String(value, path, out var state)) s = s with { StateDir = state };
                    break;
                case "tls":
                    var tls = s.Tls;
                    foreach (var (k, v, p) in r.Keys(value, path, TlsKeys))
                    {
                        if (!r.OptionalString(v, p, out var file)) continue;
                        tls = k switch
                        {
                            "certificate" => tls with { Certificate = file },
                            "key" => tls with { Key = file },
                            _ => tls with { ClientCa = file },
                        };
                    }
                    s = s with { Tls = tls };
                    break;
                case "tus":
                    var tus = s.Tus;
                    foreach (var (k, v, p) in r.Keys(value, path, TusKeys))
                    {
                        if (k == "path" && r.String(v, p, out var tusPath)) tus = tus with { Path = tusPath };
                        else if (k == "max_size" && r.Size(v, p, out var max)) tus = tus with { MaxSize = max };
                    }
                    s = s with { Tus = tus };
                    break;
                case "uploads":
                    var uploads = s.Uploads;
                    foreach (var (k, v, p) in r.Keys(value, path, UploadKeys))
                    {
                        if (!r.Duration(v, p, out var duration)) continue;
                        uploads = k == "expire_after" ? uploads with { ExpireAfter = duration } : uploads with { SweepInterval = duration };
                    }
                    s = s with { Uploads = uploads };
                    break;
                case "storage":
                    foreach (var (k, v, p) in r.Keys(value, path, StorageKeys))
                    {
                        if (k == "dir" && r.String(v, p, out var dir)) s = s with { Storage = s.Storage with { Dir = dir } };
                        else if (k == "s3" && !YamlReader.IsNull(v)) s = s with { Storage = s.Storage with { S3 = ReadS3(r, v, p) } };
                    }
                    break;
                case "state":
                    var shared = s.State;
                    foreach (var (k, v, p) in r.Keys(value, path, StateKeys))
                    {
                        if (!r.OptionalString(v, p, out var text)) continue;
                        shared = k == "postgres" ? shared with { Postgres = text } : shared with { PostgresFile = text };
                    }
                    s = s with { State = shared };
                    break;
                case "catalog":
                    foreach (var (_, v, p) in r.Keys(value, path, CatalogKeys))
                        if (r.OptionalString(v, p, out var postgres)) s = s with { Catalog = s.Catalog with { Postgres = postgres } };
                    break;
            }
        }
        return s;
    }

    private static S3Settings ReadS3(YamlReader r, YamlNode node, string path)
    {
        var s3 = new S3Settings();
        foreach (var (k, v, p) in r.Keys(node, path, S3Keys))
        {
            switch (k)
            {
                case "path_style":
                    if (r.Bool(v, p, out var pathStyle)) s3 = s3 with { PathStyle = pathStyle };
                    break;
                case "part_size":
                    if (r.Size(v, p, out var partSize)) s3 = s3 with { PartSize = partSize };
                    break;
                default:
                    if (!r.OptionalString(v, p, out var text)) break;
                    s3 = k switch
                    {
                        "endpoint" => s3 with { Endpoint = text ?? "" },
                        "bucket" => s3 with { Bucket = text ?? "" },
                        "region" => s3 with { Region = text ?? "" },
                        "prefix" => s3 with { Prefix = text ?? "" },
                        "access_key" => s3 with { AccessKey = text },
                        "secret_key" => s3 with { SecretKey = text },
                        _ => s3 with { SecretKeyFile = text },
                    };
                    break;
            }
        }
        return s3;
    }

    private static void ValidateS3(DepotSettings s, SourceMap map, Action<string, string> error)
    {
        if (s.Storage.S3 is not { } s3 || map.Failed("storage.s3")) return;
        if (!Uri.TryCreate(s3.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https") || endpoint.Query.Length > 0)
            error("storage.s3.endpoint", $"storage.s3.endpoint must be an http:// or https:// URL, got '{s3.Endpoint}'");
        if (s3.Bucket.Length == 0 || s3.Bucket.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.')))
            error("storage.s3.bucket", $"storage.s3.bucket must be a bucket name (lowercase letters, digits, '-' and '.'), got '{s3.Bucket}'");
        if (s3.Region.Length == 0) error("storage.s3.region", "storage.s3.region must not be empty");
        if (s3.Prefix.Length > 0 && (s3.Prefix[^1] != '/' || s3.Prefix[0] == '/'))
            error("storage.s3.prefix", $"storage.s3.prefix must be empty or end with '/' (and not start with it), got '{s3.Prefix}'");
        if (s3.PartSize < Storage.S3.S3UploadStore.MinPartSize || s3.PartSize > 1L << 30)
            error("storage.s3.part_size", "storage.s3.part_size must be from 5MiB (S3's minimum) to 1GiB (each upload in progress buffers one part in memory)");
        if (s3.SecretKey is not null && s3.SecretKeyFile is not null) error("storage.s3.secret_key_file", "storage.s3: set secret_key or secret_key_file, not both");
        if (s3.SecretKeyFile is not null && !System.IO.File.Exists(s3.SecretKeyFile)) error("storage.s3.secret_key_file", $"storage.s3.secret_key_file: no such file '{s3.SecretKeyFile}'");
        else if (s3.ResolveAccessKey() is null || (s3.SecretKeyFile is null && s3.ResolveSecretKey() is null))
            error("storage.s3", "storage.s3 needs credentials: access_key and secret_key (or secret_key_file), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
        if (s.State.Postgres is null && s.State.PostgresFile is null)
            error("storage.s3", "storage.s3 needs state.postgres: the upload state (offset, parts, hash, lock) of S3 uploads lives in PostgreSQL");
    }

    private static void Validate(DepotSettings s, SourceMap map, List<ConfigError> errors)
    {
        void Error(string path, string message)
        {
            // A value the file set is blamed where it stands; a default (or --listen) names its source.
            var at = map.Get(path);
            errors.Add(at is { } l ? new ConfigError(l.File, l.Line, l.Column, message) : new ConfigError(ConfigError.DefaultsFile, 0, 0, message));
        }

        if (!map.Failed("listen"))
        {
            if (!TryParseListen(s.Listen, out var address, out _, out var why)) Error("listen", $"listen: {why}");
            else if (!s.Tls.Enabled && !s.Insecure && !IPAddress.IsLoopback(address))
                Error("listen", $"listen: plain HTTP on {s.Listen}, an address other than loopback, is refused: set tls.certificate and tls.key, or insecure: true");
        }
        if (!map.Failed("tls"))
        {
            if (s.Tls.Certificate is not null && s.Tls.Key is null) Error("tls.certificate", "tls.certificate needs tls.key");
            if (s.Tls.Key is not null && s.Tls.Certificate is null) Error("tls.key", "tls.key needs tls.certificate");
            if (s.Tls.ClientCa is not null && s.Tls.Certificate is null) Error("tls.client_ca", "tls.client_ca (mTLS) needs HTTPS: set tls.certificate and tls.key");
            foreach (var (key, file) in new[] { ("tls.certificate", s.Tls.Certificate), ("tls.key", s.Tls.Key), ("tls.client_ca", s.Tls.ClientCa) })
                if (file is not null && !System.IO.File.Exists(file)) Error(key, $"{key}: no such file '{file}'");
        }
        if (!map.Failed("tus.path") && (s.Tus.Path.Length < 2 || s.Tus.Path[0] != '/' || s.Tus.Path[^1] != '/' || s.Tus.Path.Contains("//", StringComparison.Ordinal)))
            Error("tus.path", $"tus.path must start and end with '/', like /files/, got '{s.Tus.Path}'");
        if (!map.Failed("tus.max_size") && s.Tus.MaxSize <= 0) Error("tus.max_size", "tus.max_size must be more than 0");
        if (!map.Failed("uploads.expire_after") && s.Uploads.ExpireAfter <= TimeSpan.Zero) Error("uploads.expire_after", "uploads.expire_after must be more than 0");
        if (!map.Failed("uploads.sweep_interval") && (s.Uploads.SweepInterval <= TimeSpan.Zero || s.Uploads.SweepInterval > MaxSweepInterval))
            Error("uploads.sweep_interval", "uploads.sweep_interval must be more than 0 and at most 720h");
        if (!map.Failed("storage.dir") && s.Storage.Dir.Length == 0) Error("storage.dir", "storage.dir must not be empty");
        if (!map.Failed("catalog.postgres") && s.Catalog.Postgres is { } postgres)
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(postgres);
            }
            catch (ArgumentException e)
            {
                Error("catalog.postgres", $"catalog.postgres is not a PostgreSQL connection string: {e.Message}");
            }
        }
        if (!map.Failed("state_dir") && s.StateDir.Length == 0) Error("state_dir", "state_dir must not be empty");
        ValidateS3(s, map, Error);
        if (!map.Failed("state"))
        {
            if (s.State.Postgres is not null && s.State.PostgresFile is not null) Error("state.postgres_file", "state: set postgres or postgres_file, not both");
            if (s.State.PostgresFile is not null && !System.IO.File.Exists(s.State.PostgresFile)) Error("state.postgres_file", $"state.postgres_file: no such file '{s.State.PostgresFile}'");
            if (s.State.Postgres is not null && !IsConnectionString(s.State.Postgres)) Error("state.postgres", "state.postgres must be a connection string like Host=db;Database=depot;Username=depot");
            if ((s.State.Postgres ?? s.State.PostgresFile) is not null && s.Storage.S3 is null)
                Error(s.State.Postgres is not null ? "state.postgres" : "state.postgres_file", "state.postgres needs storage.s3: shared upload state is for replicas that share S3 storage, not a local directory");
        }
    }

    private static bool IsConnectionString(string text)
    {
        try
        {
            return new System.Data.Common.DbConnectionStringBuilder { ConnectionString = text }.Count > 0;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Parses <c>IP:PORT</c>, <c>[IPv6]:PORT</c> or <c>localhost:PORT</c> (port 0: any free port).</summary>
    public static bool TryParseListen(string text, out IPAddress address, out int port, out string why)
    {
        address = IPAddress.Loopback;
        port = 0;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            why = $"expected ADDRESS:PORT like 127.0.0.1:1080 or [::1]:1080, got '{text}'";
            return false;
        }
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        {
            why = $"expected a port from 0 to 65535 after ':', got '{text[(colon + 1)..]}'";
            return false;
        }
        if (host == "localhost") address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address!))
        {
            why = $"expected an IP address (or localhost) before the port, got '{host}'";
            address = IPAddress.Loopback;
            return false;
        }
        why = "";
        return true;
    }
}
