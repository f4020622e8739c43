using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Recorder.Storage;

namespace Recorder.Offload;

/// <summary>One change to the offload state (proto/offload_state.md). Each names the file by its key: the path under the recordings root.</summary>
public abstract record JournalRecord(string Key);

/// <summary>The file is known: its fingerprint, hash and what the upload metadata says about it. Starts the file over.</summary>
public sealed record QueuedRecord(string Key, long Size, long MtimeNs, byte[] Sha256, RecordingFileKind Kind, string Recording, ulong StartNs, ulong EndNs, bool Marks)
    : JournalRecord(Key);

/// <summary>The depot created an upload for the file at this URL (written, and fsynced, before any byte is sent).</summary>
public sealed record CreatedRecord(string Key, string Url, long ExpiresUnixMs) : JournalRecord(Key);

/// <summary>The depot acknowledged this many bytes (advisory: HEAD is the truth after a failure).</summary>
public sealed record OffsetRecord(string Key, long Offset) : JournalRecord(Key);

/// <summary>The depot confirmed the complete upload and verified this SHA-256. Fsynced before any local delete.</summary>
public sealed record VerifiedRecord(string Key, byte[] Sha256) : JournalRecord(Key);

/// <summary>The local file was deleted after verification.</summary>
public sealed record DeletedRecord(string Key) : JournalRecord(Key);

/// <summary>The upload URL is abandoned (gone, expired, mismatched); the next attempt creates a new upload.</summary>
public sealed record DroppedRecord(string Key, string Reason) : JournalRecord(Key);

/// <summary>Forget the file entirely (it vanished before it was verified, or was replaced).</summary>
public sealed record ForgottenRecord(string Key) : JournalRecord(Key);

/// <summary>
/// The depot holds the complete upload but does not verify (its OPTIONS lacks <c>X-Ingest-Verify: sha256</c>):
/// the file is not uploaded again, and this is never a ground for deleting it.
/// </summary>
public sealed record UploadedRecord(string Key, byte[] Sha256) : JournalRecord(Key);

/// <summary>What the journal knows about one file after replay. <paramref name="UploadedUnverified"/>: see <see cref="UploadedRecord"/>.</summary>
public sealed record JournalEntry(
    string Key, long Size, long MtimeNs, byte[] Sha256, RecordingFileKind Kind, string Recording, ulong StartNs, ulong EndNs, bool Marks,
    string? Url = null, long ExpiresUnixMs = 0, long Offset = 0, bool Verified = false, bool Deleted = false, bool UploadedUnverified = false);

/// <summary>What opening the journal found. <paramref name="UpgradedFrom"/>: the older version the file was rewritten from (0: none).</summary>
public readonly record struct JournalOpenInfo(int Records, long ValidBytes, long DiscardedBytes, bool Created, int UpgradedFrom = 0);

/// <summary>The one exception type of the journal: the file is not ours, or from a newer version.</summary>
public sealed class OffloadJournalException : Exception
{
    public OffloadJournalException()
    {
    }

    public OffloadJournalException(string message) : base(message)
    {
    }

    public OffloadJournalException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>
/// The offload state: an append-only, CRC-framed, versioned journal (proto/offload_state.md).
/// Opening replays it and truncates a torn tail at the last whole record; records that matter
/// (created, verified, deleted, dropped) are fsynced before the caller acts on them, so a torn tail
/// never loses a confirmed upload. Compaction rewrites the live entries into a new file (fsync,
/// rename, fsync the directory). Thread-safe.
/// </summary>
public sealed class OffloadJournal : IDisposable
{
    /// <summary>
    /// The version written. 2 added the file kind 2 (sidecar stream); 3 added the record
    /// <c>uploaded</c> (type 8). Older journals are read and rewritten as the current version.
    /// </summary>
    public const int Version = 3;

    /// <summary>The oldest version read (and upgraded on open).</summary>
    public const int OldestReadableVersion = 1;
    public const int HeaderSize = 16;
    public const int MaxRecordLength = 1 << 20;
    internal static ReadOnlySpan<byte> Magic => "RECOFFJ\n"u8;

    private readonly string _path;
    private readonly object _lock = new();
    private readonly Dictionary<string, JournalEntry> _entries = new(StringComparer.Ordinal);
    private FileStream _file;
    private int _appendedSinceCompaction;

