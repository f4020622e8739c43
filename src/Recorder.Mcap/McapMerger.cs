using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>
/// Merges indexed MCAP files into one MCAP stream: the messages of a time window (and topics), in
/// log-time order (ties in source order, then file order), with schemas and channels remapped and
/// deduplicated, the sources' metadata and attachments carried, and the output chunked and indexed.
/// <para>
/// Memory is bounded by the chunks on the merge frontier, never by file size: one heap over every
/// source's chunk indexes opens a chunk only when the merge reaches its start time and releases it
/// when its last message is written, so only chunks that overlap in time are held at once (inside
/// one file or across files). A chunk that lies wholly in the window and the topics, whose ids the
/// output already shares, whose messages are in log-time order and which nothing from elsewhere
/// interleaves with, is copied as it is, still compressed: an export of whole recordings costs
/// little more than a copy.
/// </para>
/// <para>
/// Sources must be indexed (summary with chunk indexes): a torn or unindexed file is refused by
/// <see cref="Open(IReadOnlyList{string}, McapMergeOptions?)"/> with <see cref="McapErrorKind.NotIndexed"/> (or the reader's
/// error for a file that is not whole), before a byte is written.
/// </para>
/// </summary>
public sealed class McapMerger : IDisposable
{
    private readonly McapMergeOptions _options;
    private readonly List<Source> _sources = new();
    private bool _written;

    private McapMerger(McapMergeOptions options) => _options = options;

    /// <summary>The source names, in merge order.</summary>
    public IReadOnlyList<string> SourceNames => _sources.ConvertAll(s => s.Name);

