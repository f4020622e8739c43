using System.Buffers;
using System.Globalization;
using System.Text;
using Recorder.Mcap;
using Recorder.Video;

namespace Recorder.Recording;

/// <summary>
/// Video on the writer thread: raw access units become CompressedVideo messages (parameter sets
/// prepended to keyframes that lack them) or sidecar stream bytes plus a VideoFrameRef per frame;
/// every video frame, MCAP-arriving CompressedVideo included, gets an entry in the recording's
/// `.vidx` frame index; and splits wait for each video topic's next keyframe so every file
/// decodes on its own.
/// </summary>
public sealed partial class RecordingWriter
{
    /// <summary>Per video channel: what the writer keeps across frames and files.</summary>
    private sealed class VideoTrack(RawVideoInput? raw)
    {
        /// <summary>Null for CompressedVideo arriving as MCAP (indexed, written as it is).</summary>
        public RawVideoInput? Raw { get; } = raw;
        public ParameterSetCache? Parameters { get; } = raw is null ? null : new ParameterSetCache(raw.Codec);
        public long LastFrameTicks;

        // Sidecar storage, per file.
        public Stream? Sidecar;
        public string? SidecarActivePath;
        public string? SidecarFinalPath;
        public string? SidecarName;
        public byte[]? SidecarNameUtf8;
        public long SidecarOffset;
    }

    private readonly record struct PendingFrame(FrameIndexEntry Entry, bool InChunk);

    /// <summary>The keyframe-aligned split in progress, if any (KeyframeSplit.cs decides; this class opens files and writes).</summary>
    private readonly KeyframeSplit<ChannelSlot> _split = new();
    private readonly List<ChannelSlot> _splitTracks = new();
    private FrameIndexWriter? _frameIndex;
    private FrameIndexer? _indexer;
    private Stream? _frameIndexStream;
    private string? _frameIndexActivePath;
    private string? _frameIndexFinalPath;
    private readonly List<PendingFrame> _pendingFrames = new();
    private long _sidecarBytes;
    private byte[] _videoScratch = new byte[64 * 1024];
    private byte[] _delimiterScratch = new byte[256];

    /// <summary>Frames written per video topic, and splits whose keyframe wait ran out (for status and tests).</summary>
    public ulong VideoFramesWritten { get; private set; }
    public ulong KeyframeWaitsExpired { get; private set; }

    private VideoTrack? VideoTrackFor(Channel channel)
    {
        if (_registry.RawVideo(channel.Id) is { } raw) return new VideoTrack(raw);
        if (channel.SchemaId != 0 && _registry.Schema(channel.SchemaId) is { Name: CompressedVideo.SchemaName, Encoding: CompressedVideo.SchemaEncoding }
            && channel.MessageEncoding == CompressedVideo.MessageEncoding)
            return new VideoTrack(null);
        return null;
    }

    /// <summary>The keyframe kind of a video message as it arrives (raw AU or CompressedVideo), for split alignment.</summary>
    private static KeyframeKind KeyframeOf(VideoTrack video, ReadOnlySpan<byte> data)
    {
        if (video.Raw is { } raw) return AnnexB.Classify(data, raw.Codec).Keyframe;
        return CompressedVideo.TryDecode(data, out _, out _, out var au, out var format) && CodecOf(format) is { } codec
            ? AnnexB.Classify(au, codec).Keyframe
            : KeyframeKind.None;
    }

    private static VideoCodec? CodecOf(ReadOnlySpan<byte> format) => VideoCodecNames.TryParseUtf8(format, out var codec) ? codec : null;

    // ---- keyframe-aligned splits ----

    /// <summary>
    /// Starts a split. Without an active video topic in the file it happens now; otherwise each
    /// video topic keeps writing to this file until its next keyframe, which opens the next file.
    /// </summary>
    private void BeginSplit(string reason, ulong logTime, int epoch)
    {
        if (_split.IsPending) return;
        var now = _time.GetTimestamp();
        var wait = _options.KeyframeWait;
        _splitTracks.Clear();
        if (wait > TimeSpan.Zero)
        {
            foreach (var slot in _slots)
            {
                // A camera that has gone quiet is not waited for.
                if (slot is { InFile: true, Video: { } video } && _time.GetElapsedTime(video.LastFrameTicks, now) <= wait) _splitTracks.Add(slot);
            }
        }
        if (!_split.Begin(reason, now, now + (long)(wait.TotalSeconds * _time.TimestampFrequency), _splitTracks)) Rotate(reason, logTime, epoch);
    }

