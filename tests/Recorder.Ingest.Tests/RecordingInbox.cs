using System.IO.Pipelines;
using Microsoft.Extensions.Time.Testing;
using Recorder.Recording;
using Recorder.Recording.Tests;

namespace Recorder.Ingest.Tests;

/// <summary>One message as ingest handed it to the recording stage, with its batch's fields.</summary>
public sealed record Handed(string Source, DropPolicy Policy, ulong ChunkEndTime, ulong ReceiveTime, ushort ChannelId, uint Sequence,
    ulong LogTime, ulong PublishTime, byte[] Data);

/// <summary>
/// The recording stage's real intake (<see cref="RecordingIntake"/> over a real queue and registry)
/// with no writer draining it: a test runs a session against the contract, then reads exactly what
/// it handed over. The receive clock is fake, so receive times are the test's to choose.
/// </summary>
public sealed class RecordingInbox
{
    public RecordingInbox(IngestOptions? options = null, long queueBytes = 64 << 20)
    {
        Queue = new BatchQueue(queueBytes, new RecordingClock(ReceiveTime));
        Context = new IngestContext(options ?? new IngestOptions { SocketPath = null }, new RecordingIntake(Queue, Registry), Log);
    }

    /// <summary>The receive clock: fixed unless the test advances it.</summary>
    public FakeTimeProvider ReceiveTime { get; } = new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
    public ChannelRegistry Registry { get; } = new();
    public BatchQueue Queue { get; }
    public ListLogger Log { get; } = new();
    public IngestContext Context { get; }

    /// <summary>Everything handed over so far, in queue order.</summary>
    public List<Handed> Messages { get; } = new();

    /// <summary>Events and kept records queued so far, in queue order.</summary>
    public List<RecorderCommand> Commands { get; } = new();

    public string TopicOf(ushort channelId) => Registry.Channel(channelId)?.Topic ?? throw new InvalidOperationException($"no channel {channelId}");

    /// <summary>Takes what is queued now; waits for nothing.</summary>
    public RecordingInbox Drain()
    {
        while (Queue.TryDequeue(TimeSpan.Zero, out var batch)) Take(batch);
        return this;
    }

    /// <summary>
    /// Takes queued items until <paramref name="messages"/> messages have come, for inputs whose
    /// sessions run on their own threads over real sockets and FIFOs. The bound only turns a hang into a failure.
    /// </summary>
    public RecordingInbox DrainUntil(int messages)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Messages.Count < messages)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {Messages.Count} of {messages} messages arrived");
            if (Queue.TryDequeue(TimeSpan.FromMilliseconds(50), out var batch)) Take(batch);
        }
        return Drain();
    }

    private void Take(MessageBatch batch)
    {
        if (batch.Command is { } command) Commands.Add(command);
        foreach (var e in batch)
            Messages.Add(new Handed(batch.Source, batch.Policy, batch.ChunkEndTime, batch.ReceiveTime, e.ChannelId, e.Sequence, e.ProducerLogTime,
                e.PublishTime, e.Data.ToArray()));
        Queue.Return(batch);
    }

    /// <summary>Runs one session over <paramref name="bytes"/>, written into a pipe <paramref name="segment"/> bytes at a time, to its end.</summary>
    public async Task<ProducerStats> Feed(Func<IngestContext, ProducerStats, PipeReader, Task> session, byte[] bytes, string source = "test#1", int segment = 4096)
    {
        var stats = new ProducerStats { Source = source };
        var pipe = new Pipe();
        var running = session(Context, stats, pipe.Reader);
        for (var i = 0; i < bytes.Length; i += segment)
        {
            var result = await pipe.Writer.WriteAsync(bytes.AsMemory(i, Math.Min(segment, bytes.Length - i)));
            if (result.IsCompleted) break; // the session refused the rest
        }
        await pipe.Writer.CompleteAsync();
        await running;
        Drain();
        return stats;
    }

    public static Task Mcap(IngestContext context, ProducerStats stats, PipeReader reader) =>
        new McapProducerSession(context, stats).RunAsync(reader, CancellationToken.None);

    public static Func<IngestContext, ProducerStats, PipeReader, Task> JsonLines(TopicInputOptions input) =>
        (context, stats, reader) => new JsonLinesSession(input, context, stats).RunAsync(reader, CancellationToken.None);

    public static Func<IngestContext, ProducerStats, PipeReader, Task> AnnexB(TopicInputOptions input) =>
        (context, stats, reader) => new AnnexBSession(input, context, stats).RunAsync(reader, CancellationToken.None);
}
