namespace Recorder.Depot.Config;

/// <summary>
/// Everything the depot is configured with. Each default is declared here once; the YAML file
/// (<c>config/depot.example.yaml</c>) overrides only what it names. The embedded defaults run a
/// depot in a checkout: plain HTTP on 127.0.0.1:1080, the tus endpoint at <c>/files/</c>,
/// recordings under <c>./depot</c>.
/// </summary>
public sealed record DepotSettings
{
    /// <summary>The file the settings came from, or null for the embedded defaults.</summary>
    public string? File { get; init; }

    /// <summary>The address and port to listen on: <c>IP:PORT</c>, <c>[IPv6]:PORT</c> or <c>localhost:PORT</c>.</summary>
    public string Listen { get; init; } = "127.0.0.1:1080";

    /// <summary>Allow plain HTTP on an address other than loopback (bearer tokens then cross the network in clear).</summary>
    public bool Insecure { get; init; }

    /// <summary>The server certificate and, for mTLS, the fleet CA.</summary>
    public TlsSettings Tls { get; init; } = new();

    /// <summary>The tus endpoint.</summary>
    public TusSettings Tus { get; init; } = new();

    /// <summary>Uploads in progress.</summary>
    public UploadSettings Uploads { get; init; } = new();

    /// <summary>Where verified files are kept.</summary>
    public StorageSettings Storage { get; init; } = new();

    /// <summary>The depot's own state: the device tokens file.</summary>
    public string StateDir { get; init; } = "./depot-state";

    /// <summary>Where upload state lives: files in <see cref="Storage"/>'s directory, or PostgreSQL (shared by replicas).</summary>
    public StateSettings State { get; init; } = new();

    /// <summary>The file of device token hashes (<c>recorder-depot token add</c> appends to it).</summary>
    public string TokensFile => Path.Combine(StateDir, "tokens");

    /// <summary>The file of operator token hashes (<c>recorder-depot token add --operator NAME</c>): read-only access to the pages and the API from elsewhere than loopback.</summary>
    public string OperatorTokensFile => Path.Combine(StateDir, "operator-tokens");

    /// <summary>The catalog's database.</summary>
    public CatalogSettings Catalog { get; init; } = new();

    /// <summary>Schema pins: a recording whose topic carries another schema is flagged.</summary>
    public SchemaSettings Schemas { get; init; } = new();

    /// <summary>Which numeric fields of which topics get a profile (count, nulls, min, max, mean, quantiles).</summary>
    public ProfileSettings Profiles { get; init; } = new();

    /// <summary>The embedded catalog's SQLite file (used when <see cref="CatalogSettings.Postgres"/> is not set).</summary>
    public string CatalogFile => Path.Combine(StateDir, "catalog.sqlite");
}

/// <summary>The catalog's database: SQLite under <c>state_dir</c> by default, PostgreSQL for fleet scale.</summary>
public sealed record CatalogSettings
{
    /// <summary>A PostgreSQL connection string (Npgsql keywords: <c>Host=…;Database=…;Username=…</c>); null: SQLite.</summary>
    public string? Postgres { get; init; }
}

/// <summary>Schema pins (<c>schemas.pinned</c>): topic → the SHA-256 (hex) of the schema bytes it must carry.</summary>
public sealed record SchemaSettings
{
    public IReadOnlyDictionary<string, string> Pinned { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    // Settings compare by content (a loaded file against the defaults).
    public bool Equals(SchemaSettings? other) => other is not null && Pinned.Count == other.Pinned.Count
        && Pinned.All(p => other.Pinned.TryGetValue(p.Key, out var v) && v == p.Value);

    public override int GetHashCode() => Pinned.Count;
}

/// <summary>Field profiles (<c>profiles</c>): fields per topic (dot paths, <c>accel.x</c>); other JSON and protobuf topics get their first <see cref="DefaultFields"/> numeric fields.</summary>
public sealed record ProfileSettings
{
    /// <summary>Topic → the fields to profile (replaces the default for that topic; an empty list profiles none).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Topics { get; init; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>How many numeric fields (the first, in schema or document order) a topic not listed gets; 0 profiles only the listed topics.</summary>
    public int DefaultFields { get; init; } = 8;

    /// <summary>The largest <see cref="DefaultFields"/> and the most fields listed for one topic.</summary>
    public const int MaxFields = 64;

    // Settings compare by content (a loaded file against the defaults).
    public bool Equals(ProfileSettings? other) => other is not null && DefaultFields == other.DefaultFields && Topics.Count == other.Topics.Count
        && Topics.All(t => other.Topics.TryGetValue(t.Key, out var v) && v.SequenceEqual(t.Value, StringComparer.Ordinal));

    public override int GetHashCode() => HashCode.Combine(DefaultFields, Topics.Count);
}

/// <summary>Kestrel HTTPS: a PEM certificate and key; with <see cref="ClientCa"/>, device certificates (mTLS).</summary>
public sealed record TlsSettings
{
    /// <summary>The server certificate (PEM, with its chain), or null for plain HTTP.</summary>
    public string? Certificate { get; init; }