    /// <summary>
    /// During a pending split, routes a video message: true when it was held for the next file (or
    /// its keyframe completed the split, after which the caller writes it into the new file).
    /// </summary>
    private bool HoldForSplit(ChannelSlot slot, VideoTrack video, ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data, int epoch)
    {
        // Only an awaited track's frames are classified: the others' keyframes change nothing.
        switch (_split.Route(slot, _split.IsAwaiting(slot) && KeyframeOf(video, data) != KeyframeKind.None))
        {
            case SplitRoute.CurrentFile:
                return false;
            case SplitRoute.Complete:
                FinishSplit(logTime, epoch, expired: false);
                return false; // written now, first in the new file after the held frames
        }
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(copy);
        // Bounded: a camera that floods the wait makes the split go ahead now (reported as expired).
        if (_split.Hold(new HeldFrame(channelId, sequence, logTime, publishTime, copy, data.Length), _options.SplitHoldMaxBytes))
            FinishSplit(logTime, epoch, expired: true);
        return true;
    }

    /// <summary>Opens the next file and writes the frames held for it. With <paramref name="expired"/>, reports the topics whose keyframe never came.</summary>
    private void FinishSplit(ulong logTime, int epoch, bool expired)
    {
        var split = _split.Finish();
        var heldStart = split.Held.Count > 0 ? split.Held[0].LogTime : logTime;
        Rotate(split.Reason, Math.Min(heldStart, Math.Max(logTime, _lastLogTime)), epoch);
        WriteHeld(split.Held);
        if (expired)
        {
            KeyframeWaitsExpired++;
            var topics = string.Join(",", split.NotReady.Select(s => s.Channel.Topic));
            RecordingLog.KeyframeWaitExpired(_logger, topics, _options.KeyframeWait.TotalSeconds);
            WriteEvent("keyframe_wait_expired", new Dictionary<string, string>
            {
                ["topics"] = topics,
                ["waited_ms"] = _time.GetElapsedTime(split.StartedTicks).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture),
                ["effect"] = "these topics start this file without a keyframe: frames before their next keyframe do not decode",
            }, Math.Max(logTime, _lastLogTime), epoch);
        }
    }

    /// <summary>Writes held frames into the current file, in arrival order, and releases them.</summary>
    private void WriteHeld(IReadOnlyList<HeldFrame> frames)
    {
        foreach (var held in frames)
        {
            try
            {
                if (_writer is not null && Slot(held.ChannelId) is { } slot)
                    WriteNow(slot, held.ChannelId, held.Sequence, held.LogTime, held.PublishTime, held.Data.AsSpan(0, held.Length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(held.Data);
            }
        }
    }

    /// <summary>From <see cref="Tick"/>: a split whose keyframes did not come in time proceeds.</summary>
    private void CheckSplitDeadline()
    {
        // At the last time written, not now: messages still in the reorder window are older than now.
        if (_split.IsPastDeadline(_time.GetTimestamp()) && _writer is not null)
            FinishSplit(_lastLogTime, _rotation.FileEpoch, expired: true);
    }

    /// <summary>Before a file closes for any other reason: held frames go into it (late for the new file, but never lost).</summary>
    private void FlushHeldIntoCurrentFile()
    {
        if (_split.IsPending) WriteHeld(_split.Finish().Held);
    }

    /// <summary>A file abandoned on an I/O failure: frames held for the next file are counted as not written.</summary>
    private ulong DiscardHeld()
    {
        if (!_split.IsPending) return 0;
        var held = _split.Finish().Held;
        foreach (var frame in held)
        {
            // Held for the next file, never written: dropped, on its topic.
            _queue.CountUnwritten(frame.ChannelId, 1);
            ArrayPool<byte>.Shared.Return(frame.Data);
        }
        return (ulong)held.Count;
    }

    // ---- writing frames ----

    /// <summary>Writes one video message: transformed when it is a raw AU, indexed in every case.</summary>
    private void WriteVideo(ChannelSlot slot, VideoTrack video, ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var writer = _writer!;
        video.LastFrameTicks = _time.GetTimestamp();
        VideoFramesWritten++;
        if (video.Raw is not { } raw)
        {
            writer.WriteMessage(channelId, sequence, logTime, publishTime, data);
            // Indexed from the stored bytes, exactly as `recorder frames --rebuild` will see them.
            if (CompressedVideo.TryDecode(data, out _, out _, out var au, out var format) && CodecOf(format) is { } codec)
                IndexContainerFrame(slot, codec, logTime, publishTime, au);
            return;
        }

        var parameters = video.Parameters!;
        parameters.Observe(data);
        var keyframe = AnnexB.Classify(data, raw.Codec).Keyframe;
        // Many encoders send parameter sets once: a stored keyframe always carries them (after its
        // access unit delimiter, if it starts with one).
        var prefix = keyframe != KeyframeKind.None ? parameters.MissingFrom(data) : default;
        if (!prefix.IsEmpty && AnnexB.ParameterSetInsertionPoint(data, raw.Codec) is > 0 and var delimiter)
        {
            if (_delimiterScratch.Length < delimiter + prefix.Length) _delimiterScratch = new byte[(delimiter + prefix.Length) * 2];
            data[..delimiter].CopyTo(_delimiterScratch);
            prefix.CopyTo(_delimiterScratch.AsSpan(delimiter));
            prefix = _delimiterScratch.AsSpan(0, delimiter + prefix.Length);
            data = data[delimiter..];
        }
        if (raw.Store == FrameStore.Container)
        {
            var buffer = Scratch(CompressedVideo.MaxEncodedLength(slot.FrameIdUtf8.Length, prefix.Length + data.Length));
            var length = CompressedVideo.Encode(buffer, logTime, slot.FrameIdUtf8, prefix, data, raw.Codec);
            var message = buffer.AsSpan(0, length);
            writer.WriteMessage(channelId, sequence, logTime, publishTime, message);
            CompressedVideo.TryDecode(message, out _, out _, out var stored, out _);
            IndexContainerFrame(slot, raw.Codec, logTime, publishTime, stored);
            return;
        }

        // Sidecar: the stream file gets the bytes, the MCAP a reference that aligns them in time.
        var stream = SidecarFor(slot, video, raw);
        var offset = video.SidecarOffset;
        var size = prefix.Length + data.Length;
        stream.Write(prefix);
        stream.Write(data);
        video.SidecarOffset += size;
        _sidecarBytes += size;
        var (w, h) = ResolutionOf(prefix, raw.Codec);
        if (w == 0) (w, h) = ResolutionOf(data, raw.Codec);
        // The indexer keeps the last known resolution (an AU without an SPS passes 0): the reference carries it.
        var entry = Index().Next(slot.Channel.Topic, raw.Codec, FrameStore.Sidecar, video.SidecarName, logTime, publishTime, keyframe, (uint)size, (uint)w, (uint)h);
        var fields = new VideoFrameRefFields(entry.FrameNumber, logTime, publishTime, keyframe, (ulong)offset, (uint)size, raw.Codec, entry.Width, entry.Height);
        var refBuffer = Scratch(VideoFrameRef.MaxEncodedLength(video.SidecarNameUtf8!.Length));
        var refLength = VideoFrameRef.Encode(refBuffer, fields, video.SidecarNameUtf8);
        writer.WriteMessage(channelId, sequence, logTime, publishTime, refBuffer.AsSpan(0, refLength));
        _pendingFrames.Add(new PendingFrame(entry with { Offset = (ulong)offset }, InChunk: false));
    }

    private static (int Width, int Height) ResolutionOf(ReadOnlySpan<byte> accessUnit, VideoCodec codec) =>
        !accessUnit.IsEmpty && AnnexB.TryReadResolution(accessUnit, codec, out var w, out var h) ? (w, h) : (0, 0);

    private void IndexContainerFrame(ChannelSlot slot, VideoCodec codec, ulong logTime, ulong publishTime, ReadOnlySpan<byte> stored)
    {
        var keyframe = AnnexB.Classify(stored, codec).Keyframe;
        var (w, h) = ResolutionOf(stored, codec);
        var entry = Index().Next(slot.Channel.Topic, codec, FrameStore.Container, null, logTime, publishTime, keyframe, (uint)stored.Length, (uint)w, (uint)h);
        _pendingFrames.Add(new PendingFrame(entry with { OffsetInChunk = (uint)_writer!.LastMessageOffsetInChunk }, InChunk: true));
    }

    private byte[] Scratch(int length)
    {
        if (_videoScratch.Length < length) _videoScratch = new byte[Math.Max(length, _videoScratch.Length * 2)];
        return _videoScratch;
    }

    /// <summary>The frame index of the open file, created with its first video frame.</summary>
    private FrameIndexer Index()
    {
        if (_indexer is not null) return _indexer;
        var final = RecordingLayout.VidxPath(_finalPath!);
        _frameIndexFinalPath = final;
        _frameIndexActivePath = RecordingLayout.ActivePath(final);
        _frameIndexStream = new FileStream(_frameIndexActivePath, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 16 * 1024);
        _frameIndex = new FrameIndexWriter(_frameIndexStream, Path.GetFileName(_finalPath!));
        return _indexer = new FrameIndexer(_frameIndex);
    }

    private Stream SidecarFor(ChannelSlot slot, VideoTrack video, RawVideoInput raw)
    {
        if (video.Sidecar is not null) return video.Sidecar;
        var name = Path.GetFileNameWithoutExtension(_finalPath!) + "." + TopicSlug(slot.Channel.Topic) + raw.StreamExtension;
        video.SidecarName = name;
        video.SidecarNameUtf8 = Encoding.UTF8.GetBytes(name);
        video.SidecarFinalPath = Path.Combine(Path.GetDirectoryName(_finalPath!)!, name);
        video.SidecarActivePath = RecordingLayout.ActivePath(video.SidecarFinalPath);
        video.SidecarOffset = 0;
        return video.Sidecar = new FileStream(video.SidecarActivePath, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 256 * 1024);
    }

    /// <summary>"/camera/front" → "camera_front": a file-name-safe form of a topic.</summary>
    internal static string TopicSlug(string topic)
    {
        var chars = topic.Trim('/').Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_').ToArray();
        return chars.Length == 0 ? "video" : new string(chars);
    }

    /// <summary>
    /// After a chunk reached the file: its frames' entries get the chunk's offset and are appended
    /// to the index (entries never point at bytes that are not in the file yet).
    /// </summary>
    private void AppendPendingFrames(bool toDisk)
    {
        if (AppendPendingEntries()) FlushVideoFiles(toDisk);
    }

    /// <summary>Appends the entries waiting for the chunk just written; false when there were none.</summary>
    private bool AppendPendingEntries()
    {
        if (_pendingFrames.Count == 0 || _indexer is null) return false;
        var chunkStart = (ulong)_writer!.LastChunkStart;
        foreach (var pending in _pendingFrames)
        {
            var entry = pending.Entry;
            _indexer.Append(pending.InChunk ? entry with { Offset = chunkStart } : entry);
        }
        _pendingFrames.Clear();
        return true;
    }

    /// <summary>The stream files and the index, with the durability the chunks get.</summary>
    private void FlushVideoFiles(bool toDisk)
    {
        foreach (var slot in _slots)
            if (slot?.Video?.Sidecar is { } sidecar) FlushStream(sidecar, toDisk);
        _frameIndex?.Flush(toDisk);
    }

    private static void FlushStream(Stream stream, bool toDisk)
    {
        if (stream is FileStream file) file.Flush(toDisk);
        else stream.Flush();
    }

    /// <summary>Finishes the open file's video companions (index, stream files) and renames them with it.</summary>
    private void CloseVideoFiles(bool toDisk)
    {
        AppendPendingEntries();
        FlushVideoFiles(toDisk);
        foreach (var slot in _slots)
        {
            if (slot?.Video is not { Sidecar: { } sidecar } video) continue;
            sidecar.Dispose();
            File.Move(video.SidecarActivePath!, video.SidecarFinalPath!, overwrite: true);
            video.Sidecar = null;
        }
        if (_frameIndex is not null)
        {
            _frameIndexStream!.Dispose();
            File.Move(_frameIndexActivePath!, _frameIndexFinalPath!, overwrite: true);
        }
        ForgetVideoFiles();
    }

    /// <summary>On an I/O failure: close what is open and leave the `.active` names for recovery.</summary>
    private void AbandonVideoFiles()
    {
        foreach (var slot in _slots)
        {
            if (slot?.Video is not { Sidecar: { } sidecar } video) continue;
            try { sidecar.Dispose(); } catch (IOException) { /* already failing */ }
            video.Sidecar = null;
        }
        try { _frameIndexStream?.Dispose(); } catch (IOException) { /* already failing */ }
        ForgetVideoFiles();
    }

    private void ForgetVideoFiles()
    {
        _pendingFrames.Clear();
        _sidecarBytes = 0;
        _frameIndex = null;
        _indexer = null;
        _frameIndexStream = null;
    }

    /// <summary>
    /// After a left-over or cut-off recording was recovered: its offsets changed, so the frame
    /// index is rebuilt from the recovered MCAP (and dropped when it holds no video); stream files
    /// keep their bytes and get their final names.
    /// </summary>
    private static void RecoverVideoCompanions(string recoveredMcap, string finalMcap)
    {
        var dir = Path.GetDirectoryName(finalMcap)!;
        var stem = Path.GetFileNameWithoutExtension(finalMcap);
        foreach (var active in Directory.EnumerateFiles(dir, stem + ".*" + RecordingLayout.ActiveSuffix))
        {
            var name = RecordingLayout.FinalPath(active);
            var kind = RecordingLayout.KindOf(name);
            if (kind == RecordingFileKind.Vidx) File.Delete(active);
            else if (kind == RecordingFileKind.Stream) File.Move(active, name, overwrite: true);
            // The .mcap.active itself is the caller's.
        }
        var index = RecordingLayout.VidxPath(finalMcap);
        if (FrameIndexRebuilder.RebuildFile(recoveredMcap, index, Path.GetFileName(finalMcap)).Frames == 0) File.Delete(index);
    }
}
