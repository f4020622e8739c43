using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Recorder.Offload;

/// <summary>
/// What OPTIONS told us about the depot. <paramref name="Verifies"/>: it advertised
/// <c>X-Ingest-Verify: sha256</c> (proto/offload_depot.md), so a complete upload without
/// <c>X-Ingest-Sha256</c> is a verification failure; a depot without it (a stock tus server) never
/// verifies, and its uploads are kept locally as "uploaded, unverified".
/// </summary>
public sealed record TusServerInfo(IReadOnlySet<string> Extensions, long? MaxSize, bool Verifies = false)
{
    public bool Supports(string extension) => Extensions.Contains(extension);
}

/// <summary>HEAD of an upload: the depot's offset and length, and its verified SHA-256 once it has one.</summary>
public readonly record struct TusHead(long Offset, long Length, string? VerifiedSha256);

/// <summary>A PATCH's answer: the depot's new offset and, on the last one, its verified SHA-256.</summary>
public readonly record struct TusPatchResult(long Offset, string? VerifiedSha256, DateTimeOffset? Expires);

/// <summary>A created upload: its URL (resolved, same origin as the endpoint) and when it expires, if it does.</summary>
public readonly record struct TusCreated(Uri Url, DateTimeOffset? Expires);

/// <summary>
/// A tus 1.0 client (core, creation; termination and expiration when offered) on
/// <see cref="HttpClient"/>. It keeps no state: the uploader decides what to do with each answer.
/// Every request is guarded by an inactivity watchdog, never by a total timeout. Only the status
/// number counts, never the reason phrase. A <c>Location</c> on another scheme, host or port is
/// refused. Verification is the depot contract in proto/offload_depot.md: the depot's
/// <c>X-Ingest-Sha256</c> header.
/// </summary>
public sealed class TusClient : IDisposable
{
    public const string TusVersion = "1.0.0";
    public const string VerifiedHeader = "X-Ingest-Sha256";

    /// <summary>The OPTIONS header by which a depot says it verifies uploads, and the one value that means it (proto/offload_depot.md).</summary>
    public const string VerifyHeader = "X-Ingest-Verify";
    public const string VerifyAlgorithm = "sha256";
    private const int BlockSize = 64 * 1024;

    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly Func<string?> _token;
    private readonly TimeSpan _inactivity;
    private readonly BandwidthLimiter _limiter;
    private readonly TimeProvider _time;
    private long _bytesSent;
    private long _failedPatches;

