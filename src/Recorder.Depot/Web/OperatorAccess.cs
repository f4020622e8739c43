using System.Net;
using Microsoft.AspNetCore.Http;
using Recorder.Depot.Identity;

namespace Recorder.Depot.Web;

/// <summary>
/// Who may read the web pages and the catalog API: anyone connecting over loopback (the depot's
/// own machine), and elsewhere an operator with a bearer token from
/// <c>recorder-depot token add --operator NAME</c>. Operator tokens live in their own file
/// (<c>&lt;state_dir&gt;/operator-tokens</c>), so a vehicle's upload token reads nothing and an
/// operator's token uploads nothing: the pages and the API are read-only.
/// </summary>
public sealed class OperatorAccess(TokenStore operatorTokens)
{
    /// <summary>Whether the request may read: loopback, or a known operator token.</summary>
    public bool Allows(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is not null && IPAddress.IsLoopback(remote)) return true;
        var header = context.Request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        return header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase)
            && operatorTokens.DeviceOf(header[Bearer.Length..].Trim()) is not null;
    }

    /// <summary>The 401 for a request without an operator token.</summary>
    public static Task Refuse(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"recorder-depot\"";
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("an operator token is needed here (recorder-depot token add --operator NAME); vehicle tokens only upload\n");
    }
}
