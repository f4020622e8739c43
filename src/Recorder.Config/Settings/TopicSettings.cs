using Recorder.Ingest;
using Recorder.Recording;
using Recorder.Video;

namespace Recorder.Config;

/// <summary>
/// Settings of one topic (an entry of <c>topics:</c> in the fleet file). A topic without
/// <see cref="Fifo"/> configures messages arriving on the ingest socket; a topic with one declares
/// a FIFO input of the given <see cref="Format"/>.
/// </summary>
public sealed record TopicSettings
{
    /// <summary><c>topic</c>: the topic name, exactly as producers send it; required and unique.</summary>
    public required string Topic { get; init; }

    /// <summary><c>latched</c>: repeat the topic's last message at the start of every new file (e.g. <c>/tf_static</c>). False by default.</summary>
    public bool Latched { get; init; }

    /// <summary><c>drop</c>: <c>block</c> (the default), <c>drop_oldest</c> or <c>drop_newest</c> when the queue is full.</summary>
    public DropPolicy Drop { get; init; } = DropPolicy.Block;

    /// <summary><c>fifo</c>: the path of a FIFO to read this topic from; the recorder creates it if missing. Needs <see cref="Format"/>.</summary>
    public string? Fifo { get; init; }

    /// <summary>
    /// <c>socket</c>: the path of a Unix stream socket to read this topic from, one writer at a time
    /// (e.g. <c>ffmpeg ... -f h264 unix:PATH</c>); the recorder creates it. Needs <see cref="Format"/>; not with <see cref="Fifo"/>.
    /// </summary>
    public string? Socket { get; init; }

    /// <summary><c>store</c>: for h264/h265 inputs, <c>container</c> (CompressedVideo messages, the default) or <c>sidecar</c> (a stream file beside the MCAP).</summary>
    public FrameStore? Store { get; init; }

    /// <summary><c>format</c>: what the FIFO carries: <c>mcap</c>, <c>jsonl</c>, <c>h264</c> or <c>h265</c>. Only with <see cref="Fifo"/> or <see cref="Socket"/>, and required with them.</summary>
    public TopicInputFormat? Format { get; init; }

    /// <summary><c>frame_id</c>: the coordinate frame, written into the channel metadata as <c>frame_id</c>.</summary>
    public string? FrameId { get; init; }

    /// <summary><c>tags</c>: free-form key/values written into the channel metadata (e.g. <c>sensitivity: pii</c>).</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = EmptyMap.Instance;

    /// <summary><c>json_schema</c>: inline JSON Schema text for a <c>jsonl</c> FIFO, recorded as the channel's <c>jsonschema</c> schema. Only with format <c>jsonl</c>.</summary>
    public string? JsonSchema { get; init; }

    /// <summary><c>timestamps</c>: overrides <see cref="IngestSettings.Timestamps"/> for this topic; null inherits it.</summary>
    public TimestampMode? Timestamps { get; init; }
}
