using System.IO.Hashing;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>The writer's lifecycle. Failed is terminal: after an I/O error every call throws.</summary>
public enum McapWriterState
{
    Open,
    Finished,
    Aborted,
    Failed,
}

/// <summary>
/// Writes an MCAP file front to back, never seeking: the stream always holds a run of whole
/// records, so a file cut anywhere recovers to everything before the cut.
/// <para>
/// Chunks are built in memory, compressed from pooled buffers and appended whole, followed by
/// one MessageIndex per channel. Schemas and channels are written lazily, just before the first
/// message that uses them, into the chunk (or data section) that message goes to; any never used
/// are written at <see cref="Finish"/>. Writing a message allocates nothing in steady state.
/// </para>
/// </summary>
public sealed class McapWriter : IDisposable
{
    private readonly McapWriterOptions _options;
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly OutputSink _sink;
    private readonly PooledBuffer _chunk;
    private readonly PooledBuffer _compressed = new(0);
    private readonly ChunkCodec _codec;

    private readonly Dictionary<ushort, SchemaState> _schemas = new();
    private readonly List<SchemaState> _schemaOrder = new();
    private ChannelState?[] _channels = new ChannelState?[16];
    private readonly List<ChannelState> _channelOrder = new();
    private readonly List<ChannelState> _chunkChannels = new();

    private readonly List<ChunkIndex> _chunkIndexes = new();
    private readonly List<AttachmentIndex> _attachmentIndexes = new();
    private readonly List<MetadataIndex> _metadataIndexes = new();

    private ulong _chunkStartTime = ulong.MaxValue;
    private ulong _chunkEndTime;
    private int _chunkMessageCount;

    private ulong _messageCount;
    private ulong _messageStartTime = ulong.MaxValue;
    private ulong _messageEndTime;
    private uint _chunkCount;
    private uint _attachmentCount;
    private uint _metadataCount;

    public McapWriter(Stream stream, McapWriterOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _options = options ?? new McapWriterOptions();
        _options.Validate();
        _stream = stream;
        _leaveOpen = leaveOpen;
        _sink = new OutputSink(stream, _options.OutputBufferSize);
        _chunk = new PooledBuffer(_options.UseChunks ? Math.Min(_options.ChunkSize, 1024 * 1024) + 4096 : 256);
        _codec = new ChunkCodec(_options.CompressionLevel);
        ChunkCompression = _options.Compression;

        _sink.ResetCrc(_options.EnableDataCrc);
        _sink.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(_sink, new Header(_options.Profile, _options.Library));
    }

    public McapWriterState State { get; private set; } = McapWriterState.Open;

    /// <summary>Compression of the chunks cut from now on (recovery keeps each input chunk's own).</summary>
    public McapCompression ChunkCompression { get; set; }

    /// <summary>Bytes committed to the output so far (the file offset of the next record).</summary>
    public long Position => _sink.Position;

    /// <summary>Uncompressed bytes in the open chunk: what a crash right now would lose.</summary>
    public int PendingChunkBytes => _chunk.Count;

    /// <summary>Messages in the open chunk: what a crash (or a failed write) right now would lose.</summary>
    public int PendingChunkMessages => _chunkMessageCount;

    public ulong MessageCount => _messageCount;
    public uint ChunkCount => _chunkCount;

    /// <summary>
    /// File offset of the Chunk record cut last, or -1 before the first. When <see cref="ChunkCount"/>
    /// grows, the messages written while it had its previous value are in the chunk at this offset.
    /// </summary>
    public long LastChunkStart { get; private set; } = -1;

    /// <summary>
    /// End offset of the last chunk record (its MessageIndex records follow). Set before the chunk
    /// is handed to the stream: when that write fails, a file at least this long holds the chunk whole.
    /// </summary>
    public long LastChunkEnd { get; private set; } = -1;

    /// <summary>
    /// Offset of the last message's Message record inside its chunk's uncompressed records (the value
    /// its MessageIndex entry holds), or -1 when no message was written yet or it went outside chunks.
    /// The chunk is the open one, or, if writing that message cut it, the one at <see cref="LastChunkStart"/>.
    /// </summary>
    public long LastMessageOffsetInChunk { get; private set; } = -1;

    /// <summary>Without chunks: the file offset of the last message's Message record; -1 when it went into a chunk.</summary>
    public long LastMessageFileOffset { get; private set; } = -1;