    /// <summary>
    /// Opens every file and reads its summary. Throws <see cref="McapException"/> naming the file when
    /// one is not a whole, indexed MCAP; nothing is left open then.
    /// </summary>
    public static McapMerger Open(IReadOnlyList<string> paths, McapMergeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var streams = new List<(string, Stream)>(paths.Count);
        try
        {
            foreach (var path in paths)
                streams.Add((path, new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess)));
        }
        catch
        {
            foreach (var (_, stream) in streams) stream.Dispose();
            throw;
        }
        return Open(streams, options);
    }

    /// <summary>Like <see cref="Open(IReadOnlyList{string}, McapMergeOptions?)"/> over seekable streams, which the merger then owns.</summary>
    public static McapMerger Open(IReadOnlyList<(string Name, Stream Stream)> sources, McapMergeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        options ??= new McapMergeOptions();
        options.Validate();
        var merger = new McapMerger(options);
        try
        {
            foreach (var (name, stream) in sources) merger._sources.Add(Source.Open(merger._sources.Count, name, stream, options.Reader));
        }
        catch
        {
            merger.Dispose();
            for (var i = merger._sources.Count + 1; i < sources.Count; i++) sources[i].Stream.Dispose();
            throw;
        }
        return merger;
    }

    /// <summary>Writes the merged MCAP to <paramref name="output"/> (left open) and finishes it. Once per merger.</summary>
    public McapMergeResult WriteTo(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_written) throw new InvalidOperationException("a merger writes its output once");
        _written = true;
        return new MergeRun(_options, _sources, output).Run();
    }

    public void Dispose()
    {
        foreach (var source in _sources) source.Dispose();
    }

    /// <summary>One input file: its summary, its id maps into the output, and its stream.</summary>
    private sealed class Source : IDisposable
    {
        private Source(int index, string name, Stream stream, McapIndexedReader reader)
        {
            Index = index;
            Name = name;
            Stream = stream;
            Reader = reader;
        }

        public int Index { get; }
        public string Name { get; }
        public Stream Stream { get; }
        public McapIndexedReader Reader { get; }

        /// <summary>Output channel id per source channel id; -1 = not taken (topic filtered out, or unknown).</summary>
        public int[] ChannelMap { get; set; } = [];

        /// <summary>Every channel and schema keeps its id in the output, and none is filtered out: chunks may be copied whole.</summary>
        public bool IdsMatch { get; set; }

        public bool Used { get; set; }

        public static Source Open(int index, string name, Stream stream, McapReaderOptions options)
        {
            McapIndexedReader reader;
            try
            {
                reader = new McapIndexedReader(stream, options, leaveOpen: true);
            }
            catch (McapException e)
            {
                stream.Dispose();
                throw new McapException(e.Kind, $"{name}: {e.Reason}", e.Offset, e.Opcode, e);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
            var source = new Source(index, name, stream, reader);
            var empty = reader.Statistics is { MessageCount: 0 };
            if (reader.Footer.SummaryStart == 0 || (reader.ChunkIndexes.Count == 0 && !empty))
            {
                source.Dispose();
                ThrowHelper.Throw(McapErrorKind.NotIndexed,
                    $"{name} has no {(reader.Footer.SummaryStart == 0 ? "summary" : "chunk indexes")}: the merge reads sources through their indexes (rebuild it with `recorder recover`)");
            }
            return source;
        }

        public void Dispose()
        {
            Reader.Dispose();
            Stream.Dispose();
        }
    }

    /// <summary>The state of one <see cref="WriteTo"/>: the writer, the id tables and the merge heap.</summary>
    private sealed class MergeRun
    {
        private readonly McapMergeOptions _options;
        private readonly List<Source> _sources;
        private readonly Stream _output;
        private readonly HashSet<string>? _topics;
        private readonly McapReaderOptions _readerOptions;

        private readonly Dictionary<string, ushort> _schemaIds = new(StringComparer.Ordinal);
        private readonly HashSet<ushort> _schemaIdsTaken = new();
        private readonly Dictionary<string, ushort> _channelIds = new(StringComparer.Ordinal);
        private readonly HashSet<ushort> _channelIdsTaken = new();

        private readonly PriorityQueue<object, MergeKey> _heap = new(MergeKey.Comparer);
        private readonly ChunkCodec _codec;
        private readonly PooledBuffer _raw = new(0);
        private readonly PooledBuffer _indexRun = new(0);
        private McapWriter _writer = null!;

        private long _bufferedBytes;
        private long _peakBufferedBytes;
        private int _chunksCopied;
        private int _chunksRewritten;
        private int _metadata;
        private int _attachments;

        public MergeRun(McapMergeOptions options, List<Source> sources, Stream output)
        {
            _options = options;
            _sources = sources;
            _output = output;
            _topics = options.Topics is null ? null : new HashSet<string>(options.Topics, StringComparer.Ordinal);
            _readerOptions = options.Reader;
            _codec = new ChunkCodec();
        }

        public McapMergeResult Run()
        {
            var start = _output.CanSeek ? _output.Position : 0;
            var profile = _sources.Count > 0 && _sources.TrueForAll(s => s.Reader.Header.Profile == _sources[0].Reader.Header.Profile)
                ? _sources[0].Reader.Header.Profile : "";
            var w = _options.Writer;
            var writerOptions = new McapWriterOptions
            {
                Profile = profile,
                Library = w.Library,
                UseChunks = true,
                ChunkSize = w.ChunkSize,
                Compression = w.Compression,
                CompressionLevel = w.CompressionLevel,
                ForceCompression = w.ForceCompression,
                MinCompressibleSize = w.MinCompressibleSize,
                EnableChunkCrc = w.EnableChunkCrc,
                EnableAttachmentCrc = w.EnableAttachmentCrc,
                EnableDataCrc = w.EnableDataCrc,
                EnableSummaryCrc = w.EnableSummaryCrc,
                OutputBufferSize = w.OutputBufferSize,
            };
            using var writer = _writer = new McapWriter(_output, writerOptions, leaveOpen: true);
            try
            {
                foreach (var source in _sources)
                {
                    if (!Overlaps(source)) continue;
                    RegisterDefinitions(source);
                }
                WriteMetadata();
                foreach (var metadata in _options.ExtraMetadata)
                {
                    writer.WriteMetadata(metadata);
                    _metadata++;
                }
                if (_options.CarryAttachments) WriteAttachments();
                foreach (var source in _sources)
                {
                    if (source.ChannelMap.Length == 0) continue;
                    foreach (var index in source.Reader.ChunkIndexes)
                        if (Wanted(source, index)) _heap.Enqueue(new PendingChunk(source, index), new MergeKey(index.MessageStartTime, source.Index, index.ChunkStartOffset, -1));
                }
                Merge();
                var statistics = writer.BuildStatistics();
                writer.Finish();
                return new McapMergeResult
                {
                    SourcesUsed = _sources.Count(s => s.Used),
                    Messages = statistics.MessageCount,
                    Schemas = statistics.SchemaCount,
                    Channels = (int)statistics.ChannelCount,
                    Metadata = _metadata,
                    Attachments = _attachments,
                    Chunks = statistics.ChunkCount,
                    ChunksCopied = _chunksCopied,
                    ChunksRewritten = _chunksRewritten,
                    Bytes = writer.Position,
                    PeakBufferedBytes = _peakBufferedBytes,
                };
            }
            catch
            {
                writer.Abort();
                throw;
            }
            finally
            {
                while (_heap.TryDequeue(out var item, out _)) (item as ChunkCursor)?.Dispose();
                _raw.Dispose();
                _indexRun.Dispose();
                _codec.Dispose();
            }
        }

        private bool InWindow(ulong time) => time >= _options.StartTime && time <= _options.EndTime;

        private bool Overlaps(Source source)
        {
            foreach (var index in source.Reader.ChunkIndexes)
                if (index.MessageEndTime >= _options.StartTime && index.MessageStartTime <= _options.EndTime) return true;
            return false;
        }

        private bool Wanted(Source source, ChunkIndex index)
        {
            if (index.MessageEndTime < _options.StartTime || index.MessageStartTime > _options.EndTime) return false;
            if (index.MessageIndexOffsets.Count == 0) return true; // no index: the scan decides
            foreach (var id in index.MessageIndexOffsets.Keys)
                if (id < source.ChannelMap.Length && source.ChannelMap[id] >= 0) return true;
            return false;
        }

        /// <summary>
        /// Registers the source's schemas and channels (of the wanted topics) in the output, identical
        /// ones once. Each keeps its own id when that id is free, so the ids of recordings from one
        /// producer set line up and their chunks can be copied whole.
        /// </summary>
        private void RegisterDefinitions(Source source)
        {
            var reader = source.Reader;
            var maxChannel = -1;
            foreach (var id in reader.Channels.Keys) maxChannel = Math.Max(maxChannel, id);
            foreach (var index in reader.ChunkIndexes)
                foreach (var id in index.MessageIndexOffsets.Keys) maxChannel = Math.Max(maxChannel, id);
            var map = new int[maxChannel + 1];
            Array.Fill(map, -1);
            var idsMatch = true;
            var schemaMap = new Dictionary<ushort, ushort>();
            foreach (var channel in reader.Channels.Values.OrderBy(c => c.Id))
            {
                if (_topics is not null && !_topics.Contains(channel.Topic))
                {
                    idsMatch = false; // a copied chunk could define it: only rewritten chunks when topics are filtered
                    continue;
                }
                ushort schemaId = 0;
                if (channel.SchemaId != 0)
                {
                    if (!schemaMap.TryGetValue(channel.SchemaId, out schemaId))
                    {
                        if (!reader.Schemas.TryGetValue(channel.SchemaId, out var schema))
                            ThrowHelper.Throw(McapErrorKind.UnknownReference, $"{source.Name}: channel {channel.Id} ({channel.Topic}) uses schema {channel.SchemaId}, which its summary does not hold");
                        schemaId = RegisterSchema(schema!);
                        schemaMap[channel.SchemaId] = schemaId;
                    }
                    if (schemaId != channel.SchemaId) idsMatch = false;
                }
                var outId = RegisterChannel(channel, schemaId);
                map[channel.Id] = outId;
                if (outId != channel.Id) idsMatch = false;
            }
            // Schemas no channel uses could still be defined inside a copied chunk: they must keep their ids too.
            foreach (var schema in reader.Schemas.Values)
                if (!schemaMap.ContainsKey(schema.Id) && (!idsMatch || RegisterSchema(schema) != schema.Id)) idsMatch = false;
            source.ChannelMap = map;
            source.IdsMatch = idsMatch;
        }

        private ushort RegisterSchema(Schema schema)
        {
            var key = string.Concat(schema.Name, "\0", schema.Encoding, "\0", Convert.ToHexString(SHA256.HashData(schema.Data.Span)));
            if (_schemaIds.TryGetValue(key, out var id)) return id;
            id = schema.Id;
            if (_schemaIdsTaken.Contains(id)) id = NextFree(_schemaIdsTaken, 1);
            _writer.AddSchema(new Schema(id, schema.Name, schema.Encoding, schema.Data));
            _schemaIdsTaken.Add(id);
            _schemaIds.Add(key, id);
            return id;
        }

        private ushort RegisterChannel(Channel channel, ushort schemaId)
        {
            var key = new StringBuilder().Append(channel.Topic).Append('\0').Append(channel.MessageEncoding).Append('\0').Append(schemaId);
            foreach (var (k, v) in channel.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) key.Append('\0').Append(k).Append('=').Append(v);
            var text = key.ToString();
            if (_channelIds.TryGetValue(text, out var id)) return id;
            id = channel.Id;
            if (_channelIdsTaken.Contains(id)) id = NextFree(_channelIdsTaken, 1);
            _writer.AddChannel(new Channel(id, schemaId, channel.Topic, channel.MessageEncoding, channel.Metadata));
            _channelIdsTaken.Add(id);
            _channelIds.Add(text, id);
            return id;
        }

        private static ushort NextFree(HashSet<ushort> taken, int from)
        {
            for (var id = from; id <= ushort.MaxValue; id++)
                if (!taken.Contains((ushort)id)) return (ushort)id;
            return ThrowHelper.Throw<ushort>(McapErrorKind.InvalidOperation, "the merged output would need more than 65536 ids");
        }

        private void WriteMetadata()
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var source in _sources)
            {
                if (source.ChannelMap.Length == 0 && !HasAttachmentsInWindow(source)) continue;
                foreach (var index in source.Reader.MetadataIndexes)
                {
                    var metadata = source.Reader.ReadMetadata(index);
                    if (_options.CarryMetadata is { } carry && !carry(metadata)) continue;
                    var key = new StringBuilder(metadata.Name);
                    foreach (var (k, v) in metadata.Values.OrderBy(p => p.Key, StringComparer.Ordinal)) key.Append('\0').Append(k).Append('=').Append(v);
                    if (!seen.Add(key.ToString())) continue;
                    _writer.WriteMetadata(metadata);
                    _metadata++;
                }
            }
        }

        private bool HasAttachmentsInWindow(Source source)
        {
            if (!_options.CarryAttachments) return false;
            foreach (var index in source.Reader.AttachmentIndexes)
                if (InWindow(index.LogTime)) return true;
            return false;
        }

        private void WriteAttachments()
        {
            foreach (var source in _sources)
                foreach (var index in source.Reader.AttachmentIndexes)
                {
                    if (!InWindow(index.LogTime)) continue;
                    _writer.WriteAttachment(source.Reader.ReadAttachment(index));
                    _attachments++;
                    source.Used = true;
                }
        }

        private void Merge()
        {
            while (_heap.TryDequeue(out var item, out _))
            {
                if (item is PendingChunk pending)
                {
                    if (!TryCopyWhole(pending)) Load(pending);
                    continue;
                }
                var cursor = (ChunkCursor)item;
                // Write from this chunk for as long as it stays ahead of everything else.
                var hasNext = _heap.TryPeek(out _, out var next);
                while (true)
                {
                    WriteCurrent(cursor);
                    if (!cursor.MoveNext())
                    {
                        Release(cursor);
                        break;
                    }
                    var own = cursor.Key;
                    if (hasNext && MergeKey.Comparer.Compare(own, next) > 0)
                    {
                        _heap.Enqueue(cursor, own);
                        break;
                    }
                }
            }
        }

        private void WriteCurrent(ChunkCursor cursor)
        {
            var records = cursor.Records;
            var position = (int)cursor.CurrentOffset;
            if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out _) || opcode != McapOpcode.Message || content.Length < 22)
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"{cursor.Source.Name}: the message index points at chunk offset {cursor.CurrentOffset}, which is not a Message",
                    (long)cursor.ChunkOffset, McapOpcode.MessageIndex);
            var span = content.Span;
            var channelId = BinaryPrimitives.ReadUInt16LittleEndian(span);
            var map = cursor.Source.ChannelMap;
            var outId = channelId < map.Length ? map[channelId] : -1;
            if (outId < 0)
                ThrowHelper.Throw(McapErrorKind.UnknownReference, $"{cursor.Source.Name}: a message on channel {channelId}, which its summary does not hold",
                    (long)cursor.ChunkOffset, McapOpcode.Message);
            _writer.WriteMessage((ushort)outId, BinaryPrimitives.ReadUInt32LittleEndian(span[2..]), BinaryPrimitives.ReadUInt64LittleEndian(span[6..]),
                BinaryPrimitives.ReadUInt64LittleEndian(span[14..]), span[22..]);
            cursor.Source.Used = true;
        }

        /// <summary>The fast path: copies the chunk as it is when the output would hold exactly its messages, in its order, at this point.</summary>
        private bool TryCopyWhole(PendingChunk pending)
        {
            var (source, index) = (pending.Source, pending.Index);
            if (!_options.CopyWholeChunks || !source.IdsMatch) return false;
            if (index.MessageStartTime < _options.StartTime || index.MessageEndTime > _options.EndTime) return false;
            if (index.MessageIndexOffsets.Count == 0 || index.MessageIndexLength == 0) return false;
            foreach (var id in index.MessageIndexOffsets.Keys)
                if (id >= source.ChannelMap.Length || source.ChannelMap[id] != id) return false; // the rewrite names what is wrong
            var last = new MergeKey(index.MessageEndTime, source.Index, index.ChunkStartOffset, long.MaxValue);
            if (_heap.TryPeek(out _, out var next) && MergeKey.Comparer.Compare(next, last) < 0) return false;

            ReadIndexRun(source, index);
            if (!InLogTimeOrder(index)) return false;
            var record = ReadChunkRecord(source, index);
            Track(record.Length);
            _writer.CopyChunk(record, _indexRun.WrittenSpan, index.MessageStartTime, index.MessageEndTime);
            Track(-record.Length);
            _chunksCopied++;
            source.Used = true;
            return true;
        }

        /// <summary>Whether the chunk's messages, in the order they lie, have non-decreasing log times (from its message indexes).</summary>
        private bool InLogTimeOrder(ChunkIndex index)
        {
            var run = _indexRun.WrittenMemory;
            var count = 0;
            var position = 0;
            while (position < run.Length)
            {
                if (!RecordIterator.TryNext(run, ref position, out var opcode, out var content, out _) || opcode != McapOpcode.MessageIndex) return false;
                count += (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(content.Span[2..]) / 16, int.MaxValue / 2);
            }
            var entries = ArrayPool<(long Offset, ulong Time)>.Shared.Rent(Math.Max(count, 1));
            try
            {
                var n = 0;
                position = 0;
                while (position < run.Length)
                {
                    RecordIterator.TryNext(run, ref position, out _, out var content, out _);
                    var messageIndex = McapRecordParser.ParseMessageIndex(content.Span, (long)index.ChunkStartOffset);
                    foreach (var entry in messageIndex.Records) entries[n++] = ((long)Math.Min(entry.Offset, long.MaxValue), entry.LogTime);
                }
                Array.Sort(entries, 0, n);
                for (var i = 1; i < n; i++)
                    if (entries[i].Time < entries[i - 1].Time) return false;
                return n > 0 && entries[0].Time == index.MessageStartTime && entries[n - 1].Time <= index.MessageEndTime;
            }
            finally
            {
                ArrayPool<(long, ulong)>.Shared.Return(entries);
            }
        }

        /// <summary>Decompresses the chunk and queues a cursor over its messages in the window and topics.</summary>
        private void Load(PendingChunk pending)
        {
            var (source, index) = (pending.Source, pending.Index);
            ReadChunkRecord(source, index);
            var chunk = McapRecordParser.ParseChunk(_raw.WrittenMemory[McapConstants.RecordPrefixLength..], (long)index.ChunkStartOffset);
            var cursor = new ChunkCursor(source, index.ChunkStartOffset);
            try
            {
                var records = McapStreamReader.DecompressChunk(chunk, (long)index.ChunkStartOffset, _codec, cursor.Buffer, _readerOptions);
                if (chunk.Compression.Length == 0) cursor.Buffer.Write(records.Span); // a slice of _raw, which the next read reuses
                var map = source.ChannelMap;
                if (index.MessageIndexOffsets.Count > 0 && index.MessageIndexLength > 0)
                {
                    ReadIndexRun(source, index);
                    var run = _indexRun.WrittenMemory;
                    var position = 0;
                    while (position < run.Length)
                    {
                        if (!RecordIterator.TryNext(run, ref position, out var opcode, out var content, out _) || opcode != McapOpcode.MessageIndex)
                            ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"{source.Name}: the message index run after chunk {index.ChunkStartOffset} is malformed",
                                (long)index.ChunkStartOffset, McapOpcode.MessageIndex);
                        var channelId = BinaryPrimitives.ReadUInt16LittleEndian(content.Span);
                        if (channelId >= map.Length || map[channelId] < 0) continue;
                        foreach (var entry in McapRecordParser.ParseMessageIndex(content.Span, (long)index.ChunkStartOffset).Records)
                            if (InWindow(entry.LogTime)) cursor.Add(entry.LogTime, (long)Math.Min(entry.Offset, long.MaxValue));
                    }
                }
                else
                {
                    Scan(cursor, map);
                }
                _chunksRewritten++;
                if (!cursor.Start())
                {
                    cursor.Dispose();
                    return;
                }
                Track(cursor.Buffer.Count);
                _heap.Enqueue(cursor, cursor.Key);
            }
            catch
            {
                cursor.Dispose();
                throw;
            }
        }

        private void Scan(ChunkCursor cursor, int[] map)
        {
            var records = cursor.Records;
            var position = 0;
            while (position < records.Length)
            {
                if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out var at))
                    ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"{cursor.Source.Name}: a record inside the chunk overruns it", (long)cursor.ChunkOffset, McapOpcode.Chunk);
                if (opcode != McapOpcode.Message || content.Length < 22) continue;
                var span = content.Span;
                var channelId = BinaryPrimitives.ReadUInt16LittleEndian(span);
                var time = BinaryPrimitives.ReadUInt64LittleEndian(span[6..]);
                if (channelId < map.Length && map[channelId] >= 0 && InWindow(time)) cursor.Add(time, at);
            }
        }

        private void Release(ChunkCursor cursor)
        {
            Track(-cursor.Buffer.Count);
            cursor.Dispose();
        }

        private void Track(long delta)
        {
            _bufferedBytes += delta;
            if (_bufferedBytes > _peakBufferedBytes) _peakBufferedBytes = _bufferedBytes;
        }

        /// <summary>Reads the whole Chunk record the index points at into <see cref="_raw"/>.</summary>
        private ReadOnlySpan<byte> ReadChunkRecord(Source source, ChunkIndex index)
        {
            var end = (ulong)source.Reader.FooterOffset;
            if (index.ChunkLength < McapConstants.RecordPrefixLength || index.ChunkStartOffset > end || index.ChunkLength > end - index.ChunkStartOffset
                || index.ChunkLength > (ulong)_readerOptions.MaxRecordSize)
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"{source.Name}: a chunk index points outside the data section ({index.ChunkStartOffset}+{index.ChunkLength})",
                    (long)Math.Min(index.ChunkStartOffset, long.MaxValue), McapOpcode.ChunkIndex);
            var bytes = _raw.Resize((int)index.ChunkLength);
            ReadAt(source, (long)index.ChunkStartOffset, bytes);
            if ((McapOpcode)bytes[0] != McapOpcode.Chunk || BinaryPrimitives.ReadUInt64LittleEndian(bytes[1..]) != index.ChunkLength - McapConstants.RecordPrefixLength)
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"{source.Name}: a chunk index does not point at a Chunk record of its length",
                    (long)index.ChunkStartOffset, McapOpcode.ChunkIndex);
            return bytes;
        }

        private void ReadIndexRun(Source source, ChunkIndex index)
        {
            var start = index.ChunkStartOffset + index.ChunkLength;
            var end = (ulong)source.Reader.FooterOffset;
            if (start > end || index.MessageIndexLength > end - start || index.MessageIndexLength > int.MaxValue)
                ThrowHelper.Throw(McapErrorKind.InvalidRecord, $"{source.Name}: message_index_length {index.MessageIndexLength} runs past the data section",
                    (long)index.ChunkStartOffset, McapOpcode.ChunkIndex);
            ReadAt(source, (long)start, _indexRun.Resize((int)index.MessageIndexLength));
        }

        private static void ReadAt(Source source, long offset, Span<byte> destination)
        {
            try
            {
                RandomAccessRead(source.Stream, offset, destination);
            }
            catch (EndOfStreamException e)
            {
                ThrowHelper.Throw(McapErrorKind.Truncated, $"{source.Name}: ends before the {destination.Length} bytes expected at {offset}", offset, inner: e);
            }
        }

        private static void RandomAccessRead(Stream stream, long offset, Span<byte> destination)
        {
            if (stream is FileStream file)
            {
                var done = 0;
                while (done < destination.Length)
                {
                    var n = RandomAccess.Read(file.SafeFileHandle, destination[done..], offset + done);
                    if (n == 0) throw new EndOfStreamException();
                    done += n;
                }
                return;
            }
            stream.Position = offset;
            stream.ReadExactly(destination);
        }
    }

    private sealed record PendingChunk(Source Source, ChunkIndex Index);

    /// <summary>A decompressed chunk and its wanted messages, sorted by (log time, offset).</summary>
    private sealed class ChunkCursor(Source source, ulong chunkOffset) : IDisposable
    {
        private (ulong Time, long Offset)[] _entries = ArrayPool<(ulong, long)>.Shared.Rent(64);
        private int _count;
        private int _next;

        public Source Source { get; } = source;
        public ulong ChunkOffset { get; } = chunkOffset;
        public PooledBuffer Buffer { get; } = new(0);
        public ReadOnlyMemory<byte> Records => Buffer.WrittenMemory;
        public long CurrentOffset => _entries[_next].Offset;
        public MergeKey Key => new(_entries[_next].Time, Source.Index, ChunkOffset, _entries[_next].Offset);

        public void Add(ulong time, long offset)
        {
            if (_count == _entries.Length)
            {
                var bigger = ArrayPool<(ulong, long)>.Shared.Rent(_count * 2);
                Array.Copy(_entries, bigger, _count);
                ArrayPool<(ulong, long)>.Shared.Return(_entries);
                _entries = bigger;
            }
            _entries[_count++] = (time, offset);
        }

        /// <summary>Sorts the entries; false when there are none.</summary>
        public bool Start()
        {
            Array.Sort(_entries, 0, _count);
            _next = 0;
            return _count > 0;
        }

        public bool MoveNext() => ++_next < _count;

        public void Dispose()
        {
            Buffer.Dispose();
            var entries = _entries;
            _entries = [];
            if (entries.Length > 0) ArrayPool<(ulong, long)>.Shared.Return(entries);
        }
    }

    /// <summary>Merge order: log time, then source, then the chunk's place in its file, then the message's place in its chunk (-1: the chunk itself, not yet opened).</summary>
    private readonly record struct MergeKey(ulong Time, int Source, ulong ChunkOffset, long Offset)
    {
        public static readonly IComparer<MergeKey> Comparer = new KeyComparer();

        private sealed class KeyComparer : IComparer<MergeKey>
        {
            public int Compare(MergeKey a, MergeKey b)
            {
                if (a.Time != b.Time) return a.Time < b.Time ? -1 : 1;
                if (a.Source != b.Source) return a.Source < b.Source ? -1 : 1;
                if (a.ChunkOffset != b.ChunkOffset) return a.ChunkOffset < b.ChunkOffset ? -1 : 1;
                return a.Offset.CompareTo(b.Offset);
            }
        }
    }
}
