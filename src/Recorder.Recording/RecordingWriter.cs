using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Recorder.Mcap;
using Recorder.Video;

namespace Recorder.Recording;

/// <summary>The writer's health: anything but Ok means incoming messages are counted as dropped, not written.</summary>
public enum WriterHealth
{
    Ok,
    /// <summary>A storage limit or ENOSPC: waiting for space.</summary>
    DiskFull,
    /// <summary>Another write error: retrying.</summary>
    WriteFailed,
}

/// <summary>
/// The one writer thread: drains the queue in order, writes each message with its receive time,
/// cuts chunks by size or age (never between two messages of the same instant, so chunks never
/// overlap in time), and splits files by size, duration, clock epoch or command. Every file starts
/// with `recorder.device` metadata, the schemas and channels it uses and the latched topics' last
/// messages, and ends with `recorder.topic_stats`, Statistics and every index, then is renamed from
/// its `.active` name: each file stands alone.
/// <para>Nothing is lost silently: a full disk or a failing write stops writing, counts every
/// message it could not write per topic, finishes the cut-off file validly once space returns, and
/// says so in the next file (events, metadata, diagnostics).</para>
/// </summary>
public sealed partial class RecordingWriter : IDisposable
{
    public const string EventsTopic = "/recorder/events";
    public const string DiagnosticsTopic = "/recorder/diagnostics";

    private RecordingOptions _options; // replaced on this thread by a ReconfigureCommand (RecordingWriter.Service.cs)
    private readonly BatchQueue _queue;
    private readonly ChannelRegistry _registry;
    private readonly ILogger _logger;
    private readonly Dictionary<string, string> _device;
    private readonly string _root;
    private readonly Thread _thread;
    private readonly ushort _eventsChannel;
    private readonly ushort _diagnosticsChannel;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Per global channel id: everything the writer keeps about a topic. Read racily by <see cref="Status"/>.</summary>
    private ChannelSlot?[] _slots = new ChannelSlot?[64];

    // Producer-time reordering: messages wait here, ordered by (time, arrival), until the watermark passes them.
    private readonly PriorityQueue<PendingMessage, (ulong Time, long Order)>? _reorder;
    private readonly ulong _reorderWindowNs;
    private long _reorderOrder;
    private long _reorderBytes;

    // Storage limits and the finished recordings they may delete: RecordingStore, asked through the disk-full handling.
    private readonly DiskFullHandler _diskFull;

    private McapWriter? _writer;
    private Stream? _file;
    private string? _activePath;
    private string? _finalPath;
    private string? _cutOffPath;
    private readonly FileRotation _rotation;
    private ulong _lastLogTime;
    private long _chunkStartTicks;
    private long _lastFsyncTicks;
    /// <summary>Events, diagnostics and write latency (WriterDiagnostics.cs).</summary>
    private readonly WriterDiagnostics _diagnostics;
    private readonly List<TopicCounts> _diagnosticTopics = new();
    private long _cuttingChunkAt = -1; // in McapWriter.Flush/Finish: where the chunk being cut starts (a failure may come after it is whole on disk)
    private int _batchConsumed; // entries of the batch in WriteBatch handed to the file writer or the reorder buffer
    private string _previousEndReason = "start";
    private ulong _messagesTotal;
    private ulong _filesFinished;
    private ulong _lostInOpenChunks;
    private ulong _unwrittenSinceFailure;
    private long _failedSinceTicks;
    private string? _lastError;
    private volatile bool _stopping;
    private volatile WriterHealth _health = WriterHealth.Ok;
    private long _lastStatusTicks;
    /// <summary>
    /// The writer's clock for every interval it keeps (chunk age, fsync, diagnostics, storage
    /// checks, keyframe waits, stalls): the receive clock's <see cref="TimeProvider"/>, so one clock
    /// drives the whole stage and a test advances it instead of sleeping.
    /// </summary>
    private readonly TimeProvider _time;

    public RecordingWriter(RecordingOptions options, BatchQueue queue, ChannelRegistry registry, DeviceIdentity device, ILogger? logger = null)
    {
        _options = options;
        _queue = queue;
        _time = queue.Clock.Time;
        _lastStatusTicks = _time.GetTimestamp();
        _diagnostics = new WriterDiagnostics(_time);
        _registry = registry;
        _logger = logger ?? NullLogger.Instance;
        _root = Path.Combine(options.Directory, device.DeviceId);
        _rotation = new FileRotation(_root, device.DeviceId);
        _device = new Dictionary<string, string>(device.Values);
        _diskFull = new DiskFullHandler(new RecordingStore(_root, FreeBytes, _logger), _time);
        if (!registry.TryGetOrAddSchema("recorder.Event", "jsonschema", WriterDiagnostics.EventSchema, out var eventSchema)
            || !registry.TryGetOrAddChannel(EventsTopic, "json", eventSchema, Channel.NoMetadata, out _eventsChannel)
            || !registry.TryGetOrAddSchema("recorder.Diagnostics", "jsonschema", WriterDiagnostics.DiagnosticsSchema, out var diagnosticsSchema)
            || !registry.TryGetOrAddChannel(DiagnosticsTopic, "json", diagnosticsSchema, Channel.NoMetadata, out _diagnosticsChannel))
            throw new InvalidOperationException("no channel ids left for the recorder's own channels");
        _thread = new Thread(Run) { Name = "recorder-writer", IsBackground = true };
        if (options.ReorderWindow > TimeSpan.Zero)
        {
            _reorder = new PriorityQueue<PendingMessage, (ulong, long)>();
            _reorderWindowNs = (ulong)options.ReorderWindow.Ticks * 100;
        }
    }

