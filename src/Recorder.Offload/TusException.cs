using System.Net;

namespace Recorder.Offload;

/// <summary>What went wrong with a tus request; the uploader branches on it.</summary>
public enum TusErrorKind
{
    /// <summary>Connection refused, reset or cut, DNS or TLS failure: retry after HEAD.</summary>
    Network,

    /// <summary>No byte moved for the inactivity timeout: retry after HEAD.</summary>
    Inactivity,

    /// <summary>The depot answered with a status the request does not expect (see <see cref="TusException.Status"/>).</summary>
    Status,

    /// <summary>The depot's answer breaks the protocol (a missing or impossible header, a wrong offset).</summary>
    Protocol,

    /// <summary>The depot pointed the upload at another scheme, host or port.</summary>
    ForeignLocation,
}

/// <summary>The one exception type of the tus client, with a kind and the HTTP status when there was one.</summary>
public sealed class TusException : Exception
{
    public TusException(TusErrorKind kind, string message, HttpStatusCode? status = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Status = status;
    }

    public TusException()
    {
    }

    public TusException(string message) : base(message)
    {
    }

    public TusException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public TusErrorKind Kind { get; }

    public HttpStatusCode? Status { get; }

    /// <summary>Network errors, inactivity, 5xx, 409 and 423: back off and try again (after HEAD).</summary>
    public bool IsRetryable => Kind is TusErrorKind.Network or TusErrorKind.Inactivity or TusErrorKind.Protocol
        || (Kind == TusErrorKind.Status && Status is { } s && ((int)s >= 500 || s == HttpStatusCode.Conflict || (int)s == 423));

    /// <summary>404 or 410: the upload is gone; start a fresh one.</summary>
    public bool IsGone => Kind == TusErrorKind.Status && Status is HttpStatusCode.NotFound or HttpStatusCode.Gone;

    /// <summary>460: the depot's hash of the stored bytes did not match <c>sha256</c>; it removed the upload.</summary>
    public bool IsChecksumMismatch => Kind == TusErrorKind.Status && (int?)Status == 460;

    /// <summary>401 or 403: the depot refuses our credentials.</summary>
    public bool IsUnauthorized => Kind == TusErrorKind.Status && Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;
}
