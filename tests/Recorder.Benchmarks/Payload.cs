using System.Buffers.Binary;

namespace Recorder.Benchmarks;

/// <summary>
/// How much each benchmark invocation does, and the bytes it does it with. Every benchmark of a
/// case handles the same <see cref="MessageCount"/> messages, so the per-message columns and the
/// ratio against the memcpy baseline compare like with like.
/// </summary>
public static class Payload
{
    /// <summary>Payload bytes per invocation: N = BatchBytes / MessageSize messages.</summary>
    public const int BatchBytes = 64 * 1024 * 1024;

    /// <summary>Distinct bytes that messages are sliced from, walking forward and wrapping.</summary>
    public const int PoolBytes = 8 * 1024 * 1024;

    /// <summary>The largest message size any benchmark uses; the pool has this much slack past <see cref="PoolBytes"/>.</summary>
    public const int MaxMessageSize = 1024 * 1024;

    /// <summary>The name of the [Params] property every per-message column reads.</summary>
    public const string MessageSizeParameter = "MessageSize";

    /// <summary>Messages per invocation for a message size: the "operations" behind every per-message number.</summary>
    public static int MessageCount(int messageSize) => BatchBytes / messageSize;

    /// <summary>Where the next message's payload starts in the pool.</summary>
    public static int NextOffset(int offset, int messageSize)
    {
        offset += messageSize;
        return offset >= PoolBytes ? offset - PoolBytes : offset;
    }

    /// <summary>
    /// A deterministic stream of IMU-like samples (time stamp, sequence, status, quantized
    /// accelerometer and gyro readings with noise, a slowly turning quaternion): structured and
    /// moderately compressible, like real sensor payloads, and never all zeros.
    /// </summary>
    public static byte[] CreatePool(int seed = 20240601)
    {
        const int sampleSize = 56;
        var pool = new byte[PoolBytes + MaxMessageSize];
        var random = new Random(seed);
        var time = 1_700_000_000_000_000_000UL;
        var angle = 0.0;
        var span = pool.AsSpan();
        Span<byte> sample = stackalloc byte[sampleSize];
        for (uint sequence = 0; span.Length > 0; sequence++)
        {
            time += 5_000_000UL + (ulong)random.Next(0, 2_000);
            angle += 0.0005 + random.NextDouble() * 0.0001;
            BinaryPrimitives.WriteUInt64LittleEndian(sample, time);
            BinaryPrimitives.WriteUInt32LittleEndian(sample[8..], sequence);
            BinaryPrimitives.WriteUInt32LittleEndian(sample[12..], random.Next(0, 64) == 0 ? 0x3u : 0x1u);
            // 16-bit ADC readings scaled to SI units, as an IMU driver publishes them.
            WriteReading(sample[16..], random, 0.0, 40, 0.000598);
            WriteReading(sample[20..], random, 0.0, 40, 0.000598);
            WriteReading(sample[24..], random, 9.80665, 40, 0.000598);
            WriteReading(sample[28..], random, 0.0, 8, 0.000133);
            WriteReading(sample[32..], random, 0.0, 8, 0.000133);
            WriteReading(sample[36..], random, 0.0, 8, 0.000133);
            BinaryPrimitives.WriteSingleLittleEndian(sample[40..], (float)Math.Cos(angle / 2));
            BinaryPrimitives.WriteSingleLittleEndian(sample[44..], 0f);
            BinaryPrimitives.WriteSingleLittleEndian(sample[48..], 0f);
            BinaryPrimitives.WriteSingleLittleEndian(sample[52..], (float)Math.Sin(angle / 2));
            var take = Math.Min(sampleSize, span.Length);
            sample[..take].CopyTo(span);
            span = span[take..];
        }
        return pool;
    }

    private static void WriteReading(Span<byte> destination, Random random, double center, int noiseCounts, double scale)
    {
        var counts = (short)(Math.Round(center / scale) + random.Next(-noiseCounts, noiseCounts + 1));
        BinaryPrimitives.WriteSingleLittleEndian(destination, (float)(counts * scale));
    }
}
