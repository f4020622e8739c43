using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace Recorder.Depot.Identity;

/// <summary>Who sent a request, or why nobody: the outcome of authentication.</summary>
public readonly record struct Authentication(string? Device, string Reason)
{
    public bool Succeeded => Device is not null;
}

/// <summary>
/// A request's device: from its client certificate (mTLS; validated against the fleet CA by
/// Kestrel, the CN or a DNS SAN is the device_id) or its bearer token. When both are present
/// they must name the same device.
/// </summary>
public sealed class DeviceAuthenticator(TokenStore tokens)
{
    public Authentication Authenticate(HttpContext context)
    {
        var certificateDevice = context.Connection.ClientCertificate is { } certificate ? DeviceOf(certificate) : null;
        string? tokenDevice = null;
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return new(null, "an Authorization header that is not a bearer token");
            tokenDevice = tokens.DeviceOf(header["Bearer ".Length..].Trim());
            if (tokenDevice is null) return new(null, "an unknown bearer token");
        }
        if (certificateDevice is not null && tokenDevice is not null && certificateDevice != tokenDevice)
            return new(null, $"the client certificate names {certificateDevice} but the token belongs to {tokenDevice}");
        var device = certificateDevice ?? tokenDevice;
        return device is null ? new(null, "no credentials (a bearer token or a client certificate)") : new(device, "");
    }

    /// <summary>The device a certificate names: its first DNS SAN, else its CN.</summary>
    public static string? DeviceOf(X509Certificate2 certificate)
    {
        var dns = certificate.GetNameInfo(X509NameType.DnsName, forIssuer: false);
        if (!string.IsNullOrEmpty(dns)) return dns;
        var cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.IsNullOrEmpty(cn) ? null : cn;
    }
}
