using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Recorder.Offload;

/// <summary>
/// The HTTP side of the depot: one <see cref="SocketsHttpHandler"/> with TLS 1.2+, the device
/// certificate for mTLS, the pinned depot CA, no redirects, no cookies, no total timeout; and the
/// bearer token, read from its file. Secrets stay in here: nothing logs a header, a key or the token.
/// </summary>
public sealed class DepotConnection : IDisposable
{
    private readonly string? _tokenFile;
    private readonly object _tokenLock = new();
    private string? _token;
    private DateTime _tokenStamp;
    private readonly X509Certificate2Collection? _ca;
    private readonly X509Certificate2? _clientCertificate;

    public DepotConnection(OffloadOptions options, Action<SocketsHttpHandler>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoint.Scheme != Uri.UriSchemeHttps && !(options.Insecure && options.Endpoint.Scheme == Uri.UriSchemeHttp))
            throw new ArgumentException($"the depot endpoint must use https (http needs offload.insecure: true), got {options.Endpoint.Scheme}");
        if (options.Endpoint.UserInfo.Length > 0)
            throw new ArgumentException("the depot endpoint must not carry credentials (user:password@) in the URL");
        _tokenFile = options.TokenFile;
        if (options.CaFile is not null)
        {
            _ca = new X509Certificate2Collection();
            _ca.ImportFromPemFile(options.CaFile);
            if (_ca.Count == 0) throw new ArgumentException($"{options.CaFile} holds no certificate");
        }
        if (options.ClientCertificateFile is not null)
        {
            using var pem = X509Certificate2.CreateFromPemFile(options.ClientCertificateFile, options.ClientKeyFile);
            // An ephemeral PEM key cannot always be used by SslStream on every platform: round-trip through PKCS#12.
            _clientCertificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            // The socket handler keeps these by the real clock (no TimeProvider reaches it): they bound real connections.
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            AutomaticDecompression = DecompressionMethods.None,
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                RemoteCertificateValidationCallback = ValidateServer,
            },
        };
        if (_clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { _clientCertificate };
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => _clientCertificate;
        }
        configure?.Invoke(handler);
        Handler = handler;
    }

    public HttpMessageHandler Handler { get; }

    /// <summary>The bearer token, re-read when its file changes; null without a token file or when it cannot be read.</summary>
    public string? Token()
    {
        if (_tokenFile is null) return null;
        lock (_tokenLock)
        {
            try
            {
                var stamp = File.GetLastWriteTimeUtc(_tokenFile);
                if (_token is null || stamp != _tokenStamp)
                {
                    _token = File.ReadAllText(_tokenFile).Trim();
                    _tokenStamp = stamp;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TusException(TusErrorKind.Network, $"cannot read the token file {_tokenFile}: {e.GetType().Name}", null, e);
            }
            return _token.Length == 0 ? null : _token;
        }
    }

    private bool ValidateServer(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None && _ca is null) return true;
        // A wrong name or no certificate is never forgiven; only the chain is re-judged against the pinned CA.
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0) return false;
        if (_ca is null || certificate is null) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_ca);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
            foreach (var element in chain.ChainElements)
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        using var leaf = new X509Certificate2(certificate);
        return custom.Build(leaf);
    }

    public void Dispose()
    {
        Handler.Dispose();
        _clientCertificate?.Dispose();
        if (_ca is not null)
            foreach (var c in _ca) c.Dispose();
    }
}
