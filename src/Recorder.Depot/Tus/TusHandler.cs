using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Recorder.Depot.Catalog;
using Recorder.Depot.Config;
using Recorder.Depot.Identity;
using Recorder.Depot.Operations;
using Recorder.Depot.Storage;
using Recorder.Storage;

namespace Recorder.Depot.Tus;

/// <summary>
/// The tus 1.0 endpoint (core, creation, termination, expiration) as proto/offload_depot.md states
/// it, with end-to-end verification: bytes are hashed as they are stored, and on the last byte
/// the hash is compared with the <c>sha256</c> the device declared. A match commits the file to
/// storage and answers <c>X-Ingest-Sha256</c> (HEAD repeats it); a mismatch removes the upload and
/// answers 460. Each refusal is one status with one reason, logged with the device.
/// </summary>
public sealed class TusHandler
{
    public const string TusVersion = "1.0.0";
    public const string VerifiedHeader = "X-Ingest-Sha256";
    public const string VerifyHeader = "X-Ingest-Verify";
    public const string Extensions = "creation,termination,expiration";
    public const int ChecksumMismatch = 460;

    private readonly DepotSettings _settings;
    private readonly IUploadStore _store;
    private readonly DeviceAuthenticator _auth;
    private readonly DepotMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CatalogIndexer _catalog;
    private readonly string _endpoint;
    private readonly ConcurrentDictionary<string, UploadSession> _sessions = new(StringComparer.Ordinal);

    public TusHandler(DepotSettings settings, IUploadStore store, DeviceAuthenticator auth, DepotMetrics metrics, DepotClock clock, ILogger<TusHandler> logger, CatalogIndexer catalog)
    {
        _catalog = catalog;
        _settings = settings;
        _store = store;
        _auth = auth;
        _metrics = metrics;
        _time = clock.Time;
        _logger = logger;
        _endpoint = settings.Tus.Path;
    }

