using System.Buffers;
using System.Runtime.CompilerServices;

namespace Recorder.Depot.Storage.S3;

/// <summary>
/// Uploads whose bytes go to S3-compatible object storage as a multipart upload to the file's
/// final key, with their state (offset, parts, SHA-256 midstate, lock) in PostgreSQL, so any depot
/// replica continues any upload (proto/depot_s3_state.md).
/// <para>
/// Bytes fill a part buffer of the upload's part size (≥ 5 MiB; larger when the upload would
/// otherwise need more than 10,000 parts); each full buffer is uploaded as the next part. When a
/// request's body ends (or is cut) before a part is full, the buffered bytes are written as the
/// upload's "incomplete part" object, <c>PREFIX.uploads/ID.part</c>, and read back by the next
/// request, whichever replica takes it (as @tus/s3-store and tusd's s3store do). The row is
/// updated only after the bytes it counts are in S3.
/// </para>
/// <para>
/// The file becomes visible only at CompleteMultipartUpload (or, for a file smaller than one part,
/// a single PUT), after verification; the row is marked verified first, so a crash between the
/// two is finished by the next look-up of the upload.
/// </para>
/// </summary>
public sealed class S3UploadStore : IUploadStore, IAsyncDisposable
{
    public const int MinPartSize = 5 << 20;
    public const long MaxPartSize = 5L << 30;
    public const int MaxParts = 10_000;

    private readonly S3Client _s3;
    private readonly PostgresUploadState _state;
    private readonly string _prefix;
    private readonly int _partSize;

    /// <param name="prefix">Prepended to every key ("" or ending in '/').</param>
    /// <param name="partSize">The part size for uploads up to 10,000 parts of it.</param>
    public S3UploadStore(S3Client s3, PostgresUploadState state, string prefix, int partSize)
    {
        if (partSize < MinPartSize) throw new ArgumentOutOfRangeException(nameof(partSize), $"S3 parts are at least {MinPartSize} bytes");
        _s3 = s3;
        _state = state;
        _prefix = prefix;
        _partSize = partSize;
    }

    /// <summary>The object key of a file stored at <paramref name="storagePath"/>.</summary>
    public string KeyOf(string storagePath) => _prefix + storagePath;

    private string IncompleteKey(string id) => _prefix + ".uploads/" + id + ".part";

    /// <summary>The configured part size, or the smallest whole MiB that fits <paramref name="length"/> into 10,000 parts.</summary>
    public int PartSizeFor(long length)
    {
        var needed = (length + MaxParts - 1) / MaxParts;
        if (needed <= _partSize) return _partSize;
        var mib = (needed + (1 << 20) - 1) >> 20 << 20;
        return (int)Math.Min(mib, Array.MaxLength & ~((1 << 20) - 1));
    }

    public async ValueTask CreateAsync(UploadRecord record, CancellationToken cancellationToken) =>
        await _state.InsertAsync(record, PartSizeFor(record.Length), cancellationToken).ConfigureAwait(false);

