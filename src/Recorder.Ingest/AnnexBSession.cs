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
    private readonly IngestOptions _options;
    private readonly BatchQueue _queue;
    private readonly ChannelRegistry _registry;
    private readonly ProducerStats _stats;
    private readonly ILogger _logger;
    private readonly AccessUnitHandler _onAccessUnit;
    private ProducerBatches? _batches;
    private Recorder.Recording.DropPolicy _policy;
    private ushort _channelId;
    private uint _sequence;
    private long _accessUnits;
    private bool _warnedBFrames;

    public AnnexBSession(TopicInputOptions input, IngestOptions options, BatchQueue queue, ChannelRegistry registry, ProducerStats stats, ILogger logger)
    {
        _input = input;
        _options = options;
        _queue = queue;
        _registry = registry;
        _stats = stats;
        _logger = logger;
        _onAccessUnit = OnAccessUnit; // one delegate for the session: no allocation per push
    }

    public VideoCodec Codec => CodecOf(_input);

    private static VideoCodec CodecOf(TopicInputOptions input) => input.Format == TopicInputFormat.H265 ? VideoCodec.H265 : VideoCodec.H264;

    /// <summary>Registers the topic's channel for this input's storage: CompressedVideo, or VideoFrameRef for sidecar.</summary>
    public static bool TryRegister(TopicInputOptions input, ChannelRegistry registry, out ushort channelId)
    {
        var registered = input.Store == FrameStore.Sidecar
            ? registry.TryGetOrAddSchema(VideoFrameRef.SchemaName, "protobuf", VideoFrameRef.FileDescriptorSet, out var schemaId)
            : registry.TryGetOrAddSchema(CompressedVideo.SchemaName, CompressedVideo.SchemaEncoding, CompressedVideo.FileDescriptorSet, out schemaId);
        channelId = 0;
        if (!registered || !registry.TryGetOrAddChannel(input.Topic, "protobuf", schemaId, Recorder.Mcap.Channel.NoMetadata, out channelId)) return false;
        registry.MarkRawVideo(channelId, new RawVideoInput(CodecOf(input), input.Store));
        return true;
    }

    public async Task RunAsync(PipeReader input, CancellationToken cancellationToken)
    {
        if (!TryRegister(_input, _registry, out _channelId))
        {
            Refusals.Record(_queue, _stats, _logger, "the recording has no channel ids left");
            await input.CompleteAsync().ConfigureAwait(false);
            return;
        }
        _policy = _options.DropPolicyFor(_input.Topic);
        var batches = _batches = new ProducerBatches(_queue, _stats.Source);
        var splitter = new AnnexBSplitter(Codec, (int)Math.Min(_options.MaxRecordSize, int.MaxValue));
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                // The arrival of these bytes: an AU takes the time of the read that brought its first byte.
                var arrival = _queue.Now();
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
                    Refusals.Record(_queue, _stats, _logger, $"not a valid {Codec.Name()} Annex B stream at byte {splitter.BytesPushed}: {e.Message}");
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