    public TusClient(HttpMessageHandler handler, Uri endpoint, Func<string?> token, TimeSpan inactivityTimeout, BandwidthLimiter? limiter = null,
        TimeProvider? time = null, bool disposeHandler = false)
    {
        _http = new HttpClient(handler, disposeHandler) { Timeout = Timeout.InfiniteTimeSpan };
        _endpoint = endpoint;
        _token = token;
        _inactivity = inactivityTimeout;
        _limiter = limiter ?? new BandwidthLimiter(0);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Upload body bytes handed to the network so far (including those a cut connection lost).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>
    /// PATCH requests that did not end in a 2xx answer (cut, timed out, refused, cancelled). Each
    /// costs at most its own body in re-sent bytes: after it the uploader HEADs and goes on from the
    /// depot's offset, which never lies below where that PATCH started.
    /// </summary>
    public long FailedPatches => Interlocked.Read(ref _failedPatches);

    /// <summary>OPTIONS on the endpoint, authenticated: the presence probe and the feature discovery.</summary>
    public async Task<TusServerInfo> OptionsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Options, _endpoint, tus: false);
        using var response = await SendAsync(request, timeout, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent))
            throw await StatusError("OPTIONS", response).ConfigureAwait(false);
        var versions = Header(response, "Tus-Version");
        if (versions is null || !versions.Split(',').Any(v => v.Trim() == TusVersion))
            throw new TusException(TusErrorKind.Protocol, $"the depot does not speak tus {TusVersion} (Tus-Version: {versions ?? "missing"})");
        var extensions = (Header(response, "Tus-Extension") ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToHashSet(StringComparer.Ordinal);
        long? max = long.TryParse(Header(response, "Tus-Max-Size"), NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : null;
        // A list is allowed (a depot may one day offer more algorithms); only the exact token sha256 counts.
        var verifies = (Header(response, VerifyHeader) ?? "").Split(',', StringSplitOptions.TrimEntries)
            .Contains(VerifyAlgorithm, StringComparer.Ordinal);
        return new TusServerInfo(extensions, max, verifies);
    }

    /// <summary>POST: a new upload of <paramref name="length"/> bytes with <paramref name="metadata"/>; 201 and a same-origin Location.</summary>
    public async Task<TusCreated> CreateAsync(long length, IReadOnlyList<KeyValuePair<string, string>> metadata, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Post, _endpoint, tus: true);
        request.Headers.Add("Upload-Length", length.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("Upload-Metadata", EncodeMetadata(metadata));
        using var response = await SendAsync(request, _inactivity, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created) throw await StatusError("POST", response).ConfigureAwait(false);
        var location = response.Headers.Location ?? throw new TusException(TusErrorKind.Protocol, "POST answered 201 without a Location");
        return new TusCreated(ResolveLocation(location), Expires(response));
    }

    /// <summary>HEAD: the depot's offset (the only truth after any failure), length and verification.</summary>
    public async Task<TusHead> HeadAsync(Uri upload, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Head, upload, tus: true);
        // @tus/server drains a lock held by a dying PATCH for up to 3 s before answering HEAD.
        using var response = await SendAsync(request, _inactivity > TimeSpan.FromSeconds(10) ? _inactivity : TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent)) throw await StatusError("HEAD", response).ConfigureAwait(false);
        var offset = Number(response, "Upload-Offset") ?? throw new TusException(TusErrorKind.Protocol, "HEAD answered without Upload-Offset");
        var length = Number(response, "Upload-Length") ?? throw new TusException(TusErrorKind.Protocol, "HEAD answered without Upload-Length");
        if (offset > length) throw new TusException(TusErrorKind.Protocol, $"HEAD claims offset {offset} beyond length {length}");
        return new TusHead(offset, length, Sha256Header(response));
    }

    /// <summary>
    /// PATCH: <paramref name="count"/> bytes of <paramref name="path"/> from <paramref name="offset"/>,
    /// streamed from the file under the bandwidth cap. <paramref name="progress"/> gets each block
    /// handed to the network. The answer's offset is returned as the depot gave it; the caller
    /// checks it.
    /// </summary>
    public async Task<TusPatchResult> PatchAsync(Uri upload, string path, long offset, long count, Action<long>? progress, CancellationToken cancellationToken)
    {
        using var watchdog = new InactivityWatchdog(_inactivity, _time, cancellationToken);
        using var request = Request(HttpMethod.Patch, upload, tus: true);
        request.Headers.Add("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture));
        request.Content = new FileRangeContent(path, offset, count, this, watchdog, progress);
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(request, watchdog, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Increment(ref _failedPatches);
            throw;
        }
        using var answered = response;
        if (response.StatusCode != HttpStatusCode.NoContent && response.StatusCode != HttpStatusCode.OK)
        {
            Interlocked.Increment(ref _failedPatches);
            throw await StatusError("PATCH", response).ConfigureAwait(false);
        }
        var newOffset = Number(response, "Upload-Offset") ?? throw new TusException(TusErrorKind.Protocol, "PATCH answered without Upload-Offset");
        return new TusPatchResult(newOffset, Sha256Header(response), Expires(response));
    }

    /// <summary>DELETE (termination): best effort, for uploads we abandon. 404/410 count as done.</summary>
    public async Task DeleteAsync(Uri upload, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Delete, upload, tus: true);
        using var response = await SendAsync(request, _inactivity, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.NoContent or HttpStatusCode.OK or HttpStatusCode.NotFound or HttpStatusCode.Gone))
            throw await StatusError("DELETE", response).ConfigureAwait(false);
    }

    /// <summary>Resolves a Location against the endpoint; another scheme, host or port is refused.</summary>
    public Uri ResolveLocation(Uri location)
    {
        var resolved = location.IsAbsoluteUri ? location : new Uri(_endpoint, location);
        if (!string.Equals(resolved.Scheme, _endpoint.Scheme, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(resolved.IdnHost, _endpoint.IdnHost, StringComparison.OrdinalIgnoreCase)
            || resolved.Port != _endpoint.Port)
            throw new TusException(TusErrorKind.ForeignLocation,
                $"the depot put the upload at {resolved.Scheme}://{resolved.Authority}, not at the endpoint's {_endpoint.Scheme}://{_endpoint.Authority}; refused");
        if (resolved.UserInfo.Length > 0) throw new TusException(TusErrorKind.ForeignLocation, "the depot's Location carries credentials; refused");
        return resolved;
    }

    /// <summary><c>key base64(value)</c> pairs, comma-separated (tus creation).</summary>
    public static string EncodeMetadata(IReadOnlyList<KeyValuePair<string, string>> metadata)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in metadata)
        {
            if (key.Length == 0 || key.Any(c => c is ' ' or ',' || c > 0x7e || c < 0x21)) throw new ArgumentException($"invalid Upload-Metadata key '{key}'");
            if (text.Length > 0) text.Append(',');
            text.Append(key).Append(' ').Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(value)));
        }
        return text.ToString();
    }

    private HttpRequestMessage Request(HttpMethod method, Uri uri, bool tus)
    {
        var request = new HttpRequestMessage(method, uri) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        if (tus) request.Headers.Add("Tus-Resumable", TusVersion);
        if (_token() is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, TimeSpan inactivity, CancellationToken cancellationToken)
    {
        using var watchdog = new InactivityWatchdog(inactivity, _time, cancellationToken);
        var response = await SendAsync(request, watchdog, cancellationToken).ConfigureAwait(false);
        try
        {
            // Small bodies (errors) are read now, under the watchdog.
            await response.Content.LoadIntoBufferAsync(64 * 1024, watchdog.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
        {
            response.Dispose();
            if (cancellationToken.IsCancellationRequested) throw;
            throw new TusException(watchdog.Fired ? TusErrorKind.Inactivity : TusErrorKind.Network, $"{request.Method} response body: {e.Message}", null, e);
        }
        return response;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, InactivityWatchdog watchdog, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, watchdog.Token).ConfigureAwait(false);
            watchdog.Kick();
            return response;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TusException(TusErrorKind.Inactivity, $"{request.Method}: no byte moved for {_inactivity.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s", null, e);
        }
        catch (HttpRequestException e)
        {
            throw new TusException(TusErrorKind.Network, $"{request.Method}: {Describe(e)}", null, e);
        }
        catch (IOException e)
        {
            throw new TusException(TusErrorKind.Network, $"{request.Method}: {e.Message}", null, e);
        }
    }

    private static string Describe(HttpRequestException e)
    {
        // The innermost message says what happened (refused, reset, TLS); never a header or a URL with secrets.
        var inner = e.InnerException;
        while (inner?.InnerException is not null) inner = inner.InnerException;
        return inner is null ? e.Message : $"{e.Message} ({inner.Message})";
    }

    private static async Task<TusException> StatusError(string method, HttpResponseMessage response)
    {
        var body = "";
        try
        {
            body = (await response.Content.ReadAsStringAsync().ConfigureAwait(false)).Trim();
        }
        catch (Exception e) when (e is HttpRequestException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        if (body.Length > 200) body = body[..200];
        var status = (int)response.StatusCode;
        return new TusException(TusErrorKind.Status,
            string.Create(CultureInfo.InvariantCulture, $"{method} answered {status}{(body.Length > 0 ? ": " + body : "")}"), response.StatusCode);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;

    private static long? Number(HttpResponseMessage response, string name)
    {
        var text = Header(response, name);
        if (text is null) return null;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            throw new TusException(TusErrorKind.Protocol, $"{name} is not a number: '{(text.Length > 40 ? text[..40] : text)}'");
        return value;
    }

    private static string? Sha256Header(HttpResponseMessage response)
    {
        var text = Header(response, VerifiedHeader)?.Trim();
        return text is { Length: 64 } && text.All(char.IsAsciiHexDigit) ? text.ToLowerInvariant() : text is null ? null : "invalid";
    }

    private static DateTimeOffset? Expires(HttpResponseMessage response) =>
        DateTimeOffset.TryParse(Header(response, "Upload-Expires"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var expires) ? expires : null;

    public void Dispose() => _http.Dispose();

    /// <summary>A PATCH body: a range of a file, read block by block, each block kicking the watchdog.</summary>
    private sealed class FileRangeContent : HttpContent
    {
        private readonly string _path;
        private readonly long _offset;
        private readonly long _count;
        private readonly TusClient _client;
        private readonly InactivityWatchdog _watchdog;
        private readonly Action<long>? _progress;

        public FileRangeContent(string path, long offset, long count, TusClient client, InactivityWatchdog watchdog, Action<long>? progress)
        {
            _path = path;
            _offset = offset;
            _count = count;
            _client = client;
            _watchdog = watchdog;
            _progress = progress;
            Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
            try
            {
                long done = 0;
                while (done < _count)
                {
                    var want = (int)Math.Min(BlockSize, _count - done);
                    await _client._limiter.WaitAsync(want, cancellationToken).ConfigureAwait(false);
                    _watchdog.Kick();
                    var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, want), _offset + done, cancellationToken).ConfigureAwait(false);
                    if (read == 0) throw new IOException($"{_path} is shorter than expected ({_offset + done} bytes)");
                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    _watchdog.Kick();
                    done += read;
                    Interlocked.Add(ref _client._bytesSent, read);
                    _progress?.Invoke(read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _count;
            return true;
        }
    }
}
