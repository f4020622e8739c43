using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Recorder.Ingest;
using Recorder.Mcap;

namespace Recorder.Recording.Tests;

/// <summary>
/// The recording stage wired in-process, with producers fed through pipes instead of sockets. Shared
/// with Recorder.Ingest.Tests (linked), whose sessions meet it through <see cref="Ingest"/>.
/// </summary>
public sealed class Pipeline : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("recorder-pipeline-").FullName;
    public ChannelRegistry Registry { get; } = new();
    public BatchQueue Queue { get; }
    public RecordingWriter Writer { get; }
    public IngestOptions IngestOptions { get; }
    public ILogger Logger { get; }

    /// <summary>What an ingest session is given: <see cref="IngestOptions"/>, this pipeline's queue and registry as the recording's intake, <see cref="Logger"/>.</summary>
    public IngestContext Ingest { get; }

    /// <param name="receiveTime">
    /// The recording stage's clock (log times, the reorder watermark, chunk age, diagnostics, keyframe
    /// waits, stalls); a fake one makes time-window tests independent of the machine's speed.
    /// </param>
    public Pipeline(Func<RecordingOptions, RecordingOptions>? configure = null, IngestOptions? ingest = null, long queueBytes = 64 << 20, ILogger? logger = null,
        TimeProvider? receiveTime = null, bool startWriter = true)
    {
        Logger = logger ?? NullLogger.Instance;
        Time = receiveTime as FakeTimeProvider;
        Queue = new BatchQueue(queueBytes, new RecordingClock(receiveTime));
        var options = new RecordingOptions { Directory = Directory, Fsync = FsyncPolicy.Never };
        if (configure is not null) options = configure(options);
        Writer = new RecordingWriter(options, Queue, Registry, new DeviceIdentity("dev-1", new Dictionary<string, string>
        {
            ["device_id"] = "dev-1",
            ["operator"] = "ana",
        }), Logger);
        IngestOptions = ingest ?? new IngestOptions { SocketPath = null };
        Ingest = new IngestContext(IngestOptions, new RecordingIntake(Queue, Registry), Logger);
        if (startWriter) Writer.Start(); // otherwise the test starts it: until then nothing drains the queue
    }

    /// <summary>The fake clock the pipeline was built with, if any.</summary>
    public FakeTimeProvider? Time { get; }

    /// <summary>
    /// Lets the writer take everything queued so far at the current time, moves the fake clock on,
    /// then lets the writer act on the new time: it runs its periodic work and writes what that work
    /// queued (diagnostics). No sleeping.
    /// </summary>
    public async Task AdvanceAsync(TimeSpan by)
    {
        var time = Time ?? throw new InvalidOperationException("the pipeline runs on the real clock");
        await WriterPassAsync();
        time.Advance(by);
        await WriterPassAsync();
        await WriterPassAsync();
    }

    /// <summary>Completes once the writer has handled everything queued before it (and run its periodic work).</summary>
    public Task WriterPassAsync() => Writer.RunPeriodicWorkAsync().WaitAsync(TimeSpan.FromSeconds(30)); // the bound only turns a hang into a failure

    /// <summary>A fake clock at a fixed date, standing still until a test advances it.</summary>
    public static FakeTimeProvider FakeClock() => new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Runs one MCAP producer session over the given bytes.</summary>
    public async Task<ProducerStats> Feed(byte[] stream, string name = "test", int segment = 4096, bool paced = false)
    {
        // Paced: a small pipe, so reads stay small however the threads are scheduled (as a socket's would).
        var pipe = paced ? new Pipe(new PipeOptions(pauseWriterThreshold: 2 * segment, resumeWriterThreshold: segment)) : new Pipe();
        var stats = new ProducerStats { Source = name };
        var session = new McapProducerSession(Ingest, stats).RunAsync(pipe.Reader, CancellationToken.None);
        for (var i = 0; i < stream.Length; i += segment)
        {
            var result = await pipe.Writer.WriteAsync(stream.AsMemory(i, Math.Min(segment, stream.Length - i)));
            if (result.IsCompleted) break;
            if (paced) await Task.Delay(1); // arrive over time, in many reads, like a real producer
        }
        await pipe.Writer.CompleteAsync();
        await session;
        return stats;
    }

    /// <summary>Waits until the writer has written <paramref name="count"/> messages: it releases held ones as the reorder watermark passes them (bounded).</summary>
    public async Task WaitForMessages(ulong count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Writer.Status().MessagesTotal < count) await Task.Delay(10, timeout.Token);
    }

    public async Task<List<string>> StopAsync()
    {
        await Writer.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return Writer.FinishedFiles;
    }

    public void Dispose()
    {
        Writer.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>Producer streams written with our own library (as any external MCAP writer would).</summary>
public static class ProducerStreams
{
    public static byte[] Json(string topic, int count, int startSequence = 0, bool chunked = false, McapCompression compression = McapCompression.None)
    {
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = chunked, Compression = compression, ChunkSize = 4096, EnableSummary = chunked }, leaveOpen: true))
        {
            var schema = writer.AddSchema("Sample", "jsonschema", "{\"type\":\"object\"}"u8.ToArray());
            var channel = writer.AddChannel(topic, "json", schema);
            for (var i = startSequence; i < startSequence + count; i++)
                writer.WriteMessage(channel, (uint)i, (ulong)i, (ulong)i, System.Text.Encoding.UTF8.GetBytes($"{{\"topic\":\"{topic}\",\"i\":{i}}}"));
        }
        return stream.ToArray();
    }

    /// <summary>A producer stream written record by record, as foxglove/mcap's C++ writer sends an unchunked one: magic, Header, schema 1.</summary>
    public static ArrayBufferWriter<byte> Begin(string library = "cal-writer/1.0")
    {
        var w = new ArrayBufferWriter<byte>();
        w.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(w, new Header("", library));
        McapRecordSerializer.WriteSchema(w, new Schema(1, "Sample", "jsonschema", "{\"type\":\"object\"}"u8.ToArray()));
        return w;
    }

    /// <summary>Ends a stream from <see cref="Begin"/> with DataEnd (no summary, as a streaming producer does).</summary>
    public static byte[] End(ArrayBufferWriter<byte> w)
    {
        McapRecordSerializer.WriteDataEnd(w, new DataEnd(0));
        return w.WrittenSpan.ToArray();
    }
}