    private readonly record struct PendingMessage(ushort ChannelId, uint Sequence, ulong PublishTime, byte[] Data, int Length, bool Late);

    private sealed class ChannelSlot(Channel channel, bool latched, bool producerTime)
    {
        public Channel Channel { get; } = channel;
        public bool Latched { get; set; } = latched; // a reload may change the latched set
        public bool ProducerTime { get; } = producerTime;
        public bool InFile;
        /// <summary>Set for video channels (raw access units or CompressedVideo): frames are indexed and splits wait for keyframes.</summary>
        public VideoTrack? Video;
        /// <summary>The configured frame_id, for CompressedVideo messages made from raw access units.</summary>
        public byte[] FrameIdUtf8 = [];
        public readonly TopicStats File = new();
        public readonly TopicStats Total = new();
        public ulong DropsAtFileStart;
        public ulong RefusedAtFileStart;
        /// <summary>Messages in the open chunk: not on disk until the chunk is written.</summary>
        public ulong InOpenChunk;
        /// <summary>Messages that were in the open chunk when a write failed: counted in <see cref="Total"/>, in no file.</summary>
        public ulong Lost;
        public ulong MessagesAtLastStatus;
        public byte[]? LatchedData;
        public int LatchedLength;
        public ulong LatchedLogTime;
        public ulong LatchedPublishTime;
        public uint LatchedSequence;
    }

    /// <summary>
    /// The finished recordings of this device and the one place that deletes them: the offload stage
    /// becomes its ledger, so deletions made for room are journaled.
    /// </summary>
    public RecordingStore Store => _diskFull.Store;

    /// <summary>Completes when the writer has drained the queue and finished its last file.</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>Files finished so far, in order (for tests and the status).</summary>
    public List<string> FinishedFiles { get; } = new();

    /// <summary>
    /// Raised on the writer thread after a file was finished and renamed from <c>.active</c> to its
    /// final name (or recovered), with that name. Handlers must be quick (hand the path on); an
    /// exception they throw is logged and does not stop recording.
    /// </summary>
    public event Action<string>? FileFinished;