    private OffloadJournal(string path, FileStream file)
    {
        _path = path;
        _file = file;
    }

    public string Path => _path;

    /// <summary>A snapshot of the live entries.</summary>
    public IReadOnlyDictionary<string, JournalEntry> Entries
    {
        get
        {
            lock (_lock) return new Dictionary<string, JournalEntry>(_entries, StringComparer.Ordinal);
        }
    }

    /// <summary>One live entry, without copying the rest.</summary>
    public bool TryGetEntry(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out JournalEntry? entry)
    {
        lock (_lock) return _entries.TryGetValue(key, out entry);
    }

    public long Length
    {
        get
        {
            lock (_lock) return _file.Length;
        }
    }

    /// <summary>Opens (or creates) the journal at <paramref name="path"/>, replays it and cuts a torn tail.</summary>
    public static OffloadJournal Open(string path, out JournalOpenInfo info)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var created = !File.Exists(path) || new FileInfo(path).Length < HeaderSize;
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        var journal = new OffloadJournal(path, file);
        try
        {
            if (created)
            {
                // Absent, or torn inside the header: nothing was ever committed.
                file.SetLength(0);
                file.Write(Header());
                file.Flush(flushToDisk: true);
                SyncDirectory(path);
                info = new JournalOpenInfo(0, HeaderSize, 0, true);
                return journal;
            }
            var bytes = new byte[file.Length];
            file.Position = 0;
            file.ReadExactly(bytes);
            var version = CheckHeader(bytes, path);
            var (records, valid) = journal.Replay(bytes);
            var discarded = bytes.Length - valid;
            if (discarded > 0)
            {
                file.SetLength(valid);
                file.Flush(flushToDisk: true);
            }
            file.Position = valid;
            if (version != Version)
            {
                // An older journal: its records mean the same in this version. Rewrite it under the
                // current header (atomically: temporary file, fsync, rename, fsync the directory)
                // before anything this version adds is appended, so an older recorder refuses the
                // file instead of misreading it. A crash before the rename leaves the old journal intact.
                journal.Compact();
                info = new JournalOpenInfo(records, journal.Length, discarded, false, version);
                return journal;
            }
            info = new JournalOpenInfo(records, valid, discarded, false);
            return journal;
        }
        catch
        {
            journal.Dispose(); // the file it holds now (an upgrade's compaction replaces it)
            throw;
        }
    }

