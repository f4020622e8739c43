using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Recorder.Depot.Config;

namespace Recorder.Depot.Tests;

/// <summary>HTTPS with a PEM server certificate, and device certificates (mTLS) as identity, against a real TLS client.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("depot-tls-").FullName;
    private X509Certificate2 _ca = null!;
    private TestDepot _depot = null!;

    public async Task InitializeAsync()
    {
        _ca = CreateCa("fleet CA");
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=depot", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var server = request.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), [1, 2, 3, 4]);
        File.WriteAllText(Path.Combine(_dir, "server.pem"), server.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "server.key"), serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(_dir, "ca.pem"), _ca.ExportCertificatePem());
        _depot = await TestDepot.StartAsync(s => s with
        {
            Tls = new TlsSettings { Certificate = Path.Combine(_dir, "server.pem"), Key = Path.Combine(_dir, "server.key"), ClientCa = Path.Combine(_dir, "ca.pem") },
        });
    }

    public async Task DisposeAsync()
    {
        await _depot.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 DeviceCertificate(X509Certificate2 ca, string device)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={device}, O=fleet-a", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false)); // client auth
        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8));
        // Through PKCS#12 so the TLS stack gets a certificate with a usable private key.
        return X509CertificateLoader.LoadPkcs12(certificate.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
    }

    private HttpClient Client(X509Certificate2? device, string? token = null)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(_ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is X509Certificate2 c && chain.Build(c);
        };
        if (device is not null) handler.SslOptions.ClientCertificates = [device];
        var client = new HttpClient(handler);
        if (token is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    [Fact]
    public async Task Over_https_a_device_certificate_is_the_identity_and_limits_it_to_its_own_device_id()
    {
        Assert.Equal("https", _depot.Endpoint.Scheme);
        using var device = DeviceCertificate(_ca, "dev-a");
        using var client = Client(device);
        using (var options = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, _depot.Endpoint))) Assert.Equal(204, (int)options.StatusCode);
        var sample = Sample.Random("dev-a_20261127T080000Z_0001.mcap", 5000);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (var patch = await Tus.Patch(client, upload, 0, sample.Bytes)) Assert.Equal(sample.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
        var foreign = Sample.Random("dev-b_20261127T080000Z_0001.mcap", 10, device: "dev-b");
        using (var create = await Tus.Create(client, _depot.Endpoint, 10, foreign.Metadata())) Assert.Equal(403, (int)create.StatusCode);
    }

    [Fact]
    public async Task A_token_still_works_over_https_without_a_certificate()
    {
        using var client = Client(null, _depot.TokenB);
        var sample = Sample.Random("dev-b_20261127T080000Z_0001.mcap", 100, device: "dev-b");
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using var patch = await Tus.Patch(client, upload, 0, sample.Bytes);
        Assert.Equal(sample.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
    }

    [Fact]
    public async Task A_certificate_and_a_token_of_different_devices_get_401()
    {
        using var device = DeviceCertificate(_ca, "dev-a");
        using var client = Client(device, _depot.TokenB);
        using var options = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, _depot.Endpoint));
        Assert.Equal(401, (int)options.StatusCode);
        Assert.Contains(_depot.Log.Lines, l => l.Contains("the client certificate names dev-a but the token belongs to dev-b", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_certificate_from_another_ca_is_refused_in_the_handshake()
    {
        using var stranger = CreateCa("someone else");
        using var device = DeviceCertificate(stranger, "dev-a");
        using var client = Client(device);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Options, _depot.Endpoint)));
        Assert.Empty(_depot.StoredFiles());
    }
}
