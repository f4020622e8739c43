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
    internal static readonly string[] RootKeys = ["listen", "insecure", "tls", "tus", "uploads", "storage", "state_dir", "catalog", "schemas", "profiles"];
    private static readonly string[] TlsKeys = ["certificate", "key", "client_ca"];
    private static readonly string[] TusKeys = ["path", "max_size"];
    private static readonly string[] UploadKeys = ["expire_after", "sweep_interval"];
    private static readonly string[] StorageKeys = ["dir"];
    private static readonly string[] CatalogKeys = ["postgres"];
    private static readonly string[] SchemaKeys = ["pinned"];
    private static readonly string[] ProfileKeys = ["topics", "default_fields"];

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
                    foreach (var (_, v, p) in r.Keys(value, path, StorageKeys))
                        if (r.String(v, p, out var dir)) s = s with { Storage = s.Storage with { Dir = dir } };
                    break;
                case "catalog":
                    foreach (var (_, v, p) in r.Keys(value, path, CatalogKeys))
                        if (r.OptionalString(v, p, out var postgres)) s = s with { Catalog = s.Catalog with { Postgres = postgres } };
                    break;
                case "schemas":
                    foreach (var (_, v, p) in r.Keys(value, path, SchemaKeys))
                        if (r.StringMap(v, p, out var pinned)) s = s with { Schemas = new SchemaSettings { Pinned = pinned } };
                    break;
                case "profiles":
                    s = s with { Profiles = Catalog.ProfileConfig.Read(r, value, path, ProfileKeys, s.Profiles) };
                    break;
            }
        }
        return s;
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
        foreach (var (topic, hash) in s.Schemas.Pinned)
            if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower))
                Error($"schemas.pinned.{topic}", $"schemas.pinned.{topic}: expected the schema's SHA-256 as 64 lowercase hex digits (the schema_sha256 of /api/schema-changes), got '{hash}'");
        Catalog.ProfileConfig.Validate(s.Profiles, map, Error);
        if (!map.Failed("state_dir") && s.StateDir.Length == 0) Error("state_dir", "state_dir must not be empty");
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
