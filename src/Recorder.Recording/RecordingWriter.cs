using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Recorder.Mcap;

namespace Recorder.Recording;

/// <summary>
/// The one writer thread: drains the queue in order, writes each message with its receive time,
/// cuts chunks by size or age (never between two messages of the same instant, so chunks never
/// overlap in time), and splits files by size, duration, clock epoch or command. Every file starts
/// with `recorder.device` metadata, the schemas and channels it uses and the latched topics' last
/// messages, and ends with `recorder.topic_stats`, Statistics and every index, then is renamed from
/// its `.active` name: each file stands alone.
/// </summary>
public sealed class RecordingWriter : IDisposable
{
    public const string EventsTopic = "/recorder/events";

    private static readonly byte[] EventSchema = """
        {"type":"object","properties":{"type":{"type":"string"},"time_ns":{"type":"integer"}},"required":["type"]}
        """u8.ToArray();

    private readonly RecordingOptions _options;
    private readonly BatchQueue _queue;
    private readonly ChannelRegistry _registry;
    private readonly ILogger _logger;
    private readonly Dictionary<string, string> _device;
    private readonly string _deviceId;
    private readonly Thread _thread;
    private readonly Dictionary<ushort, byte[]> _latched = new();
    private readonly Dictionary<ushort, (ulong LogTime, uint Sequence, ulong PublishTime, int Length)> _latchedMeta = new();
    private readonly Dictionary<ushort, TopicStats> _fileStats = new();
    private readonly Dictionary<ushort, TopicStats> _totalStats = new();
    private readonly ushort _eventsChannel;
    private readonly object _statusLock = new();
    private Dictionary<ushort, ulong> _lastStatusCounts = new();
    private long _lastStatusTicks = Stopwatch.GetTimestamp();

    // Producer-time reordering: messages wait here, ordered by (time, arrival), until the watermark passes them.
    private readonly PriorityQueue<PendingMessage, (ulong Time, long Order)>? _reorder;
    private readonly ulong _reorderWindowNs;
    private long _reorderOrder;
    private readonly Dictionary<ushort, bool> _producerTimeByChannel = new();

    private McapWriter? _writer;
    private FileStream? _file;
    private string? _activePath;
    private string? _finalPath;
    private bool[] _inFile = new bool[64];
    private int _sequence;
    private ulong _fileStartTime;
    private int _fileEpoch;
    private ulong _lastLogTime;
    private long _chunkStartTicks;
    private long _lastFsyncTicks;
    private string _previousEndReason = "start";
    private ulong _messagesTotal;
    private ulong _filesFinished;
    private string? _lastError;
    private volatile bool _stopping;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RecordingWriter(RecordingOptions options, BatchQueue queue, ChannelRegistry registry, DeviceIdentity device, ILogger? logger = null)
    {
        _options = options;
        _queue = queue;
        _registry = registry;
        _logger = logger ?? NullLogger.Instance;
        _deviceId = device.DeviceId;
        _device = new Dictionary<string, string>(device.Values);
        if (!registry.TryGetOrAddSchema("recorder.Event", "jsonschema", EventSchema, out var schema)
            || !registry.TryGetOrAddChannel(EventsTopic, "json", schema, Channel.NoMetadata, out _eventsChannel))
            throw new InvalidOperationException("no channel ids left for the event channel");
        _thread = new Thread(Run) { Name = "recorder-writer", IsBackground = true };
        if (options.ReorderWindow > TimeSpan.Zero)
        {
            _reorder = new PriorityQueue<PendingMessage, (ulong, long)>();
            _reorderWindowNs = (ulong)options.ReorderWindow.Ticks * 100;
        }
    }

    private readonly record struct PendingMessage(ushort ChannelId, uint Sequence, ulong PublishTime, byte[] Data, int Length, bool Late);

    /// <summary>Completes when the writer has drained the queue and finished its last file.</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>
    /// Raised on the writer thread after a file was finished and renamed from <c>.active</c> to its
    /// final name, with that name. Handlers must be quick (hand the path on); an exception they throw
    /// is logged and does not stop recording.
    /// </summary>
    public event Action<string>? FileFinished;

    /// <summary>Files finished so far, in order (for tests and the status).</summary>
    public List<string> FinishedFiles { get; } = new();