    private static byte[] Header()
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), Crc32.HashToUInt32(header.AsSpan(0, 12)));
        return header;
    }

    /// <summary>Checks magic and CRC; returns the version (one this recorder reads).</summary>
    private static int CheckHeader(ReadOnlySpan<byte> bytes, string path)
    {
        if (!bytes[..8].SequenceEqual(Magic)) throw new OffloadJournalException($"{path} is not an offload journal (bad magic)");
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]) != Crc32.HashToUInt32(bytes[..12]))
            throw new OffloadJournalException($"{path}: the journal header is damaged (CRC mismatch)");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version < OldestReadableVersion || version > Version)
            throw new OffloadJournalException($"{path} is offload journal version {version}; this recorder reads versions {OldestReadableVersion} to {Version}");
        return (int)version;
    }

    /// <summary>Applies every whole record; returns how many and where the valid part ends.</summary>
    private (int Records, long Valid) Replay(byte[] bytes)
    {
        var position = HeaderSize;
        var records = 0;
        while (TryReadFrame(bytes, position, out var type, out var payload, out var next))
        {
            JournalRecord record;
            try
            {
                record = Decode(type, payload);
            }
            catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or ArgumentOutOfRangeException or DecoderFallbackException)
            {
                break; // a frame with a good CRC but an undecodable body: treat as the end
            }
            Apply(record);
            records++;
            position = next;
        }
        return (records, position);
    }

    /// <summary>A frame: u32 length (type + payload), u8 type, payload, u32 CRC-32 over all of those.</summary>
    internal static bool TryReadFrame(ReadOnlySpan<byte> bytes, int position, out byte type, out ReadOnlySpan<byte> payload, out int next)
    {
        type = 0;
        payload = default;
        next = position;
        if (bytes.Length - position < 4) return false;
        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[position..]);
        if (length < 1 || length > MaxRecordLength || bytes.Length - position - 4 < length + 4L) return false;
        var framed = bytes.Slice(position, 4 + (int)length);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(position + 4 + (int)length)..]);
        if (crc != Crc32.HashToUInt32(framed)) return false;
        type = framed[4];
        payload = framed[5..];
        next = position + 4 + (int)length + 4;
        return true;
    }

    /// <summary>Appends <paramref name="record"/> and applies it. <paramref name="durable"/>: fsync before returning.</summary>
    public void Append(JournalRecord record, bool durable)
    {
        var frame = Encode(record);
        lock (_lock)
        {
            _file.Write(frame);
            _file.Flush(flushToDisk: durable);
            Apply(record);
            _appendedSinceCompaction++;
        }
    }

    /// <summary>Rewrites the live entries into a fresh journal when the file has grown well past them.</summary>
    public bool CompactIfLarge(int minRecords = 4096)
    {
        lock (_lock)
        {
            if (_appendedSinceCompaction < minRecords) return false;
            Compact();
            return true;
        }
    }

    /// <summary>Writes every live entry to <c>PATH.tmp</c>, fsyncs it, renames it over the journal and fsyncs the directory.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            var temporary = _path + ".tmp";
            using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024))
            {
                output.Write(Header());
                foreach (var e in _entries.Values.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    foreach (var record in Snapshot(e)) output.Write(Encode(record));
                }
                output.Flush(flushToDisk: true);
            }
            _file.Dispose();
            File.Move(temporary, _path, overwrite: true);
            SyncDirectory(_path);
            _file = new FileStream(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
            _file.Position = _file.Length;
            _appendedSinceCompaction = 0;
        }
    }

    private static IEnumerable<JournalRecord> Snapshot(JournalEntry e)
    {
        yield return new QueuedRecord(e.Key, e.Size, e.MtimeNs, e.Sha256, e.Kind, e.Recording, e.StartNs, e.EndNs, e.Marks);
        if (e.Url is not null) yield return new CreatedRecord(e.Key, e.Url, e.ExpiresUnixMs);
        if (e.Offset > 0) yield return new OffsetRecord(e.Key, e.Offset);
        if (e.Verified) yield return new VerifiedRecord(e.Key, e.Sha256);
        if (e.UploadedUnverified) yield return new UploadedRecord(e.Key, e.Sha256);
    }

    private void Apply(JournalRecord record)
    {
        _entries.TryGetValue(record.Key, out var e);
        switch (record)
        {
            case QueuedRecord q:
                _entries[q.Key] = new JournalEntry(q.Key, q.Size, q.MtimeNs, q.Sha256, q.Kind, q.Recording, q.StartNs, q.EndNs, q.Marks);
                break;
            case CreatedRecord c when e is not null:
                _entries[c.Key] = e with { Url = c.Url, ExpiresUnixMs = c.ExpiresUnixMs, Offset = 0 };
                break;
            case OffsetRecord o when e is not null:
                _entries[o.Key] = e with { Offset = o.Offset };
                break;
            case VerifiedRecord v when e is not null:
                _entries[v.Key] = e with { Verified = true, UploadedUnverified = false, Offset = e.Size };
                break;
            case UploadedRecord u when e is not null:
                _entries[u.Key] = e with { UploadedUnverified = true, Offset = e.Size };
                break;
            case DeletedRecord:
                // Gone from the disk for good: the entry has nothing left to say.
                _entries.Remove(record.Key);
                break;
            case DroppedRecord d when e is not null:
                _entries[d.Key] = e with { Url = null, ExpiresUnixMs = 0, Offset = 0, UploadedUnverified = false };
                break;
            case ForgottenRecord:
                _entries.Remove(record.Key);
                break;
        }
    }

    internal static byte[] Encode(JournalRecord record)
    {
        var body = new List<byte>(128);
        byte type;
        switch (record)
        {
            case QueuedRecord q:
                type = 1;
                Str(body, q.Key);
                U64(body, (ulong)q.Size);
                U64(body, (ulong)q.MtimeNs);
                if (q.Sha256.Length != 32) throw new ArgumentException("sha256 must be 32 bytes");
                body.AddRange(q.Sha256);
                if (!RecordingLayout.IsDefinedKind((byte)q.Kind)) throw new ArgumentException($"unknown file kind {q.Kind}");
                body.Add((byte)q.Kind);
                Str(body, q.Recording);
                U64(body, q.StartNs);
                U64(body, q.EndNs);
                body.Add(q.Marks ? (byte)1 : (byte)0);
                break;
            case CreatedRecord c:
                type = 2;
                Str(body, c.Key);
                Str(body, c.Url);
                U64(body, (ulong)c.ExpiresUnixMs);
                break;
            case OffsetRecord o:
                type = 3;
                Str(body, o.Key);
                U64(body, (ulong)o.Offset);
                break;
            case VerifiedRecord v:
                type = 4;
                Str(body, v.Key);
                body.AddRange(v.Sha256);
                break;
            case DeletedRecord d:
                type = 5;
                Str(body, d.Key);
                break;
            case DroppedRecord d:
                type = 6;
                Str(body, d.Key);
                Str(body, d.Reason);
                break;
            case ForgottenRecord f:
                type = 7;
                Str(body, f.Key);
                break;
            case UploadedRecord u:
                type = 8;
                Str(body, u.Key);
                if (u.Sha256.Length != 32) throw new ArgumentException("sha256 must be 32 bytes");
                body.AddRange(u.Sha256);
                break;
            default:
                throw new ArgumentException($"unknown record {record.GetType().Name}");
        }
        var length = 1 + body.Count;
        var frame = new byte[4 + length + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)length);
        frame[4] = type;
        body.CopyTo(frame, 5);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4 + length), Crc32.HashToUInt32(frame.AsSpan(0, 4 + length)));
        return frame;
    }

    internal static JournalRecord Decode(byte type, ReadOnlySpan<byte> p)
    {
        var at = 0;
        var key = ReadStr(p, ref at);
        JournalRecord record = type switch
        {
            1 => new QueuedRecord(key, (long)ReadU64(p, ref at), (long)ReadU64(p, ref at), ReadBytes(p, ref at, 32), ReadKind(p, ref at),
                ReadStr(p, ref at), ReadU64(p, ref at), ReadU64(p, ref at), ReadByte(p, ref at) != 0),
            2 => new CreatedRecord(key, ReadStr(p, ref at), (long)ReadU64(p, ref at)),
            3 => new OffsetRecord(key, (long)ReadU64(p, ref at)),
            4 => new VerifiedRecord(key, ReadBytes(p, ref at, 32)),
            5 => new DeletedRecord(key),
            6 => new DroppedRecord(key, ReadStr(p, ref at)),
            7 => new ForgottenRecord(key),
            8 => new UploadedRecord(key, ReadBytes(p, ref at, 32)),
            _ => throw new ArgumentException($"unknown record type {type}"),
        };
        if (at != p.Length) throw new ArgumentException("trailing bytes in a record");
        return record;
    }

    private static void Str(List<byte> body, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > ushort.MaxValue) throw new ArgumentException("string too long for the journal");
        body.Add((byte)bytes.Length);
        body.Add((byte)(bytes.Length >> 8));
        body.AddRange(bytes);
    }

    private static void U64(List<byte> body, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        foreach (var x in b) body.Add(x);
    }

    private static string ReadStr(ReadOnlySpan<byte> p, ref int at)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(p[at..]);
        at += 2;
        var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(p.Slice(at, length));
        at += length;
        return text;
    }

    private static ulong ReadU64(ReadOnlySpan<byte> p, ref int at)
    {
        var value = BinaryPrimitives.ReadUInt64LittleEndian(p[at..]);
        at += 8;
        return value;
    }

    private static byte ReadByte(ReadOnlySpan<byte> p, ref int at) => p[at++];

    /// <summary>A kind this version does not know is undecodable, like damage: the replay ends there.</summary>
    private static RecordingFileKind ReadKind(ReadOnlySpan<byte> p, ref int at)
    {
        var value = ReadByte(p, ref at);
        return RecordingLayout.IsDefinedKind(value) ? (RecordingFileKind)value : throw new ArgumentException($"unknown file kind {value}");
    }

    private static byte[] ReadBytes(ReadOnlySpan<byte> p, ref int at, int count)
    {
        var bytes = p.Slice(at, count).ToArray();
        at += count;
        return bytes;
    }

    /// <summary>fsync of the directory, so a create or rename survives power loss. Best effort where the OS refuses.</summary>
    internal static void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            using var handle = File.OpenHandle(dir, FileMode.Open, FileAccess.Read);
            // RandomAccess.FlushToDisk is fsync on Linux.
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose()
    {
        lock (_lock) _file.Dispose();
    }
}