    /// <summary>True for a path this handler serves: the endpoint and the uploads below it.</summary>
    public bool Serves(PathString path) =>
        path.Value is { } p && (p.StartsWith(_endpoint, StringComparison.Ordinal) || p == _endpoint[..^1]);

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = request.Path.Value ?? "";
        string? id = null;
        if (path.Length > _endpoint.Length)
        {
            id = path[_endpoint.Length..];
            if (!IsUploadId(id))
            {
                response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
        }
        var method = request.Headers["X-HTTP-Method-Override"] is { Count: 1 } overridden ? overridden.ToString().ToUpperInvariant() : request.Method;
        response.Headers["Tus-Resumable"] = TusVersion;

        if (method == HttpMethods.Options)
        {
            // Feature discovery, authenticated: it is also the vehicle's presence probe, which must prove its credentials work.
            var who = _auth.Authenticate(context);
            if (!who.Succeeded)
            {
                await Refuse(context, method, id, null, StatusCodes.Status401Unauthorized, who.Reason).ConfigureAwait(false);
                return;
            }
            _metrics.Seen(who.Device!);
            response.Headers["Tus-Version"] = TusVersion;
            response.Headers["Tus-Extension"] = Extensions;
            response.Headers["Tus-Max-Size"] = _settings.Tus.MaxSize.ToString(CultureInfo.InvariantCulture);
            response.Headers[VerifyHeader] = "sha256";
            response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        if (request.Headers["Tus-Resumable"] != TusVersion)
        {
            response.Headers["Tus-Version"] = TusVersion;
            response.StatusCode = StatusCodes.Status412PreconditionFailed;
            await response.WriteAsync($"Tus-Resumable {TusVersion} required\n").ConfigureAwait(false);
            return;
        }
        var auth = _auth.Authenticate(context);
        if (!auth.Succeeded)
        {
            response.Headers.WWWAuthenticate = "Bearer";
            await Refuse(context, method, id, null, StatusCodes.Status401Unauthorized, auth.Reason).ConfigureAwait(false);
            return;
        }
        var device = auth.Device!;
        _metrics.Seen(device);
        try
        {
            var task = (method, id) switch
            {
                ("POST", null) => CreateAsync(context, device),
                ("HEAD", { } u) => HeadAsync(context, device, u),
                ("PATCH", { } u) => PatchAsync(context, device, u),
                ("DELETE", { } u) => DeleteAsync(context, device, u),
                _ => MethodNotAllowed(context, id),
            };
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Data.Common.DbException && !context.RequestAborted.IsCancellationRequested)
        {
            DepotLog.StorageFailed(_logger, id ?? "(new)", e.Message);
            if (!response.HasStarted) response.StatusCode = StatusCodes.Status500InternalServerError;
        }
    }

    private static Task MethodNotAllowed(HttpContext context, string? id)
    {
        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        context.Response.Headers.Allow = id is null ? "OPTIONS, POST" : "OPTIONS, HEAD, PATCH, DELETE";
        return Task.CompletedTask;
    }

    private async Task CreateAsync(HttpContext context, string device)
    {
        var request = context.Request;
        if (request.Headers.ContainsKey("Upload-Defer-Length") || request.Headers.ContainsKey("Upload-Concat"))
        {
            await Refuse(context, "POST", null, device, StatusCodes.Status400BadRequest, "creation-defer-length and concatenation are not offered").ConfigureAwait(false);
            return;
        }
        if (!long.TryParse(request.Headers["Upload-Length"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            await Refuse(context, "POST", null, device, StatusCodes.Status400BadRequest, "Upload-Length is missing or not a number").ConfigureAwait(false);
            return;
        }
        if (length > _settings.Tus.MaxSize)
        {
            await Refuse(context, "POST", null, device, StatusCodes.Status413RequestEntityTooLarge,
                string.Create(CultureInfo.InvariantCulture, $"Upload-Length {length} is over Tus-Max-Size {_settings.Tus.MaxSize}")).ConfigureAwait(false);
            return;
        }
        var header = request.Headers["Upload-Metadata"].ToString();
        if (!UploadMetadata.TryParse(header, out var metadata, out var metadataError))
        {
            await Refuse(context, "POST", null, device, StatusCodes.Status400BadRequest, metadataError).ConfigureAwait(false);
            return;
        }
        var now = _time.GetUtcNow();
        if (Describe(metadata, length, device, now, out var declaredSha, out var storagePath) is { } refusal)
        {
            await Refuse(context, "POST", null, device, refusal.Status, refusal.Reason).ConfigureAwait(false);
            return;
        }
        var record = new UploadRecord
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            DeviceId = device,
            Length = length,
            MetadataHeader = header,
            ExpectedSha256 = declaredSha,
            StoragePath = storagePath,
            Created = now,
            Expires = now + _settings.Uploads.ExpireAfter,
        };
        await _store.CreateAsync(record, context.RequestAborted).ConfigureAwait(false);
        DepotLog.Created(_logger, record.Id, device, storagePath, length);
        context.Response.Headers.Location = _endpoint + record.Id;
        context.Response.Headers["Upload-Expires"] = HttpDate(record.Expires);
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    /// <summary>Checks the metadata the depot contract requires and where the file will be stored; a refusal when it is wrong.</summary>
    private static (int Status, string Reason)? Describe(Dictionary<string, string> metadata, long length, string device, DateTimeOffset now,
        out string sha256, out string storagePath)
    {
        sha256 = "";
        storagePath = "";
        if (!metadata.TryGetValue("device_id", out var claimed) || claimed.Length == 0)
            return (StatusCodes.Status400BadRequest, "Upload-Metadata has no device_id");
        if (claimed != device)
            return (StatusCodes.Status403Forbidden, $"Upload-Metadata device_id '{Printable(claimed)}' is not the authenticated device");
        if (!metadata.TryGetValue("sha256", out var declared) || declared.Length != 64 || !declared.All(char.IsAsciiHexDigit))
            return (StatusCodes.Status400BadRequest, "Upload-Metadata sha256 must be 64 hex digits (the whole file's SHA-256)");
        sha256 = declared.ToLowerInvariant();
        if (!metadata.TryGetValue("filename", out var filename) || !RecordingLayout.IsSafeName(filename) || RecordingLayout.KindOf(filename) is not { } kind)
            return (StatusCodes.Status400BadRequest, "Upload-Metadata filename must be a recording's file name (NAME.mcap, NAME.vidx, NAME.SLUG.h264/.h265)");
        if (metadata.TryGetValue("size", out var size) && size != length.ToString(CultureInfo.InvariantCulture))
            return (StatusCodes.Status400BadRequest, "Upload-Metadata size is not Upload-Length");
        if (metadata.TryGetValue("kind", out var kindName) && kindName != RecordingLayout.KindName(kind))
            return (StatusCodes.Status400BadRequest, $"Upload-Metadata kind '{Printable(kindName)}' does not match the file name");
        var recording = kind == RecordingFileKind.Mcap ? filename : null;
        if (metadata.TryGetValue("recording", out var named) && named.Length > 0)
        {
            if (!RecordingLayout.IsSafeName(named) || !RecordingLayout.BelongsTo(filename, named))
                return (StatusCodes.Status400BadRequest, "Upload-Metadata recording is not the .mcap this file belongs to");
            recording = named;
        }
        ulong startNs = 0;
        if (metadata.TryGetValue("start_time", out var start) && start.Length > 0 && !ulong.TryParse(start, NumberStyles.None, CultureInfo.InvariantCulture, out startNs))
            return (StatusCodes.Status400BadRequest, "Upload-Metadata start_time is not a number of ns");
        var date = RecordingLayout.DateDirectoryOf(recording ?? filename, startNs, now);
        storagePath = RecordingLayout.RelativePath(device, date, filename);
        return null;
    }

    private async Task HeadAsync(HttpContext context, string device, string id)
    {
        var record = await FindAsync(context, "HEAD", device, id).ConfigureAwait(false);
        if (record is null) return;
        var headers = context.Response.Headers;
        headers.CacheControl = "no-store";
        headers["Upload-Offset"] = (await _store.OffsetAsync(record, context.RequestAborted).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture);
        headers["Upload-Length"] = record.Length.ToString(CultureInfo.InvariantCulture);
        if (record.MetadataHeader.Length > 0) headers["Upload-Metadata"] = record.MetadataHeader;
        if (record.VerifiedSha256 is { } sha) headers[VerifiedHeader] = sha;
        else headers["Upload-Expires"] = HttpDate(record.Expires);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private async Task DeleteAsync(HttpContext context, string device, string id)
    {
        var record = await FindAsync(context, "DELETE", device, id).ConfigureAwait(false);
        if (record is null) return;
        var session = _sessions.GetOrAdd(id, static _ => new UploadSession());
        if (await EnterAsync(id, session).ConfigureAwait(false) is not { } held)
        {
            await Refuse(context, "DELETE", id, device, StatusCodes.Status423Locked, "a PATCH is in progress on this upload").ConfigureAwait(false);
            return;
        }
        try
        {
            await _store.RemoveAsync(record, CancellationToken.None).ConfigureAwait(false);
            Forget(id, session);
        }
        finally
        {
            await ExitAsync(session, held).ConfigureAwait(false);
        }
        DepotLog.Terminated(_logger, id, device);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task PatchAsync(HttpContext context, string device, string id)
    {
        var request = context.Request;
        var record = await FindAsync(context, "PATCH", device, id).ConfigureAwait(false);
        if (record is null) return;
        if (!string.Equals(request.ContentType, "application/offset+octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            await Refuse(context, "PATCH", id, device, StatusCodes.Status415UnsupportedMediaType, "Content-Type must be application/offset+octet-stream").ConfigureAwait(false);
            return;
        }
        if (!long.TryParse(request.Headers["Upload-Offset"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var claimed))
        {
            await Refuse(context, "PATCH", id, device, StatusCodes.Status400BadRequest, "Upload-Offset is missing or not a number").ConfigureAwait(false);
            return;
        }
        var session = _sessions.GetOrAdd(id, static _ => new UploadSession());
        if (await EnterAsync(id, session).ConfigureAwait(false) is not { } held)
        {
            await Refuse(context, "PATCH", id, device, StatusCodes.Status423Locked, "another PATCH is in progress on this upload").ConfigureAwait(false);
            return;
        }
        _metrics.PatchStarted();
        try
        {
            // Read again under the lock: a DELETE or the expiry sweep may have removed it meanwhile.
            record = await _store.FindAsync(id, CancellationToken.None).ConfigureAwait(false);
            if (record is null)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            var offset = await _store.OffsetAsync(record, CancellationToken.None).ConfigureAwait(false);
            if (claimed != offset)
            {
                context.Response.Headers["Upload-Offset"] = offset.ToString(CultureInfo.InvariantCulture);
                await Refuse(context, "PATCH", id, device, StatusCodes.Status409Conflict,
                    string.Create(CultureInfo.InvariantCulture, $"Upload-Offset {claimed} is not the upload's offset {offset}")).ConfigureAwait(false);
                return;
            }
            if (record.VerifiedSha256 is { } done)
            {
                // The final answer was lost and the device asks again with nothing left to send.
                context.Response.Headers["Upload-Offset"] = offset.ToString(CultureInfo.InvariantCulture);
                context.Response.Headers[VerifiedHeader] = done;
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }
            if (request.ContentLength is { } declared && declared > record.Length - offset)
            {
                await Refuse(context, "PATCH", id, device, StatusCodes.Status413RequestEntityTooLarge,
                    string.Create(CultureInfo.InvariantCulture, $"{declared} bytes from offset {offset} go past Upload-Length {record.Length}")).ConfigureAwait(false);
                return;
            }
            await ReceiveAsync(context, device, record, session, offset).ConfigureAwait(false);
        }
        finally
        {
            _metrics.PatchEnded();
            await ExitAsync(session, held).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Streams the body into the store as it arrives, hashing each piece; a cut connection keeps
    /// every byte stored before it. Then: more to come (204), the last byte (verify), or too many (413).
    /// </summary>
    private async Task ReceiveAsync(HttpContext context, string device, UploadRecord record, UploadSession session, long offset)
    {
        var start = offset;
        var hash = await HashUpToAsync(record, session, offset).ConfigureAwait(false);
        var reader = context.Request.BodyReader;
        var remaining = record.Length - offset;
        var overlong = false;
        string? cut = null;
        await using (var writer = await _store.OpenWriterAsync(record, offset, hash, CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                while (!overlong)
                {
                    ReadResult result;
                    try
                    {
                        result = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException)
                    {
                        cut = e.Message;
                        break;
                    }
                    var buffer = result.Buffer;
                    if (buffer.Length > remaining)
                    {
                        overlong = true;
                    }
                    else if (!buffer.IsEmpty)
                    {
                        // Not cancellable: a write that starts finishes, so the hash (the writer appends to it) and the stored bytes agree.
                        await writer.WriteAsync(buffer, CancellationToken.None).ConfigureAwait(false);
                        offset += buffer.Length;
                        remaining -= buffer.Length;
                        session.HashedUpTo = offset;
                        _metrics.Received(device, buffer.Length);
                    }
                    reader.AdvanceTo(buffer.End);
                    if (result.IsCompleted) break;
                }
                if (overlong)
                {
                    // Nothing of this request is kept: the spec's "nothing changes" for a bad request.
                    await writer.TruncateAsync(start, CancellationToken.None).ConfigureAwait(false);
                    session.HashedUpTo = -1;
                    offset = start;
                }
                // fsync before the verified file is renamed into place, and when a connection was cut.
                // Not after every PATCH: the offset the depot reports is always what the store holds
                // (after a power cut, HEAD says less and the client sends it again; the hash is
                // rebuilt from the stored bytes), and an fsync per 16 MiB costs ~15% of throughput.
                if (offset == record.Length || cut is not null) await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                else if (!overlong) await writer.SealAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                // A failed write: what was stored is unknown to the hash; the next PATCH hashes the stored prefix.
                session.HashedUpTo = -1;
                throw;
            }
        }
        if (cut is not null)
        {
            DepotLog.PatchCut(_logger, record.Id, device, offset, cut);
            await MoveExpiryAsync(record).ConfigureAwait(false);
            return;
        }
        if (overlong)
        {
            await Refuse(context, "PATCH", record.Id, device, StatusCodes.Status413RequestEntityTooLarge,
                string.Create(CultureInfo.InvariantCulture, $"the body goes past Upload-Length {record.Length}; nothing of it was kept")).ConfigureAwait(false);
            return;
        }
        var headers = context.Response.Headers;
        headers["Upload-Offset"] = offset.ToString(CultureInfo.InvariantCulture);
        if (offset < record.Length)
        {
            var moved = await MoveExpiryAsync(record).ConfigureAwait(false);
            headers["Upload-Expires"] = HttpDate(moved.Expires);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        var actual = Convert.ToHexStringLower(hash.Current());
        if (actual != record.ExpectedSha256)
        {
            // Removed first: "complete" must only ever mean "verified".
            await _store.RemoveAsync(record, CancellationToken.None).ConfigureAwait(false);
            Forget(record.Id, session);
            _metrics.FailedOne();
            DepotLog.VerificationFailed(_logger, record.Id, device, record.ExpectedSha256, actual);
            headers.Remove("Upload-Offset");
            await Refuse(context, "PATCH", record.Id, device, ChecksumMismatch,
                $"the stored bytes hash to {actual}, not the declared sha256 {record.ExpectedSha256}; the upload was removed").ConfigureAwait(false);
            return;
        }
        var verified = record with { VerifiedSha256 = actual, Expires = _time.GetUtcNow() + _settings.Uploads.ExpireAfter };
        await _store.CommitAsync(verified, CancellationToken.None).ConfigureAwait(false);
        session.Dispose();
        _metrics.VerifiedOne();
        DepotLog.Verified(_logger, record.Id, device, record.StoragePath, actual);
        _catalog.Arrived(verified); // cataloged in the background: the answer does not wait for it
        headers[VerifiedHeader] = actual;
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>
    /// Bytes arrived: the upload expires <c>expire_after</c> from now. The record is saved again
    /// only when that moves the stored expiry by more than a hundredth of <c>expire_after</c>
    /// (1.7 h of 7 days): saving is two fsyncs, and a PATCH every few milliseconds need not pay them.
    /// </summary>
    private async Task<UploadRecord> MoveExpiryAsync(UploadRecord record)
    {
        var expires = _time.GetUtcNow() + _settings.Uploads.ExpireAfter;
        if (expires - record.Expires <= _settings.Uploads.ExpireAfter / 100) return record;
        var moved = record with { Expires = expires };
        await _store.SaveAsync(moved, CancellationToken.None).ConfigureAwait(false);
        return moved;
    }

    /// <summary>
    /// The running hash at <paramref name="offset"/>. After a restart, a failed write or another
    /// replica's progress: the state the store saved at that offset, or else the stored prefix hashed again.
    /// </summary>
    private async Task<ResumableSha256> HashUpToAsync(UploadRecord record, UploadSession session, long offset)
    {
        if (session.Hash is { } current && session.HashedUpTo == offset) return current;
        if (offset == 0) return session.Restart();
        if (await _store.RestoreHashAsync(record, offset, CancellationToken.None).ConfigureAwait(false) is { } saved) return session.Adopt(saved, offset);
        var hash = session.Restart();
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var stream = _store.OpenRead(record);
            long done = 0;
            while (done < offset)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, offset - done))).ConfigureAwait(false);
                if (read == 0) throw new IOException($"upload {record.Id}: the store holds fewer than {offset} bytes");
                hash.Append(buffer.AsSpan(0, read));
                done += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        session.HashedUpTo = offset;
        DepotLog.Rehashed(_logger, record.Id, record.DeviceId, offset);
        return hash;
    }

    /// <summary>The upload for HEAD, PATCH or DELETE, or null after answering 404/410/403.</summary>
    private async Task<UploadRecord?> FindAsync(HttpContext context, string method, string device, string id)
    {
        var record = await _store.FindAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (record is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return null;
        }
        if (record.DeviceId != device)
        {
            await Refuse(context, method, id, device, StatusCodes.Status403Forbidden, $"the upload belongs to device {record.DeviceId}").ConfigureAwait(false);
            return null;
        }
        if (record.Expires <= _time.GetUtcNow() && !record.IsVerified)
        {
            // Expired but not yet swept: gone all the same.
            await ExpireAsync(record).ConfigureAwait(false);
            context.Response.StatusCode = StatusCodes.Status410Gone;
            return null;
        }
        return record;
    }

    /// <summary>
    /// Removes every upload whose time is up: abandoned uploads (their bytes go) and the records of
    /// verified ones (their files stay). An upload locked by a PATCH is left for the next sweep.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var removed = 0;
        await foreach (var record in _store.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (record.Expires > now) continue;
            if (await ExpireAsync(record).ConfigureAwait(false)) removed++;
        }
        return removed;
    }

    private async Task<bool> ExpireAsync(UploadRecord record)
    {
        var session = _sessions.GetOrAdd(record.Id, static _ => new UploadSession());
        if (await EnterAsync(record.Id, session).ConfigureAwait(false) is not { } held) return false;
        try
        {
            await _store.RemoveAsync(record, CancellationToken.None).ConfigureAwait(false);
            Forget(record.Id, session);
        }
        finally
        {
            await ExitAsync(session, held).ConfigureAwait(false);
        }
        if (!record.IsVerified)
        {
            _metrics.ExpiredOne();
            DepotLog.Expired(_logger, record.Id, record.DeviceId, record.Expires - _settings.Uploads.ExpireAfter);
        }
        return true;
    }

    /// <summary>
    /// The upload's lock: this process's (at once, in memory), then the store's, which other depot
    /// processes sharing the store also take. Null when either is held elsewhere.
    /// </summary>
    private async Task<IAsyncDisposable?> EnterAsync(string id, UploadSession session)
    {
        if (!session.TryEnter()) return null;
        try
        {
            var held = await _store.TryLockAsync(id, CancellationToken.None).ConfigureAwait(false);
            if (held is null) session.Exit();
            return held;
        }
        catch
        {
            session.Exit();
            throw;
        }
    }

    private static async Task ExitAsync(UploadSession session, IAsyncDisposable held)
    {
        try
        {
            await held.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            session.Exit();
        }
    }

    private void Forget(string id, UploadSession session)
    {
        _sessions.TryRemove(new KeyValuePair<string, UploadSession>(id, session));
        session.Dispose();
    }

    private async Task Refuse(HttpContext context, string method, string? id, string? device, int status, string reason)
    {
        if (status is 401 or 403 or 409 or 423 or ChecksumMismatch) _metrics.RefusedOne();
        DepotLog.Refused(_logger, status, method, id ?? "(new)", device ?? "(unauthenticated)", context.Connection.RemoteIpAddress?.ToString() ?? "?", reason);
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        if (method != HttpMethods.Head) await context.Response.WriteAsync(reason + "\n").ConfigureAwait(false);
    }

    private static bool IsUploadId(string id) => id.Length == 32 && id.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    private static string HttpDate(DateTimeOffset time) => time.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);

    private static string Printable(string text)
    {
        var cut = text.Length > 64 ? text[..64] : text;
        return new string(cut.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
    }
}
