namespace Recorder.Recording;

/// <summary>Requests to the writer that must keep their place among the messages (they travel in the queue).</summary>
public abstract record RecorderCommand;

/// <summary>Finish the current file and start the next.</summary>
public sealed record SplitCommand(string Reason = "command") : RecorderCommand;

/// <summary>An event message on /recorder/events plus a `recorder.mark` metadata record.</summary>
public sealed record MarkCommand(string Text) : RecorderCommand;

/// <summary>Change a device metadata value (e.g. operator): a new `recorder.device` record and an event.</summary>
public sealed record SetMetadataCommand(string Key, string Value) : RecorderCommand;

/// <summary>An event from another stage (a producer closed, a FIFO reopened), written to /recorder/events.</summary>
public sealed record EventCommand(string Type, IReadOnlyDictionary<string, string> Fields) : RecorderCommand;

/// <summary>Who sent a record the recorder keeps on a producer's behalf: the session (e.g. <c>socket#3</c>) and its Header's library.</summary>
public sealed record ProducerOrigin(string Source, string Library);

/// <summary>A producer's Attachment, written into the open file as it is (proto/ingest.md says how its producer is noted).</summary>
public sealed record ProducerAttachmentCommand(Mcap.Attachment Attachment, ProducerOrigin Origin) : RecorderCommand;

/// <summary>A producer's Metadata record, written into the open file with its producer noted.</summary>
public sealed record ProducerMetadataCommand(Mcap.Metadata Metadata, ProducerOrigin Origin) : RecorderCommand;

/// <summary>The writer's own once-a-second diagnostics, queued so its time keeps its place among the messages.</summary>
public sealed record DiagnosticsCommand : RecorderCommand;
