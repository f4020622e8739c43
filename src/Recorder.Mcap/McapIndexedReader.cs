using System.Buffers.Binary;
using System.IO.Hashing;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>A message with the channel and schema it was written on.</summary>
public readonly record struct McapMessage(Channel Channel, Schema? Schema, Message Message);

/// <summary>
/// Reads a seekable MCAP file through its summary: footer first, then the summary section, then
/// only the chunks a query needs. Messages come out in log-time order even when chunks overlap,
/// through a heap merge that loads a chunk only when the merge reaches its start time, so memory
/// is bounded by how many chunks overlap, not by file size. Ties keep file order.
/// </summary>
public sealed class McapIndexedReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly McapReaderOptions _options;
    private readonly Dictionary<ushort, Schema> _schemas = new();
    private readonly Dictionary<ushort, Channel> _channels = new();
    private readonly List<ChunkIndex> _chunkIndexes = new();
    private readonly List<AttachmentIndex> _attachmentIndexes = new();
    private readonly List<MetadataIndex> _metadataIndexes = new();
    private readonly List<SummaryOffset> _summaryOffsets = new();

    public McapIndexedReader(Stream stream, McapReaderOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek) throw new ArgumentException("the indexed reader needs a seekable stream", nameof(stream));
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? McapReaderOptions.Default;
        try
        {
            ReadEnds();
            if (Footer.SummaryStart != 0) ReadSummary();
        }
        catch
        {
            if (!leaveOpen) stream.Dispose();
            throw;
        }
    }

    public static McapIndexedReader Open(string path, McapReaderOptions? options = null) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.RandomAccess), options);

    public Header Header { get; private set; } = new("", "");
    public Footer Footer { get; private set; }
    public IReadOnlyDictionary<ushort, Schema> Schemas => _schemas;
    public IReadOnlyDictionary<ushort, Channel> Channels => _channels;
    public IReadOnlyList<ChunkIndex> ChunkIndexes => _chunkIndexes;
    public IReadOnlyList<AttachmentIndex> AttachmentIndexes => _attachmentIndexes;
    public IReadOnlyList<MetadataIndex> MetadataIndexes => _metadataIndexes;
    public IReadOnlyList<SummaryOffset> SummaryOffsets => _summaryOffsets;
    public Statistics? Statistics { get; private set; }

    /// <summary>Offset of the footer record.</summary>
    public long FooterOffset { get; private set; }

    private void ReadEnds()
    {
        var length = _stream.Length;
        const int minimum = McapConstants.MagicLength + McapConstants.FooterAndMagicLength;
        if (length < minimum)
            ThrowHelper.Throw(McapErrorKind.Truncated, $"file is {length} bytes, shorter than magic + footer + magic ({minimum})", length);

        Span<byte> head = stackalloc byte[McapConstants.MagicLength + McapConstants.RecordPrefixLength];
        ReadExactly(0, head);
        if (!head[..8].SequenceEqual(McapConstants.Magic))
            ThrowHelper.Throw(McapErrorKind.BadMagic, "not an MCAP file (bad leading magic)", 0);
        if ((McapOpcode)head[8] == McapOpcode.Header)
        {
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(head[9..]);
            if (headerLength > (ulong)Math.Min(_options.MaxRecordSize, length))
                ThrowHelper.Throw(McapErrorKind.RecordTooLarge, $"header declares {headerLength} bytes", 8, McapOpcode.Header);
            var content = new byte[headerLength];
            ReadExactly(8 + McapConstants.RecordPrefixLength, content);
            Header = McapRecordParser.ParseHeader(content, 8);
        }

        Span<byte> tail = stackalloc byte[McapConstants.FooterAndMagicLength];
        FooterOffset = length - McapConstants.FooterAndMagicLength;
        ReadExactly(FooterOffset, tail);
        if (!tail[^8..].SequenceEqual(McapConstants.Magic))
            ThrowHelper.Throw(McapErrorKind.BadMagic, "bad trailing magic: the file was not closed (recover it)", length - 8);
        if ((McapOpcode)tail[0] != McapOpcode.Footer || BinaryPrimitives.ReadUInt64LittleEndian(tail[1..]) != McapConstants.FooterContentLength)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, "no Footer record before the trailing magic", FooterOffset, McapOpcode.Footer);
        Footer = McapRecordParser.ParseFooter(tail[9..^8], FooterOffset);
    }

    private void ReadSummary()
    {
        var start = (long)Footer.SummaryStart;
        if (start < McapConstants.MagicLength || start > FooterOffset)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"summary_start {start} is outside the file", FooterOffset, McapOpcode.Footer);
        if (FooterOffset - start > _options.MaxRecordSize)
            ThrowHelper.Throw(McapErrorKind.RecordTooLarge, $"summary section of {FooterOffset - start} bytes exceeds the maximum {_options.MaxRecordSize}", start);
        var summary = new byte[FooterOffset - start];
        ReadExactly(start, summary);

        if (_options.ValidateCrcs && Footer.SummaryCrc != 0)
        {
            var crc = new Crc32();
            crc.Append(summary);
            Span<byte> footerHead = stackalloc byte[McapConstants.RecordPrefixLength + 16];
            ReadExactly(FooterOffset, footerHead);
            crc.Append(footerHead);
            var actual = crc.GetCurrentHashAsUInt32();
            if (actual != Footer.SummaryCrc)
                ThrowHelper.Throw(McapErrorKind.CrcMismatch, $"summary CRC is {actual:x8} but the Footer says {Footer.SummaryCrc:x8}", FooterOffset, McapOpcode.Footer);
        }

        var memory = new ReadOnlyMemory<byte>(summary);
        var position = 0;
        while (position < summary.Length)
        {
            if (!RecordIterator.TryNext(memory, ref position, out var opcode, out var content, out var at))
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, "a summary record overruns the summary section", start + position);
            var offset = start + at;
            switch (opcode)
            {
                case McapOpcode.Schema:
                    var schema = McapRecordParser.ParseSchema(content.ToArray(), offset);
                    if (schema.Id != 0) _schemas.TryAdd(schema.Id, schema);
                    break;
                case McapOpcode.Channel:
                    var channel = McapRecordParser.ParseChannel(content.Span, offset);
                    _channels.TryAdd(channel.Id, channel);
                    break;
                case McapOpcode.ChunkIndex: _chunkIndexes.Add(McapRecordParser.ParseChunkIndex(content.Span, offset)); break;
                case McapOpcode.AttachmentIndex: _attachmentIndexes.Add(McapRecordParser.ParseAttachmentIndex(content.Span, offset)); break;
                case McapOpcode.MetadataIndex: _metadataIndexes.Add(McapRecordParser.ParseMetadataIndex(content.Span, offset)); break;
                case McapOpcode.Statistics: Statistics ??= McapRecordParser.ParseStatistics(content.Span, offset); break;
                case McapOpcode.SummaryOffset: _summaryOffsets.Add(McapRecordParser.ParseSummaryOffset(content.Span, offset)); break;
            }
        }
    }

    /// <summary>
    /// Messages with start ≤ log_time ≤ end on the given topics (all when null), in log-time order.
    /// Files without chunk indexes are read linearly and sorted in memory.
    /// </summary>
    public IEnumerable<McapMessage> ReadMessages(ulong startTime = 0, ulong endTime = ulong.MaxValue, IEnumerable<string>? topics = null)
    {
        HashSet<ushort>? wanted = null;
        if (topics is not null)
        {
            var topicSet = new HashSet<string>(topics, StringComparer.Ordinal);
            wanted = new HashSet<ushort>();
            foreach (var channel in _channels.Values)
                if (topicSet.Contains(channel.Topic)) wanted.Add(channel.Id);
        }
        return _chunkIndexes.Count > 0 ? MergeChunks(startTime, endTime, wanted, topics) : ReadLinear(startTime, endTime, topics);
    }

    private IEnumerable<McapMessage> MergeChunks(ulong startTime, ulong endTime, HashSet<ushort>? wanted, IEnumerable<string>? topics)
    {
        // Key: (log time, chunk offset, offset in chunk). An unloaded chunk sits at its start time with
        // offset -1, so it is opened before any message at that time is emitted: ties keep file order.
        var queue = new PriorityQueue<object, (ulong Time, ulong Chunk, long Offset)>();
        foreach (var index in _chunkIndexes)
        {
            if (index.MessageEndTime < startTime || index.MessageStartTime > endTime) continue;
            // Chunks without messages carry start = end = 0; the scan finds nothing in them.
            if (wanted is not null && index.MessageIndexOffsets.Count > 0 && !Overlaps(index.MessageIndexOffsets, wanted)) continue;
            queue.Enqueue(index, (index.MessageStartTime, index.ChunkStartOffset, -1));
        }

        var codec = new ChunkCodec();
        try
        {
            while (queue.TryDequeue(out var item, out _))
            {
                if (item is ChunkIndex index)
                {
                    var cursor = LoadChunk(index, startTime, endTime, wanted, codec);
                    if (cursor.HasCurrent) queue.Enqueue(cursor, cursor.Key);
                    continue;
                }
                var c = (ChunkCursor)item;
                var message = c.Current();
                c.MoveNext();
                if (c.HasCurrent) queue.Enqueue(c, c.Key);
                var channel = _channels.GetValueOrDefault(message.ChannelId) ?? c.ChannelFromChunk(message.ChannelId);
                if (channel is null)
                    ThrowHelper.Throw(McapErrorKind.UnknownReference, $"message on channel {message.ChannelId}, which the file never defines",
                        (long)c.ChunkOffset, McapOpcode.Chunk);
                if (topics is not null && wanted is not null && !wanted.Contains(channel.Id)) continue;
                var schema = channel.SchemaId == 0 ? null : _schemas.GetValueOrDefault(channel.SchemaId) ?? c.SchemaFromChunk(channel.SchemaId);
                yield return new McapMessage(channel, schema, message);
            }
        }
        finally
        {
            codec.Dispose();
        }
    }

    private static bool Overlaps(IReadOnlyDictionary<ushort, ulong> offsets, HashSet<ushort> wanted)
    {
        foreach (var id in offsets.Keys)
            if (wanted.Contains(id)) return true;
        return false;
    }

    private ChunkCursor LoadChunk(ChunkIndex index, ulong startTime, ulong endTime, HashSet<ushort>? wanted, ChunkCodec codec)
    {
        var chunkOffset = (long)Math.Min(index.ChunkStartOffset, long.MaxValue);
        // Compare without adding, so huge values cannot overflow past the check.
        if (index.ChunkLength < McapConstants.RecordPrefixLength || index.ChunkStartOffset > (ulong)FooterOffset
            || index.ChunkLength > (ulong)FooterOffset - index.ChunkStartOffset || index.ChunkLength > (ulong)_options.MaxRecordSize)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"chunk index points outside the data section ({chunkOffset}+{index.ChunkLength})", chunkOffset, McapOpcode.ChunkIndex);
        var bytes = new byte[index.ChunkLength];
        ReadExactly(chunkOffset, bytes);
        if ((McapOpcode)bytes[0] != McapOpcode.Chunk || BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(1)) != index.ChunkLength - McapConstants.RecordPrefixLength)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, "chunk index does not point at a Chunk record of its length", chunkOffset, McapOpcode.ChunkIndex);
        var chunk = McapRecordParser.ParseChunk(bytes.AsMemory(McapConstants.RecordPrefixLength), chunkOffset);
        ReadOnlyMemory<byte> records;
        using (var buffer = new PooledBuffer(0))
        {
            records = McapStreamReader.DecompressChunk(chunk, chunkOffset, codec, buffer, _options);
            // Own the bytes: the pooled buffer goes back now, and the cursor (and the messages it yields) may live on.
            if (chunk.Compression.Length != 0) records = records.ToArray();
        }

        var entries = new List<(ulong Time, long Offset)>();
        var cursor = new ChunkCursor(index.ChunkStartOffset, records);
        if (index.MessageIndexOffsets.Count > 0 && index.MessageIndexLength > 0)
        {
            var indexStart = chunkOffset + (long)index.ChunkLength;
            if (index.MessageIndexLength > (ulong)(FooterOffset - indexStart))
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"message_index_length {index.MessageIndexLength} runs past the data section", chunkOffset, McapOpcode.ChunkIndex);
            var run = new byte[index.MessageIndexLength];
            ReadExactly(indexStart, run);
            foreach (var (channelId, absolute) in index.MessageIndexOffsets)
            {
                if (wanted is not null && !wanted.Contains(channelId)) continue;
                var at = absolute >= (ulong)indexStart ? (long)Math.Min(absolute - (ulong)indexStart, long.MaxValue) : -1;
                if (at < 0 || at >= run.Length)
                    ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"message index offset {absolute} is outside the index run", chunkOffset, McapOpcode.ChunkIndex);
                var position = (int)at;
                if (!RecordIterator.TryNext(run, ref position, out var opcode, out var content, out _) || opcode != McapOpcode.MessageIndex)
                    ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"no MessageIndex at offset {absolute}", (long)absolute, McapOpcode.MessageIndex);
                foreach (var entry in McapRecordParser.ParseMessageIndex(content.Span, (long)absolute).Records)
                    if (entry.LogTime >= startTime && entry.LogTime <= endTime)
                        entries.Add((entry.LogTime, (long)Math.Min(entry.Offset, long.MaxValue)));
            }
            // Schemas and channels that the summary lacks are still found in the chunk.
            foreach (var channelId in index.MessageIndexOffsets.Keys)
            {
                if (_channels.ContainsKey(channelId)) continue;
                cursor.ScanDefinitions(_channels);
                break;
            }
        }
        else
        {
            cursor.Scan(startTime, endTime, wanted, entries);
        }
        entries.Sort();
        cursor.SetEntries(entries);
        return cursor;
    }

    private IEnumerable<McapMessage> ReadLinear(ulong startTime, ulong endTime, IEnumerable<string>? topics)
    {
        var topicSet = topics is null ? null : new HashSet<string>(topics, StringComparer.Ordinal);
        var schemas = new Dictionary<ushort, Schema>(_schemas);
        var channels = new Dictionary<ushort, Channel>(_channels);
        var found = new List<McapMessage>();
        _stream.Position = 0;
        foreach (var record in McapStreamReader.ReadRecords(_stream, _options))
        {
            switch (record.Opcode)
            {
                case McapOpcode.Schema:
                    var schema = McapRecordParser.ParseSchema(record.Content.ToArray(), record.Offset);
                    if (schema.Id != 0) schemas.TryAdd(schema.Id, schema);
                    break;
                case McapOpcode.Channel:
                    var channel = record.ToChannel();
                    channels.TryAdd(channel.Id, channel);
                    break;
                case McapOpcode.Message:
                    var message = record.ToMessage();
                    if (message.LogTime < startTime || message.LogTime > endTime) break;
                    if (!channels.TryGetValue(message.ChannelId, out var ch))
                        ThrowHelper.Throw(McapErrorKind.UnknownReference, $"message on undeclared channel {message.ChannelId}", record.Offset, McapOpcode.Message);
                    if (topicSet is not null && !topicSet.Contains(ch.Topic)) break;
                    found.Add(new McapMessage(ch, ch.SchemaId == 0 ? null : schemas.GetValueOrDefault(ch.SchemaId), message with { Data = message.Data.ToArray() }));
                    break;
                case McapOpcode.DataEnd:
                    goto done;
            }
        }
        done:
        // List.Sort is unstable; sort by (time, file order) to keep ties stable.
        var order = new int[found.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => found[a].Message.LogTime != found[b].Message.LogTime
            ? found[a].Message.LogTime.CompareTo(found[b].Message.LogTime) : a.CompareTo(b));
        foreach (var i in order) yield return found[i];
    }

    /// <summary>Reads and CRC-checks the attachment an index entry points at.</summary>
    public Attachment ReadAttachment(AttachmentIndex index)
    {
        var content = ReadRecordAt((long)index.Offset, (long)index.Length, McapOpcode.Attachment);
        if (_options.ValidateCrcs)
        {
            var covered = McapRecordParser.AttachmentCrcCoverage(content, (long)index.Offset);
            var stored = content.Length >= covered + 4 ? BinaryPrimitives.ReadUInt32LittleEndian(content.AsSpan(covered)) : 0;
            if (stored != 0 && Crc32.HashToUInt32(content.AsSpan(0, covered)) != stored)
                ThrowHelper.Throw(McapErrorKind.CrcMismatch, "attachment CRC does not match its data", (long)index.Offset, McapOpcode.Attachment);
        }
        return McapRecordParser.ParseAttachment(content, (long)index.Offset);
    }

    public Metadata ReadMetadata(MetadataIndex index) =>
        McapRecordParser.ParseMetadata(ReadRecordAt((long)index.Offset, (long)index.Length, McapOpcode.Metadata), (long)index.Offset);

    private byte[] ReadRecordAt(long offset, long length, McapOpcode expected)
    {
        if (length < McapConstants.RecordPrefixLength || offset < 0 || offset > FooterOffset || length > FooterOffset - offset || length > _options.MaxRecordSize)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"index points outside the file ({offset}+{length})", offset, expected);
        var bytes = new byte[length];
        ReadExactly(offset, bytes);
        if ((McapOpcode)bytes[0] != expected || BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(1)) != (ulong)length - McapConstants.RecordPrefixLength)
            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"index does not point at a {expected} record of its length", offset, expected);
        return bytes[McapConstants.RecordPrefixLength..];
    }

    private void ReadExactly(long offset, Span<byte> destination)
    {
        _stream.Position = offset;
        try
        {
            _stream.ReadExactly(destination);
        }
        catch (EndOfStreamException e)
        {
            ThrowHelper.Throw(McapErrorKind.Truncated, $"file ends before the {destination.Length} bytes expected here", offset, inner: e);
        }
    }

    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
    }

    /// <summary>A loaded chunk and its messages sorted by (log time, offset).</summary>
    private sealed class ChunkCursor(ulong chunkOffset, ReadOnlyMemory<byte> records)
    {
        private List<(ulong Time, long Offset)> _entries = new();
        private int _next;
        private Dictionary<ushort, Channel>? _channels;
        private Dictionary<ushort, Schema>? _schemas;

        public ulong ChunkOffset => chunkOffset;
        public bool HasCurrent => _next < _entries.Count;
        public (ulong, ulong, long) Key => (_entries[_next].Time, chunkOffset, _entries[_next].Offset);

        public void SetEntries(List<(ulong, long)> entries) => _entries = entries;
        public void MoveNext() => _next++;

        public Message Current()
        {
            var offset = _entries[_next].Offset;
            var position = offset >= 0 && offset < records.Length ? (int)offset : records.Length;
            if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out _) || opcode != McapOpcode.Message)
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"message index points at chunk offset {_entries[_next].Offset}, which is not a Message",
                    (long)chunkOffset, McapOpcode.MessageIndex);
            return McapRecordParser.ParseMessage(content, (long)chunkOffset);
        }

        public Channel? ChannelFromChunk(ushort id) => _channels?.GetValueOrDefault(id);
        public Schema? SchemaFromChunk(ushort id) => _schemas?.GetValueOrDefault(id);

        public void Scan(ulong startTime, ulong endTime, HashSet<ushort>? wanted, List<(ulong, long)> entries)
        {
            var position = 0;
            while (position < records.Length)
            {
                if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out var at))
                    ThrowHelper.Throw(McapErrorKind.InvalidRecord, "a record inside the chunk overruns it", (long)chunkOffset, McapOpcode.Chunk);
                switch (opcode)
                {
                    case McapOpcode.Message:
                        var message = McapRecordParser.ParseMessage(content, (long)chunkOffset);
                        if (message.LogTime < startTime || message.LogTime > endTime) break;
                        if (wanted is not null && !wanted.Contains(message.ChannelId)) break;
                        entries.Add((message.LogTime, at));
                        break;
                    case McapOpcode.Channel:
                        var channel = McapRecordParser.ParseChannel(content.Span, (long)chunkOffset);
                        (_channels ??= new()).TryAdd(channel.Id, channel);
                        break;
                    case McapOpcode.Schema:
                        var schema = McapRecordParser.ParseSchema(content, (long)chunkOffset);
                        if (schema.Id != 0) (_schemas ??= new()).TryAdd(schema.Id, schema);
                        break;
                }
            }
        }

        /// <summary>Picks up Schema/Channel records in the chunk when the summary did not repeat them all.</summary>
        public void ScanDefinitions(Dictionary<ushort, Channel> known)
        {
            var position = 0;
            while (position < records.Length)
            {
                if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out _)) return;
                if (opcode == McapOpcode.Channel)
                {
                    var channel = McapRecordParser.ParseChannel(content.Span, (long)chunkOffset);
                    if (!known.ContainsKey(channel.Id)) (_channels ??= new()).TryAdd(channel.Id, channel);
                }
                else if (opcode == McapOpcode.Schema)
                {
                    var schema = McapRecordParser.ParseSchema(content, (long)chunkOffset);
                    if (schema.Id != 0) (_schemas ??= new()).TryAdd(schema.Id, schema);
                }
            }
        }
    }
}
