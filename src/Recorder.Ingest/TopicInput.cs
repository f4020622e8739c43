using System.IO.Pipelines;

namespace Recorder.Ingest;

/// <summary>A topic's own input (a FIFO or a per-topic socket): one writer at a time, each a session of the topic's format.</summary>
public interface ITopicInput : IDisposable
{
    TopicInputOptions Options { get; }

    /// <summary>Sessions (writers) seen so far.</summary>
    long Sessions { get; }

    /// <summary>Why the input is not running, when it is not.</summary>
    string? RefusedBecause { get; }

    /// <summary>The current or last session's counters.</summary>
    ProducerStats? Current { get; }

    /// <summary>Creates the FIFO or socket and starts reading. False (with <see cref="RefusedBecause"/>) when it cannot run.</summary>
    bool Start();
}

public static class TopicInputs
{
    public static ITopicInput Create(TopicInputOptions input, IngestContext context) =>
        input.Transport == TopicInputTransport.Socket
            ? new TopicSocketIngest(input, context)
            : new FifoIngest(input, context);

    /// <summary>Runs one writer's session in the input's format until its stream ends or is refused.</summary>
    internal static Task RunSessionAsync(TopicInputOptions input, IngestContext context, ProducerStats stats, PipeReader reader,
        CancellationToken cancellationToken) => input.Format switch
    {
        TopicInputFormat.Jsonl => new JsonLinesSession(input, context, stats).RunAsync(reader, cancellationToken),
        TopicInputFormat.H264 or TopicInputFormat.H265 => new AnnexBSession(input, context, stats).RunAsync(reader, cancellationToken),
        _ => new McapProducerSession(context, stats).RunAsync(reader, cancellationToken),
    };
}
