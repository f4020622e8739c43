using System.Buffers;

namespace Recorder.Depot.Storage;

/// <summary>
/// Where uploads live while they arrive and where verified files are kept. The tus handler knows
/// nothing else about storage, so a backend (a local directory now, S3 multipart next) is an
/// implementation of this interface, not an edit of the handler.
/// <para>
/// Contract: the bytes of an upload are appended at its offset only (one writer at a time: the
/// handler holds the upload's lock); <see cref="OffsetAsync"/> is what the store really holds;
/// <see cref="CommitAsync"/> makes the file visible at <see cref="UploadRecord.StoragePath"/>
/// atomically (whole or not at all) and only then is the record verified; a crash at any point
/// leaves the whole verified file or a resumable upload.
/// </para>
/// </summary>
public interface IUploadStore
{
    /// <summary>Persists a new, empty upload.</summary>
    ValueTask CreateAsync(UploadRecord record, CancellationToken cancellationToken);

    /// <summary>The upload with <paramref name="id"/>, or null when there is none (never created, removed or expired).</summary>
    ValueTask<UploadRecord?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Saves a changed record (its expiry moved on).</summary>
    ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken);

    /// <summary>How many bytes of the upload the store holds.</summary>
    ValueTask<long> OffsetAsync(UploadRecord record, CancellationToken cancellationToken);

    /// <summary>
    /// Opens the upload for appending at <paramref name="offset"/> (= <see cref="OffsetAsync"/>).
    /// The writer appends every byte it stores to <paramref name="hash"/> (the SHA-256 of the first
    /// <paramref name="offset"/> bytes), so a store that saves progress can save the hash state with it.
    /// </summary>
    ValueTask<IUploadWriter> OpenWriterAsync(UploadRecord record, long offset, ResumableSha256 hash, CancellationToken cancellationToken);

    /// <summary>
    /// The SHA-256 state over the first <paramref name="offset"/> stored bytes when the store saved
    /// one (the S3 store, whose parts cannot be read back before completion); null when it did not
    /// (the local store: the caller hashes <see cref="OpenRead"/> again).
    /// </summary>
    ValueTask<ResumableSha256?> RestoreHashAsync(UploadRecord record, long offset, CancellationToken cancellationToken);

    /// <summary>The stored bytes from the start, to hash them again after a restart.</summary>
    Stream OpenRead(UploadRecord record);

    /// <summary>
    /// Takes the upload's write lock among every depot process that shares this store, or null
    /// when another process holds it. Released by disposing. (Within one process the tus handler
    /// serializes requests itself; a store used by one process returns a lock that always succeeds.)
    /// </summary>
    ValueTask<IAsyncDisposable?> TryLockAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the fully received upload visible at its storage path, durably and atomically, and
    /// saves <paramref name="verified"/> (with <see cref="UploadRecord.VerifiedSha256"/> set).
    /// </summary>
    ValueTask CommitAsync(UploadRecord verified, CancellationToken cancellationToken);

    /// <summary>Removes the upload: its bytes if not committed, and its record. A committed file stays.</summary>
    ValueTask RemoveAsync(UploadRecord record, CancellationToken cancellationToken);

    /// <summary>Every upload the store holds (for the expiry sweep).</summary>
    IAsyncEnumerable<UploadRecord> ListAsync(CancellationToken cancellationToken);
}

/// <summary>Appends an upload's bytes as they arrive.</summary>
public interface IUploadWriter : IAsyncDisposable
{
    /// <summary>Appends <paramref name="bytes"/> (as the request body reader hands them over); returns once the store has them (not necessarily durably).</summary>
    ValueTask WriteAsync(ReadOnlySequence<byte> bytes, CancellationToken cancellationToken);

    /// <summary>
    /// The request's body ended: from now on <see cref="IUploadStore.OffsetAsync"/>, in any process,
    /// counts every byte appended (the S3 store writes the bytes that do not fill a part as the
    /// incomplete part object). Not necessarily durable on disk.
    /// </summary>
    ValueTask SealAsync(CancellationToken cancellationToken);

    /// <summary>Makes everything appended so far durable (and sealed).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>Discards everything after <paramref name="offset"/> (a request that must change nothing).</summary>
    ValueTask TruncateAsync(long offset, CancellationToken cancellationToken);
}
