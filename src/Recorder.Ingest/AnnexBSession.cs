using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Recorder.Recording;
using Recorder.Video;

namespace Recorder.Ingest;

/// <summary>
/// A raw H.264/H.265 Annex B elementary stream, exactly as <c>ffmpeg -f h264</c> or GStreamer's
/// filesink writes it, split into access units. Each AU is queued as one message on the topic's
/// channel, timestamped at the arrival of its first byte (the producer-time path, so the writer's
/// reorder window puts it in log-time order). The writer turns AUs into CompressedVideo messages
/// or sidecar stream bytes (<see cref="RawVideoInput"/>). A stream that is not Annex B, or an AU
/// over the record limit, ends this session only.
/// </summary>
public sealed class AnnexBSession
{
    private readonly TopicInputOptions _input;
    private readonly IngestContext _context;
    private readonly ProducerStats _stats;
    private readonly ILogger _logger;
    private readonly AccessUnitHandler _onAccessUnit;
    private ProducerBatches? _batches;
    private Recorder.Recording.DropPolicy _policy;
    private ushort _channelId;
    private uint _sequence;
    private long _accessUnits;
    private bool _warnedBFrames;

    public AnnexBSession(TopicInputOptions input, IngestContext context, ProducerStats stats)
    {
        _input = input;
        _context = context;
        _stats = stats;
        _logger = context.Logger;
        _onAccessUnit = OnAccessUnit; // one delegate for the session: no allocation per push
    }

    public VideoCodec Codec => CodecOf(_input);

    private static VideoCodec CodecOf(TopicInputOptions input) => input.Format == TopicInputFormat.H265 ? VideoCodec.H265 : VideoCodec.H264;

    /// <summary>Registers the topic's channel for this input's storage: CompressedVideo, or VideoFrameRef for sidecar.</summary>
    public static bool TryRegister(TopicInputOptions input, IRecordingIntake recording, out ushort channelId)
    {
        var registered = input.Store == FrameStore.Sidecar
            ? recording.TryGetOrAddSchema(VideoFrameRef.SchemaName, "protobuf", VideoFrameRef.FileDescriptorSet, out var schemaId)
            : recording.TryGetOrAddSchema(CompressedVideo.SchemaName, CompressedVideo.SchemaEncoding, CompressedVideo.FileDescriptorSet, out schemaId);
        channelId = 0;
        if (!registered || !recording.TryGetOrAddChannel(input.Topic, "protobuf", schemaId, Recorder.Mcap.Channel.NoMetadata, out channelId)) return false;
        recording.MarkRawVideo(channelId, new RawVideoInput(CodecOf(input), input.Store));
        return true;
    }

    public async Task RunAsync(PipeReader input, CancellationToken cancellationToken)
    {
        var recording = _context.Recording;
        if (!TryRegister(_input, recording, out _channelId))
        {
            Refusals.Record(_context, _stats, "the recording has no channel ids left");
            await input.CompleteAsync().ConfigureAwait(false);
            return;
        }
        _policy = _context.Options.DropPolicyFor(_input.Topic);
        var batches = _batches = recording.OpenProducer(_stats.Source);
        var splitter = new AnnexBSplitter(Codec, (int)Math.Min(_context.Options.MaxRecordSize, int.MaxValue));
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                // The arrival of these bytes: an AU takes the time of the read that brought its first byte.
                var arrival = recording.Now();
                try
                {
                    foreach (var segment in result.Buffer) splitter.Push(segment.Span, arrival, _onAccessUnit);
                    input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted) splitter.Complete(_onAccessUnit);
                }
                catch (InvalidDataException e)
                {
                    // What was split before the bad bytes is kept; the rest of this stream is refused.
                    await batches.QueueAllAsync(cancellationToken).ConfigureAwait(false);
                    Refusals.Record(_context, _stats, $"not a valid {Codec.Name()} Annex B stream at byte {splitter.BytesPushed}: {e.Message}");
                    return;
                }
                // Frames are few and large: queue each read's AUs at once rather than waiting for a full batch.
                await batches.QueueAllAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCompleted) break;
            }
            IngestLog.ProducerFinished(_logger, _stats.Source, _stats.Messages, _stats.Bytes);
        }
        finally
        {
            batches.Release();
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void OnAccessUnit(ReadOnlySpan<byte> accessUnit, in AccessUnitInfo info)
    {
        if (info.HasBSlices && !_warnedBFrames)
        {
            _warnedBFrames = true;
            IngestLog.VideoHasBFrames(_logger, _stats.Source, _input.Topic, _accessUnits);
        }
        _accessUnits++;
        _batches!.Add(_policy, _channelId, ++_sequence, info.ArrivalTime, info.ArrivalTime, accessUnit);
        _stats.Add(accessUnit.Length);
    }
}
