using Microsoft.Extensions.Logging;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>
/// What every input and session of the ingest stage is given: the stage's options, the recording
/// stage it feeds (only through <see cref="IRecordingIntake"/>) and its logger. The host builds one
/// for the stage; a session adds its own <see cref="ProducerStats"/>.
/// </summary>
public sealed class IngestContext(IngestOptions options, IRecordingIntake recording, ILogger logger)
{
    public IngestOptions Options { get; } = options;

    public IRecordingIntake Recording { get; } = recording;

    public ILogger Logger { get; } = logger;
}
