using BenchmarkDotNet.Attributes;
using Recorder.Mcap;

namespace Recorder.Benchmarks;

/// <summary>
/// What the write and read benchmarks share: the parameters, the payload, the batch of
/// <see cref="MessageCount"/> messages each invocation handles, and the memcpy baseline that every
/// other benchmark of a case is reported as a ratio of.
/// </summary>
public abstract class MessageBatchBenchmark
{
    protected const ushort SchemaId = 1;
    protected const ushort ChannelId = 1;
    protected const ulong StartTime = 1_700_000_000_000_000_000UL;

    /// <summary>Bytes the memcpy baseline copies into, wrapping around: one chunk's worth.</summary>
    private const int CopyTargetBytes = McapWriterOptions.DefaultChunkSize;

    private byte[] _copyTarget = [];

    [Params(100, 10240, 1048576)]
    public int MessageSize { get; set; }

    [Params(McapCompression.None, McapCompression.Lz4, McapCompression.Zstd)]
    public McapCompression Compression { get; set; }

    /// <summary>Messages per invocation; the per-message columns divide by the same number.</summary>
    protected int MessageCount => Payload.MessageCount(MessageSize);

    protected byte[] Pool { get; private set; } = [];

    protected static readonly Schema BenchSchema = new(SchemaId, "recorder_bench/msg/Imu", "ros2msg",
        "uint64 stamp\nuint32 seq\nuint32 status\nfloat32[3] accel\nfloat32[3] gyro\nfloat32[4] orientation\n"u8.ToArray());

    protected static readonly Channel BenchChannel = new(ChannelId, SchemaId, "/imu", "cdr", Channel.NoMetadata);

    /// <summary>Call from the derived class's [GlobalSetup] (BenchmarkDotNet allows one per class).</summary>
    protected void SetupPayload()
    {
        if (MessageSize is <= 0 or > Payload.MaxMessageSize)
            throw new InvalidOperationException($"MessageSize must be in 1..{Payload.MaxMessageSize}");
        Pool = Payload.CreatePool();
        _copyTarget = new byte[CopyTargetBytes];
    }

    /// <summary>The floor: copy each message's payload once into a chunk-sized buffer, wrapping around.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Baseline")]
    public int Memcpy()
    {
        var pool = Pool;
        var target = _copyTarget.AsSpan();
        var size = MessageSize;
        var count = MessageCount;
        var source = 0;
        var destination = 0;
        for (var i = 0; i < count; i++)
        {
            if (destination > target.Length - size) destination = 0;
            pool.AsSpan(source, size).CopyTo(target[destination..]);
            destination += size;
            source = Payload.NextOffset(source, size);
        }
        return destination;
    }
}
