using BenchmarkDotNet.Attributes;
using Recorder.Mcap;

namespace Recorder.Benchmarks;

/// <summary>
/// McapWriter with default options (1 MiB chunks, all CRCs, message indexes, summary) writing a
/// batch of 64 MiB of payload into a stream that discards it. The writer is created and finished
/// in every invocation; that fixed cost is spread over the batch's messages.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerMessageConfig))]
public class WriteBenchmarks : MessageBatchBenchmark
{
    private readonly DiscardStream _sink = new();
    private McapWriterOptions _options = new();

    [GlobalSetup]
    public void Setup()
    {
        SetupPayload();
        // Built once: the options' default Library string is computed by reflection.
        _options = new McapWriterOptions { Compression = Compression };
    }

    [Benchmark]
    [BenchmarkCategory("Write")]
    public long Write()
    {
        _sink.Reset();
        using var writer = new McapWriter(_sink, _options, leaveOpen: true);
        writer.AddSchema(BenchSchema);
        writer.AddChannel(BenchChannel);
        var pool = Pool;
        var size = MessageSize;
        var count = MessageCount;
        var offset = 0;
        for (var i = 0; i < count; i++)
        {
            var time = StartTime + (ulong)i * 1_000;
            writer.WriteMessage(ChannelId, (uint)i, time, time, pool.AsSpan(offset, size));
            offset = Payload.NextOffset(offset, size);
        }
        writer.Finish();
        return _sink.BytesWritten;
    }
}
