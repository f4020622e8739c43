using Recorder.Depot.Storage;

namespace Recorder.Depot.Tus;

/// <summary>
/// What the depot holds in memory for one upload: its lock (one PATCH or DELETE at a time; a
/// second one gets 423 at once rather than waiting, so bytes can never interleave) and the
/// running SHA-256 of the bytes stored so far. The hash is a cache: after a restart (or when
/// another replica moved the upload on) the next PATCH restores it from the store's saved state or
/// hashes the stored prefix again.
/// </summary>
internal sealed class UploadSession : IDisposable
{
    private int _busy;

    /// <summary>The SHA-256 of the first <see cref="HashedUpTo"/> stored bytes; null until the first PATCH.</summary>
    public ResumableSha256? Hash { get; private set; }

    /// <summary>How many bytes <see cref="Hash"/> covers; -1 when it covers nothing valid.</summary>
    public long HashedUpTo { get; set; } = -1;

    public bool TryEnter() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    public void Exit() => Volatile.Write(ref _busy, 0);

    /// <summary>Starts a fresh hash (to be fed from byte 0).</summary>
    public ResumableSha256 Restart() => Adopt(new ResumableSha256(), 0);

    /// <summary>Continues with <paramref name="hash"/>, which covers the first <paramref name="hashedUpTo"/> bytes.</summary>
    public ResumableSha256 Adopt(ResumableSha256 hash, long hashedUpTo)
    {
        Hash?.Dispose();
        Hash = hash;
        HashedUpTo = hashedUpTo;
        return hash;
    }

    public void Dispose()
    {
        Hash?.Dispose();
        Hash = null;
        HashedUpTo = -1;
    }
}
