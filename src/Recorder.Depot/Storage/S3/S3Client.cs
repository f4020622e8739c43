using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Recorder.Depot.Storage.S3;

/// <summary>An S3 request that failed: the HTTP status and S3's error code. An <see cref="IOException"/>, as storage failures are.</summary>
public sealed class S3Exception(int status, string code, string message) : IOException($"S3 {status} {code}: {message}")
{
    public int Status { get; } = status;
    public string Code { get; } = code;
}

/// <summary>Where an S3-compatible service is and who the depot is there.</summary>
/// <param name="Endpoint">The service's base URL (http or https), e.g. https://s3.eu-central-1.amazonaws.com.</param>
/// <param name="PathStyle">Bucket in the path (<c>endpoint/bucket/key</c>) rather than in the host name (<c>bucket.endpoint/key</c>).</param>
public sealed record S3Connection(Uri Endpoint, string Bucket, string Region, string AccessKey, string SecretKey, bool PathStyle);

/// <summary>
/// The few S3 calls the depot needs (put, get, head, delete, list; create, upload-part, complete
/// and abort multipart), signed with AWS Signature Version 4 over <see cref="HttpClient"/>.
/// Hand-written because AWSSDK.S3 does not publish without trim/AOT warnings and weighs several MB
/// for these nine calls (see proto/depot_s3_state.md). Payloads are signed (their SHA-256 is in
/// <c>x-amz-content-sha256</c>), so the service also checks every byte it stores.
/// </summary>
public sealed class S3Client : IDisposable
{
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private readonly HttpClient _http;
    private readonly S3Connection _connection;
    private readonly TimeProvider _time;