    /// <summary>Registers a schema under the next free id and returns that id.</summary>
    public ushort AddSchema(string name, string encoding, ReadOnlyMemory<byte> data)
    {
        var id = (ushort)(_schemaOrder.Count == 0 ? 1 : _schemaOrder[^1].Schema.Id + 1);
        while (_schemas.ContainsKey(id) || id == 0) id++;
        AddSchema(new Schema(id, name, encoding, data));
        return id;
    }

    /// <summary>Registers a schema with its own id. Re-adding an identical schema is a no-op; a different one under the same id is an error.</summary>
    public void AddSchema(Schema schema)
    {
        EnsureOpen();
        ArgumentNullException.ThrowIfNull(schema);
        if (schema.Id == 0) ThrowHelper.Throw(McapErrorKind.InvalidOperation, "schema id 0 is reserved for 'no schema'");
        if (schema.Encoding.Length == 0 && !schema.Data.IsEmpty)
            ThrowHelper.Throw(McapErrorKind.InvalidOperation, $"schema {schema.Id} has empty encoding but non-empty data");
        if (_schemas.TryGetValue(schema.Id, out var existing))
        {
            if (!existing.Schema.ContentEquals(schema))
                ThrowHelper.Throw(McapErrorKind.InvalidOperation, $"schema {schema.Id} was already added with different content");
            return;
        }
        // Own a copy: the caller's buffer may be reused before the schema is written.
        var state = new SchemaState(schema with { Data = schema.Data.ToArray() });
        _schemas.Add(schema.Id, state);
        _schemaOrder.Add(state);
    }

    /// <summary>Registers a channel under the next free id and returns that id.</summary>
    public ushort AddChannel(string topic, string messageEncoding, ushort schemaId = 0, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var id = (ushort)(_channelOrder.Count == 0 ? 1 : _channelOrder[^1].Channel.Id + 1);
        while (id < _channels.Length && _channels[id] is not null) id++;
        AddChannel(new Channel(id, schemaId, topic, messageEncoding, metadata ?? Channel.NoMetadata));
        return id;
    }

    /// <summary>Registers a channel with its own id. Its schema must have been added first (or be 0).</summary>
    public void AddChannel(Channel channel)
    {
        EnsureOpen();
        ArgumentNullException.ThrowIfNull(channel);
        SchemaState? schema = null;
        if (channel.SchemaId != 0 && !_schemas.TryGetValue(channel.SchemaId, out schema))
            ThrowHelper.Throw(McapErrorKind.UnknownReference, $"channel {channel.Id} refers to schema {channel.SchemaId}, which was not added");
        if (channel.Id < _channels.Length && _channels[channel.Id] is { } existing)
        {
            if (!existing.Channel.ContentEquals(channel))
                ThrowHelper.Throw(McapErrorKind.InvalidOperation, $"channel {channel.Id} was already added with different content");
            return;
        }
        if (channel.Id >= _channels.Length)
            Array.Resize(ref _channels, Math.Max(channel.Id + 1, Math.Min(_channels.Length * 2, ushort.MaxValue + 1)));
        var copy = channel with { Metadata = new Dictionary<string, string>(channel.Metadata) };
        var state = new ChannelState(copy, schema);
        _channels[channel.Id] = state;
        _channelOrder.Add(state);
    }

    public void WriteMessage(in Message message) =>
        WriteMessage(message.ChannelId, message.Sequence, message.LogTime, message.PublishTime, message.Data.Span);

    /// <summary>Writes one message. The hot path: no allocation once buffers have grown to size.</summary>
    public void WriteMessage(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        EnsureOpen();
        var channels = _channels;
        var channel = channelId < channels.Length ? channels[channelId] : null;
        if (channel is null) ThrowHelper.UnknownChannel(channelId);

        if (_options.UseChunks)
        {
            if (!channel.Written) WriteDefinitions(channel, _chunk);
            var offset = (ulong)_chunk.Count;
            McapRecordSerializer.WriteMessage(_chunk, channelId, sequence, logTime, publishTime, data);
            LastMessageOffsetInChunk = (long)offset;
            if (_options.EnableMessageIndex)
            {
                if (channel.IndexCount == 0) _chunkChannels.Add(channel);
                channel.AddIndexEntry(logTime, offset);
            }
            if (logTime < _chunkStartTime) _chunkStartTime = logTime;
            if (logTime > _chunkEndTime) _chunkEndTime = logTime;
            _chunkMessageCount++;
        }
        else
        {
            if (!channel.Written) WriteDefinitions(channel, _sink);
            LastMessageFileOffset = _sink.Position;
            McapRecordSerializer.WriteMessage(_sink, channelId, sequence, logTime, publishTime, data);
        }

        channel.MessageCount++;
        _messageCount++;
        if (logTime < _messageStartTime) _messageStartTime = logTime;
        if (logTime > _messageEndTime) _messageEndTime = logTime;

        if (_options.UseChunks && _chunk.Count >= _options.ChunkSize) CutChunk();
    }

