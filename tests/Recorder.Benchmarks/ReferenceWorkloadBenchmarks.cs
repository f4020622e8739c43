using BenchmarkDotNet.Attributes;
using Recorder.Mcap;

namespace Recorder.Benchmarks;

/// <summary>
/// The C++ reference writer's own benchmark workload (foxglove/mcap cpp/bench): a fixed
/// "Hello, world!" payload repeated in every message, 100 B here, default writer options. It is far
/// more compressible than sensor data, which is why lz4 costs that writer little; this class makes
/// the comparison with its published numbers (5.9 M msg/s uncompressed, 4.6 M with lz4 on a 2-core
/// machine) like for like. <see cref="WriteBenchmarks"/> measures realistic payloads.
/// </summary>
/// <para>OperationsPerInvoke is the message count, so Mean is the time per message and Allocated is per message.</para>
[MemoryDiagnoser]
[ShortRunJob]
public class ReferenceWorkloadBenchmarks
{
    private const int Count = 1_000_000;
    private readonly DiscardStream _sink = new();
    private readonly byte[] _payload = new byte[100];
    private readonly byte[] _copyTarget = new byte[McapWriterOptions.DefaultChunkSize];
    private McapWriterOptions _options = new();

    [Params(McapCompression.None, McapCompression.Lz4, McapCompression.Zstd)]
    public McapCompression Compression { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var hello = "Hello, world!"u8;
        for (var i = 0; i < _payload.Length; i++) _payload[i] = hello[i % hello.Length];
        _options = new McapWriterOptions { Compression = Compression };
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public int Memcpy()
    {
        var target = _copyTarget.AsSpan();
        var destination = 0;
        for (var i = 0; i < Count; i++)
        {
            if (destination > target.Length - _payload.Length) destination = 0;
            _payload.CopyTo(target[destination..]);
            destination += _payload.Length;
        }
        return destination;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long Write()
    {
        _sink.Reset();
        using var writer = new McapWriter(_sink, _options, leaveOpen: true);
        var channel = writer.AddChannel("/chatter", "ros1", writer.AddSchema("std_msgs/String", "ros1msg", "string data"u8.ToArray()));
        for (var i = 0; i < Count; i++) writer.WriteMessage(channel, (uint)i, (ulong)i, (ulong)i, _payload);
        writer.Finish();
        return _sink.BytesWritten;
    }
}