    public void Start()
    {
        RecoverLeftovers();
        _thread.Start();
    }

    /// <summary>Stops accepting, drains the queue, finishes the open file. Bounded by the queue's size.</summary>
    public Task StopAsync()
    {
        _stopping = true;
        _queue.Complete();
        return Stopped;
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                if (_queue.TryDequeue(NextWait(), out var item))
                {
                    try
                    {
                        if (item.ClockStep is { } step) RecordStep(step, item.ReceiveTime, item.Epoch);
                        if (item.Command is { } command) Handle(command, item.ReceiveTime, item.Epoch);
                        else WriteBatch(item);
                    }
                    finally
                    {
                        _queue.Return(item);
                    }
                }
                else if (_stopping && _queue.IsCompletedAndEmpty)
                {
                    break;
                }
                if (_reorder is not null) ReleaseUpTo(Watermark(_queue.Now()));
                CutChunkIfOld();
            }
            ReleaseUpTo(ulong.MaxValue);
            CloseFile("shutdown");
        }
        catch (Exception e)
        {
            _lastError = e.Message;
            RecordingLog.WriteFailed(_logger, _activePath ?? "(none)", e.Message, e);
            try
            {
                _writer?.Abort();
                _file?.Dispose();
            }
            catch (IOException)
            {
                // Already failing: the leftover .active file is recovered at the next start.
            }
            _stopped.TrySetException(e);
            return;
        }
        _stopped.TrySetResult();
    }

    private TimeSpan NextWait()
    {
        var wait = TimeSpan.FromMilliseconds(200);
        if (_writer is { PendingChunkBytes: > 0 })
        {
            var left = _options.ChunkMaxAge - Stopwatch.GetElapsedTime(_chunkStartTicks);
            wait = left < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : left;
        }
        // Held messages must be released as the watermark moves, even when nothing new arrives.
        if (_reorder is { Count: > 0 })
        {
            var release = TimeSpan.FromTicks(Math.Clamp(_options.ReorderWindow.Ticks / 4, TimeSpan.TicksPerMillisecond, 50 * TimeSpan.TicksPerMillisecond));
            if (release < wait) wait = release;
        }
        return wait;
    }

    private void CutChunkIfOld()
    {
        if (_writer is { PendingChunkBytes: > 0 } && Stopwatch.GetElapsedTime(_chunkStartTicks) >= _options.ChunkMaxAge) CutChunk();
    }

    private void CutChunk()
    {
        if (_writer is null) return;
        var toDisk = _options.Fsync switch
        {
            FsyncPolicy.Chunk => true,
            FsyncPolicy.Interval => Stopwatch.GetElapsedTime(_lastFsyncTicks) >= _options.FsyncInterval,
            _ => false,
        };
        _writer.Flush(toDisk);
        if (toDisk) _lastFsyncTicks = Stopwatch.GetTimestamp();
    }

    private void WriteBatch(MessageBatch batch)
    {
        var logTime = batch.ReceiveTime;
        if (_reorder is null)
        {
            foreach (var entry in batch)
                Write(entry.ChannelId, entry.Sequence, logTime, entry.PublishTime == 0 ? logTime : entry.PublishTime, entry.Data, batch.Epoch);
            return;
        }
        foreach (var entry in batch)
        {
            var time = entry.ProducerLogTime != 0 && UsesProducerTime(entry.ChannelId) ? entry.ProducerLogTime : logTime;
            Hold(entry.ChannelId, entry.Sequence, time, entry.PublishTime == 0 ? logTime : entry.PublishTime, entry.Data);
        }
        ReleaseUpTo(Watermark(logTime));
    }

    private bool UsesProducerTime(ushort channelId)
    {
        if (!_producerTimeByChannel.TryGetValue(channelId, out var uses))
            _producerTimeByChannel[channelId] = uses = _registry.Channel(channelId) is { } c && _options.UsesProducerTime(c.Topic);
        return uses;
    }

    private ulong Watermark(ulong now) => now > _reorderWindowNs ? now - _reorderWindowNs : 0;

    /// <summary>Parks a message in the reorder buffer (a pooled copy: the batch goes back to the pool).</summary>
    private void Hold(ushort channelId, uint sequence, ulong time, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var copy = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(copy);
        // Older than what has already been written: it can only go at the edge. Keep it, mark it late.
        var late = time < _lastLogTime && _writer is not null;
        if (late) time = _lastLogTime;
        _reorder!.Enqueue(new PendingMessage(channelId, sequence, publishTime, copy, data.Length, late), (time, _reorderOrder++));
    }

    /// <summary>Writes every held message at or before <paramref name="watermark"/>, in (time, arrival) order.</summary>
    private void ReleaseUpTo(ulong watermark)
    {
        if (_reorder is null) return;
        while (_reorder.TryPeek(out var pending, out var key) && key.Time <= watermark)
        {
            _reorder.Dequeue();
            var time = Math.Max(key.Time, _lastLogTime);
            Write(pending.ChannelId, pending.Sequence, time, pending.PublishTime, pending.Data.AsSpan(0, pending.Length), _fileEpoch);
            if (pending.Late) Stats(_fileStats, pending.ChannelId).Late++;
            System.Buffers.ArrayPool<byte>.Shared.Return(pending.Data);
        }
    }

    /// <summary>Every message goes through here, events included.</summary>
    private void Write(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data, int epoch)
    {
        var channel = _registry.Channel(channelId);
        if (channel is null)
        {
            RecordingLog.UnknownChannel(_logger, channelId);
            return;
        }

        if (_writer is null)
        {
            OpenFile(logTime, epoch);
        }
        else if (epoch != _fileEpoch && logTime < _lastLogTime)
        {
            // The clock stepped back: the new epoch's times start a file of their own.
            Rotate("clock_step", logTime, epoch);
        }
        else if (logTime > _lastLogTime)
        {
            // Only between instants: all messages of one instant share a chunk and a file.
            if (_writer!.Position + _writer.PendingChunkBytes >= _options.SplitSize) Rotate("size", logTime, epoch);
            else if (logTime - _fileStartTime >= (ulong)_options.SplitDuration.Ticks * 100) Rotate("duration", logTime, epoch);
            else if (_writer.PendingChunkBytes >= _options.ChunkSize) CutChunk();
        }

        EnsureInFile(channel);
        var writer = _writer!;
        if (writer.PendingChunkBytes == 0) _chunkStartTicks = Stopwatch.GetTimestamp();
        writer.WriteMessage(channelId, sequence, logTime, publishTime, data);
        if (logTime > _lastLogTime) _lastLogTime = logTime;
        _messagesTotal++;
        Stats(_fileStats, channelId).Add(logTime, data.Length);
        lock (_statusLock) Stats(_totalStats, channelId).Add(logTime, data.Length);
        if (_options.LatchedTopics.Contains(channel.Topic)) Latch(channelId, sequence, logTime, publishTime, data);
    }

    private static TopicStats Stats(Dictionary<ushort, TopicStats> stats, ushort channelId)
    {
        if (!stats.TryGetValue(channelId, out var s)) stats[channelId] = s = new TopicStats();
        return s;
    }

    private void Latch(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        if (!_latched.TryGetValue(channelId, out var buffer) || buffer.Length < data.Length) _latched[channelId] = buffer = new byte[data.Length];
        data.CopyTo(buffer);
        _latchedMeta[channelId] = (logTime, sequence, publishTime, data.Length);
    }

    private void EnsureInFile(Channel channel)
    {
        if (channel.Id >= _inFile.Length) Array.Resize(ref _inFile, Math.Max(channel.Id + 1, _inFile.Length * 2));
        if (_inFile[channel.Id]) return;
        if (channel.SchemaId != 0 && _registry.Schema(channel.SchemaId) is { } schema) _writer!.AddSchema(schema);
        _writer!.AddChannel(channel);
        _inFile[channel.Id] = true;
    }

    private void Rotate(string reason, ulong logTime, int epoch)
    {
        CloseFile(reason);
        OpenFile(logTime, epoch);
    }

    private void OpenFile(ulong startTime, int epoch)
    {
        _sequence++;
        var start = DateTimeOffset.UnixEpoch.AddTicks((long)(startTime / 100));
        var dir = Path.Combine(_options.Directory, _deviceId, start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        string final;
        do
        {
            final = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"{_deviceId}_{start:yyyyMMdd'T'HHmmss'Z'}_{_sequence:D4}.mcap"));
            if (File.Exists(final) || File.Exists(final + RecordingOptions.ActiveSuffix)) _sequence++;
            else break;
        } while (true);
        _finalPath = final;
        _activePath = final + RecordingOptions.ActiveSuffix;
        _file = new FileStream(_activePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _writer = new McapWriter(_file, new McapWriterOptions
        {
            Library = "recorder/" + RecorderVersion,
            Compression = _options.Compression,
            // The writer thread cuts chunks itself (size, age, instants); this is only a safety net.
            ChunkSize = int.MaxValue / 4,
        }, leaveOpen: true);
        Array.Clear(_inFile);
        _fileStats.Clear();
        _fileStartTime = startTime;
        _fileEpoch = epoch;
        _lastLogTime = 0;

        _device["file_sequence"] = _sequence.ToString(CultureInfo.InvariantCulture);
        _device["previous_file_end_reason"] = _previousEndReason;
        _device["file_start_time_ns"] = startTime.ToString(CultureInfo.InvariantCulture);
        _writer.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(_device, StringComparer.Ordinal)));
        RecordingLog.FileOpened(_logger, _activePath, _sequence, _previousEndReason);

        // Latched topics first, in log-time order: the file stands alone.
        foreach (var (channelId, meta) in _latchedMeta.OrderBy(p => p.Value.LogTime))
        {
            var channel = _registry.Channel(channelId)!;
            EnsureInFile(channel);
            _writer.WriteMessage(channelId, meta.Sequence, meta.LogTime, meta.PublishTime, _latched[channelId].AsSpan(0, meta.Length));
            Stats(_fileStats, channelId).Add(meta.LogTime, meta.Length);
            if (meta.LogTime > _lastLogTime) _lastLogTime = meta.LogTime;
        }
        _chunkStartTicks = Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// The system clock stepped. Backward (a new epoch): this file ends and the next begins, so
    /// log_time never goes backwards within a file. Either way the step is an event in the file.
    /// </summary>
    private void RecordStep(ClockStep step, ulong time, int epoch)
    {
        RecordingLog.ClockStepped(_logger, step.DeltaNs / 1e6);
        if (_writer is not null && epoch != _fileEpoch) Rotate("clock_step", time, epoch);
        WriteEvent("clock_step", new Dictionary<string, string>
        {
            ["delta_ns"] = step.DeltaNs.ToString(CultureInfo.InvariantCulture),
            ["before_ns"] = step.BeforeNs.ToString(CultureInfo.InvariantCulture),
            ["after_ns"] = step.AfterNs.ToString(CultureInfo.InvariantCulture),
        }, Math.Max(time, _lastLogTime), epoch);
    }

    private void CloseFile(string reason)
    {
        if (_writer is null || _file is null) return;
        var topicStats = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (channelId, stats) in _fileStats)
            topicStats[_registry.Channel(channelId)!.Topic] = stats.ToJson();
        _writer.WriteMetadata(new Metadata("recorder.topic_stats", topicStats));
        _writer.WriteMetadata(new Metadata("recorder.file_end", new Dictionary<string, string> { ["reason"] = reason }));
        var messages = _writer.MessageCount;
        var chunks = _writer.ChunkCount;
        _writer.Finish();
        _file.Flush(flushToDisk: _options.Fsync != FsyncPolicy.Never);
        var bytes = _file.Length;
        _file.Dispose();
        File.Move(_activePath!, _finalPath!);
        FinishedFiles.Add(_finalPath!);
        _filesFinished++;
        RecordingLog.FileFinished(_logger, _finalPath!, messages, bytes, chunks, reason);
        try
        {
            FileFinished?.Invoke(_finalPath!);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            RecordingLog.FileFinishedHandlerFailed(_logger, _finalPath!, e.Message);
        }
        _previousEndReason = reason;
        _writer = null;
        _file = null;
        _activePath = null;
    }

    private void Handle(RecorderCommand command, ulong time, int epoch)
    {
        switch (command)
        {
            case SplitCommand split:
                if (_writer is not null) Rotate(split.Reason, Math.Max(time, _lastLogTime), epoch);
                break;
            case MarkCommand mark:
                var at = Math.Max(time, _lastLogTime);
                WriteEvent("mark", new Dictionary<string, string> { ["text"] = mark.Text }, at, epoch);
                _writer!.WriteMetadata(new Metadata("recorder.mark", new Dictionary<string, string>
                {
                    ["text"] = mark.Text,
                    ["log_time_ns"] = at.ToString(CultureInfo.InvariantCulture),
                }));
                break;
            case SetMetadataCommand set:
                _device[set.Key] = set.Value;
                var when = Math.Max(time, _lastLogTime);
                WriteEvent("metadata", new Dictionary<string, string> { ["key"] = set.Key, ["value"] = set.Value }, when, epoch);
                _writer!.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(_device, StringComparer.Ordinal)));
                break;
            case EventCommand e:
                WriteEvent(e.Type, e.Fields, Math.Max(time, _lastLogTime), epoch);
                break;
        }
    }

    private void WriteEvent(string type, IReadOnlyDictionary<string, string> fields, ulong logTime, int epoch)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteNumber("time_ns", logTime);
            foreach (var (k, v) in fields) w.WriteString(k, v);
            w.WriteEndObject();
        }
        var json = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (_reorder is not null && _writer is not null) Hold(_eventsChannel, 0, logTime, logTime, json);
        else Write(_eventsChannel, 0, logTime, logTime, json, epoch);
    }

    /// <summary>A snapshot for `recorder status`. Safe to call from any thread.</summary>
    public RecorderStatus Status()
    {
        var topics = new List<TopicStatus>();
        lock (_statusLock)
        {
            var now = Stopwatch.GetTimestamp();
            var seconds = Math.Max(Stopwatch.GetElapsedTime(_lastStatusTicks, now).TotalSeconds, 1e-3);
            var counts = new Dictionary<ushort, ulong>();
            foreach (var (id, s) in _totalStats.OrderBy(p => p.Key))
            {
                var before = _lastStatusCounts.GetValueOrDefault(id);
                topics.Add(new TopicStatus(_registry.Channel(id)?.Topic ?? "?", s.Messages, s.Bytes, Math.Round((s.Messages - before) / seconds, 2), s.Drops));
                counts[id] = s.Messages;
            }
            _lastStatusCounts = counts;
            _lastStatusTicks = now;
        }
        long free = -1;
        try
        {
            Directory.CreateDirectory(_options.Directory);
            free = new DriveInfo(Path.GetFullPath(_options.Directory)).AvailableFreeSpace;
        }
        catch (IOException)
        {
            // Reported as unknown (-1).
        }
        var writer = _writer;
        return new RecorderStatus(_stopping ? "stopping" : writer is null ? "idle" : "recording", _activePath, _sequence,
            writer?.Position ?? 0, _messagesTotal, _filesFinished, topics, _queue.Bytes, _queue.CapacityBytes, _queue.Depth,
            _queue.Stalls, free, _lastError);
    }

    /// <summary>Finishes `.active` files an earlier run left behind, before recording starts.</summary>
    private void RecoverLeftovers()
    {
        var root = Path.Combine(_options.Directory, _deviceId);
        if (!Directory.Exists(root)) return;
        foreach (var active in Directory.EnumerateFiles(root, "*" + RecordingOptions.ActiveSuffix, SearchOption.AllDirectories))
        {
            var final = active[..^RecordingOptions.ActiveSuffix.Length];
            try
            {
                McapRecoveryResult result;
                var temporary = final + ".recovering";
                using (var input = new FileStream(active, FileMode.Open, FileAccess.Read))
                using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write))
                {
                    result = McapRecovery.Recover(input, output, new McapWriterOptions { Library = "recorder/" + RecorderVersion + " (recovered)" });
                    output.Flush(flushToDisk: true);
                }
                File.Move(temporary, final, overwrite: false);
                File.Delete(active);
                _device["recovered_previous_file"] = Path.GetFileName(final);
                RecordingLog.RecoveredLeftover(_logger, final, result.Messages, result.ExitCode);
            }
            catch (Exception e) when (e is IOException or McapException or UnauthorizedAccessException)
            {
                RecordingLog.LeftoverRecoveryFailed(_logger, active, e.Message);
            }
        }
    }

    public static string RecorderVersion { get; } = typeof(RecordingWriter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public void Dispose()
    {
        if (!_stopped.Task.IsCompleted)
        {
            _stopping = true;
            _queue.Complete();
            _thread.Join(TimeSpan.FromSeconds(30));
        }
    }
}
