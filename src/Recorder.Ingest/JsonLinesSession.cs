using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>
/// JSON lines from a script: each line that is one JSON value becomes one `json` message on the
/// FIFO's topic (with the configured JSON schema, if any). A line that is not JSON is refused:
/// counted per topic (status, diagnostics, topic_stats) and logged; a line longer than the record
/// limit ends the session.
/// </summary>
public sealed class JsonLinesSession
{
    private readonly TopicInputOptions _fifo;
    private readonly IngestContext _context;
    private readonly IngestOptions _options;
    private readonly IRecordingIntake _recording;
    private readonly ProducerStats _stats;
    private readonly ILogger _logger;
    private ulong _lineNumber;

    public JsonLinesSession(TopicInputOptions fifo, IngestContext context, ProducerStats stats)
    {
        _fifo = fifo;
        _context = context;
        _options = context.Options;
        _recording = context.Recording;
        _stats = stats;
        _logger = context.Logger;
    }

    public async Task RunAsync(PipeReader input, CancellationToken cancellationToken)
    {
        ushort schemaId = 0;
        if (_fifo.JsonSchema is { Length: > 0 } schemaText)
            _recording.TryGetOrAddSchema(_fifo.Topic, "jsonschema", Encoding.UTF8.GetBytes(schemaText), out schemaId);
        if (!_recording.TryGetOrAddChannel(_fifo.Topic, "json", schemaId, Recorder.Mcap.Channel.NoMetadata, out var channelId))
        {
            _stats.RefusedBecause = "the recording has no channel ids left";
            await input.CompleteAsync().ConfigureAwait(false);
            return;
        }
        var policy = _options.DropPolicyFor(_fifo.Topic);
        var batches = _recording.OpenProducer(_stats.Source);
        var scratch = new ArrayBufferWriter<byte>();
        uint sequence = 0;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                // A line over the limit is refused whether its end came in the same read or is still to come.
                var tooLong = !ProcessLines(ref buffer, result.IsCompleted, channelId, policy, ref sequence, batches, scratch);
                if (batches.HasReady) await batches.QueueReadyAsync(cancellationToken).ConfigureAwait(false);
                if (tooLong || buffer.Length > _options.MaxRecordSize)
                {
                    input.AdvanceTo(buffer.End);
                    // The lines before it are queued before the refusal's event, as in the other sessions.
                    await batches.QueueAllAsync(cancellationToken).ConfigureAwait(false);
                    Refusals.Record(_context, _stats, $"line {_lineNumber + 1} is longer than {_options.MaxRecordSize} bytes");
                    break;
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                await batches.QueueAllAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCompleted) break;
            }
            await batches.QueueAllAsync(cancellationToken).ConfigureAwait(false);
            if (_stats.RefusedBecause is null) IngestLog.ProducerFinished(_logger, _stats.Source, _stats.Messages, _stats.Bytes);
        }
        finally
        {
            batches.Release();
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Turns every whole line in the buffer into a message. False at a line longer than the record
    /// limit (not counted in the line number): the session ends there.
    /// </summary>
    private bool ProcessLines(ref ReadOnlySequence<byte> buffer, bool isCompleted, ushort channelId, DropPolicy policy, ref uint sequence,
        ProducerBatches batches, ArrayBufferWriter<byte> scratch)
    {
        while (TryTakeLine(ref buffer, isCompleted, out var line))
        {
            if (line.Length > _options.MaxRecordSize) return false;
            _lineNumber++;
            var data = line.IsSingleSegment ? line.FirstSpan : Copy(line, scratch);
            if (data.Length > 0 && data[^1] == (byte)'\r') data = data[..^1];
            if (data.Trim((byte)' ').IsEmpty) continue;
            if (!IsOneJsonValue(data))
            {
                _stats.Skip();
                _recording.CountRefused(channelId);
                IngestLog.BadJsonLine(_logger, _stats.Source, _lineNumber, _stats.Skipped);
                continue;
            }
            batches.Add(policy, channelId, sequence, 0, 0, data);
            sequence++;
            _stats.Add(data.Length);
        }
        return true;
    }

    /// <summary>The next line without its newline; at the end of input, the unterminated rest counts as a line.</summary>
    private static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, bool isCompleted, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is { } position)
        {
            line = buffer.Slice(0, position);
            buffer = buffer.Slice(buffer.GetPosition(1, position));
            return true;
        }
        if (isCompleted && !buffer.IsEmpty)
        {
            line = buffer;
            buffer = buffer.Slice(buffer.End);
            return true;
        }
        line = default;
        return false;
    }

    private static ReadOnlySpan<byte> Copy(ReadOnlySequence<byte> line, ArrayBufferWriter<byte> scratch)
    {
        scratch.ResetWrittenCount();
        foreach (var segment in line) scratch.Write(segment.Span);
        return scratch.WrittenSpan;
    }

    /// <summary>Exactly one complete JSON value (object, array or scalar) and nothing after it.</summary>
    internal static bool IsOneJsonValue(ReadOnlySpan<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read()) return false;
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