    public async ValueTask<UploadRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        var row = await _state.FindAsync(id, cancellationToken).ConfigureAwait(false);
        if (row is null) return null;
        if (row.Record.IsVerified && !row.Committed) await CompleteAsync(row, CancellationToken.None).ConfigureAwait(false); // a commit cut short by a crash
        return row.Record;
    }

    public async ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken) =>
        await _state.SaveExpiryAsync(record.Id, record.Expires, cancellationToken).ConfigureAwait(false);

    public async ValueTask<long> OffsetAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        if (record.IsVerified) return record.Length;
        var row = await _state.FindAsync(record.Id, cancellationToken).ConfigureAwait(false);
        return row?.Progress.Offset ?? 0;
    }

    public async ValueTask<IUploadWriter> OpenWriterAsync(UploadRecord record, long offset, ResumableSha256 hash, CancellationToken cancellationToken)
    {
        var row = await _state.FindAsync(record.Id, cancellationToken).ConfigureAwait(false) ?? throw new IOException($"upload {record.Id} is gone");
        var progress = row.Progress;
        if (progress.Offset != offset) throw new IOException($"upload {record.Id}: the state says offset {progress.Offset}, not {offset}");
        var buffer = ArrayPool<byte>.Shared.Rent(progress.PartSize);
        try
        {
            if (progress.IncompleteBytes > 0)
            {
                var incomplete = await _s3.GetObjectAsync(IncompleteKey(record.Id), cancellationToken).ConfigureAwait(false);
                if (incomplete is null || incomplete.Length < progress.IncompleteBytes)
                    throw new IOException($"upload {record.Id}: the incomplete part object holds {incomplete?.Length ?? 0} bytes, the state counts {progress.IncompleteBytes}");
                incomplete.AsSpan(0, progress.IncompleteBytes).CopyTo(buffer);
            }
            return new Writer(this, record, hash, buffer, progress);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public async ValueTask<ResumableSha256?> RestoreHashAsync(UploadRecord record, long offset, CancellationToken cancellationToken)
    {
        var row = await _state.FindAsync(record.Id, cancellationToken).ConfigureAwait(false);
        return row is { Progress: { Sha256State: { } state } p } && p.Offset == offset ? ResumableSha256.Import(state) : null;
    }

    /// <summary>The parts of a multipart upload in progress cannot be read back; the hash state is saved with every step instead.</summary>
    public Stream OpenRead(UploadRecord record) =>
        throw new IOException($"upload {record.Id}: no SHA-256 state saved at its offset, and S3 parts cannot be read back before completion");

    public async ValueTask CommitAsync(UploadRecord verified, CancellationToken cancellationToken)
    {
        await _state.SaveVerifiedAsync(verified, cancellationToken).ConfigureAwait(false);
        var row = await _state.FindAsync(verified.Id, cancellationToken).ConfigureAwait(false) ?? throw new IOException($"upload {verified.Id} is gone");
        await CompleteAsync(row, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes a verified upload's object appear at its key: completes the multipart upload, or puts a file smaller than one part whole.</summary>
    private async Task CompleteAsync(StateRow row, CancellationToken cancellationToken)
    {
        var record = row.Record;
        var key = KeyOf(record.StoragePath);
        var p = row.Progress;
        if (p.MultipartId is { } multipart)
        {
            if (p.IncompleteBytes != 0) throw new IOException($"upload {record.Id}: {p.IncompleteBytes} bytes were not uploaded as the last part");
            try
            {
                await _s3.CompleteMultipartUploadAsync(key, multipart, p.PartETags, cancellationToken).ConfigureAwait(false);
            }
            catch (S3Exception e) when (e.Code == "NoSuchUpload")
            {
                // Completed before a crash lost the row's update: the object is there.
                if (await _s3.HeadObjectAsync(key, cancellationToken).ConfigureAwait(false) != record.Length) throw;
            }
        }
        else
        {
            var bytes = p.IncompleteBytes == 0 ? [] : await _s3.GetObjectAsync(IncompleteKey(record.Id), cancellationToken).ConfigureAwait(false);
            if (bytes is null || bytes.Length < p.IncompleteBytes) throw new IOException($"upload {record.Id}: the incomplete part object is missing or short");
            await _s3.PutObjectAsync(key, bytes.AsMemory(0, p.IncompleteBytes), cancellationToken).ConfigureAwait(false);
        }
        await _state.SaveCommittedAsync(record.Id, cancellationToken).ConfigureAwait(false);
        await _s3.DeleteObjectAsync(IncompleteKey(record.Id), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask RemoveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        var row = await _state.FindAsync(record.Id, cancellationToken).ConfigureAwait(false);
        if (row is null) return;
        if (!row.Committed)
        {
            if (row.Progress.MultipartId is { } multipart) await _s3.AbortMultipartUploadAsync(KeyOf(record.StoragePath), multipart, cancellationToken).ConfigureAwait(false);
            await _s3.DeleteObjectAsync(IncompleteKey(record.Id), cancellationToken).ConfigureAwait(false);
        }
        await _state.DeleteAsync(record.Id, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<UploadRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var row in _state.ListAsync(cancellationToken).ConfigureAwait(false)) yield return row.Record;
    }

    public ValueTask<IAsyncDisposable?> TryLockAsync(string id, CancellationToken cancellationToken) => _state.TryLockAsync(id, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _s3.Dispose();
        await _state.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Fills the part buffer; uploads each full one as the next part; at the end of a request, the rest as the incomplete part.</summary>
    private sealed class Writer(S3UploadStore store, UploadRecord record, ResumableSha256 hash, byte[] buffer, S3Progress atOpening) : IUploadWriter
    {
        private readonly S3Progress _opened = atOpening;
        private S3Progress _progress = atOpening;
        private int _buffered = atOpening.IncompleteBytes;
        private bool _unsealed;
        private bool _truncated;

        private string Key => store.KeyOf(record.StoragePath);

        public async ValueTask WriteAsync(ReadOnlySequence<byte> bytes, CancellationToken cancellationToken)
        {
            if (_truncated) throw new InvalidOperationException("the writer was truncated");
            foreach (var segment in bytes)
            {
                var rest = segment;
                while (!rest.IsEmpty)
                {
                    var n = Math.Min(rest.Length, _progress.PartSize - _buffered);
                    rest.Span[..n].CopyTo(buffer.AsSpan(_buffered));
                    hash.Append(rest.Span[..n]);
                    _buffered += n;
                    _unsealed = true;
                    rest = rest[n..];
                    if (_buffered == _progress.PartSize) await UploadPartAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        private async Task UploadPartAsync(CancellationToken cancellationToken)
        {
            var number = _progress.PartETags.Count + 1;
            if (number > MaxParts) throw new IOException($"upload {record.Id} needs more than {MaxParts} parts");
            var multipart = _progress.MultipartId ?? await store._s3.CreateMultipartUploadAsync(Key, cancellationToken).ConfigureAwait(false);
            var etag = await store._s3.UploadPartAsync(Key, multipart, number, buffer.AsMemory(0, _buffered), cancellationToken).ConfigureAwait(false);
            var next = _progress with
            {
                MultipartId = multipart,
                PartETags = [.. _progress.PartETags, etag],
                PartBytes = _progress.PartBytes + _buffered,
                IncompleteBytes = 0,
                Sha256State = hash.Export(),
            };
            await store._state.SaveProgressAsync(record.Id, next, cancellationToken).ConfigureAwait(false);
            _progress = next;
            _buffered = 0;
            _unsealed = false;
        }

        public async ValueTask SealAsync(CancellationToken cancellationToken)
        {
            if (!_unsealed || _truncated) return;
            if (_progress.PartBytes + _buffered == record.Length && _progress.MultipartId is not null)
            {
                await UploadPartAsync(cancellationToken).ConfigureAwait(false); // the last part may be small
                return;
            }
            await store._s3.PutObjectAsync(store.IncompleteKey(record.Id), buffer.AsMemory(0, _buffered), cancellationToken).ConfigureAwait(false);
            var next = _progress with { IncompleteBytes = _buffered, Sha256State = hash.Export() };
            await store._state.SaveProgressAsync(record.Id, next, cancellationToken).ConfigureAwait(false);
            _progress = next;
            _unsealed = false;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => SealAsync(cancellationToken);

        /// <summary>
        /// Back to the state at opening: the row is restored (parts uploaded since are overwritten by
        /// the next ones of the same number; the incomplete object was not touched). The writer is done.
        /// </summary>
        public async ValueTask TruncateAsync(long offset, CancellationToken cancellationToken)
        {
            if (offset != _opened.Offset) throw new ArgumentOutOfRangeException(nameof(offset), "an S3 upload truncates only to where the request started");
            await store._state.SaveProgressAsync(record.Id, _opened, cancellationToken).ConfigureAwait(false);
            _progress = _opened;
            _truncated = true;
        }

        public ValueTask DisposeAsync()
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.CompletedTask;
        }
    }
}