/// <summary>Captures log entries (level, event id, text) for assertions.</summary>
public sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, int Id, string Text)> _entries = new();
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries) _entries.Add((logLevel, eventId.Id, formatter(state, exception)));
    }
    public List<(LogLevel Level, int Id, string Text)> Snapshot()
    {
        lock (_entries) return _entries.ToList();
    }
}

public static class Files
{
    /// <summary>Every message in every file, with its file, in file order.</summary>
    public static List<(string File, string Topic, uint Sequence, ulong LogTime, byte[] Data)> Messages(IEnumerable<string> files)
    {
        var all = new List<(string, string, uint, ulong, byte[])>();
        foreach (var file in files)
        {
            using var reader = McapIndexedReader.Open(file);
            foreach (var m in reader.ReadMessages())
                all.Add((file, m.Channel.Topic, m.Message.Sequence, m.Message.LogTime, m.Message.Data.ToArray()));
        }
        return all;
    }

    public static Metadata DeviceMetadata(string file)
    {
        using var reader = McapIndexedReader.Open(file);
        return reader.ReadMetadata(reader.MetadataIndexes.First(m => m.Name == "recorder.device"));
    }

    /// <summary>The recorder's own events (/recorder/events) in the files, as JSON text.</summary>
    public static List<string> Events(IEnumerable<string> files) =>
        Messages(files).Where(m => m.Topic == RecordingWriter.EventsTopic).Select(m => Encoding.UTF8.GetString(m.Data)).ToList();

    /// <summary>One topic's entry of a file's recorder.topic_stats metadata.</summary>
    public static JsonElement TopicStats(string file, string topic)
    {
        using var reader = McapIndexedReader.Open(file);
        var stats = reader.ReadMetadata(reader.MetadataIndexes.Single(m => m.Name == "recorder.topic_stats"));
        return JsonDocument.Parse(stats.Values[topic]).RootElement.Clone();
    }
}
