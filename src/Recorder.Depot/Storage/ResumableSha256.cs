using System.Runtime.InteropServices;

namespace Recorder.Depot.Storage;

/// <summary>
/// SHA-256 whose running state (the midstate) can be saved and restored, so a replica that takes
/// over an upload continues the hash where another left it, without reading the stored prefix
/// back (S3 cannot read the parts of a multipart upload in progress). .NET's
/// <c>IncrementalHash</c> cannot export its state, so this calls OpenSSL's <c>SHA256_*</c>
/// (libcrypto, which .NET on Linux loads anyway): the same block function, SHA-NI included, as
/// <c>IncrementalHash</c> uses, so it is as fast.
/// <para>
/// The saved state is OpenSSL's <c>SHA256_CTX</c> (8 + 2 + 16 + 2 32-bit words: the chaining
/// values, the bit count, the unhashed tail block and its length), 112 bytes, the same on every
/// little-endian 32/64-bit platform; a leading version byte guards it.
/// </para>
/// </summary>
public sealed unsafe class ResumableSha256 : IDisposable
{
    /// <summary>Bytes of <see cref="Export"/>: a version byte and the context.</summary>
    public const int StateSize = 1 + ContextSize;
    private const int ContextSize = 112;
    private const byte StateVersion = 1;

    private static readonly Lazy<Api> OpenSsl = new(Api.Load);
    private byte* _context;

    public ResumableSha256()
    {
        _context = (byte*)NativeMemory.AlignedAlloc(128, 16);
        NativeMemory.Clear(_context, 128);
        if (OpenSsl.Value.Init(_context) != 1) throw new InvalidOperationException("SHA256_Init failed");
    }

    /// <summary>A hash continuing from <paramref name="state"/> (from <see cref="Export"/>).</summary>
    public static ResumableSha256 Import(ReadOnlySpan<byte> state)
    {
        if (state.Length != StateSize || state[0] != StateVersion) throw new ArgumentException($"not a SHA-256 state (version {StateVersion}, {StateSize} bytes)", nameof(state));
        var hash = new ResumableSha256();
        state[1..].CopyTo(new Span<byte>(hash._context, ContextSize));
        return hash;
    }

    /// <summary>Bytes hashed so far (from the context's bit count).</summary>
    public long Length
    {
        get
        {
            var low = ((uint*)_context)[8];
            var high = ((uint*)_context)[9];
            return (long)(((ulong)high << 32 | low) / 8);
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_context is null, this);
        if (data.IsEmpty) return;
        fixed (byte* p = data)
        {
            if (OpenSsl.Value.Update(_context, p, (nuint)data.Length) != 1) throw new InvalidOperationException("SHA256_Update failed");
        }
    }

    /// <summary>The state after the bytes appended so far, to continue later with <see cref="Import"/>.</summary>
    public byte[] Export()
    {
        ObjectDisposedException.ThrowIf(_context is null, this);
        var state = new byte[StateSize];
        state[0] = StateVersion;
        new ReadOnlySpan<byte>(_context, ContextSize).CopyTo(state.AsSpan(1));
        return state;
    }

    /// <summary>The digest of the bytes appended so far; the running state is left as it was.</summary>
    public byte[] Current()
    {
        ObjectDisposedException.ThrowIf(_context is null, this);
        var copy = stackalloc byte[128];
        new ReadOnlySpan<byte>(_context, 128).CopyTo(new Span<byte>(copy, 128));
        var digest = new byte[32];
        fixed (byte* d = digest)
        {
            if (OpenSsl.Value.Final(d, copy) != 1) throw new InvalidOperationException("SHA256_Final failed");
        }
        return digest;
    }

    public void Dispose()
    {
        if (_context is null) return;
        NativeMemory.AlignedFree(_context);
        _context = null;
        GC.SuppressFinalize(this);
    }

    ~ResumableSha256()
    {
        if (_context is not null) NativeMemory.AlignedFree(_context);
    }

    /// <summary>OpenSSL's low-level SHA-256 entry points (deprecated in 3.0 for EVP, still exported by every build that keeps the 1.1 API, Debian's included).</summary>
    private sealed class Api
    {
        public delegate* unmanaged<byte*, int> Init;
        public delegate* unmanaged<byte*, byte*, nuint, int> Update;
        public delegate* unmanaged<byte*, byte*, int> Final;

        public static Api Load()
        {
            foreach (var name in new[] { "libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so" })
            {
                if (!NativeLibrary.TryLoad(name, out var library)) continue;
                if (!NativeLibrary.TryGetExport(library, "SHA256_Init", out var init)
                    || !NativeLibrary.TryGetExport(library, "SHA256_Update", out var update)
                    || !NativeLibrary.TryGetExport(library, "SHA256_Final", out var final)) continue;
                return new Api
                {
                    Init = (delegate* unmanaged<byte*, int>)init,
                    Update = (delegate* unmanaged<byte*, byte*, nuint, int>)update,
                    Final = (delegate* unmanaged<byte*, byte*, int>)final,
                };
            }
            throw new DllNotFoundException("OpenSSL libcrypto with SHA256_Init/Update/Final (libcrypto.so.3 or .so.1.1) was not found");
        }
    }
}
