using System.Text;
using Recorder.Mcap;

namespace Recorder.Video;

/// <summary>What a rebuild produced.</summary>
/// <param name="Frames">Frame records written.</param>
/// <param name="Tracks">Video tracks found.</param>
/// <param name="SkippedMessages">Messages on video channels that did not decode (not valid CompressedVideo/VideoFrameRef, or an unknown format); not indexed.</param>
/// <param name="McapError">Why reading the MCAP stopped early (a truncated or corrupt recording), or null when it was read to the end. The index covers every message before it.</param>
public sealed record FrameIndexRebuildResult(long Frames, int Tracks, long SkippedMessages, McapException? McapError);

/// <summary>
/// Regenerates a recording's frame index from the MCAP alone (<c>recorder frames --rebuild</c>). It
/// reads the file front to back and feeds every video message, in file order (chunk by chunk, record
/// by record), to a <see cref="FrameIndexer"/>: the same path, in the same order, as the live
/// recorder, so a rebuilt index equals the live one byte for byte.
/// <list type="bullet">
/// <item><c>foxglove.CompressedVideo</c> channels (protobuf): Container storage. Keyframe kind and
/// resolution come from the stored access unit (<see cref="AnnexB.Classify"/>, <see cref="AnnexB.TryReadResolution"/>),
/// the codec from the message's <c>format</c>; size is the data length.</item>
/// <item><c>recorder.VideoFrameRef</c> channels: Sidecar storage; every frame field comes from the message.</item>
/// </list>
/// A message inside a chunk is located by the Chunk record's file offset and its offset in the
/// chunk's uncompressed records; a message outside chunks by its own file offset, with
/// OffsetInChunk = <see cref="uint.MaxValue"/>.
/// </summary>
public static class FrameIndexRebuilder
{
    /// <summary>OffsetInChunk of a frame whose Message record is not in a chunk: Offset is then the Message record's file offset.</summary>
    public const uint NotInChunk = uint.MaxValue;

    public static FrameIndexRebuildResult Rebuild(Stream mcap, Stream output, string recordingFileName)
    {
        ArgumentNullException.ThrowIfNull(mcap);
        ArgumentNullException.ThrowIfNull(output);
        using var writer = new FrameIndexWriter(output, recordingFileName, leaveOpen: true);
        var indexer = new FrameIndexer(writer);
        var schemas = new Dictionary<ushort, FrameStore>();
        var channels = new Dictionary<ushort, VideoChannel>();
        long skipped = 0;
        McapException? error = null;
        try
        {
            foreach (var record in McapStreamReader.ReadRecords(mcap))
            {
                switch (record.Opcode)
                {
                    case McapOpcode.Schema:
                        var schema = record.ToSchema();
                        if (schema.Name == CompressedVideo.SchemaName && schema.Encoding == CompressedVideo.SchemaEncoding) schemas[schema.Id] = FrameStore.Container;
                        else if (schema.Name == VideoFrameRef.SchemaName && schema.Encoding == "protobuf") schemas[schema.Id] = FrameStore.Sidecar;
                        else schemas.Remove(schema.Id);
                        break;
                    case McapOpcode.Channel:
                        var channel = record.ToChannel();
                        if (channel.MessageEncoding == "protobuf" && schemas.TryGetValue(channel.SchemaId, out var store))
                            channels[channel.Id] = new VideoChannel(channel.Topic, store);
                        else channels.Remove(channel.Id);
                        break;
                    case McapOpcode.Message:
                        var message = record.ToMessage();
                        if (!channels.TryGetValue(message.ChannelId, out var video)) break;
                        var offset = record.IsInChunk ? (ulong)record.ChunkOffset : (ulong)record.Offset;
                        var offsetInChunk = record.IsInChunk ? (uint)record.Offset : NotInChunk;
                        if (!Index(indexer, video, message, offset, offsetInChunk)) skipped++;
                        break;
                }
            }
        }
        catch (McapException e)
        {
            error = e;
        }
        writer.Flush();
        return new FrameIndexRebuildResult(writer.FrameCount, indexer.TrackCount, skipped, error);
    }

    /// <summary>
    /// Rebuilds <paramref name="indexPath"/> from <paramref name="mcapPath"/>, replacing it atomically
    /// (a temporary file, fsynced, then renamed): a reader sees the old index or the new one, never
    /// half of one. <paramref name="recordingFileName"/> is the name the index records, by default the
    /// MCAP's own (recovery rebuilds from a temporary name).
    /// </summary>
    public static FrameIndexRebuildResult RebuildFile(string mcapPath, string indexPath, string? recordingFileName = null)
    {
        var temporary = indexPath + ".rebuilding";
        FrameIndexRebuildResult result;
        using (var mcap = new FileStream(mcapPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.SequentialScan))
        using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.Read))
        {
            result = Rebuild(mcap, output, recordingFileName ?? Path.GetFileName(mcapPath));
            output.Flush(flushToDisk: true);
        }
        File.Move(temporary, indexPath, overwrite: true);
        return result;
    }

    private static bool Index(FrameIndexer indexer, VideoChannel video, in Message message, ulong offset, uint offsetInChunk)
    {
        FrameIndexEntry entry;
        if (video.Store == FrameStore.Container)
        {
            if (!CompressedVideo.TryDecode(message.Data.Span, out _, out _, out var data, out var format)) return false;
            if (!VideoCodecNames.TryParseUtf8(format, out var codec)) return false;
            var info = AnnexB.Classify(data, codec);
            uint width = 0, height = 0;
            if (AnnexB.TryReadResolution(data, codec, out var w, out var h) && w > 0 && h > 0) (width, height) = ((uint)w, (uint)h);
            entry = indexer.Next(video.Topic, codec, FrameStore.Container, null, message.LogTime, message.PublishTime,
                info.Keyframe, (uint)data.Length, width, height);
            entry = entry with { Offset = offset, OffsetInChunk = offsetInChunk };
        }
        else
        {
            if (!VideoFrameRef.TryDecode(message.Data.Span, out var fields, out var streamFileUtf8)) return false;
            entry = indexer.Next(video.Topic, fields.Codec, FrameStore.Sidecar, video.StreamFile(streamFileUtf8), message.LogTime, message.PublishTime,
                fields.Keyframe, fields.Size, fields.Width, fields.Height);
            entry = entry with { Offset = fields.StreamOffset, OffsetInChunk = 0 };
        }
        indexer.Append(entry);
        return true;
    }

    private sealed class VideoChannel(string topic, FrameStore store)
    {
        private byte[] _streamFileUtf8 = [];
        private string? _streamFile;

        public string Topic { get; } = topic;
        public FrameStore Store { get; } = store;

        /// <summary>The stream file name, decoded only when it differs from the previous message's.</summary>
        public string? StreamFile(ReadOnlySpan<byte> utf8)
        {
            if (_streamFile is not null && utf8.SequenceEqual(_streamFileUtf8)) return _streamFile;
            _streamFileUtf8 = utf8.ToArray();
            _streamFile = Encoding.UTF8.GetString(utf8);
            return _streamFile;
        }
    }
}