    /// <param name="time">The clock requests are signed with: the real one (S3 refuses requests more than 15 minutes off).</param>
    public S3Client(S3Connection connection, TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        _connection = connection;
        _time = time ?? TimeProvider.System;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) }, disposeHandler: true)
        {
            Timeout = TimeSpan.FromMinutes(5),
        };
    }

    public string Bucket => _connection.Bucket;

    public async Task PutObjectAsync(string key, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, key, "", body, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The object's bytes, or null when there is no such object.</summary>
    public async Task<byte[]?> GetObjectAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, key, "", ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The object's size, or null when there is no such object.</summary>
    public async Task<long?> HeadObjectAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, key, "", ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return response.Content.Headers.ContentLength;
    }

    /// <summary>Deletes the object (no error when there is none, as S3 answers).</summary>
    public async Task DeleteObjectAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, key, "", ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return;
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a multipart upload to <paramref name="key"/>; the object appears only at <see cref="CompleteMultipartUploadAsync"/>.</summary>
    public async Task<string> CreateMultipartUploadAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, key, "uploads=", ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        var xml = await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        var from = 0;
        return Xml.Tag(xml, "UploadId", ref from) is { } id ? WebUtility.HtmlDecode(id) : throw new S3Exception((int)response.StatusCode, "NoUploadId", "CreateMultipartUpload answered without an UploadId");
    }

    /// <summary>Uploads part <paramref name="partNumber"/> (1 to 10,000); returns its ETag.</summary>
    public async Task<string> UploadPartAsync(string key, string uploadId, int partNumber, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var query = string.Create(CultureInfo.InvariantCulture, $"partNumber={partNumber}&uploadId={Encode(uploadId, slash: true)}");
        using var response = await SendAsync(HttpMethod.Put, key, query, body, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return response.Headers.TryGetValues("ETag", out var etags) ? etags.First() : throw new S3Exception((int)response.StatusCode, "NoETag", "UploadPart answered without an ETag");
    }

    /// <summary>Joins the parts (ETags in part order, part 1 first) into the object, atomically.</summary>
    public async Task CompleteMultipartUploadAsync(string key, string uploadId, IReadOnlyList<string> etags, CancellationToken cancellationToken)
    {
        var body = new StringBuilder("<CompleteMultipartUpload>");
        for (var i = 0; i < etags.Count; i++)
            body.Append(CultureInfo.InvariantCulture, $"<Part><PartNumber>{i + 1}</PartNumber><ETag>{WebUtility.HtmlEncode(etags[i])}</ETag></Part>");
        body.Append("</CompleteMultipartUpload>");
        using var response = await SendAsync(HttpMethod.Post, key, "uploadId=" + Encode(uploadId, slash: true), Encoding.UTF8.GetBytes(body.ToString()), cancellationToken).ConfigureAwait(false);
        var xml = await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        // S3 may answer 200 and then report the failure in the body.
        if (xml.Contains("<Error>", StringComparison.Ordinal)) throw Error((int)response.StatusCode, xml);
    }

    /// <summary>
    /// Discards a multipart upload's parts. False when the server does not offer the call (s3rver
    /// answers 405): the parts stay until a bucket lifecycle rule (AbortIncompleteMultipartUpload)
    /// removes them; they were never visible as an object.
    /// </summary>
    public async Task<bool> AbortMultipartUploadAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, key, "uploadId=" + Encode(uploadId, slash: true), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return true;
        if (response.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented) return false;
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Every object whose key starts with <paramref name="prefix"/>: key and size (ListObjectsV2, page by page).</summary>
    public async IAsyncEnumerable<(string Key, long Size)> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? token = null;
        while (true)
        {
            var query = (token is null ? "" : "continuation-token=" + Encode(token, slash: true) + "&") + "list-type=2&prefix=" + Encode(prefix, slash: true);
            using var response = await SendAsync(HttpMethod.Get, null, query, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            var xml = await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
            var at = 0;
            while (Xml.Tag(xml, "Contents", ref at) is { } contents)
            {
                var inner = 0;
                var key = Xml.Tag(contents, "Key", ref inner) is { } raw ? WebUtility.HtmlDecode(raw) : null;
                inner = 0;
                var size = Xml.Tag(contents, "Size", ref inner);
                if (key is not null) yield return (key, long.Parse(size ?? "0", NumberStyles.None, CultureInfo.InvariantCulture));
            }
            at = 0;
            var truncated = Xml.Tag(xml, "IsTruncated", ref at) == "true";
            at = 0;
            token = Xml.Tag(xml, "NextContinuationToken", ref at) is { } next ? WebUtility.HtmlDecode(next) : null;
            if (!truncated || token is null) yield break;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string? key, string query, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var endpoint = _connection.Endpoint;
        var basePath = endpoint.AbsolutePath.TrimEnd('/');
        string host, path;
        if (_connection.PathStyle)
        {
            host = endpoint.Authority;
            path = basePath + "/" + Encode(_connection.Bucket, slash: false) + "/" + (key is null ? "" : Encode(key, slash: false));
        }
        else
        {
            host = _connection.Bucket + "." + endpoint.Authority;
            path = basePath + "/" + (key is null ? "" : Encode(key, slash: false));
        }
        var uri = new Uri($"{endpoint.Scheme}://{host}{path}{(query.Length > 0 ? "?" + query : "")}");
        using var request = new HttpRequestMessage(method, uri);
        var payloadHash = body.IsEmpty ? EmptySha256 : Convert.ToHexStringLower(SHA256.HashData(body.Span));
        var now = _time.GetUtcNow().UtcDateTime;
        var amzDate = now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        request.Headers.Host = host;
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);
        if (method == HttpMethod.Put || method == HttpMethod.Post)
        {
            request.Content = new ReadOnlyMemoryContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }
        request.Headers.TryAddWithoutValidation("Authorization",
            Authorization(method.Method, host, path, query, payloadHash, amzDate, _connection.Region, _connection.AccessKey, _connection.SecretKey));
        try
        {
            return await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new S3Exception(0, "Unreachable", $"{method} {uri.GetLeftPart(UriPartial.Path)}: {e.Message}");
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new S3Exception(0, "Timeout", $"{method} {uri.GetLeftPart(UriPartial.Path)}: {e.Message}");
        }
    }

    /// <summary>
    /// The Signature Version 4 <c>Authorization</c> header of a request signing host,
    /// x-amz-content-sha256 and x-amz-date: the canonical request, the string to sign, the derived key.
    /// </summary>
    /// <param name="path">The URI-encoded path.</param>
    /// <param name="query">The URI-encoded query, in any order.</param>
    internal static string Authorization(string method, string host, string path, string query, string payloadHash, string amzDate, string region, string accessKey, string secretKey)
    {
        const string signedHeaders = "host;x-amz-content-sha256;x-amz-date";
        var date = amzDate[..8];
        var canonical = $"{method}\n{path}\n{CanonicalQuery(query)}\nhost:{host}\nx-amz-content-sha256:{payloadHash}\nx-amz-date:{amzDate}\n\n{signedHeaders}\n{payloadHash}";
        var scope = $"{date}/{region}/s3/aws4_request";
        var toSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var dateKey = Hmac(Encoding.UTF8.GetBytes("AWS4" + secretKey), date);
        var signingKey = Hmac(Hmac(Hmac(dateKey, region), "s3"), "aws4_request");
        var signature = Convert.ToHexStringLower(Hmac(signingKey, toSign));
        return $"AWS4-HMAC-SHA256 Credential={accessKey}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}";
    }

    /// <summary>The response body when the status is 2xx; otherwise an <see cref="S3Exception"/> with S3's error code.</summary>
    private static async Task<string> EnsureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return text;
        throw Error((int)response.StatusCode, text);
    }

    private static S3Exception Error(int status, string xml)
    {
        var at = 0;
        var code = Xml.Tag(xml, "Code", ref at) is { } c ? WebUtility.HtmlDecode(c) : "Unknown";
        at = 0;
        var message = Xml.Tag(xml, "Message", ref at) is { } m ? WebUtility.HtmlDecode(m) : (xml.Length > 200 ? xml[..200] : xml);
        return new S3Exception(status, code, message);
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    /// <summary>The query with its parameters sorted by name, as SigV4 signs it (names and values are already encoded).</summary>
    private static string CanonicalQuery(string query)
    {
        if (query.Length == 0) return "";
        var pairs = query.Split('&').Select(p => p.Contains('=', StringComparison.Ordinal) ? p : p + "=").ToArray();
        Array.Sort(pairs, StringComparer.Ordinal);
        return string.Join('&', pairs);
    }

    /// <summary>URI-encodes as SigV4 wants: every byte but A-Z a-z 0-9 - _ . ~ (and '/' in keys, unless <paramref name="slash"/>).</summary>
    public static string Encode(string text, bool slash)
    {
        var s = new StringBuilder(text.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' || (c == '/' && !slash)) s.Append(c);
            else s.Append(CultureInfo.InvariantCulture, $"%{b:X2}");
        }
        return s.ToString();
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Just enough XML for S3's answers: the text of the next element with a given name.</summary>
    private static class Xml
    {
        public static string? Tag(string xml, string name, ref int from)
        {
            var open = "<" + name + ">";
            var start = xml.IndexOf(open, from, StringComparison.Ordinal);
            if (start < 0) return null;
            start += open.Length;
            var end = xml.IndexOf("</" + name + ">", start, StringComparison.Ordinal);
            if (end < 0) return null;
            from = end + name.Length + 3;
            return xml[start..end];
        }
    }
}
