using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Recorder.Depot.Config;
using Recorder.Depot.Identity;
using Recorder.Depot.Storage;
using Recorder.Depot.Storage.S3;
using Recorder.Depot.Tests.Fixtures;
using Recorder.Depot.Tus;

namespace Recorder.Depot.Tests;

/// <summary>
/// The real depot host (Kestrel on 127.0.0.1, a real port) in-process, on a fake clock, with a
/// fresh storage directory and tokens for two devices. Its log lines are captured.
/// </summary>
public sealed class TestDepot : IAsyncDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("recorder-depot-test-").FullName;
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 27, 8, 0, 0, TimeSpan.Zero));
    public DepotApp App { get; private set; } = null!;
    public string TokenA { get; private set; } = "";
    public string TokenB { get; private set; } = "";
    public LogCapture Log { get; } = new();
    public string Storage => Path.Combine(Root, "store");

    /// <summary>The S3 bucket and PostgreSQL server when the depot keeps uploads there (a fresh key prefix and database per depot); null: the local directory.</summary>
    public SharedStorage? Shared { get; private set; }

    private DepotSettings _settings = null!;

    /// <param name="shared">S3 + PostgreSQL instead of the local directory.</param>
    public static async Task<TestDepot> StartAsync(Func<DepotSettings, DepotSettings>? configure = null, SharedStorage? shared = null)
    {
        var depot = new TestDepot { Shared = shared };
        var settings = new DepotSettings
        {
            Listen = "127.0.0.1:0",
            Storage = new StorageSettings { Dir = Path.Combine(depot.Root, "store") },
            StateDir = Path.Combine(depot.Root, "state"),
        };
        if (shared is not null) settings = shared.Configure(settings);
        if (configure is not null) settings = configure(settings);
        var tokens = new TokenStore(settings.TokensFile);
        depot.TokenA = tokens.Add("dev-a");
        depot.TokenB = tokens.Add("dev-b");
        depot._settings = settings;
        depot.App = DepotApp.Build(settings, depot.Time, l => l.AddProvider(depot.Log).SetMinimumLevel(LogLevel.Debug));
        await depot.App.StartAsync();
        return depot;
    }

    /// <summary>Stops the depot and starts a new one on the same storage, state and clock (a restart: nothing in memory survives).</summary>
    public async Task RestartAsync()
    {
        _settings = _settings with { Listen = $"127.0.0.1:{App.Url.Port}" }; // the same address: clients hold upload URLs
        await App.DisposeAsync();
        App = DepotApp.Build(_settings, Time, l => l.AddProvider(Log).SetMinimumLevel(LogLevel.Debug));
        await App.StartAsync();
    }

    public IUploadStore Store => (IUploadStore)App.Services.GetService(typeof(IUploadStore))!;

    /// <summary>The bytes of the file stored at <paramref name="storagePath"/> (device/date/name), or null when there is none.</summary>
    public async Task<byte[]?> ReadStoredAsync(string storagePath)
    {
        if (Shared is null)
        {
            var path = Path.Combine(Storage, storagePath);
            return File.Exists(path) ? await File.ReadAllBytesAsync(path) : null;
        }
        using var s3 = Shared.Client();
        return await s3.GetObjectAsync(_settings.Storage.S3!.Prefix + storagePath, CancellationToken.None);
    }

    public Uri Endpoint => App.Endpoint;

    public HttpClient Client(string? token)
    {
        var client = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public TusHandler Handler => (TusHandler)App.Services.GetService(typeof(TusHandler))!;

    /// <summary>
    /// Everything the store keeps, relative to its root: files (uploads in progress included) and
    /// upload records. Locally the regular files; on S3 the objects under the prefix and, for each
    /// row of upload state in PostgreSQL, <c>.uploads/ID.state</c>.
    /// </summary>
    public List<string> StoredFiles()
    {
        if (Shared is null)
        {
            return Directory.Exists(Storage)
                ? Directory.EnumerateFiles(Storage, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Storage, f)).Order(StringComparer.Ordinal).ToList()
                : [];
        }
        return Task.Run(async () =>
        {
            var prefix = _settings.Storage.S3!.Prefix;
            var all = new List<string>();
            using var s3 = Shared.Client();
            await foreach (var (key, _) in s3.ListAsync(prefix, CancellationToken.None)) all.Add(key[prefix.Length..]);
            await foreach (var record in Store.ListAsync(CancellationToken.None)) all.Add(".uploads/" + record.Id + ".state");
            return all.Order(StringComparer.Ordinal).ToList();
        }).GetAwaiter().GetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>S3 (s3rver) and PostgreSQL for test depots: each depot gets its own key prefix in the bucket and its own database.</summary>
public sealed class SharedStorage(S3Server s3, PostgresServer postgres)
{
    private static int _depots;

    public S3Server S3 { get; } = s3;
    public PostgresServer Postgres { get; } = postgres;

    /// <summary>A fresh prefix and database on <paramref name="settings"/>.</summary>
    public DepotSettings Configure(DepotSettings settings) => settings with
    {
        Storage = settings.Storage with { S3 = S3Settings() },
        State = new StateSettings { Postgres = Postgres.CreateDatabase("depot") },
    };

    public S3Settings S3Settings(string? prefix = null) => new()
    {
        Endpoint = S3.Endpoint.ToString(),
        Bucket = S3Server.Bucket,
        Region = S3Server.Region,
        AccessKey = S3Server.AccessKey,
        SecretKey = S3Server.SecretKey,
        Prefix = prefix ?? $"depot{Interlocked.Increment(ref _depots)}-{Guid.NewGuid():N}/",
        PartSize = S3UploadStore.MinPartSize,
    };

    public S3Client Client() => new(new S3Connection(S3.Endpoint, S3Server.Bucket, S3Server.Region, S3Server.AccessKey, S3Server.SecretKey, PathStyle: true));
}

/// <summary>One s3rver and one PostgreSQL server for every test class that runs depots on S3 + PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class SharedStorageCollection : ICollectionFixture<S3Server>, ICollectionFixture<PostgresServer>
{
    public const string Name = "s3+postgres";
}

/// <summary>An ILoggerProvider keeping every formatted line (with its level), for assertions on what was logged.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly List<string> _lines = new();

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return _lines.ToList(); }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._lines) owner._lines.Add($"{logLevel}: {formatter(state, exception)}");
        }
    }
}

