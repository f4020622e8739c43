using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using System.Text.Json;
using Recorder.Storage;

namespace Recorder.Depot.Storage;

/// <summary>
/// A local directory: verified files at <c>&lt;root&gt;/&lt;device_id&gt;/&lt;YYYY-MM-DD&gt;/&lt;file&gt;</c>
/// (the vehicle's layout); uploads in progress in <c>&lt;root&gt;/.uploads</c> as <c>ID.part</c>
/// (the bytes) and <c>ID.json</c> (the record), on the same file system so the final rename is atomic.
/// <para>
/// Commit is two steps, each crash-safe: the record is saved verified (temp, fsync, rename), then
/// the fsynced <c>.part</c> is renamed into place and the directory fsynced. A crash between them
/// leaves a verified record with its <c>.part</c>; <see cref="FindAsync"/> finishes the rename.
/// </para>
/// </summary>
public sealed class LocalUploadStore : IUploadStore
{
    private readonly string _root;
    private readonly string _uploads;

    public LocalUploadStore(string root)
    {
        _root = Path.GetFullPath(root);
        _uploads = Path.Combine(_root, ".uploads");
        Directory.CreateDirectory(_uploads);
    }

    /// <summary>The storage root (absolute).</summary>
    public string Root => _root;

    /// <summary>The absolute path of a file stored at <paramref name="storagePath"/>.</summary>
    public string PathOf(string storagePath) => Path.Combine(_root, storagePath.Replace('/', Path.DirectorySeparatorChar));

    private string PartPath(string id) => Path.Combine(_uploads, id + ".part");

    private string RecordPath(string id) => Path.Combine(_uploads, id + ".json");

    public ValueTask CreateAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        // The bytes' file first: a record never points at nothing.
        using (new FileStream(PartPath(record.Id), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
        {
        }
        Save(record);
        return ValueTask.CompletedTask;
    }

    public ValueTask<UploadRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        var record = Load(RecordPath(id));
        if (record is { IsVerified: true } && File.Exists(PartPath(id)))
            DurableFile.MoveIntoPlace(PartPath(id), PathOf(record.StoragePath)); // a commit cut short by a crash
        return ValueTask.FromResult(record);
    }

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        Save(record);
        return ValueTask.CompletedTask;
    }

    public ValueTask<long> OffsetAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        if (record.IsVerified) return ValueTask.FromResult(record.Length);
        var info = new FileInfo(PartPath(record.Id));
        return ValueTask.FromResult(info.Exists ? info.Length : 0);
    }

    public ValueTask<IUploadWriter> OpenWriterAsync(UploadRecord record, long offset, ResumableSha256 hash, CancellationToken cancellationToken)
    {
        var handle = File.OpenHandle(PartPath(record.Id), FileMode.Open, FileAccess.Write, FileShare.Read, FileOptions.Asynchronous);
        return ValueTask.FromResult<IUploadWriter>(new Writer(handle, offset, hash));
    }

    /// <summary>None saved: the stored prefix is at hand to hash again.</summary>
    public ValueTask<ResumableSha256?> RestoreHashAsync(UploadRecord record, long offset, CancellationToken cancellationToken) => ValueTask.FromResult<ResumableSha256?>(null);

    /// <summary>One process owns the directory: the tus handler's own lock is the whole lock.</summary>
    public ValueTask<IAsyncDisposable?> TryLockAsync(string id, CancellationToken cancellationToken) => ValueTask.FromResult<IAsyncDisposable?>(NoLock.Instance);

    private sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public Stream OpenRead(UploadRecord record) =>
        new FileStream(PartPath(record.Id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20, FileOptions.SequentialScan);

    public ValueTask CommitAsync(UploadRecord verified, CancellationToken cancellationToken)
    {
        Save(verified);
        DurableFile.MoveIntoPlace(PartPath(verified.Id), PathOf(verified.StoragePath));
        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        File.Delete(PartPath(record.Id));
        File.Delete(RecordPath(record.Id));
        return ValueTask.CompletedTask;
    }

    public async IAsyncEnumerable<UploadRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var file in Directory.EnumerateFiles(_uploads, "*.json"))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Load(file) is { } record) yield return record;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private void Save(UploadRecord record) =>
        DurableFile.WriteAllBytes(RecordPath(record.Id), JsonSerializer.SerializeToUtf8Bytes(record, StoreJson.Default.UploadRecord));

    private static UploadRecord? Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), StoreJson.Default.UploadRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            // Gone (removed, expired) or a torn record from before a crash (records are written
            // through temp + rename, so only a foreign file can be torn): treated as no upload.
            return null;
        }
    }

    /// <summary>Positional writes straight to the file: one gathered write (pwritev) per piece of body the reader hands over.</summary>
    private sealed class Writer(SafeFileHandle handle, long offset, ResumableSha256 hash) : IUploadWriter
    {
        private readonly List<ReadOnlyMemory<byte>> _segments = new(16);

        public async ValueTask WriteAsync(ReadOnlySequence<byte> bytes, CancellationToken cancellationToken)
        {
            if (bytes.IsSingleSegment)
            {
                await RandomAccess.WriteAsync(handle, bytes.First, offset, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _segments.Clear();
                foreach (var segment in bytes) _segments.Add(segment);
                await RandomAccess.WriteAsync(handle, _segments, offset, cancellationToken).ConfigureAwait(false);
            }
            foreach (var segment in bytes) hash.Append(segment.Span);
            offset += bytes.Length;
        }

        /// <summary>Written bytes are in the file already.</summary>
        public ValueTask SealAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            RandomAccess.FlushToDisk(handle);
            return ValueTask.CompletedTask;
        }

        public ValueTask TruncateAsync(long length, CancellationToken cancellationToken)
        {
            RandomAccess.SetLength(handle, length);
            offset = length;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            handle.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
