using System.Buffers;
using K4os.Compression.LZ4;
using K4os.Compression.LZ4.Streams;
using ZstdSharp;

namespace Recorder.Mcap.Internal;

/// <summary>
/// Compresses and decompresses chunk records. One instance per writer or reader, so the zstd
/// contexts are created once and reused for every chunk.
/// </summary>
internal sealed class ChunkCodec : IDisposable
{
    private Compressor? _zstdCompressor;
    private Decompressor? _zstdDecompressor;
    private readonly int _zstdLevel;
    private readonly LZ4Level _lz4Level;

    public ChunkCodec(McapCompressionLevel level = McapCompressionLevel.Fastest)
    {
        // The same mapping as the C++ reference writer.
        (_zstdLevel, _lz4Level) = level switch
        {
            McapCompressionLevel.Fastest => (-5, LZ4Level.L00_FAST),
            McapCompressionLevel.Fast => (-3, LZ4Level.L00_FAST),
            McapCompressionLevel.Default => (1, LZ4Level.L03_HC),
            McapCompressionLevel.Slow => (5, LZ4Level.L10_OPT),
            _ => (19, LZ4Level.L12_MAX),
        };
    }

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/> (cleared first).</summary>
    public void Compress(McapCompression compression, ReadOnlySpan<byte> source, PooledBuffer destination)
    {
        destination.Clear();
        switch (compression)
        {
            case McapCompression.Lz4:
                if (_lz4Level == LZ4Level.L00_FAST) Lz4FrameWriter.Encode(source, destination);
                else LZ4Frame.Encode(source, destination, _lz4Level, 0);
                break;
            case McapCompression.Zstd:
                _zstdCompressor ??= new Compressor(_zstdLevel);
                var bound = Compressor.GetCompressBound(source.Length);
                var written = _zstdCompressor.Wrap(source, destination.GetSpan(bound));
                destination.Advance(written);
                break;
            default:
                destination.Write(source);
                break;
        }
    }

    /// <summary>
    /// Decompresses <paramref name="source"/> into <paramref name="destination"/> (cleared first),
    /// which must come to exactly <paramref name="declared"/> bytes. The buffer grows with what the
    /// data really decompresses to, never ahead of it: a chunk that only claims a large size costs
    /// what it holds, not what it claims. Trailing compressed bytes that produce no output are
    /// tolerated (zstd writers may leave them); a short result is an error.
    /// </summary>
    public void Decompress(string compression, ReadOnlyMemory<byte> source, PooledBuffer destination, int declared, long offset)
    {
        destination.Clear();
        switch (compression)
        {
            case McapConstants.CompressionNone:
                if (source.Length != declared)
                    ThrowHelper.Throw(McapErrorKind.DecompressionFailed,
                        $"uncompressed chunk holds {source.Length} bytes but declares {declared}", offset, McapOpcode.Chunk);
                destination.Write(source.Span);
                return;
            case McapConstants.CompressionLz4:
                DecompressLz4(source, destination, declared, offset);
                return;
            case McapConstants.CompressionZstd:
                DecompressZstd(source.Span, destination, declared, offset);
                return;
            default:
                ThrowHelper.Throw(McapErrorKind.UnsupportedCompression, $"unsupported chunk compression '{compression}'", offset, McapOpcode.Chunk);
                return;
        }
    }

    /// <summary>The first room given to a chunk's output; it then doubles with the output, up to the declared size.</summary>
    internal const int FirstOutputBytes = 64 * 1024;

    /// <summary>Room for the next output: what the buffer already has, else twice what was written (at least 64 KiB), never past the declared size.</summary>
    private static Span<byte> NextOutput(PooledBuffer destination, int declared)
    {
        var left = declared - destination.Count;
        var span = destination.GetSpan(Math.Min(left, Math.Max(destination.Count, FirstOutputBytes)));
        return span.Length > left ? span[..left] : span;
    }

    private static void DecompressLz4(ReadOnlyMemory<byte> source, PooledBuffer destination, int declared, long offset)
    {
        var total = 0;
        try
        {
            using var reader = LZ4Frame.Decode(source, 0);
            while (destination.Count < declared)
            {
                var read = reader.ReadManyBytes(NextOutput(destination, declared), false);
                if (read <= 0) break;
                destination.Advance(read);
            }
            total = destination.Count;
            if (total == declared && reader.ReadOneByte() >= 0)
                total++; // more output than declared
        }
        catch (Exception e)
        {
            ThrowHelper.Throw(McapErrorKind.DecompressionFailed, $"lz4 chunk does not decompress: {e.Message}", offset, McapOpcode.Chunk, e);
        }
        if (total != declared)
            ThrowHelper.Throw(McapErrorKind.DecompressionFailed,
                $"lz4 chunk decompressed to {(total > declared ? "more than" : total.ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes but declares {declared}",
                offset, McapOpcode.Chunk);
    }

    private void DecompressZstd(ReadOnlySpan<byte> source, PooledBuffer destination, int declared, long offset)
    {
        _zstdDecompressor ??= new Decompressor();
        try
        {
            while (destination.Count < declared && !source.IsEmpty)
            {
                var status = _zstdDecompressor.UnwrapStream(source, NextOutput(destination, declared), out var consumed, out var written);
                destination.Advance(written);
                source = source[consumed..];
                if (consumed == 0 && written == 0) break;
                if (status == OperationStatus.InvalidData) break;
            }
        }
        catch (Exception e)
        {
            // The context may hold a half-read frame; start the next chunk with a fresh one.
            _zstdDecompressor.Dispose();
            _zstdDecompressor = null;
            ThrowHelper.Throw(McapErrorKind.DecompressionFailed, $"zstd chunk does not decompress: {e.Message}", offset, McapOpcode.Chunk, e);
        }
        if (destination.Count != declared)
        {
            _zstdDecompressor.Dispose();
            _zstdDecompressor = null;
            ThrowHelper.Throw(McapErrorKind.DecompressionFailed,
                $"zstd chunk decompressed to {destination.Count} bytes but declares {declared}", offset, McapOpcode.Chunk);
        }
        // A frame that ended exactly at the declared size leaves the context ready for the next
        // chunk. Trailing bytes (allowed, see the Rust reader's padding fix) may leave it mid-frame:
        // only then start afresh, so the common case reuses the native context.
        if (!source.IsEmpty)
        {
            _zstdDecompressor.Dispose();
            _zstdDecompressor = null;
        }
    }

    public void Dispose()
    {
        _zstdCompressor?.Dispose();
        _zstdDecompressor?.Dispose();
    }
}
