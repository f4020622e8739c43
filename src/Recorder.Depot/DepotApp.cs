using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Recorder.Depot.Catalog;
using Recorder.Depot.Config;
using Recorder.Depot.Identity;
using Recorder.Depot.Operations;
using Recorder.Depot.Storage;
using Recorder.Depot.Tus;
using Recorder.Depot.Web;

namespace Recorder.Depot;

/// <summary>
/// The depot's web host: Kestrel (slim builder) with the tus endpoint, <c>/healthz</c>,
/// <c>/metrics</c>, the catalog API and the web pages. Built from settings alone, so tests run the same host in-process (with a fake
/// clock) as <c>recorder-depot run</c> runs.
/// </summary>
public sealed class DepotApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DepotApp(WebApplication app, DepotSettings settings)
    {
        _app = app;
        Settings = settings;
    }

    public DepotSettings Settings { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The base URL the depot listens on (known after <see cref="StartAsync"/>; port 0 becomes the real port).</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The tus endpoint's URL.</summary>
    public Uri Endpoint => new(Url, Settings.Tus.Path);

    /// <param name="settings">The configuration.</param>
    /// <param name="time">The depot's clock (expiry, last-seen); the system clock when null.</param>
    /// <param name="logging">Replaces the console logging (tests capture the lines).</param>
    /// <param name="fallback">Serves requests no depot route takes (404 when null): the benchmark's raw PUT baseline in the same Kestrel process.</param>
    public static DepotApp Build(DepotSettings settings, TimeProvider? time = null, Action<ILoggingBuilder>? logging = null, RequestDelegate? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!DepotConfigLoader.TryParseListen(settings.Listen, out var address, out var port, out var why)) throw new ArgumentException(why, nameof(settings));
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Logging.ClearProviders();
        if (logging is not null)
        {
            logging(builder.Logging);
        }
        else if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is { Length: > 0 })
        {
            builder.Logging.AddSystemdConsole(); // <N> priority prefixes: journald levels
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
        }
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // PATCH bodies are as large as the client's chunk; they stream to storage and never sit in memory.
            kestrel.Limits.MaxRequestBodySize = null;
            // A small receive buffer: what Kestrel holds but has not handed over is lost when a connection is cut.
            kestrel.Limits.MaxRequestBufferSize = 256 * 1024;
            kestrel.Listen(address, port, listen =>
            {
                if (settings.Tls.Enabled) listen.UseHttps(Https(settings.Tls));
            });
        });
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(new DepotClock(time ?? TimeProvider.System));
        var store = UploadStores.Open(settings);
        builder.Services.AddSingleton(_ => store); // created by a factory: the container disposes it
        builder.Services.AddSingleton(new TokenStore(settings.TokensFile));
        builder.Services.AddSingleton<DeviceAuthenticator>();
        builder.Services.AddSingleton<DepotMetrics>();
        builder.Services.AddCatalog(settings, time ?? TimeProvider.System);
        builder.Services.AddSingleton<TusHandler>();
        builder.Services.AddSingleton<RecordingRetention>();
        builder.Services.AddWebPages(settings);
        builder.Services.AddHostedService<UploadExpiry>();
        var app = builder.Build();
        var tus = app.Services.GetRequiredService<TusHandler>();
        var metrics = app.Services.GetRequiredService<DepotMetrics>();
        var catalog = app.Services.GetRequiredService<CatalogApi>();
        var export = new Export.ExportEndpoint(settings.Storage.Dir, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Recorder.Depot.Export"));
        var (pages, access) = WebStartup.Start(app.Services);
        app.Run(context =>
        {
            var path = context.Request.Path;
            if (path == "/healthz") return Health(context);
            if (path == "/metrics") return Metrics(context, metrics);
            if (tus.Serves(path)) return tus.HandleAsync(context);
            if ((CatalogApi.Serves(path) || WebPages.Serves(path)) && !access.Allows(context)) return OperatorAccess.Refuse(context);
            if (path == Export.ExportEndpoint.Path) return export.HandleAsync(context); // before the catalog, which takes the rest of /api/
            if (CatalogApi.Serves(path)) return catalog.HandleAsync(context);
            if (WebPages.Serves(path)) return pages.HandleAsync(context);
            if (fallback is not null) return fallback(context);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        return new DepotApp(app, settings);
    }

    private static HttpsConnectionAdapterOptions Https(TlsSettings tls)
    {
        var options = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = X509Certificate2.CreateFromPemFile(tls.Certificate!, tls.Key),
            SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
        };
        if (tls.ClientCa is { } caFile)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
            // Tokens still work for devices without a certificate; a certificate, when sent, must chain to the fleet CA.
            options.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
            options.ClientCertificateValidation = (certificate, _, errors) =>
            {
                if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate);
            };
        }
        return options;
    }

    private static Task Health(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new Health("ok"), DepotJson.Default.Health));
    }

    private static Task Metrics(HttpContext context, DepotMetrics metrics)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        return context.Response.WriteAsync(metrics.Render());
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = new Uri(address.Replace("://[::]", "://[::1]", StringComparison.Ordinal).Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal) + "/");
        DepotLog.Listening(_app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Recorder.Depot"), Url.ToString(), Settings.Tus.Path, UploadStores.Describe(Settings));
    }

    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Cancelled when the host begins to stop (SIGTERM, SIGINT).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The <c>/healthz</c> answer.</summary>
public sealed record Health(string Status);

/// <summary>Source-generated JSON for the depot's HTTP answers.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Health))]
internal sealed partial class DepotJson : JsonSerializerContext;