/// <summary>A recording file's bytes and the metadata the recorder would send for it.</summary>
public sealed record Sample(string FileName, byte[] Bytes, string Device, string Recording)
{
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Bytes));

    public static Sample Random(string fileName, int size, string device = "dev-a", int seed = 1, string? recording = null)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return new Sample(fileName, bytes, device, recording ?? fileName);
    }

    public List<KeyValuePair<string, string>> Metadata(string? sha256 = null, string? device = null) =>
    [
        new("filename", FileName),
        new("sha256", sha256 ?? Sha256),
        new("size", Bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("device_id", device ?? Device),
        new("start_time", "0"),
        new("end_time", "0"),
        new("kind", Recorder.Storage.RecordingLayout.KindName(Recorder.Storage.RecordingLayout.KindOf(FileName)!.Value)),
        new("recording", Recording),
    ];
}

/// <summary>tus requests written out by hand, so tests can also send what a correct client never would.</summary>
public static class Tus
{
    public static string EncodeMetadata(IEnumerable<KeyValuePair<string, string>> metadata) =>
        string.Join(",", metadata.Select(m => m.Key + " " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(m.Value))));

    public static HttpRequestMessage Request(HttpMethod method, Uri uri)
    {
        var request = new HttpRequestMessage(method, uri);
        request.Headers.Add("Tus-Resumable", "1.0.0");
        return request;
    }

    public static async Task<HttpResponseMessage> Create(HttpClient client, Uri endpoint, long length, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        using var request = Request(HttpMethod.Post, endpoint);
        request.Headers.Add("Upload-Length", length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("Upload-Metadata", EncodeMetadata(metadata));
        return await client.SendAsync(request);
    }

    public static async Task<Uri> CreateOk(HttpClient client, Uri endpoint, Sample sample, string? sha256 = null)
    {
        using var response = await Create(client, endpoint, sample.Bytes.Length, sample.Metadata(sha256));
        Assert.Equal(201, (int)response.StatusCode);
        return new Uri(endpoint, response.Headers.Location!);
    }

    public static async Task<HttpResponseMessage> Patch(HttpClient client, Uri upload, long offset, ReadOnlyMemory<byte> bytes)
    {
        using var request = Request(HttpMethod.Patch, upload);
        request.Headers.Add("Upload-Offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content = new ReadOnlyMemoryContent(bytes);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> Head(HttpClient client, Uri upload)
    {
        using var request = Request(HttpMethod.Head, upload);
        return await client.SendAsync(request);
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    public static long Offset(HttpResponseMessage response) => long.Parse(Header(response, "Upload-Offset")!, System.Globalization.CultureInfo.InvariantCulture);
}
