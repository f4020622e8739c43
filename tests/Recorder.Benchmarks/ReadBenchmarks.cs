using System.Buffers;
using BenchmarkDotNet.Attributes;
using Recorder.Mcap;

namespace Recorder.Benchmarks;

/// <summary>
/// Reading back the file <see cref="WriteBenchmarks"/> produces (same parameters, same batch),
/// held in memory so the numbers are the readers' own: the streaming reader over one
/// <see cref="ReadOnlySequence{T}"/>, and the indexed reader's log-time-ordered ReadMessages.
/// Both validate every CRC, as their defaults do.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerMessageConfig))]
public class ReadBenchmarks : MessageBatchBenchmark
{
    private byte[] _file = [];
    private MemoryStream _fileStream = new();

    [GlobalSetup]
    public void Setup()
    {
        SetupPayload();
        using var output = new MemoryStream();
        using (var writer = new McapWriter(output, new McapWriterOptions { Compression = Compression }, leaveOpen: true))
        {
            writer.AddSchema(BenchSchema);
            writer.AddChannel(BenchChannel);
            var offset = 0;
            for (var i = 0; i < MessageCount; i++)
            {
                var time = StartTime + (ulong)i * 1_000;
                writer.WriteMessage(ChannelId, (uint)i, time, time, Pool.AsSpan(offset, MessageSize));
                offset = Payload.NextOffset(offset, MessageSize);
            }
            writer.Finish();
        }
        _file = output.ToArray();
        _fileStream = new MemoryStream(_file, writable: false);

        // Check once, outside the measurement, that both readers see every message.
        var expected = (long)MessageCount * MessageSize;
        if (StreamRead() != expected || IndexedRead() != expected)
            throw new InvalidOperationException("a reader did not return every message of the batch");
    }

    [GlobalCleanup]
    public void Cleanup() => _fileStream.Dispose();

    [Benchmark]
    [BenchmarkCategory("Read")]
    public long StreamRead()
    {
        var buffer = new ReadOnlySequence<byte>(_file);
        using var reader = new McapStreamReader();
        long bytes = 0;
        while (reader.Read(ref buffer, isFinalBlock: true, out var record) == McapReadStatus.Record)
        {
            if (record.Opcode == McapOpcode.Message) bytes += record.ToMessage().Data.Length;
        }
        return bytes;
    }

    [Benchmark]
    [BenchmarkCategory("Read")]
    public long IndexedRead()
    {
        using var reader = new McapIndexedReader(_fileStream, leaveOpen: true);
        long bytes = 0;
        foreach (var message in reader.ReadMessages())
            bytes += message.Message.Data.Length;
        return bytes;
    }
}