    /// <summary>The server certificate's private key (PEM).</summary>
    public string? Key { get; init; }

    /// <summary>The CA (PEM) that signs device certificates; a device's CN or DNS SAN is its device_id. Null: tokens only.</summary>
    public string? ClientCa { get; init; }

    /// <summary>True when HTTPS is configured.</summary>
    public bool Enabled => Certificate is not null;
}

/// <summary>The tus endpoint's shape.</summary>
public sealed record TusSettings
{
    /// <summary>The endpoint's path (creation is a POST to it, uploads live below it).</summary>
    public string Path { get; init; } = "/files/";

    /// <summary>The largest upload accepted (<c>Tus-Max-Size</c>); larger creations get 413.</summary>
    public long MaxSize { get; init; } = 1L << 40;
}

/// <summary>Uploads in progress: how long an abandoned one is kept.</summary>
public sealed record UploadSettings
{
    /// <summary>An upload with no byte for this long is removed (tus expiration; <c>Upload-Expires</c>). 7 days.</summary>
    public TimeSpan ExpireAfter { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How often expired uploads are looked for.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>Where verified files are kept: a local directory, <c>&lt;dir&gt;/&lt;device_id&gt;/&lt;YYYY-MM-DD&gt;/</c>, or S3.</summary>
public sealed record StorageSettings
{
    /// <summary>The root directory; uploads in progress live in its hidden <c>.uploads</c> directory (same file system, so the final rename is atomic).</summary>
    public string Dir { get; init; } = "./depot";

    /// <summary>
    /// How long a verified recording is kept after it arrived (the time the depot verified its
    /// newest file); then the whole recording group is removed. Null: forever (the default).
    /// </summary>
    public TimeSpan? KeepFor { get; init; }

    /// <summary>S3-compatible object storage instead of <see cref="Dir"/> (needs <c>state.postgres</c>); null: the directory.</summary>
    public S3Settings? S3 { get; init; }
}

/// <summary>
/// An S3-compatible bucket: files at <c>&lt;prefix&gt;&lt;device_id&gt;/&lt;YYYY-MM-DD&gt;/&lt;file&gt;</c>,
/// written as multipart uploads. Credentials: the keys here, else <c>secret_key_file</c>, else the
/// environment's <c>AWS_ACCESS_KEY_ID</c> / <c>AWS_SECRET_ACCESS_KEY</c>.
/// </summary>
public sealed record S3Settings
{
    /// <summary>The service's base URL, e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000.</summary>
    public string Endpoint { get; init; } = "";

    public string Bucket { get; init; } = "";

    /// <summary>The region requests are signed for.</summary>
    public string Region { get; init; } = "us-east-1";

    /// <summary>Bucket in the path (<c>endpoint/bucket/key</c>, as MinIO and most self-hosted servers want) rather than in the host name.</summary>
    public bool PathStyle { get; init; } = true;

    /// <summary>Prepended to every key: "" or ending in '/'.</summary>
    public string Prefix { get; init; } = "";

    public string? AccessKey { get; init; }

    public string? SecretKey { get; init; }

    /// <summary>A file holding the secret key (first line), kept out of the configuration.</summary>
    public string? SecretKeyFile { get; init; }

    /// <summary>The multipart part size: at least 5 MiB (S3's minimum); each upload in progress buffers up to one part in memory. 8 MiB.</summary>
    public long PartSize { get; init; } = 8L << 20;

    /// <summary>The access key: configured, or <c>AWS_ACCESS_KEY_ID</c>.</summary>
    public string? ResolveAccessKey() => AccessKey ?? Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");

    /// <summary>The secret key: configured, or the first line of <see cref="SecretKeyFile"/>, or <c>AWS_SECRET_ACCESS_KEY</c>.</summary>
    public string? ResolveSecretKey()
    {
        if (SecretKey is not null) return SecretKey;
        if (SecretKeyFile is not null) return System.IO.File.ReadLines(SecretKeyFile).FirstOrDefault()?.Trim();
        return Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
    }
}

/// <summary>Upload state (offset, lock, hash progress): beside the bytes in the storage directory by default, or in PostgreSQL.</summary>
public sealed record StateSettings
{
    /// <summary>An Npgsql connection string (<c>Host=…;Database=…;Username=…</c>); null: local state files.</summary>
    public string? Postgres { get; init; }

    /// <summary>A file holding the connection string (first line), to keep its password out of the configuration.</summary>
    public string? PostgresFile { get; init; }

    /// <summary>The connection string: configured, or the first line of <see cref="PostgresFile"/>; null for local state.</summary>
    public string? ResolvePostgres() => Postgres ?? (PostgresFile is null ? null : System.IO.File.ReadLines(PostgresFile).FirstOrDefault()?.Trim());
}