    /// <summary>
    /// Appends a chunk exactly as another file holds it (still compressed), with that file's
    /// MessageIndex records: the merger's fast path for a chunk whose ids already match this file's.
    /// Cuts the open chunk first and writes, outside chunks, the definitions of the chunk's channels
    /// that were not written yet, so a streaming reader knows them before the chunk. Every channel the
    /// message indexes name must be registered here under the same id (with the same schema id);
    /// <paramref name="messageStartTime"/> and <paramref name="messageEndTime"/> are the chunk's.
    /// The chunk's own CRC is kept, not checked: its bytes are copied, not decoded.
    /// </summary>
    /// <param name="chunkRecord">The whole Chunk record, opcode and length included.</param>
    /// <param name="messageIndexRecords">The MessageIndex records that followed it, whole.</param>
    public void CopyChunk(ReadOnlySpan<byte> chunkRecord, ReadOnlySpan<byte> messageIndexRecords, ulong messageStartTime, ulong messageEndTime)
    {
        EnsureOpen();
        if (!_options.UseChunks) ThrowHelper.Throw(McapErrorKind.InvalidOperation, "CopyChunk needs a writer that uses chunks");
        if (chunkRecord.Length < McapConstants.RecordPrefixLength || (McapOpcode)chunkRecord[0] != McapOpcode.Chunk
            || System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(chunkRecord[1..]) != (ulong)(chunkRecord.Length - McapConstants.RecordPrefixLength))
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, "CopyChunk was not given one whole Chunk record");
        var fields = new FieldReader(chunkRecord[McapConstants.RecordPrefixLength..], McapOpcode.Chunk, -1);
        fields.U64("message_start_time");
        fields.U64("message_end_time");
        var uncompressedSize = fields.U64("uncompressed_size");
        fields.U32("uncompressed_crc");
        var compression = fields.String("compression");
        var compressedSize = fields.U64("records");
        if (compressedSize != (ulong)fields.Remaining)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"the copied chunk declares {compressedSize} record bytes but holds {fields.Remaining}");

        // First pass: every index names a registered channel; count its messages.
        var messages = 0UL;
        var position = 0;
        while (position < messageIndexRecords.Length)
        {
            var (channelId, count, length) = MessageIndexAt(messageIndexRecords, position);
            var channels = _channels;
            if (channelId >= channels.Length || channels[channelId] is null) ThrowHelper.UnknownChannel(channelId);
            messages += count;
            position += length;
        }

        CutChunk();
        position = 0;
        while (position < messageIndexRecords.Length)
        {
            var (channelId, count, length) = MessageIndexAt(messageIndexRecords, position);
            var channel = _channels[channelId]!;
            if (!channel.Written) WriteDefinitions(channel, _sink);
            channel.MessageCount += count;
            position += length;
        }

        var chunkStart = _sink.Position;
        _sink.Write(chunkRecord);
        var indexStart = _sink.Position;
        var indexOffsets = EmptyIndexOffsets;
        if (_options.EnableMessageIndex && messageIndexRecords.Length > 0)
        {
            indexOffsets = new Dictionary<ushort, ulong>();
            position = 0;
            while (position < messageIndexRecords.Length)
            {
                var (channelId, _, length) = MessageIndexAt(messageIndexRecords, position);
                indexOffsets[channelId] = (ulong)(indexStart + position);
                position += length;
            }
            _sink.Write(messageIndexRecords);
        }
        if (_options.EnableChunkIndex)
            _chunkIndexes.Add(new ChunkIndex(messageStartTime, messageEndTime, (ulong)chunkStart, (ulong)chunkRecord.Length, indexOffsets,
                (ulong)(_sink.Position - indexStart), compression, compressedSize, uncompressedSize));

        if (messages > 0)
        {
            _messageCount += messages;
            if (messageStartTime < _messageStartTime) _messageStartTime = messageStartTime;
            if (messageEndTime > _messageEndTime) _messageEndTime = messageEndTime;
        }
        _chunkCount++;
        LastChunkStart = chunkStart;
        LastChunkEnd = indexStart;
        LastMessageOffsetInChunk = -1;
        _sink.FlushBuffer();
    }

    private static (ushort ChannelId, ulong Count, int Length) MessageIndexAt(ReadOnlySpan<byte> records, int position)
    {
        var rest = records[position..];
        if (rest.Length < McapConstants.RecordPrefixLength + 6 || (McapOpcode)rest[0] != McapOpcode.MessageIndex)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"no MessageIndex record at offset {position} of the copied index run");
        var contentLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(rest[1..]);
        if (contentLength > (ulong)(rest.Length - McapConstants.RecordPrefixLength) || contentLength < 6)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"the MessageIndex record at offset {position} of the copied index run overruns it");
        var content = rest.Slice(McapConstants.RecordPrefixLength, (int)contentLength);
        var channelId = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(content);
        var bytes = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(content[2..]);
        if (bytes % 16 != 0 || bytes > (ulong)content.Length - 6)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"the MessageIndex record at offset {position} of the copied index run has a bad records length");
        return (channelId, bytes / 16, McapConstants.RecordPrefixLength + (int)contentLength);
    }

    /// <summary>Writes an attachment in the data section (never inside a chunk).</summary>
    public void WriteAttachment(Attachment attachment)
    {
        EnsureOpen();
        ArgumentNullException.ThrowIfNull(attachment);
        var offset = _sink.Position;
        var length = McapRecordSerializer.WriteAttachment(_sink, attachment, _options.EnableAttachmentCrc);
        _attachmentCount++;
        if (_options.EnableAttachmentIndex)
            _attachmentIndexes.Add(new AttachmentIndex((ulong)offset, (ulong)length, attachment.LogTime, attachment.CreateTime,
                (ulong)attachment.Data.Length, attachment.Name, attachment.MediaType));
    }

    /// <summary>Writes a metadata record in the data section.</summary>
    public void WriteMetadata(Metadata metadata)
    {
        EnsureOpen();
        ArgumentNullException.ThrowIfNull(metadata);
        var offset = _sink.Position;
        var length = McapRecordSerializer.WriteMetadata(_sink, metadata);
        _metadataCount++;
        if (_options.EnableMetadataIndex)
            _metadataIndexes.Add(new MetadataIndex((ulong)offset, (ulong)length, metadata.Name));
    }

    /// <summary>
    /// The durability point: cuts the open chunk, writes it with its indexes, and flushes the stream
    /// (with <paramref name="toDisk"/>, fsyncs a FileStream). A crash after this loses nothing written before it.
    /// </summary>
    public void Flush(bool toDisk = false)
    {
        EnsureOpen();
        CutChunk();
        _sink.Flush(toDisk);
    }

    /// <summary>Cuts the open chunk, writes DataEnd, the summary and the footer, and closes the stream unless leaveOpen.</summary>
    public void Finish()
    {
        EnsureOpen();
        CutChunk();
        foreach (var channel in _channelOrder)
            if (!channel.Written) WriteDefinitions(channel, _sink);
        foreach (var schema in _schemaOrder)
            if (!schema.Written) WriteSchema(schema, _sink);

        var dataCrc = _options.EnableDataCrc ? _sink.CurrentCrc : 0u;
        McapRecordSerializer.WriteDataEnd(_sink, new DataEnd(dataCrc));

        _sink.ResetCrc(_options.EnableSummaryCrc);
        var summaryStart = _sink.Position;
        var offsets = new List<SummaryOffset>(6);
        if (_options.EnableSummary) WriteSummary(offsets);

        var summaryOffsetStart = 0L;
        if (offsets.Count > 0 && _options.EnableSummaryOffsets)
        {
            summaryOffsetStart = _sink.Position;
            foreach (var offset in offsets) McapRecordSerializer.WriteSummaryOffset(_sink, offset);
        }
        if (_sink.Position == summaryStart) summaryStart = 0;

        // The summary CRC covers the footer up to (not including) its own CRC field.
        var footer = _sink.GetSpan(McapConstants.RecordPrefixLength + McapConstants.FooterContentLength);
        var w = new SpanWriter(footer);
        w.Prefix(McapOpcode.Footer, McapConstants.FooterContentLength);
        w.U64((ulong)summaryStart);
        w.U64((ulong)summaryOffsetStart);
        _sink.Advance(w.Position);
        var summaryCrc = _options.EnableSummaryCrc ? _sink.CurrentCrc : 0u;
        _sink.CrcEnabled = false;
        var crcSpan = _sink.GetSpan(4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(crcSpan, summaryCrc);
        _sink.Advance(4);
        _sink.Write(McapConstants.Magic);
        _sink.Flush(toDisk: false);
        State = McapWriterState.Finished;
        Release();
    }

    /// <summary>
    /// Stops without summary or footer. Records already committed are flushed; the open chunk is
    /// discarded. The result is a file that <see cref="McapRecovery"/> completes.
    /// </summary>
    public void Abort()
    {
        if (State != McapWriterState.Open) return;
        State = McapWriterState.Aborted;
        try
        {
            _sink.Flush(toDisk: false);
        }
        catch (McapException)
        {
            // The stream is already broken; aborting must still succeed.
        }
        Release();
    }

    /// <summary>Finishes an open writer (like the Rust writer's drop); releases buffers in every state.</summary>
    public void Dispose()
    {
        if (State == McapWriterState.Open)
        {
            try
            {
                Finish();
            }
            finally
            {
                Release();
            }
        }
        else
        {
            Release();
        }
    }

    private bool _released;

    private void Release()
    {
        if (_released) return;
        _released = true;
        _sink.Dispose();
        _chunk.Dispose();
        _compressed.Dispose();
        _codec.Dispose();
        if (!_leaveOpen) _stream.Dispose();
    }

    private void WriteSummary(List<SummaryOffset> offsets)
    {
        // Group order matches the conformance suite: Schema, Channel, Statistics, MetadataIndex, AttachmentIndex, ChunkIndex.
        if (_options.RepeatSchemas)
            Group(offsets, McapOpcode.Schema, () => { foreach (var s in _schemaOrder) McapRecordSerializer.WriteSchema(_sink, s.Schema); });
        if (_options.RepeatChannels)
            Group(offsets, McapOpcode.Channel, () => { foreach (var c in _channelOrder) McapRecordSerializer.WriteChannel(_sink, c.Channel); });
        if (_options.EnableStatistics)
            Group(offsets, McapOpcode.Statistics, () => McapRecordSerializer.WriteStatistics(_sink, BuildStatistics()));
        if (_options.EnableMetadataIndex)
            Group(offsets, McapOpcode.MetadataIndex, () => { foreach (var m in _metadataIndexes) McapRecordSerializer.WriteMetadataIndex(_sink, m); });
        if (_options.EnableAttachmentIndex)
            Group(offsets, McapOpcode.AttachmentIndex, () => { foreach (var a in _attachmentIndexes) McapRecordSerializer.WriteAttachmentIndex(_sink, a); });
        if (_options.EnableChunkIndex)
            Group(offsets, McapOpcode.ChunkIndex, () => { foreach (var c in _chunkIndexes) McapRecordSerializer.WriteChunkIndex(_sink, c); });
    }

    private void Group(List<SummaryOffset> offsets, McapOpcode opcode, Action write)
    {
        var start = _sink.Position;
        write();
        if (_sink.Position > start) offsets.Add(new SummaryOffset(opcode, (ulong)start, (ulong)(_sink.Position - start)));
    }

    /// <summary>The Statistics this writer would put in the summary right now.</summary>
    public Statistics BuildStatistics()
    {
        var counts = new SortedDictionary<ushort, ulong>();
        foreach (var channel in _channelOrder)
            if (channel.MessageCount > 0) counts[channel.Channel.Id] = channel.MessageCount;
        var any = _messageCount > 0;
        return new Statistics(_messageCount, (ushort)_schemaOrder.Count, (uint)_channelOrder.Count, _attachmentCount, _metadataCount,
            _chunkCount, any ? _messageStartTime : 0, any ? _messageEndTime : 0, counts);
    }

    private void WriteDefinitions(ChannelState channel, System.Buffers.IBufferWriter<byte> output)
    {
        if (channel.Schema is { Written: false } schema) WriteSchema(schema, output);
        McapRecordSerializer.WriteChannel(output, channel.Channel);
        channel.Written = true;
    }

    private static void WriteSchema(SchemaState schema, System.Buffers.IBufferWriter<byte> output)
    {
        McapRecordSerializer.WriteSchema(output, schema.Schema);
        schema.Written = true;
    }

    private void CutChunk()
    {
        if (_chunk.Count == 0) return;
        var records = _chunk.WrittenSpan;
        var crc = _options.EnableChunkCrc ? Crc32.HashToUInt32(records) : 0u;

        var compression = ChunkCompression;
        ReadOnlySpan<byte> payload = records;
        if (compression != McapCompression.None)
        {
            if (!_options.ForceCompression && records.Length < _options.MinCompressibleSize)
            {
                compression = McapCompression.None;
            }
            else
            {
                _codec.Compress(compression, records, _compressed);
                // Like the C++ writer: keep the raw bytes when compression gains under 2 %.
                if (!_options.ForceCompression && (long)_compressed.Count * 102 > (long)records.Length * 100)
                    compression = McapCompression.None;
                else
                    payload = _compressed.WrittenSpan;
            }
        }

        var compressionName = McapConstants.CompressionName(compression);
        var chunkStart = _sink.Position;
        McapRecordSerializer.WriteChunkHeader(_sink, _chunkStartTime, _chunkEndTime, (ulong)records.Length, crc, compressionName, payload.Length);
        // Uncompressed, the payload is the records, whose CRC the chunk already has: the data-section CRC combines it in.
        if (compression == McapCompression.None && _options.EnableChunkCrc) _sink.WriteWithCrc(payload, crc);
        else _sink.Write(payload);
        var chunkLength = _sink.Position - chunkStart;

        var indexStart = _sink.Position;
        Dictionary<ushort, ulong> indexOffsets;
        if (_chunkChannels.Count > 0)
        {
            _chunkChannels.Sort(static (a, b) => a.Channel.Id.CompareTo(b.Channel.Id));
            indexOffsets = new Dictionary<ushort, ulong>(_chunkChannels.Count);
            foreach (var channel in _chunkChannels)
            {
                indexOffsets[channel.Channel.Id] = (ulong)_sink.Position;
                McapRecordSerializer.WriteMessageIndex(_sink, channel.Channel.Id, channel.IndexTimes, channel.IndexOffsets);
                channel.IndexCount = 0;
            }
            _chunkChannels.Clear();
        }
        else
        {
            indexOffsets = EmptyIndexOffsets;
        }

        if (_options.EnableChunkIndex)
            _chunkIndexes.Add(new ChunkIndex(_chunkStartTime, _chunkEndTime, (ulong)chunkStart, (ulong)chunkLength, indexOffsets,
                (ulong)(_sink.Position - indexStart), compressionName, (ulong)payload.Length, (ulong)records.Length));

        _chunkCount++;
        LastChunkStart = chunkStart;
        LastChunkEnd = chunkStart + chunkLength;
        _chunk.Clear();
        // Hand every finished chunk to the stream (as the C++ writer flushes after each chunk), so a
        // later failure or crash cannot take completed chunks down with it.
        _sink.FlushBuffer();
        _chunkStartTime = ulong.MaxValue;
        _chunkEndTime = 0;
        _chunkMessageCount = 0;
    }

    private static readonly Dictionary<ushort, ulong> EmptyIndexOffsets = new();

    private void EnsureOpen()
    {
        if (State != McapWriterState.Open || _sink.Failure is not null)
        {
            if (_sink.Failure is not null && State == McapWriterState.Open) State = McapWriterState.Failed;
            ThrowHelper.NotOpen(State.ToString());
        }
    }

    private sealed class SchemaState(Schema schema)
    {
        public Schema Schema { get; } = schema;
        public bool Written { get; set; }
    }

    private sealed class ChannelState(Channel channel, SchemaState? schema)
    {
        private ulong[] _times = new ulong[64];
        private ulong[] _offsets = new ulong[64];

        public Channel Channel { get; } = channel;
        public SchemaState? Schema { get; } = schema;
        public bool Written { get; set; }
        public ulong MessageCount { get; set; }
        public int IndexCount { get; set; }
        public ReadOnlySpan<ulong> IndexTimes => _times.AsSpan(0, IndexCount);
        public ReadOnlySpan<ulong> IndexOffsets => _offsets.AsSpan(0, IndexCount);

        public void AddIndexEntry(ulong logTime, ulong offset)
        {
            if (IndexCount == _times.Length)
            {
                Array.Resize(ref _times, _times.Length * 2);
                Array.Resize(ref _offsets, _offsets.Length * 2);
            }
            _times[IndexCount] = logTime;
            _offsets[IndexCount] = offset;
            IndexCount++;
        }
    }
}