    private void RaiseFileFinished(string path)
    {
        try
        {
            FileFinished?.Invoke(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            RecordingLog.FileFinishedHandlerFailed(_logger, path, e.Message);
        }
    }

    public WriterHealth Health => _health;

    /// <summary>True while one write has taken longer than the stall threshold: a wedged disk, reported not hidden.</summary>
    public bool IsStalled => Progress.BusyFor(_time.GetTimestamp()) > _options.StallThreshold;

    public void Start()
    {
        RecoverLeftovers();
        ScanFinished();
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
                var dequeued = _queue.TryDequeue(NextWait(), out var item);
                BeginOperation(); // watchdog progress: RecordingWriter.Service.cs
                if (dequeued)
                {
                    try
                    {
                        Process(item);
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
                Guarded(Tick);
                EndOperation();
            }
            // The last file ends with the final counters (drops, queue, disk) whatever the interval.
            Guarded(() =>
            {
                if (_writer is not null && _options.DiagnosticsInterval > TimeSpan.Zero) WriteDiagnostics(_lastLogTime, _rotation.FileEpoch);
                ReleaseUpTo(ulong.MaxValue);
            });
            Guarded(() => CloseFile("shutdown"));
        }
        catch (Exception e)
        {
            // A bug, not an I/O condition: leave the .active file for recovery at the next start.
            _lastError = e.Message;
            RecordingLog.WriteFailed(_logger, _activePath ?? "(none)", e.Message, e);
            AbandonFile();
            _stopped.TrySetException(e);
            return;
        }
        _stopped.TrySetResult();
    }

    private void Process(MessageBatch item)
    {
        if (_health != WriterHealth.Ok && item.Command is null)
        {
            // Not writing: every message is counted, per topic, as dropped.
            _queue.CountUnwritten(item);
            _unwrittenSinceFailure += (ulong)item.Count;
            return;
        }
        _batchConsumed = 0;
        Guarded(() =>
        {
            if (item.ClockStep is { } step) RecordStep(step, item.ReceiveTime, item.Epoch);
            if (item.Command is { } command) Handle(command, item.ReceiveTime, item.Epoch);
            else WriteBatch(item);
        }, item);
    }

    /// <summary>
    /// Runs one unit of writer work. An I/O failure (ENOSPC, EIO, a failed writer) does not end the
    /// thread: the file is abandoned for recovery, the loss is counted, and writing resumes when it can.
    /// </summary>
    private void Guarded(Action work, MessageBatch? batch = null)
    {
        try
        {
            work();
        }
        catch (Exception e) when (e is IOException or McapException or UnauthorizedAccessException)
        {
            OnWriteFailure(e, batch);
        }
    }

    private void OnWriteFailure(Exception e, MessageBatch? batch)
    {
        var io = e as IOException ?? e.InnerException as IOException;
        var diskFull = io is not null && (io.HResult == 28 || io.HResult == unchecked((int)0x80070070) || io.Message.Contains("No space", StringComparison.OrdinalIgnoreCase));
        _health = diskFull ? WriterHealth.DiskFull : WriterHealth.WriteFailed;
        _lastError = e.Message;
        _failedSinceTicks = _time.GetTimestamp();
        RecordingLog.WriteFailed(_logger, _activePath ?? "(none)", e.Message, e);
        CountOpenChunkLost();
        if (batch is not null && batch.Command is null && _batchConsumed < batch.Count)
        {
            // Messages of this batch that had not reached the file writer (or the reorder buffer) are counted as dropped, per topic.
            _queue.CountUnwritten(batch, skip: _batchConsumed);
            _unwrittenSinceFailure += (ulong)(batch.Count - _batchConsumed);
        }
        _cutOffPath = _activePath;
        AbandonFile();
    }

    /// <summary>
    /// The open chunk is gone with the failed write: its messages, already counted per topic as
    /// written, are counted per topic as lost, so that per topic messages = what the files hold + lost.
    /// </summary>
    private void CountOpenChunkLost()
    {
        if (OpenChunkReachedDisk())
        {
            ChunkCommitted();
            return;
        }
        foreach (var slot in _slots)
        {
            if (slot is null || slot.InOpenChunk == 0) continue;
            slot.Lost += slot.InOpenChunk;
            _lostInOpenChunks += slot.InOpenChunk;
            slot.InOpenChunk = 0;
        }
    }

    /// <summary>
    /// Whether the write that failed came after the open chunk's record was whole in the file (the
    /// disk filled up in its MessageIndex records, or in the fsync after it): recovery keeps such a
    /// chunk, so its messages are in the file, not lost.
    /// </summary>
    private bool OpenChunkReachedDisk()
    {
        var chunkStart = _cuttingChunkAt;
        _cuttingChunkAt = -1;
        // The chunk being cut must be the last one the MCAP writer serialised (else the failure came before its record was complete in memory).
        if (chunkStart < 0 || _writer is not { } writer || writer.LastChunkStart != chunkStart || _activePath is null) return false;
        try
        {
            return new FileInfo(_activePath).Length >= writer.LastChunkEnd;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>A chunk reached the file: its messages are no longer at risk.</summary>
    private void ChunkCommitted()
    {
        foreach (var slot in _slots)
            if (slot is not null) slot.InOpenChunk = 0;
    }

    private void AbandonFile()
    {
        _unwrittenSinceFailure += DiscardHeld();
        AbandonVideoFiles();
        try
        {
            _writer?.Abort();
            _file?.Dispose();
        }
        catch (Exception e) when (e is IOException or McapException)
        {
            // Already failing; what is on disk is recovered later.
        }
        _writer = null;
        _file = null;
        _activePath = null;
    }

    private TimeSpan NextWait()
    {
        var wait = TimeSpan.FromMilliseconds(200);
        if (_writer is { PendingChunkBytes: > 0 })
        {
            var left = _options.ChunkMaxAge - _time.GetElapsedTime(_chunkStartTicks);
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

    /// <summary>Periodic work between items: reorder release, chunk age, storage, diagnostics, recovery from failures.</summary>
    private void Tick()
    {
        if (_health != WriterHealth.Ok)
        {
            if (_diskFull.CheckDue) TryResume();
            return;
        }
        if (_reorder is not null) ReleaseUpTo(Watermark(_queue.Now()));
        if (_writer is { PendingChunkBytes: > 0 } && _time.GetElapsedTime(_chunkStartTicks) >= _options.ChunkMaxAge) CutChunk();
        CheckSplitDeadline();
        // Through the queue: stamped after everything received so far, so the file stays in order.
        if (_diagnostics.IsDue(_options.DiagnosticsInterval) && _writer is not null) _queue.EnqueueCommand(new DiagnosticsCommand());
        if (_diskFull.CheckDue && !EnsureStorage())
            EnterDiskFull("storage limit reached");
    }

    private void CutChunk()
    {
        if (_writer is null) return;
        var toDisk = _options.Fsync switch
        {
            FsyncPolicy.Chunk => true,
            FsyncPolicy.Interval => _time.GetElapsedTime(_lastFsyncTicks) >= _options.FsyncInterval,
            _ => false,
        };
        var started = _time.GetTimestamp();
        _cuttingChunkAt = _writer.Position;
        _writer.Flush(toDisk);
        _cuttingChunkAt = -1;
        ChunkCommitted();
        AppendPendingFrames(toDisk);
        _diagnostics.ObserveWrite(_time.GetElapsedTime(started));
        if (toDisk) _lastFsyncTicks = _time.GetTimestamp();
    }

    private ChannelSlot? Slot(ushort channelId)
    {
        var slots = _slots;
        if (channelId < slots.Length && slots[channelId] is { } slot) return slot;
        if (_registry.Channel(channelId) is not { } channel) return null;
        if (channelId >= slots.Length)
        {
            Array.Resize(ref slots, Math.Max(channelId + 1, slots.Length * 2));
            _slots = slots;
        }
        // DropsAtFileStart 0: drops before a topic's first message belong to the file that first sees it.
        // Raw video is stamped at its first byte's arrival: the producer-time path.
        var video = VideoTrackFor(channel);
        return slots[channelId] = new ChannelSlot(channel, _options.LatchedTopics.Contains(channel.Topic), _options.UsesProducerTime(channel.Topic) || video?.Raw is not null)
        {
            Video = video,
        };
    }

    private void WriteBatch(MessageBatch batch)
    {
        var logTime = batch.ReceiveTime;
        var inChunk = batch.ChunkEndTime != 0;
        _batchConsumed = 0;
        if (_reorder is null)
        {
            foreach (var entry in batch)
            {
                var time = inChunk ? InChunkReceiveTime(batch, entry.ProducerLogTime, clampToWritten: true) : logTime;
                Write(entry.ChannelId, entry.Sequence, time, entry.PublishTime == 0 ? time : entry.PublishTime, entry.Data, batch.Epoch);
                _batchConsumed++;
            }
        }
        else
        {
            foreach (var entry in batch)
            {
                var time = entry.ProducerLogTime != 0 && Slot(entry.ChannelId) is { ProducerTime: true } ? entry.ProducerLogTime
                    : inChunk ? InChunkReceiveTime(batch, entry.ProducerLogTime, clampToWritten: false) : logTime;
                Hold(entry.ChannelId, entry.Sequence, time, entry.PublishTime == 0 ? logTime : entry.PublishTime, entry.Data, batch.Source);
                _batchConsumed++;
            }
            ReleaseUpTo(Watermark(logTime));
        }
    }

    private ulong Watermark(ulong now) => now > _reorderWindowNs ? now - _reorderWindowNs : 0;

    /// <summary>Parks a message in the reorder buffer (a pooled copy: the batch goes back to the pool).</summary>
    private void Hold(ushort channelId, uint sequence, ulong time, ulong publishTime, ReadOnlySpan<byte> data, string? source = null)
    {
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(copy);
        // Older than what has already been written: it can only go at the edge. Keep it, mark it late.
        var late = time < _lastLogTime && _writer is not null;
        if (late)
        {
            NoteLate(source, channelId, time);
            time = _lastLogTime;
        }
        _reorder!.Enqueue(new PendingMessage(channelId, sequence, publishTime, copy, data.Length, late), (time, _reorderOrder++));
        _reorderBytes += data.Length;
    }

    /// <summary>Writes every held message at or before <paramref name="watermark"/>, in (time, arrival) order.</summary>
    private void ReleaseUpTo(ulong watermark)
    {
        if (_reorder is null) return;
        // Memory stays bounded: past ReorderMaxBytes the oldest go early (a straggler after them is written late, not lost).
        while (_reorder.TryPeek(out var pending, out var key) && (key.Time <= watermark || _reorderBytes > _options.ReorderMaxBytes))
        {
            _reorder.Dequeue();
            _reorderBytes -= pending.Length;
            try
            {
                var time = Math.Max(key.Time, _lastLogTime);
                Write(pending.ChannelId, pending.Sequence, time, pending.PublishTime, pending.Data.AsSpan(0, pending.Length), _rotation.FileEpoch);
                if (pending.Late && Slot(pending.ChannelId) is { } slot) slot.File.Late++;
            }
            catch (Exception e) when (e is IOException or McapException or UnauthorizedAccessException)
            {
                // It left the reorder buffer but did not reach the file writer: dropped, on its topic.
                _queue.CountUnwritten(pending.ChannelId, 1);
                _unwrittenSinceFailure++;
                throw;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(pending.Data);
            }
        }
    }

    /// <summary>Every message goes through here, events included. No allocation per message.</summary>
    private void Write(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data, int epoch)
    {
        var slot = Slot(channelId);
        if (slot is null)
        {
            RecordingLog.UnknownChannel(_logger, channelId);
            return;
        }

        if (_writer is null)
        {
            OpenFile(logTime, epoch);
        }
        else if (epoch != _rotation.FileEpoch && logTime < _lastLogTime)
        {
            // The clock stepped back: the new epoch's times start a file of their own (at once, keyframe or not).
            Rotate("clock_step", logTime, epoch);
        }
        else if (logTime > _lastLogTime)
        {
            // Only between instants: all messages of one instant share a chunk and a file.
            // A recording's size includes its sidecar video streams.
            var due = _split.IsPending ? null : _rotation.SplitDue(_options, _writer!.Position + _writer.PendingChunkBytes + _sidecarBytes, logTime);
            if (due is not null) BeginSplit(due, logTime, epoch);
            else if (_writer!.PendingChunkBytes >= _options.ChunkSize) CutChunk();
        }

        // A pending split: video frames from each topic's next keyframe on wait for the new file.
        if (_split.IsPending && slot.Video is { } video
            && HoldForSplit(slot, video, channelId, sequence, logTime, publishTime, data, epoch))
            return;
        WriteNow(slot, channelId, sequence, logTime, publishTime, data);
    }

    /// <summary>Writes a message into the open file (rotation already decided).</summary>
    private void WriteNow(ChannelSlot slot, ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        EnsureInFile(slot);
        var writer = _writer!;
        if (writer.PendingChunkBytes == 0) _chunkStartTicks = _time.GetTimestamp();
        if (slot.Video is { } video) WriteVideo(slot, video, channelId, sequence, logTime, publishTime, data);
        else writer.WriteMessage(channelId, sequence, logTime, publishTime, data);
        if (logTime > _lastLogTime) _lastLogTime = logTime;
        _messagesTotal++;
        slot.File.Add(logTime, data.Length);
        slot.Total.Add(logTime, data.Length);
        slot.InOpenChunk++;
        if (slot.Latched) Latch(slot, sequence, logTime, publishTime, data);
    }

    private static void Latch(ChannelSlot slot, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        if (slot.LatchedData is null || slot.LatchedData.Length < data.Length) slot.LatchedData = new byte[data.Length];
        data.CopyTo(slot.LatchedData);
        slot.LatchedLength = data.Length;
        slot.LatchedLogTime = logTime;
        slot.LatchedPublishTime = publishTime;
        slot.LatchedSequence = sequence;
    }

    private void EnsureInFile(ChannelSlot slot)
    {
        if (slot.InFile) return;
        var channel = slot.Channel;
        if (channel.SchemaId != 0 && _registry.Schema(channel.SchemaId) is { } schema) _writer!.AddSchema(schema);
        var configured = WithConfiguredMetadata(channel);
        _writer!.AddChannel(configured);
        if (slot.Video is not null)
            slot.FrameIdUtf8 = configured.Metadata.TryGetValue("frame_id", out var frameId) ? Encoding.UTF8.GetBytes(frameId) : [];
        slot.InFile = true;
    }

    private void Rotate(string reason, ulong logTime, int epoch)
    {
        CloseFile(reason);
        OpenFile(logTime, epoch);
    }

    private void OpenFile(ulong startTime, int epoch)
    {
        if (!EnsureStorage())
        {
            EnterDiskFull("storage limit reached");
            throw new IOException("No space for a new recording file: storage limit reached");
        }
        var final = _rotation.NextFile(startTime);
        _finalPath = final;
        _activePath = RecordingLayout.ActivePath(final);
        _file = _options.OpenFile(_activePath);
        _writer = new McapWriter(_file, new McapWriterOptions
        {
            Library = "recorder/" + RecorderVersion,
            Compression = _options.Compression,
            // The writer thread cuts chunks itself (size, age, instants); this is only a safety net.
            ChunkSize = int.MaxValue / 4,
        }, leaveOpen: true);
        foreach (var slot in _slots)
        {
            if (slot is null) continue;
            slot.InFile = false;
            slot.File.Reset();
        }
        _rotation.Opened(startTime, epoch);
        _lastLogTime = 0;

        _device["file_sequence"] = _rotation.Sequence.ToString(CultureInfo.InvariantCulture);
        _device["previous_file_end_reason"] = _previousEndReason;
        _device["file_start_time_ns"] = startTime.ToString(CultureInfo.InvariantCulture);
        _writer.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(_device, StringComparer.Ordinal)));
        RecordingLog.FileOpened(_logger, _activePath, _rotation.Sequence, _previousEndReason);

        // Latched topics first, in log-time order: the file stands alone.
        foreach (var slot in _slots.Where(s => s?.LatchedData is not null).OrderBy(s => s!.LatchedLogTime))
        {
            EnsureInFile(slot!);
            _writer.WriteMessage(slot!.Channel.Id, slot.LatchedSequence, slot.LatchedLogTime, slot.LatchedPublishTime, slot.LatchedData.AsSpan(0, slot.LatchedLength));
            slot.File.Add(slot.LatchedLogTime, slot.LatchedLength);
            if (slot.LatchedLogTime > _lastLogTime) _lastLogTime = slot.LatchedLogTime;
        }
        _chunkStartTicks = _time.GetTimestamp();
    }

    private void CloseFile(string reason)
    {
        if (_writer is null || _file is null) return;
        FlushHeldIntoCurrentFile();
        var topicStats = new SortedDictionary<string, string>(StringComparer.Ordinal);
        EnsureSlotsForCountedTopics();
        foreach (var slot in _slots)
        {
            if (slot is null) continue;
            // Every drop and refusal is counted in exactly one file: the one open at, or next after, it.
            var drops = _queue.Drops(slot.Channel.Id);
            slot.File.Drops = drops - slot.DropsAtFileStart;
            slot.DropsAtFileStart = drops;
            var refused = _queue.Refused(slot.Channel.Id);
            slot.File.Refused = refused - slot.RefusedAtFileStart;
            slot.RefusedAtFileStart = refused;
            if (slot.File.Messages > 0 || slot.File.Drops > 0 || slot.File.Refused > 0) topicStats[slot.Channel.Topic] = slot.File.ToJson();
        }
        _writer.WriteMetadata(new Metadata("recorder.topic_stats", topicStats));
        _writer.WriteMetadata(new Metadata("recorder.file_end", new Dictionary<string, string> { ["reason"] = reason }));
        _cuttingChunkAt = _writer.Position;
        _writer.Finish();
        _cuttingChunkAt = -1;
        ChunkCommitted();
        // Read after Finish: it cuts the last chunk.
        var messages = _writer.MessageCount;
        var chunks = _writer.ChunkCount;
        CloseVideoFiles(_options.Fsync != FsyncPolicy.Never);
        if (_file is FileStream fileStream) fileStream.Flush(flushToDisk: _options.Fsync != FsyncPolicy.Never);
        else _file.Flush();
        _file.Dispose();
        File.Move(_activePath!, _finalPath!);
        var bytes = Store.Add(_finalPath!);
        FinishedFiles.Add(_finalPath!);
        _filesFinished++;
        RecordingLog.FileFinished(_logger, _finalPath!, messages, bytes, chunks, reason);
        _previousEndReason = reason;
        _writer = null;
        _file = null;
        _activePath = null;
        RaiseFileFinished(_finalPath!);
    }

    /// <summary>A topic whose every message was dropped or refused has no slot yet; its counts still belong in the file and the status.</summary>
    private void EnsureSlotsForCountedTopics()
    {
        for (var id = 1; id <= _registry.ChannelCount; id++)
            if (_queue.Drops((ushort)id) > 0 || _queue.Refused((ushort)id) > 0) Slot((ushort)id);
    }

    /// <summary>
    /// The system clock stepped. Backward (a new epoch): this file ends and the next begins, so
    /// log_time never goes backwards within a file. Either way the step is an event in the file.
    /// </summary>
    private void RecordStep(ClockStep step, ulong time, int epoch)
    {
        RecordingLog.ClockStepped(_logger, step.DeltaNs / 1e6);
        if (_writer is not null && epoch != _rotation.FileEpoch) Rotate("clock_step", time, epoch);
        WriteEvent("clock_step", new Dictionary<string, string>
        {
            ["delta_ns"] = step.DeltaNs.ToString(CultureInfo.InvariantCulture),
            ["before_ns"] = step.BeforeNs.ToString(CultureInfo.InvariantCulture),
            ["after_ns"] = step.AfterNs.ToString(CultureInfo.InvariantCulture),
        }, Math.Max(time, _lastLogTime), epoch);
    }

    private void Handle(RecorderCommand command, ulong time, int epoch)
    {
        switch (command)
        {
            case SplitCommand split:
                if (_writer is not null) BeginSplit(split.Reason, Math.Max(time, _lastLogTime), epoch);
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
            case ProducerAttachmentCommand attachment:
                KeepProducerAttachment(attachment, Math.Max(time, _lastLogTime), epoch);
                break;
            case ProducerMetadataCommand metadata:
                KeepProducerMetadata(metadata, Math.Max(time, _lastLogTime), epoch);
                break;
            case DiagnosticsCommand:
                if (_writer is not null) WriteDiagnostics(Math.Max(time, _lastLogTime), epoch);
                break;
            case ReconfigureCommand reconfigure:
                Reconfigure(reconfigure);
                break;
            case StallWriterCommand stall:
                Stall(stall.Duration);
                break;
            case WriterPassCommand pass:
                RunPass(pass);
                break;
        }
    }

    private void WriteEvent(string type, IReadOnlyDictionary<string, string> fields, ulong logTime, int epoch) =>
        WriteOwn(_eventsChannel, logTime, _diagnostics.Event(type, fields, logTime), epoch);

    /// <summary>The recorder's own messages take the same path as producers' (through the reorder buffer when there is one).</summary>
    private void WriteOwn(ushort channel, ulong logTime, ReadOnlySpan<byte> json, int epoch)
    {
        if (_reorder is not null && _writer is not null) Hold(channel, 0, logTime, logTime, json);
        else Write(channel, 0, logTime, logTime, json, epoch);
    }

    /// <summary>Once a second: per-topic numbers, queue, drops, write latency and disk, as a message in the file.</summary>
    private void WriteDiagnostics(ulong now, int epoch)
    {
        var counters = new WriterCounters(_health == WriterHealth.Ok ? "recording" : _health.ToString(), _queue.Bytes, _queue.CapacityBytes, _queue.Depth,
            _queue.Stalls, _queue.DroppedTotal, _lostInOpenChunks, FreeBytes(), _writer?.Position ?? 0);
        EnsureSlotsForCountedTopics();
        _diagnosticTopics.Clear();
        foreach (var slot in _slots)
        {
            if (slot is null || slot.Channel.Id == _diagnosticsChannel) continue;
            var drops = _queue.Drops(slot.Channel.Id);
            var refused = _queue.Refused(slot.Channel.Id);
            if (slot.Total.Messages == 0 && drops == 0 && refused == 0) continue;
            _diagnosticTopics.Add(new TopicCounts(slot.Channel.Id, slot.Channel.Topic, slot.Total.Messages, slot.Total.Bytes, drops, refused, slot.Lost));
        }
        WriteOwn(_diagnosticsChannel, now, _diagnostics.Diagnostics(now, counters, _diagnosticTopics, _options.DiagnosticsInterval), epoch);
    }

    private long FreeBytes()
    {
        try
        {
            Directory.CreateDirectory(_options.Directory);
            return _options.FreeBytes(_options.Directory);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Keeps the recordings within storage.max_bytes and storage.min_free_bytes, counting the file
    /// being written (the store deletes offloaded recordings first, then with delete_oldest the
    /// oldest). False when the limits still cannot be met.
    /// </summary>
    private bool EnsureStorage() => _diskFull.TryMakeRoom(_options, (_writer?.Position ?? 0) + _sidecarBytes);

    private void EnterDiskFull(string reason)
    {
        if (_health != WriterHealth.Ok) return;
        _lastError = reason;
        RecordingLog.DiskFull(_logger, reason);
        // Finish the current file properly while we still can; stop writing until space returns.
        try
        {
            ReleaseUpTo(ulong.MaxValue);
            CloseFile("disk_full");
        }
        catch (Exception e) when (e is IOException or McapException)
        {
            CountOpenChunkLost();
            _cutOffPath = _activePath;
            AbandonFile();
        }
        _health = WriterHealth.DiskFull;
        _failedSinceTicks = _time.GetTimestamp();
    }

    /// <summary>Checks whether writing can resume; finishes a file the failure cut off; notes the gap in the next file.</summary>
    private void TryResume()
    {
        if (!EnsureStorage()) return;
        if (_cutOffPath is { } cutOff && File.Exists(cutOff))
        {
            try
            {
                RecoverFile(cutOff);
            }
            catch (Exception e) when (e is IOException or McapException)
            {
                RecordingLog.LeftoverRecoveryFailed(_logger, cutOff, e.Message);
                return; // try again in a second
            }
        }
        _cutOffPath = null;
        var was = _health;
        var seconds = _time.GetElapsedTime(_failedSinceTicks).TotalSeconds;
        _previousEndReason = was == WriterHealth.DiskFull ? "disk_full" : "write_failed";
        _device["previous_gap"] = string.Create(CultureInfo.InvariantCulture, $"{was}: {_unwrittenSinceFailure} messages not written over {seconds:0.0} s ({_lastError})");
        // The gap is queued before the health says Ok: whoever sees Ok (a producer, a stop) comes
        // after it in the queue, so the event opens the next file instead of being lost or late.
        _queue.EnqueueCommand(new EventCommand("write_gap", new Dictionary<string, string>
        {
            ["cause"] = was.ToString(),
            ["messages_not_written"] = _unwrittenSinceFailure.ToString(CultureInfo.InvariantCulture),
            ["lost_in_open_chunks"] = _lostInOpenChunks.ToString(CultureInfo.InvariantCulture),
            ["seconds"] = seconds.ToString("0.000", CultureInfo.InvariantCulture),
            ["error"] = _lastError ?? "",
        }));
        _health = WriterHealth.Ok;
        RecordingLog.Resumed(_logger, was.ToString(), _unwrittenSinceFailure, seconds);
        _unwrittenSinceFailure = 0;
    }

    /// <summary>Turns a cut-off or left-over `.active` file into a finished one holding every whole chunk.</summary>
    private McapRecoveryResult? RecoverFile(string active)
    {
        var final = RecordingLayout.FinalPath(active);
        var temporary = final + ".recovering";
        if (File.Exists(final))
        {
            // An earlier recovery was cut between its rename and this delete: the final file is
            // complete (it is renamed only after it was written and flushed). Recovering again
            // could only fail on the rename, and leave the .active behind at every start.
            File.Delete(temporary);
            File.Delete(active);
            RecordingLog.LeftoverAlreadyRecovered(_logger, final);
            return null;
        }
        McapRecoveryResult result;
        using (var input = new FileStream(active, FileMode.Open, FileAccess.Read))
        using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            result = McapRecovery.Recover(input, output, new McapWriterOptions { Library = "recorder/" + RecorderVersion + " (recovered)" });
            output.Flush(flushToDisk: true);
        }
        // Companions first (stream files renamed, the index rebuilt): the MCAP appearing under its
        // final name is what tells offload the recording is complete.
        try
        {
            RecoverVideoCompanions(temporary, final);
        }
        catch (Exception e) when (e is IOException or McapException or InvalidDataException or UnauthorizedAccessException)
        {
            RecordingLog.LeftoverRecoveryFailed(_logger, RecordingLayout.VidxPath(final), e.Message);
        }
        File.Move(temporary, final, overwrite: false);
        File.Delete(active);
        Store.Add(final);
        _device["recovered_previous_file"] = Path.GetFileName(final);
        RecordingLog.RecoveredLeftover(_logger, final, result.Messages, result.ExitCode);
        FinishedFiles.Add(final);
        RaiseFileFinished(final);
        return result;
    }

    /// <summary>A snapshot for `recorder status`. Safe to call from any thread (counters are read racily).</summary>
    public RecorderStatus Status()
    {
        var topics = new List<TopicStatus>();
        var now = _time.GetTimestamp();
        var seconds = Math.Max(_time.GetElapsedTime(Interlocked.Exchange(ref _lastStatusTicks, now), now).TotalSeconds, 1e-3);
        var slots = _slots;
        for (var id = 1; id < slots.Length || id <= _registry.ChannelCount; id++)
        {
            var slot = id < slots.Length ? slots[id] : null;
            var drops = _queue.Drops((ushort)id);
            if (slot is null)
            {
                // A topic whose every message was dropped (say, it connected while the disk was full) has no slot: still listed.
                var refusedOnly = _queue.Refused((ushort)id);
                if ((drops > 0 || refusedOnly > 0) && _registry.Channel((ushort)id) is { } channel)
                    topics.Add(new TopicStatus(channel.Topic, 0, 0, 0, drops) { Refused = refusedOnly });
                continue;
            }
            var messages = slot.Total.Messages;
            var refused = _queue.Refused(slot.Channel.Id);
            if (messages == 0 && drops == 0 && refused == 0) continue;
            topics.Add(new TopicStatus(slot.Channel.Topic, messages, slot.Total.Bytes, Math.Round((messages - slot.MessagesAtLastStatus) / seconds, 2), drops)
            {
                Refused = refused,
                Lost = slot.Lost,
            });
            slot.MessagesAtLastStatus = messages;
        }
        var writer = _writer;
        var state = _stopping ? "stopping" : IsStalled ? "stalled" : _health switch
        {
            WriterHealth.DiskFull => "disk_full",
            WriterHealth.WriteFailed => "write_failed",
            _ => writer is null ? "idle" : "recording",
        };
        return new RecorderStatus(state, _activePath, _rotation.Sequence, writer?.Position ?? 0, _messagesTotal, _filesFinished, topics,
            _queue.Bytes, _queue.CapacityBytes, _queue.Depth, _queue.Stalls, FreeBytes(), _lastError)
        {
            DroppedTotal = _queue.DroppedTotal,
            LostInOpenChunks = _lostInOpenChunks,
            VideoFrames = VideoFramesWritten,
            KeyframeWaitsExpired = KeyframeWaitsExpired,
            WriteLatency = _diagnostics.WriteLatency.Snapshot(),
        };
    }

    /// <summary>Finishes `.active` files an earlier run left behind, before recording starts.</summary>
    private void RecoverLeftovers()
    {
        if (!Directory.Exists(_root)) return;
        foreach (var active in Directory.EnumerateFiles(_root, "*" + RecordingLayout.ActivePath(RecordingLayout.McapExtension), SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            try
            {
                RecoverFile(active);
            }
            catch (Exception e) when (e is IOException or McapException or UnauthorizedAccessException)
            {
                RecordingLog.LeftoverRecoveryFailed(_logger, active, e.Message);
            }
        }
        // Leftovers are reported in the next file's metadata, not as files of this run.
        FinishedFiles.Clear();
        Store.Clear();
    }

    private void ScanFinished() => Store.Scan();

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
