using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Recorder.Mcap.Internal;

namespace Recorder.Mcap;

/// <summary>How bad a finding is.</summary>
public enum McapDiagnosticSeverity
{
    /// <summary>Legal, but costly for readers or a sign of a writer bug.</summary>
    Warning,
    /// <summary>Breaks the specification, or makes a reader fail, miss data or report wrong numbers.</summary>
    Error,
}

/// <summary>One finding of <see cref="McapDoctor"/>.</summary>
/// <param name="Offset">
/// File offset of the record at fault. For a record inside a chunk it is the chunk's offset (the message
/// then names the position within the chunk). -1 when no single record is at fault.
/// </param>
public sealed record McapDiagnostic(McapDiagnosticSeverity Severity, long Offset, string Message)
{
    public override string ToString() => Offset >= 0 ? $"{Severity} at offset {Offset}: {Message}" : $"{Severity}: {Message}";
}

/// <summary>Switches and limits of <see cref="McapDoctor"/>. The defaults suit files a recorder writes.</summary>
public sealed class McapDoctorOptions
{
    /// <summary>Report a message whose log_time is below the previous message's as an Error instead of a Warning.</summary>
    public bool StrictMessageOrder { get; init; }

    /// <summary>
    /// Records with more content bytes than this are hashed for the section CRCs but not parsed, so one
    /// lying or enormous record cannot exhaust memory. Each is reported as a Warning.
    /// </summary>
    public long MaxRecordSize { get; init; } = 512L * 1024 * 1024;

    /// <summary>Largest declared uncompressed chunk that is decompressed; larger ones are reported, not read.</summary>
    public long MaxUncompressedChunkSize { get; init; } = 512L * 1024 * 1024;

    /// <summary>
    /// How many findings of one repeating kind (out-of-order messages, bad MessageIndex entries, ...) are
    /// reported before the rest are only counted, so a badly damaged file yields a readable report.
    /// </summary>
    public int MaxReportsPerCheck { get; init; } = 100;

    internal static readonly McapDoctorOptions Default = new();
}

/// <summary>What <see cref="McapDoctor.Check(Stream, McapDoctorOptions?)"/> found, and what the file holds.</summary>
/// <param name="Diagnostics">Every finding, in the order it was made: the linear pass first, then the summary cross-checks.</param>
/// <param name="FileLength">Length of the checked stream.</param>
/// <param name="TruncatedAt">
/// The offset where the file stops being whole: the start of the record (or magic) that the file ends inside,
/// or the file length when it ends cleanly after a record but before a Footer. -1 when the file is not cut short.
/// </param>
/// <param name="Messages">Message records read, top-level and inside chunks.</param>
/// <param name="Chunks">Chunk records in the data section.</param>
/// <param name="Schemas">Distinct non-zero schema ids defined in the data section.</param>
/// <param name="Channels">Distinct channel ids defined in the data section.</param>
/// <param name="Attachments">Attachment records in the data section.</param>
/// <param name="Metadata">Metadata records in the data section.</param>
public sealed record McapDoctorReport(
    IReadOnlyList<McapDiagnostic> Diagnostics,
    long FileLength,
    long TruncatedAt,
    ulong Messages,
    int Chunks,
    int Schemas,
    int Channels,
    int Attachments,
    int Metadata)
{
    public bool HasErrors => ErrorCount > 0;
    public int ErrorCount => Count(McapDiagnosticSeverity.Error);
    public int WarningCount => Count(McapDiagnosticSeverity.Warning);
    public bool IsTruncated => TruncatedAt >= 0;

    private int Count(McapDiagnosticSeverity severity)
    {
        var count = 0;
        foreach (var diagnostic in Diagnostics)
            if (diagnostic.Severity == severity) count++;
        return count;
    }
}

/// <summary>
/// Checks an MCAP file against the specification and against itself: every CRC, every index, the
/// Statistics and the summary layout. One linear pass reads every record (decompressing chunks) and
/// collects the facts; the summary is then cross-checked against them, so nothing is read twice.
/// <para>
/// It never throws for any file content: every problem, including truncation, becomes a
/// <see cref="McapDiagnostic"/>, and the pass continues past any record whose framing (opcode and
/// length) is intact. It stops only where framing is lost: the file ends inside a record, or an
/// invalid opcode 0x00 appears (typically the zero-filled tail a crash leaves).
/// </para>
/// </summary>
public static class McapDoctor
{
    /// <summary>Checks the whole stream from offset 0. The stream is left open.</summary>
    /// <exception cref="ArgumentException">The stream cannot read or seek (a caller error, not a file problem).</exception>
    public static McapDoctorReport Check(Stream seekableStream, McapDoctorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(seekableStream);
        if (!seekableStream.CanRead || !seekableStream.CanSeek)
            throw new ArgumentException("the doctor needs a readable, seekable stream", nameof(seekableStream));
        using var pass = new DoctorPass(seekableStream, options ?? McapDoctorOptions.Default);
        return pass.Run();
    }

    /// <summary>Checks the file at <paramref name="path"/>.</summary>
    public static McapDoctorReport Check(string path, McapDoctorOptions? options = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024, FileOptions.SequentialScan);
        return Check(stream, options);
    }

    /// <summary>Checks that can fire once per message, entry or chunk; each is capped at <see cref="McapDoctorOptions.MaxReportsPerCheck"/>.</summary>
    private enum Repeated
    {
        MessageOrder,
        UnknownChannel,
        MessageIndexEntry,
        MessageIndexCoverage,
        EmptyMessageIndex,
        UnindexedChunk,
        MessagelessChunk,
        MissingChunkIndex,
        RecordInChunk,
        TopLevelRecord,
        Count,
    }

    private static string Describe(Repeated check) => check switch
    {
        Repeated.MessageOrder => "messages with a log_time below the previous message's",
        Repeated.UnknownChannel => "messages on undefined channels",
        Repeated.MessageIndexEntry => "MessageIndex entries that do not match their chunk",
        Repeated.MessageIndexCoverage => "channels whose messages a MessageIndex does not cover",
        Repeated.EmptyMessageIndex => "empty MessageIndex records",
        Repeated.UnindexedChunk => "chunks without MessageIndex records",
        Repeated.MessagelessChunk => "chunks without messages",
        Repeated.MissingChunkIndex => "chunks without a ChunkIndex",
        Repeated.RecordInChunk => "bad records inside chunks",
        _ => "bad top-level records",
    };

    private static string Name(McapOpcode opcode) =>
        McapConstants.IsKnown(opcode) ? opcode.ToString() : $"opcode 0x{(byte)opcode:X2}";

    /// <summary>Where a Schema, Channel or Message record sits, for messages and diagnostic offsets.</summary>
    private readonly record struct Where(long FileOffset, long ChunkOffset, bool InSummary)
    {
        public static Where TopLevel(long offset) => new(offset, -1, false);
        public static Where Summary(long offset) => new(offset, -1, true);
        public static Where Chunk(long chunkOffset, long offsetInChunk) => new(chunkOffset, offsetInChunk, false);

        public bool InChunk => ChunkOffset >= 0;

        public override string ToString() =>
            InChunk ? $"at chunk offset {ChunkOffset} in the Chunk at offset {FileOffset}"
            : InSummary ? $"in the summary at offset {FileOffset}"
            : $"at offset {FileOffset}";
    }

    private sealed record SchemaDefinition(Schema Schema, Where Where);

    private sealed record ChannelDefinition(Channel Channel, Where Where);

    private sealed record SummaryChannel(Channel Channel, long Offset, int Order);

    private readonly record struct ChunkMessage(long Offset, ushort ChannelId, ulong LogTime);

    /// <summary>What the linear pass learned about one Chunk record and the MessageIndex run after it.</summary>
    private sealed class ChunkFacts(long offset, long recordLength)
    {
        public long Offset { get; } = offset;
        public long RecordLength { get; } = recordLength;
        public bool HeaderParsed { get; set; }
        public ulong StartTime { get; set; }
        public ulong EndTime { get; set; }
        public string Compression { get; set; } = "";
        public ulong CompressedSize { get; set; }
        public ulong UncompressedSize { get; set; }
        /// <summary>Every record was decompressed and walked: the message facts below are complete.</summary>
        public bool FullyRead { get; set; }
        public ushort[] ChannelsWithMessages { get; set; } = [];
        public Dictionary<ushort, ulong> IndexOffsets { get; } = new();
        public int IndexRecords { get; set; }
        public ulong IndexRunLength { get; set; }
        public bool HasChunkIndex { get; set; }
    }

    /// <summary>The fields of an Attachment that its AttachmentIndex repeats (the data itself is not kept).</summary>
    private sealed record AttachmentFields(ulong LogTime, ulong CreateTime, string Name, string MediaType, ulong DataSize);

    private sealed class AttachmentFacts(long offset, long recordLength, AttachmentFields? fields)
    {
        public long Offset { get; } = offset;
        public long RecordLength { get; } = recordLength;
        /// <summary>Null when the record did not parse or was too large to read.</summary>
        public AttachmentFields? Fields { get; } = fields;
        public bool Indexed { get; set; }
    }

    private sealed class MetadataFacts(long offset, long recordLength, string? name)
    {
        public long Offset { get; } = offset;
        public long RecordLength { get; } = recordLength;
        public string? Name { get; } = name;
        public bool Indexed { get; set; }
    }

    private readonly record struct SummaryRecord(McapOpcode Opcode, long Offset, long Length);

    /// <summary>The state of one check. Not reusable: one instance per file.</summary>
    private sealed class DoctorPass : IDisposable
    {
        private const int Prefix = McapConstants.RecordPrefixLength;

        private readonly Stream _stream;
        private readonly McapDoctorOptions _options;
        private readonly McapReaderOptions _chunkLimits;
        private readonly long _maxContent;
        private readonly List<McapDiagnostic> _diagnostics = new();
        private readonly int[] _reported = new int[(int)Repeated.Count];
        private readonly int[] _suppressed = new int[(int)Repeated.Count];
        private readonly McapDiagnosticSeverity[] _suppressedSeverity = new McapDiagnosticSeverity[(int)Repeated.Count];

        private readonly byte[] _prefix = new byte[Prefix];
        private readonly PooledBuffer _content = new(64 * 1024);
        private readonly PooledBuffer _decompressed = new(0);
        private readonly ChunkCodec _codec = new();
        private readonly Crc32 _crc = new();

        // Framing.
        private long _length;
        private long _position;
        private long _recordOffset;
        private long _records;
        private bool _stopped;
        private long _truncatedAt = -1;
        private bool _inSummary;
        private bool _sawDataEnd;
        private bool _summaryCrcDefined;
        private bool _missingDataEndReported;
        private long _footerOffset = -1;
        private Footer _footer;
        private bool _sawHeader;
        private readonly HashSet<byte> _unknownOpcodesReported = new();

        // Definitions in the data section (top level and inside chunks), first definition wins.
        private readonly Dictionary<ushort, SchemaDefinition> _schemas = new();
        private readonly Dictionary<ushort, ChannelDefinition> _channels = new();
        private readonly HashSet<ushort> _duplicateSchemasReported = new();
        private readonly HashSet<ushort> _duplicateChannelsReported = new();

        // Messages.
        private ulong _messages;
        private ulong _messageStartTime = ulong.MaxValue;
        private ulong _messageEndTime;
        private bool _hasPreviousMessage;
        private ulong _previousLogTime;
        private ulong _topLevelMessages;
        private long _firstTopLevelMessage = -1;
        private readonly Dictionary<ushort, ulong> _messagesPerChannel = new();
        private readonly HashSet<ushort> _unknownChannelsReported = new();

        // Chunks. The message facts of the latest chunk live until its MessageIndex run has been checked.
        private readonly List<ChunkFacts> _chunks = new();
        private readonly Dictionary<long, ChunkFacts> _chunksByOffset = new();
        private ChunkFacts? _indexRun;
        private readonly List<ChunkMessage> _chunkMessages = new();
        private readonly List<bool> _chunkMessageIndexed = new();
        private readonly Dictionary<ushort, int> _chunkChannelCounts = new();
        private readonly Dictionary<ushort, int> _chunkChannelIndexed = new();
        private int _chunksNotFullyRead;
        private bool _recordsSkipped;
        private int _messageIndexRecords;

        // Attachments and metadata.
        private readonly List<AttachmentFacts> _attachments = new();
        private readonly Dictionary<long, AttachmentFacts> _attachmentsByOffset = new();
        private readonly List<MetadataFacts> _metadata = new();
        private readonly Dictionary<long, MetadataFacts> _metadataByOffset = new();

        // Summary.
        private readonly List<SummaryRecord> _summaryLayout = new();
        private long _firstSummaryOffsetRecord = -1;
        private readonly Dictionary<ushort, (Schema Schema, long Offset)> _summarySchemas = new();
        private readonly Dictionary<ushort, SummaryChannel> _summaryChannels = new();
        private readonly List<(long Offset, ChunkIndex Index)> _chunkIndexes = new();
        private readonly List<(long Offset, AttachmentIndex Index)> _attachmentIndexes = new();
        private readonly List<(long Offset, MetadataIndex Index)> _metadataIndexes = new();
        private readonly List<(long Offset, SummaryOffset Record)> _summaryOffsets = new();
        private Statistics? _statistics;
        private long _statisticsOffset = -1;
        private int _statisticsOrder;

        public DoctorPass(Stream stream, McapDoctorOptions options)
        {
            _stream = stream;
            _options = options;
            _chunkLimits = new McapReaderOptions { ValidateCrcs = false, MaxUncompressedChunkSize = options.MaxUncompressedChunkSize };
            _maxContent = Math.Clamp(options.MaxRecordSize, 0, Array.MaxLength);
        }

        public McapDoctorReport Run()
        {
            try
            {
                Scan();
            }
            catch (IOException e)
            {
                _stopped = true;
                Report(McapDiagnosticSeverity.Error, _recordOffset, $"Reading the file failed at offset {_position}: {e.Message}");
            }
            catch (Exception e)
            {
                // A doctor that throws on a bad file is of no use to the person holding that file: a bug
                // here still comes out as a finding, and the tests treat any such finding as a failure.
                _stopped = true;
                Report(McapDiagnosticSeverity.Error, _recordOffset,
                    $"Internal doctor error while checking the record at offset {_recordOffset}: {e.GetType().Name}: {e.Message}");
            }

            try
            {
                if (_indexRun is not null) FinishIndexRun();
                CheckEnd();
                CheckFooterOffsets();
                CheckSummaryLayout();
                CheckChunkIndexes();
                CheckAttachmentIndexes();
                CheckMetadataIndexes();
                CheckStatistics();
                CheckLooseMessages();
            }
            catch (Exception e)
            {
                Report(McapDiagnosticSeverity.Error, -1, $"Internal doctor error in the summary checks: {e.GetType().Name}: {e.Message}");
            }
            ReportSuppressed();

            return new McapDoctorReport(_diagnostics, _length, _truncatedAt, _messages, _chunks.Count, _schemas.Count,
                _channels.Count, _attachments.Count, _metadata.Count);
        }

        public void Dispose()
        {
            _content.Dispose();
            _decompressed.Dispose();
            _codec.Dispose();
        }

        // ---------------------------------------------------------------- reporting

        private void Report(McapDiagnosticSeverity severity, long offset, string message) =>
            _diagnostics.Add(new McapDiagnostic(severity, offset, message));

        private void Error(long offset, string message) => Report(McapDiagnosticSeverity.Error, offset, message);

        private void Warning(long offset, string message) => Report(McapDiagnosticSeverity.Warning, offset, message);

        /// <summary>True when one more finding of <paramref name="check"/> may be reported; otherwise counts it. Callers format only when true.</summary>
        private bool Allow(Repeated check, McapDiagnosticSeverity severity)
        {
            var i = (int)check;
            if (_reported[i] < _options.MaxReportsPerCheck)
            {
                _reported[i]++;
                return true;
            }
            _suppressed[i]++;
            if (severity > _suppressedSeverity[i]) _suppressedSeverity[i] = severity;
            return false;
        }

        private void ReportSuppressed()
        {
            for (var i = 0; i < _suppressed.Length; i++)
                if (_suppressed[i] > 0)
                    Report(_suppressedSeverity[i], -1,
                        $"{_suppressed[i]} more findings of {Describe((Repeated)i)} were not reported (limit {_options.MaxReportsPerCheck} per check)");
        }

        private void Truncated(long offset, string message)
        {
            _stopped = true;
            _truncatedAt = offset;
            Error(offset, message);
        }

        // ---------------------------------------------------------------- linear pass

        private void Scan()
        {
            _length = _stream.Length;
            _stream.Position = 0;
            if (!CheckLeadingMagic()) return;

            while (true)
            {
                _recordOffset = _position;
                var remaining = _length - _position;
                if (remaining == 0)
                {
                    _truncatedAt = _length;
                    Error(-1, $"The file ends at offset {_length}, after a whole record but without a Footer: the writer did not finish (recover the file)");
                    return;
                }
                if (remaining < Prefix)
                {
                    Truncated(_position, $"File truncated at offset {_position}: only {remaining} bytes of the next record's 9-byte opcode and length are present");
                    return;
                }

                _stream.ReadExactly(_prefix);
                var opcode = (McapOpcode)_prefix[0];
                var length = BinaryPrimitives.ReadUInt64LittleEndian(_prefix.AsSpan(1));
                if (length > (ulong)(remaining - Prefix))
                {
                    Truncated(_position,
                        $"File truncated in the {Name(opcode)} record at offset {_position}: it declares {length} content bytes but the file ends after {remaining - Prefix}");
                    return;
                }
                if (opcode == McapOpcode.Invalid)
                {
                    _stopped = true;
                    Error(_position, $"Invalid opcode 0x00 at offset {_position}: records cannot be framed past it (a zero-filled tail after a crash looks like this)");
                    return;
                }

                // A MessageIndex run ends at the first record that is not a MessageIndex.
                if (_indexRun is not null && opcode != McapOpcode.MessageIndex) FinishIndexRun();

                if (_records++ == 0 && opcode != McapOpcode.Header)
                    Error(_position, $"The first record, at offset {_position}, is a {Name(opcode)} record, not a Header");

                var total = Prefix + (long)length;
                if ((long)length > _maxContent)
                {
                    SkipOversized(opcode, (long)length);
                    _position += total;
                    continue;
                }

                var content = _content.Resize((int)length);
                _stream.ReadExactly(content);
                _position += total;
                if (HandleRecord(opcode, _content.WrittenMemory, total)) return;
            }
        }

        private bool CheckLeadingMagic()
        {
            Span<byte> magic = stackalloc byte[McapConstants.MagicLength];
            var available = (int)Math.Min(_length, McapConstants.MagicLength);
            _stream.ReadExactly(magic[..available]);
            if (!magic[..available].SequenceEqual(McapConstants.Magic[..available]))
            {
                _stopped = true;
                Error(0, $"Not an MCAP file: it starts with {Convert.ToHexString(magic[..available])}, not the magic 894D434150300D0A");
                return false;
            }
            if (available < McapConstants.MagicLength)
            {
                Truncated(0, _length == 0 ? "The file is empty" : $"File truncated in the leading magic: the file is only {_length} bytes long");
                return false;
            }
            _crc.Append(magic);
            _position = McapConstants.MagicLength;
            return true;
        }

        /// <summary>Hashes a record too large to parse, so the section CRCs stay checkable, and notes what is lost.</summary>
        private void SkipOversized(McapOpcode opcode, long length)
        {
            var offset = _recordOffset;
            if (opcode != McapOpcode.DataEnd || _inSummary) _crc.Append(_prefix);
            var block = _content.Resize((int)Math.Min(length, 1024 * 1024));
            for (var left = length; left > 0;)
            {
                var part = block[..(int)Math.Min(left, block.Length)];
                _stream.ReadExactly(part);
                _crc.Append(part);
                left -= part.Length;
            }
            if (opcode is McapOpcode.Schema or McapOpcode.Channel or McapOpcode.Message) _recordsSkipped = true;
            Warning(offset, $"{Name(opcode)} record at offset {offset} has {length} content bytes, more than MaxRecordSize ({_options.MaxRecordSize}); its contents were not checked");
            switch (opcode)
            {
                case McapOpcode.Chunk:
                    var chunk = new ChunkFacts(offset, Prefix + length);
                    _chunks.Add(chunk);
                    _chunksByOffset.TryAdd(offset, chunk);
                    _chunksNotFullyRead++;
                    _indexRun = chunk;
                    break;
                case McapOpcode.Attachment:
                    AddAttachment(new AttachmentFacts(offset, Prefix + length, null));
                    break;
                case McapOpcode.Metadata:
                    AddMetadata(new MetadataFacts(offset, Prefix + length, null));
                    break;
            }
        }

        /// <summary>Hashes and dispatches one whole record. True when the Footer ended the pass.</summary>
        private bool HandleRecord(McapOpcode opcode, ReadOnlyMemory<byte> content, long total)
        {
            var offset = _recordOffset;
            if (!_inSummary)
            {
                // The data CRC covers every byte before DataEnd; the summary CRC starts right after it.
                if (opcode == McapOpcode.DataEnd)
                {
                    OnDataEnd(content.Span, offset);
                    return false;
                }
                _crc.Append(_prefix);
                _crc.Append(content.Span);
            }
            else
            {
                _crc.Append(_prefix);
                // The summary CRC stops before the Footer's own summary_crc field.
                _crc.Append(opcode == McapOpcode.Footer ? content.Span[..Math.Min(content.Length, 16)] : content.Span);
            }

            if (opcode == McapOpcode.Footer)
            {
                OnFooter(content.Span, offset, total);
                return true;
            }

            if (!_inSummary && opcode is McapOpcode.ChunkIndex or McapOpcode.AttachmentIndex or McapOpcode.Statistics
                    or McapOpcode.MetadataIndex or McapOpcode.SummaryOffset)
            {
                // The writer skipped DataEnd; treat what follows as the summary so its checks still run.
                Error(offset, $"{Name(opcode)} record at offset {offset} belongs in the summary, but no DataEnd record precedes it");
                _missingDataEndReported = true;
                _inSummary = true;
                _summaryCrcDefined = false;
            }

            try
            {
                if (_inSummary) HandleSummaryRecord(opcode, content, offset, total);
                else HandleDataRecord(opcode, content, offset, total);
            }
            catch (McapException e)
            {
                if (Allow(Repeated.TopLevelRecord, McapDiagnosticSeverity.Error))
                    Error(offset, $"{Name(opcode)} record at offset {offset} does not parse: {e.Reason}");
            }
            return false;
        }

        private void HandleDataRecord(McapOpcode opcode, ReadOnlyMemory<byte> content, long offset, long total)
        {
            switch (opcode)
            {
                case McapOpcode.Header:
                    OnHeader(content.Span, offset);
                    break;
                case McapOpcode.Schema:
                    OnSchema(content, Where.TopLevel(offset));
                    break;
                case McapOpcode.Channel:
                    OnChannel(content.Span, Where.TopLevel(offset));
                    break;
                case McapOpcode.Message:
                    OnMessage(content, Where.TopLevel(offset));
                    break;
                case McapOpcode.Chunk:
                    OnChunk(content, offset, total);
                    break;
                case McapOpcode.MessageIndex:
                    OnMessageIndex(content.Span, offset, total);
                    break;
                case McapOpcode.Attachment:
                    OnAttachment(content, offset, total);
                    break;
                case McapOpcode.Metadata:
                    OnMetadata(content.Span, offset, total);
                    break;
                default:
                    ReportUnknownOpcode(opcode, offset, $"at offset {offset}");
                    break;
            }
        }

        private void HandleSummaryRecord(McapOpcode opcode, ReadOnlyMemory<byte> content, long offset, long total)
        {
            if (opcode == McapOpcode.SummaryOffset)
            {
                if (_firstSummaryOffsetRecord < 0) _firstSummaryOffsetRecord = offset;
                _summaryOffsets.Add((offset, McapRecordParser.ParseSummaryOffset(content.Span, offset)));
                return;
            }
            if (_firstSummaryOffsetRecord >= 0)
                Error(offset, $"{Name(opcode)} record at offset {offset} follows the SummaryOffset records; only SummaryOffset records may come after the first one");
            else
                _summaryLayout.Add(new SummaryRecord(opcode, offset, total));

            switch (opcode)
            {
                case McapOpcode.Schema:
                    OnSummarySchema(content, offset);
                    break;
                case McapOpcode.Channel:
                    OnSummaryChannel(content.Span, offset);
                    break;
                case McapOpcode.ChunkIndex:
                    _chunkIndexes.Add((offset, McapRecordParser.ParseChunkIndex(content.Span, offset)));
                    break;
                case McapOpcode.AttachmentIndex:
                    _attachmentIndexes.Add((offset, McapRecordParser.ParseAttachmentIndex(content.Span, offset)));
                    break;
                case McapOpcode.MetadataIndex:
                    _metadataIndexes.Add((offset, McapRecordParser.ParseMetadataIndex(content.Span, offset)));
                    break;
                case McapOpcode.Statistics:
                    var statistics = McapRecordParser.ParseStatistics(content.Span, offset);
                    if (_statistics is not null)
                    {
                        Error(offset, $"Statistics at offset {offset} is a second Statistics record (the first is at offset {_statisticsOffset}); a file holds at most one");
                        break;
                    }
                    _statistics = statistics;
                    _statisticsOffset = offset;
                    _statisticsOrder = _summaryLayout.Count - 1;
                    break;
                case McapOpcode.Header or McapOpcode.Message or McapOpcode.Chunk or McapOpcode.MessageIndex
                    or McapOpcode.Attachment or McapOpcode.Metadata or McapOpcode.DataEnd:
                    Error(offset, $"{Name(opcode)} record at offset {offset} is not allowed in the summary section (after DataEnd)");
                    break;
                default:
                    ReportUnknownOpcode(opcode, offset, $"in the summary at offset {offset}");
                    break;
            }
        }

        private void ReportUnknownOpcode(McapOpcode opcode, long offset, string where)
        {
            if (_unknownOpcodesReported.Add((byte)opcode))
                Warning(offset, $"Unknown opcode 0x{(byte)opcode:X2} {where} was skipped, as readers do (reported once per opcode)");
        }

        // ---------------------------------------------------------------- data section records

        private void OnHeader(ReadOnlySpan<byte> content, long offset)
        {
            if (_sawHeader)
            {
                Error(offset, $"Header record at offset {offset} repeats the Header; a file has exactly one, at offset 8");
                return;
            }
            _sawHeader = true;
            var header = McapRecordParser.ParseHeader(content, offset);
            if (header.Library.Length == 0)
                Warning(offset, "Header.library is empty; writers should identify themselves there");
            if (header.Profile is not ("" or "ros1" or "ros2"))
                Warning(offset, $"Header.profile '{header.Profile}' is not a well-known profile (\"\", \"ros1\", \"ros2\")");
        }

        private void OnSchema(ReadOnlyMemory<byte> content, Where where)
        {
            var schema = McapRecordParser.ParseSchema(content, where.FileOffset);
            if (schema.Id == 0)
            {
                Error(where.FileOffset, $"Schema {where} has id 0, which is reserved (readers ignore it)");
                return;
            }
            if (_schemas.TryGetValue(schema.Id, out var first))
            {
                if (!first.Schema.ContentEquals(schema))
                    Error(where.FileOffset, $"Schema {schema.Id} {where} conflicts with Schema {schema.Id} {first.Where}: {Differences(first.Schema, schema)}");
                else if (_duplicateSchemasReported.Add(schema.Id))
                    Warning(where.FileOffset, $"Schema {schema.Id} {where} repeats the identical Schema {schema.Id} {first.Where} (legal; reported once per id)");
                return;
            }
            CheckSchemaEncoding(schema, where);
            _schemas.Add(schema.Id, new SchemaDefinition(schema with { Data = schema.Data.ToArray() }, where));
        }

        private void CheckSchemaEncoding(Schema schema, Where where)
        {
            if (schema.Encoding.Length != 0) return;
            if (!schema.Data.IsEmpty)
                Error(where.FileOffset, $"Schema {schema.Id} {where} has an empty encoding but {schema.Data.Length} bytes of data; an empty encoding requires empty data");
            else
                Warning(where.FileOffset, $"Schema {schema.Id} {where} has an empty encoding; channels without a schema should use schema_id 0 instead");
        }

        private void OnChannel(ReadOnlySpan<byte> content, Where where)
        {
            var channel = McapRecordParser.ParseChannel(content, where.FileOffset);
            if (channel.SchemaId != 0 && !_schemas.ContainsKey(channel.SchemaId))
                Error(where.FileOffset, $"Channel {channel.Id} {where} refers to schema {channel.SchemaId}, which no earlier Schema record defines");
            if (_channels.TryGetValue(channel.Id, out var first))
            {
                if (!first.Channel.ContentEquals(channel))
                    Error(where.FileOffset, $"Channel {channel.Id} {where} conflicts with Channel {channel.Id} {first.Where}: {Differences(first.Channel, channel)}");
                else if (_duplicateChannelsReported.Add(channel.Id))
                    Warning(where.FileOffset, $"Channel {channel.Id} {where} repeats the identical Channel {channel.Id} {first.Where} (legal; reported once per id)");
                return;
            }
            _channels.Add(channel.Id, new ChannelDefinition(channel, where));
        }

        private void OnMessage(ReadOnlyMemory<byte> content, Where where)
        {
            var message = McapRecordParser.ParseMessage(content, where.FileOffset);
            if (!_channels.ContainsKey(message.ChannelId) && _unknownChannelsReported.Add(message.ChannelId)
                && Allow(Repeated.UnknownChannel, McapDiagnosticSeverity.Error))
                Error(where.FileOffset, $"Message {where} is on channel {message.ChannelId}, which no earlier Channel record defines (reported once per channel)");

            var logTime = message.LogTime;
            if (_hasPreviousMessage && logTime < _previousLogTime)
            {
                var severity = _options.StrictMessageOrder ? McapDiagnosticSeverity.Error : McapDiagnosticSeverity.Warning;
                if (Allow(Repeated.MessageOrder, severity))
                    Report(severity, where.FileOffset, $"Message {where} has log_time {logTime}, below the previous message's log_time {_previousLogTime}");
            }
            _hasPreviousMessage = true;
            _previousLogTime = logTime;

            _messages++;
            if (logTime < _messageStartTime) _messageStartTime = logTime;
            if (logTime > _messageEndTime) _messageEndTime = logTime;
            CollectionsMarshal.GetValueRefOrAddDefault(_messagesPerChannel, message.ChannelId, out _)++;

            if (where.InChunk)
            {
                _chunkMessages.Add(new ChunkMessage(where.ChunkOffset, message.ChannelId, logTime));
                _chunkMessageIndexed.Add(false);
                CollectionsMarshal.GetValueRefOrAddDefault(_chunkChannelCounts, message.ChannelId, out _)++;
            }
            else
            {
                if (_topLevelMessages++ == 0) _firstTopLevelMessage = where.FileOffset;
            }
        }

        private void OnChunk(ReadOnlyMemory<byte> content, long offset, long total)
        {
            var facts = new ChunkFacts(offset, total);
            _chunks.Add(facts);
            _chunksByOffset.TryAdd(offset, facts);
            _indexRun = facts;
            _chunkMessages.Clear();
            _chunkMessageIndexed.Clear();
            _chunkChannelCounts.Clear();
            _chunkChannelIndexed.Clear();
            _chunksNotFullyRead++; // undone below once every record has been walked

            var chunk = McapRecordParser.ParseChunk(content, offset);
            facts.HeaderParsed = true;
            facts.StartTime = chunk.MessageStartTime;
            facts.EndTime = chunk.MessageEndTime;
            facts.Compression = chunk.Compression;
            facts.CompressedSize = (ulong)chunk.Records.Length;
            facts.UncompressedSize = chunk.UncompressedSize;

            if (!TryDecompress(chunk, offset, out var records)) return;

            if (chunk.UncompressedCrc != 0)
            {
                var actual = Crc32.HashToUInt32(records.Span);
                if (actual != chunk.UncompressedCrc)
                    Error(offset, $"Chunk at offset {offset}: uncompressed_crc is {chunk.UncompressedCrc:x8} but its records hash to {actual:x8}");
            }

            if (!WalkChunkRecords(records, offset)) return;
            _chunksNotFullyRead--;
            facts.FullyRead = true;

            var channels = new ushort[_chunkChannelCounts.Count];
            _chunkChannelCounts.Keys.CopyTo(channels, 0);
            Array.Sort(channels);
            facts.ChannelsWithMessages = channels;
            CheckChunkTimes(chunk, offset);
        }

        private bool TryDecompress(Chunk chunk, long offset, out ReadOnlyMemory<byte> records)
        {
            records = default;
            if (chunk.Compression.Length == 0)
            {
                // Uncompressed records can be walked even when the declared size is wrong.
                records = chunk.Records;
                if ((ulong)records.Length != chunk.UncompressedSize)
                    Error(offset, $"Chunk at offset {offset}: uncompressed_size is {chunk.UncompressedSize} but its uncompressed records are {records.Length} bytes");
                return true;
            }
            if (!McapConstants.TryParseCompression(chunk.Compression, out _))
            {
                Error(offset, $"Chunk at offset {offset} uses compression '{chunk.Compression}', which is not a known compression (\"\", \"lz4\", \"zstd\")");
                return false;
            }
            try
            {
                records = McapStreamReader.DecompressChunk(chunk, offset, _codec, _decompressed, _chunkLimits);
                return true;
            }
            catch (McapException e)
            {
                Error(offset, $"Chunk at offset {offset} does not decompress: {e.Reason}");
                return false;
            }
        }

        /// <summary>Checks every record inside a chunk. False when framing inside the chunk is lost.</summary>
        private bool WalkChunkRecords(ReadOnlyMemory<byte> records, long chunkOffset)
        {
            var position = 0;
            while (position < records.Length)
            {
                if (!RecordIterator.TryNext(records, ref position, out var opcode, out var content, out var start))
                {
                    if (Allow(Repeated.RecordInChunk, McapDiagnosticSeverity.Error))
                        Error(chunkOffset, $"Chunk at offset {chunkOffset}: the record at chunk offset {start} runs past the end of the chunk's {records.Length} bytes of records");
                    return false;
                }
                var where = Where.Chunk(chunkOffset, start);
                if (opcode == McapOpcode.Invalid)
                {
                    if (Allow(Repeated.RecordInChunk, McapDiagnosticSeverity.Error))
                        Error(chunkOffset, $"Chunk at offset {chunkOffset}: invalid opcode 0x00 at chunk offset {start}; the rest of the chunk cannot be framed");
                    return false;
                }
                try
                {
                    switch (opcode)
                    {
                        case McapOpcode.Schema:
                            OnSchema(content, where);
                            break;
                        case McapOpcode.Channel:
                            OnChannel(content.Span, where);
                            break;
                        case McapOpcode.Message:
                            OnMessage(content, where);
                            break;
                        default:
                            if (McapConstants.IsKnown(opcode))
                            {
                                if (Allow(Repeated.RecordInChunk, McapDiagnosticSeverity.Error))
                                    Error(chunkOffset, $"{Name(opcode)} record {where} is not allowed in a chunk; chunks hold only Schema, Channel and Message records");
                            }
                            else
                            {
                                // Private and future records may live in chunks; readers skip them.
                                ReportUnknownOpcode(opcode, chunkOffset, where.ToString());
                            }
                            break;
                    }
                }
                catch (McapException e)
                {
                    if (Allow(Repeated.RecordInChunk, McapDiagnosticSeverity.Error))
                        Error(chunkOffset, $"{Name(opcode)} record {where} does not parse: {e.Reason}");
                }
            }
            return true;
        }

        private void CheckChunkTimes(Chunk chunk, long offset)
        {
            if (_chunkMessages.Count == 0)
            {
                if (Allow(Repeated.MessagelessChunk, McapDiagnosticSeverity.Warning))
                    Warning(offset, $"Chunk at offset {offset} holds no messages; such chunks only cost readers (some older readers fail on them)");
                if (chunk.MessageStartTime != 0 || chunk.MessageEndTime != 0)
                    Error(offset, $"Chunk at offset {offset} holds no messages, so message_start_time and message_end_time must be 0, but they are {chunk.MessageStartTime} and {chunk.MessageEndTime}");
                return;
            }
            ulong min = ulong.MaxValue, max = 0;
            foreach (var message in _chunkMessages)
            {
                if (message.LogTime < min) min = message.LogTime;
                if (message.LogTime > max) max = message.LogTime;
            }
            if (chunk.MessageStartTime != min)
                Error(offset, $"Chunk at offset {offset}: message_start_time is {chunk.MessageStartTime} but its earliest message has log_time {min}");
            if (chunk.MessageEndTime != max)
                Error(offset, $"Chunk at offset {offset}: message_end_time is {chunk.MessageEndTime} but its latest message has log_time {max}");
        }

        private void OnMessageIndex(ReadOnlySpan<byte> content, long offset, long total)
        {
            _messageIndexRecords++;
            var chunk = _indexRun;
            if (chunk is null)
            {
                Error(offset, $"MessageIndex at offset {offset} does not directly follow a Chunk (or the MessageIndex records right after one)");
                McapRecordParser.ParseMessageIndex(content, offset);
                return;
            }
            chunk.IndexRecords++;
            chunk.IndexRunLength += (ulong)total;
            var index = McapRecordParser.ParseMessageIndex(content, offset);
            var channel = index.ChannelId;
            if (chunk.IndexOffsets.TryGetValue(channel, out var earlier))
            {
                Error(offset, $"MessageIndex at offset {offset} is a second index for channel {channel} after the Chunk at offset {chunk.Offset} (the first is at offset {earlier})");
                return;
            }
            chunk.IndexOffsets.Add(channel, (ulong)offset);
            if (!chunk.FullyRead) return; // the chunk's messages are unknown, so the entries cannot be checked

            var messagesOnChannel = _chunkChannelCounts.GetValueOrDefault(channel);
            if (index.Records.Count == 0)
            {
                // An empty index for a channel that has messages is caught by the coverage check.
                if (messagesOnChannel == 0 && Allow(Repeated.EmptyMessageIndex, McapDiagnosticSeverity.Warning))
                    Warning(offset, $"MessageIndex at offset {offset} for channel {channel} is empty; writers should not emit empty indexes (they slow readers)");
                return;
            }
            if (messagesOnChannel == 0)
            {
                Error(offset, $"MessageIndex at offset {offset} is for channel {channel}, but the Chunk at offset {chunk.Offset} holds no messages on channel {channel}");
                return;
            }

            for (var i = 0; i < index.Records.Count; i++)
            {
                var entry = index.Records[i];
                var at = FindChunkMessage(entry.Offset);
                string? problem = null;
                if (at < 0)
                    problem = $"points at chunk offset {entry.Offset}, where no Message record starts";
                else if (_chunkMessages[at].ChannelId != channel)
                    problem = $"points at chunk offset {entry.Offset}, a Message on channel {_chunkMessages[at].ChannelId}";
                else if (_chunkMessages[at].LogTime != entry.LogTime)
                    problem = $"gives log_time {entry.LogTime} but the Message at chunk offset {entry.Offset} has log_time {_chunkMessages[at].LogTime}";
                else if (_chunkMessageIndexed[at])
                    problem = $"lists chunk offset {entry.Offset} a second time";
                else
                {
                    _chunkMessageIndexed[at] = true;
                    CollectionsMarshal.GetValueRefOrAddDefault(_chunkChannelIndexed, channel, out _)++;
                }
                if (problem is not null && Allow(Repeated.MessageIndexEntry, McapDiagnosticSeverity.Error))
                    Error(offset, $"MessageIndex at offset {offset} (channel {channel}) entry {i} {problem} in the Chunk at offset {chunk.Offset}");
            }
        }

        /// <summary>Index of the chunk message starting at <paramref name="offset"/>, or -1. Messages are collected in offset order.</summary>
        private int FindChunkMessage(ulong offset)
        {
            int low = 0, high = _chunkMessages.Count - 1;
            while (low <= high)
            {
                var mid = low + ((high - low) >> 1);
                var at = (ulong)_chunkMessages[mid].Offset;
                if (at == offset) return mid;
                if (at < offset) low = mid + 1;
                else high = mid - 1;
            }
            return -1;
        }

        /// <summary>Called when the records after a chunk stop being MessageIndexes: every channel must be covered exactly.</summary>
        private void FinishIndexRun()
        {
            var chunk = _indexRun!;
            _indexRun = null;
            if (!chunk.FullyRead || _chunkMessages.Count == 0) return;
            if (chunk.IndexRecords == 0)
            {
                if (Allow(Repeated.UnindexedChunk, McapDiagnosticSeverity.Warning))
                    Warning(chunk.Offset, $"Chunk at offset {chunk.Offset} has no MessageIndex records after it; readers must scan the whole chunk to find its messages");
                return;
            }
            foreach (var channel in chunk.ChannelsWithMessages)
            {
                var count = _chunkChannelCounts[channel];
                if (!chunk.IndexOffsets.TryGetValue(channel, out var indexOffset))
                {
                    if (Allow(Repeated.MessageIndexCoverage, McapDiagnosticSeverity.Error))
                        Error(chunk.Offset, $"Chunk at offset {chunk.Offset} holds {count} messages on channel {channel} but no MessageIndex for channel {channel} follows it");
                    continue;
                }
                var indexed = _chunkChannelIndexed.GetValueOrDefault(channel);
                if (indexed != count && Allow(Repeated.MessageIndexCoverage, McapDiagnosticSeverity.Error))
                    Error((long)indexOffset, $"MessageIndex at offset {indexOffset} for channel {channel} indexes {indexed} of the {count} messages on channel {channel} in the Chunk at offset {chunk.Offset}");
            }
        }

        private void OnAttachment(ReadOnlyMemory<byte> content, long offset, long total)
        {
            AttachmentFields? fields = null;
            try
            {
                var attachment = McapRecordParser.ParseAttachment(content, offset);
                fields = new AttachmentFields(attachment.LogTime, attachment.CreateTime, attachment.Name, attachment.MediaType,
                    (ulong)attachment.Data.Length);
                if (attachment.Crc != 0)
                {
                    var covered = McapRecordParser.AttachmentCrcCoverage(content.Span, offset);
                    var actual = Crc32.HashToUInt32(content.Span[..covered]);
                    if (actual != attachment.Crc)
                        Error(offset, $"Attachment '{attachment.Name}' at offset {offset}: crc is {attachment.Crc:x8} but its content hashes to {actual:x8}");
                }
            }
            finally
            {
                // Counted and locatable even when it does not parse, so the index checks do not cascade.
                AddAttachment(new AttachmentFacts(offset, total, fields));
            }
        }

        private void AddAttachment(AttachmentFacts facts)
        {
            _attachments.Add(facts);
            _attachmentsByOffset.TryAdd(facts.Offset, facts);
        }

        private void OnMetadata(ReadOnlySpan<byte> content, long offset, long total)
        {
            string? name = null;
            try
            {
                name = McapRecordParser.ParseMetadata(content, offset).Name;
            }
            finally
            {
                AddMetadata(new MetadataFacts(offset, total, name));
            }
        }

        private void AddMetadata(MetadataFacts facts)
        {
            _metadata.Add(facts);
            _metadataByOffset.TryAdd(facts.Offset, facts);
        }

        private void OnDataEnd(ReadOnlySpan<byte> content, long offset)
        {
            var actual = _crc.GetCurrentHashAsUInt32();
            _sawDataEnd = true;
            _inSummary = true;
            _summaryCrcDefined = true;
            _crc.Reset();
            try
            {
                var dataEnd = McapRecordParser.ParseDataEnd(content, offset);
                if (dataEnd.DataSectionCrc != 0 && dataEnd.DataSectionCrc != actual)
                    Error(offset, $"DataEnd at offset {offset}: data_section_crc is {dataEnd.DataSectionCrc:x8} but the data section hashes to {actual:x8}");
            }
            catch (McapException e)
            {
                Error(offset, $"DataEnd record at offset {offset} does not parse: {e.Reason}");
            }
        }

        private void OnFooter(ReadOnlySpan<byte> content, long offset, long total)
        {
            _footerOffset = offset;
            if (content.Length != McapConstants.FooterContentLength)
                Error(offset, $"Footer at offset {offset} has {content.Length} content bytes; a Footer has exactly {McapConstants.FooterContentLength}, so indexed readers will not find it");
            try
            {
                _footer = McapRecordParser.ParseFooter(content, offset);
                if (_summaryCrcDefined && _footer.SummaryCrc != 0)
                {
                    var actual = _crc.GetCurrentHashAsUInt32();
                    if (actual != _footer.SummaryCrc)
                        Error(offset, $"Footer at offset {offset}: summary_crc is {_footer.SummaryCrc:x8} but the summary hashes to {actual:x8}");
                }
            }
            catch (McapException e)
            {
                _footerOffset = -1;
                Error(offset, $"Footer record at offset {offset} does not parse: {e.Reason}");
            }
            CheckTrailingMagic(offset + total);
        }

        private void CheckTrailingMagic(long at)
        {
            var after = _length - at;
            Span<byte> magic = stackalloc byte[McapConstants.MagicLength];
            var available = (int)Math.Min(after, McapConstants.MagicLength);
            _stream.ReadExactly(magic[..available]);
            if (!magic[..available].SequenceEqual(McapConstants.Magic[..available]))
            {
                Error(at, $"The trailing magic at offset {at} is {Convert.ToHexString(magic[..available])}, not 894D434150300D0A");
                return;
            }
            if (available < McapConstants.MagicLength)
            {
                Truncated(at, $"File truncated in the trailing magic at offset {at}: only {available} of its 8 bytes are present");
                return;
            }
            if (after > McapConstants.MagicLength)
                Error(at + McapConstants.MagicLength, $"{after - McapConstants.MagicLength} bytes follow the trailing magic at offset {at}; the file must end there");
        }

        // ---------------------------------------------------------------- summary records

        private void OnSummarySchema(ReadOnlyMemory<byte> content, long offset)
        {
            var schema = McapRecordParser.ParseSchema(content, offset);
            var where = Where.Summary(offset);
            if (schema.Id == 0)
            {
                Error(offset, $"Schema {where} has id 0, which is reserved (readers ignore it)");
                return;
            }
            if (_summarySchemas.TryGetValue(schema.Id, out var earlier))
            {
                if (earlier.Schema.ContentEquals(schema))
                    Warning(offset, $"Schema {schema.Id} appears twice in the summary (at offsets {earlier.Offset} and {offset})");
                else
                    Error(offset, $"Schema {schema.Id} {where} conflicts with Schema {schema.Id} in the summary at offset {earlier.Offset}: {Differences(earlier.Schema, schema)}");
                return;
            }
            _summarySchemas.Add(schema.Id, (schema with { Data = schema.Data.ToArray() }, offset));
            if (!_schemas.TryGetValue(schema.Id, out var data))
            {
                Error(offset, $"Schema {schema.Id} {where} is not defined in the data section; summary Schemas must copy data-section ones");
                CheckSchemaEncoding(schema, where);
            }
            else if (!data.Schema.ContentEquals(schema))
                Error(offset, $"Schema {schema.Id} {where} differs from Schema {schema.Id} {data.Where}: {Differences(data.Schema, schema)}");
        }

        private void OnSummaryChannel(ReadOnlySpan<byte> content, long offset)
        {
            var channel = McapRecordParser.ParseChannel(content, offset);
            var where = Where.Summary(offset);
            if (_summaryChannels.TryGetValue(channel.Id, out var earlier))
            {
                if (earlier.Channel.ContentEquals(channel))
                    Warning(offset, $"Channel {channel.Id} appears twice in the summary (at offsets {earlier.Offset} and {offset})");
                else
                    Error(offset, $"Channel {channel.Id} {where} conflicts with Channel {channel.Id} in the summary at offset {earlier.Offset}: {Differences(earlier.Channel, channel)}");
                return;
            }
            _summaryChannels.Add(channel.Id, new SummaryChannel(channel, offset, _summaryLayout.Count - 1));
            if (!_channels.TryGetValue(channel.Id, out var data))
            {
                Error(offset, $"Channel {channel.Id} {where} is not defined in the data section; summary Channels must copy data-section ones");
                if (channel.SchemaId != 0 && !_schemas.ContainsKey(channel.SchemaId) && !_summarySchemas.ContainsKey(channel.SchemaId))
                    Error(offset, $"Channel {channel.Id} {where} refers to schema {channel.SchemaId}, which the file never defines");
            }
            else if (!data.Channel.ContentEquals(channel))
                Error(offset, $"Channel {channel.Id} {where} differs from Channel {channel.Id} {data.Where}: {Differences(data.Channel, channel)}");
        }

        private static string Differences(Schema first, Schema other)
        {
            var parts = new List<string>(3);
            if (first.Name != other.Name) parts.Add($"name '{other.Name}' instead of '{first.Name}'");
            if (first.Encoding != other.Encoding) parts.Add($"encoding '{other.Encoding}' instead of '{first.Encoding}'");
            if (!first.Data.Span.SequenceEqual(other.Data.Span)) parts.Add($"different data ({other.Data.Length} bytes instead of {first.Data.Length})");
            return string.Join(", ", parts);
        }

        private static string Differences(Channel first, Channel other)
        {
            var parts = new List<string>(4);
            if (first.SchemaId != other.SchemaId) parts.Add($"schema_id {other.SchemaId} instead of {first.SchemaId}");
            if (first.Topic != other.Topic) parts.Add($"topic '{other.Topic}' instead of '{first.Topic}'");
            if (first.MessageEncoding != other.MessageEncoding) parts.Add($"message_encoding '{other.MessageEncoding}' instead of '{first.MessageEncoding}'");
            if (!Channel.MapsEqual(first.Metadata, other.Metadata)) parts.Add("different metadata");
            return string.Join(", ", parts);
        }

        // ---------------------------------------------------------------- post-pass cross-checks

        private void CheckEnd()
        {
            if (_stopped) return; // the reason the file ends early has been reported
            if (!_sawDataEnd && !_missingDataEndReported)
                Error(-1, "The file has no DataEnd record; the data section must end with one");
        }

        private void CheckFooterOffsets()
        {
            if (_footerOffset < 0 || !_sawDataEnd) return;
            var summaryStart = _summaryLayout.Count > 0 ? (ulong)_summaryLayout[0].Offset : 0;
            if (_footer.SummaryStart != summaryStart)
                Error(_footerOffset, summaryStart == 0
                    ? $"Footer.summary_start is {_footer.SummaryStart} but the summary section is empty, so it must be 0"
                    : $"Footer.summary_start is {_footer.SummaryStart} but the summary section starts at offset {summaryStart}");
            var offsetStart = _firstSummaryOffsetRecord >= 0 ? (ulong)_firstSummaryOffsetRecord : 0;
            if (_footer.SummaryOffsetStart != offsetStart)
                Error(_footerOffset, offsetStart == 0
                    ? $"Footer.summary_offset_start is {_footer.SummaryOffsetStart} but there are no SummaryOffset records, so it must be 0"
                    : $"Footer.summary_offset_start is {_footer.SummaryOffsetStart} but the first SummaryOffset record is at offset {offsetStart}");
        }

        /// <summary>Summary grouped by opcode, and each SummaryOffset describing its group exactly.</summary>
        private void CheckSummaryLayout()
        {
            var groups = new Dictionary<McapOpcode, (long Start, long Length)>();
            var groupOrder = new List<McapOpcode>();
            var reported = new HashSet<McapOpcode>();
            for (var i = 0; i < _summaryLayout.Count;)
            {
                var opcode = _summaryLayout[i].Opcode;
                var start = _summaryLayout[i].Offset;
                var length = 0L;
                for (; i < _summaryLayout.Count && _summaryLayout[i].Opcode == opcode; i++) length += _summaryLayout[i].Length;
                if (groups.TryGetValue(opcode, out var first))
                {
                    if (reported.Add(opcode))
                        Error(start, $"The summary is not grouped by opcode: the {Name(opcode)} records at offset {start} are separated from the {Name(opcode)} group at offset {first.Start}");
                    continue;
                }
                groups.Add(opcode, (start, length));
                groupOrder.Add(opcode);
            }

            var described = new Dictionary<McapOpcode, long>();
            foreach (var (offset, summaryOffset) in _summaryOffsets)
            {
                var opcode = summaryOffset.GroupOpcode;
                if (described.TryGetValue(opcode, out var earlier))
                {
                    Error(offset, $"SummaryOffset at offset {offset} describes the {Name(opcode)} group a second time (the first is at offset {earlier})");
                    continue;
                }
                described.Add(opcode, offset);
                if (!groups.TryGetValue(opcode, out var group))
                {
                    Error(offset, $"SummaryOffset at offset {offset} describes a {Name(opcode)} group, but the summary has no {Name(opcode)} records");
                    continue;
                }
                if (summaryOffset.GroupStart != (ulong)group.Start)
                    Error(offset, $"SummaryOffset at offset {offset} for the {Name(opcode)} group: group_start is {summaryOffset.GroupStart} but the group starts at offset {group.Start}");
                if (summaryOffset.GroupLength != (ulong)group.Length)
                    Error(offset, $"SummaryOffset at offset {offset} for the {Name(opcode)} group: group_length is {summaryOffset.GroupLength} but the group is {group.Length} bytes long");
            }
            if (_summaryOffsets.Count == 0) return;
            foreach (var opcode in groupOrder)
                if (!described.ContainsKey(opcode))
                    Warning(groups[opcode].Start, $"The summary's {Name(opcode)} group at offset {groups[opcode].Start} has no SummaryOffset record, though other groups have one");
        }

        private void CheckChunkIndexes()
        {
            var indexedAt = new Dictionary<ulong, long>();
            var channelsReported = new HashSet<ushort>();
            var schemasReported = new HashSet<ushort>();
            foreach (var (offset, index) in _chunkIndexes)
            {
                var chunkOffset = index.ChunkStartOffset;
                if (indexedAt.TryGetValue(chunkOffset, out var earlier))
                {
                    Error(offset, $"ChunkIndex at offset {offset} points at the same chunk (offset {chunkOffset}) as the ChunkIndex at offset {earlier}");
                    continue;
                }
                indexedAt.Add(chunkOffset, offset);
                if (chunkOffset > long.MaxValue || !_chunksByOffset.TryGetValue((long)chunkOffset, out var chunk))
                {
                    Error(offset, $"ChunkIndex at offset {offset} points at offset {chunkOffset}, where no Chunk record starts");
                    continue;
                }
                chunk.HasChunkIndex = true;
                var at = $"ChunkIndex at offset {offset}:";
                var the = $"the Chunk at offset {chunkOffset}";
                if (index.ChunkLength != (ulong)chunk.RecordLength)
                    Error(offset, $"{at} chunk_length is {index.ChunkLength} but {the} is {chunk.RecordLength} bytes long");
                if (chunk.HeaderParsed)
                {
                    if (index.MessageStartTime != chunk.StartTime)
                        Error(offset, $"{at} message_start_time is {index.MessageStartTime} but {the} says {chunk.StartTime}");
                    if (index.MessageEndTime != chunk.EndTime)
                        Error(offset, $"{at} message_end_time is {index.MessageEndTime} but {the} says {chunk.EndTime}");
                    if (index.Compression != chunk.Compression)
                        Error(offset, $"{at} compression is '{index.Compression}' but {the} says '{chunk.Compression}'");
                    if (index.CompressedSize != chunk.CompressedSize)
                        Error(offset, $"{at} compressed_size is {index.CompressedSize} but {the} holds {chunk.CompressedSize} bytes of records");
                    if (index.UncompressedSize != chunk.UncompressedSize)
                        Error(offset, $"{at} uncompressed_size is {index.UncompressedSize} but {the} says {chunk.UncompressedSize}");
                }
                if (!MapsEqual(index.MessageIndexOffsets, chunk.IndexOffsets))
                    Error(offset, $"{at} message_index_offsets is {Format(index.MessageIndexOffsets)} but the MessageIndex records after {the} are at {Format(chunk.IndexOffsets)}");
                if (index.MessageIndexLength != chunk.IndexRunLength)
                    Error(offset, $"{at} message_index_length is {index.MessageIndexLength} but the MessageIndex records after {the} take {chunk.IndexRunLength} bytes");

                // Indexed readers take channels and schemas from the summary only. The spec says MUST, but
                // the conformance suite itself has indexed files without copies, so readers must cope: warn.
                foreach (var channelId in chunk.ChannelsWithMessages)
                {
                    if (!_summaryChannels.ContainsKey(channelId) && channelsReported.Add(channelId))
                        Warning(offset, $"Channel {channelId}, used by {the}, has no copy in the summary; indexed readers need one for every channel of an indexed chunk");
                    if (_channels.TryGetValue(channelId, out var channel) && channel.Channel.SchemaId is var schemaId and not 0
                        && !_summarySchemas.ContainsKey(schemaId) && schemasReported.Add(schemaId))
                        Warning(offset, $"Schema {schemaId}, used by {the}, has no copy in the summary; indexed readers need one for every schema of an indexed chunk");
                }
            }

            if (_chunkIndexes.Count == 0 || _stopped) return;
            foreach (var chunk in _chunks)
                if (!chunk.HasChunkIndex && Allow(Repeated.MissingChunkIndex, McapDiagnosticSeverity.Error))
                    Error(chunk.Offset, $"Chunk at offset {chunk.Offset} has no ChunkIndex in the summary; indexed readers will not see it");
        }

        private void CheckAttachmentIndexes()
        {
            var indexedAt = new Dictionary<ulong, long>();
            foreach (var (offset, index) in _attachmentIndexes)
            {
                if (indexedAt.TryGetValue(index.Offset, out var earlier))
                {
                    Error(offset, $"AttachmentIndex at offset {offset} points at the same attachment (offset {index.Offset}) as the AttachmentIndex at offset {earlier}");
                    continue;
                }
                indexedAt.Add(index.Offset, offset);
                if (index.Offset > long.MaxValue || !_attachmentsByOffset.TryGetValue((long)index.Offset, out var facts))
                {
                    Error(offset, $"AttachmentIndex at offset {offset} points at offset {index.Offset}, where no Attachment record starts");
                    continue;
                }
                facts.Indexed = true;
                var at = $"AttachmentIndex at offset {offset}:";
                var the = $"the Attachment at offset {index.Offset}";
                if (index.Length != (ulong)facts.RecordLength)
                    Error(offset, $"{at} length is {index.Length} but {the} is {facts.RecordLength} bytes long");
                if (facts.Fields is not { } attachment) continue;
                if (index.LogTime != attachment.LogTime)
                    Error(offset, $"{at} log_time is {index.LogTime} but {the} says {attachment.LogTime}");
                if (index.CreateTime != attachment.CreateTime)
                    Error(offset, $"{at} create_time is {index.CreateTime} but {the} says {attachment.CreateTime}");
                if (index.DataSize != attachment.DataSize)
                    Error(offset, $"{at} data_size is {index.DataSize} but {the} holds {attachment.DataSize} bytes of data");
                if (index.Name != attachment.Name)
                    Error(offset, $"{at} name is '{index.Name}' but {the} says '{attachment.Name}'");
                if (index.MediaType != attachment.MediaType)
                    Error(offset, $"{at} media_type is '{index.MediaType}' but {the} says '{attachment.MediaType}'");
            }

            if (_attachmentIndexes.Count == 0 || _stopped) return;
            foreach (var facts in _attachments)
                if (!facts.Indexed)
                    Error(facts.Offset, $"Attachment at offset {facts.Offset} has no AttachmentIndex in the summary, though other attachments have one");
        }

        private void CheckMetadataIndexes()
        {
            var indexedAt = new Dictionary<ulong, long>();
            foreach (var (offset, index) in _metadataIndexes)
            {
                if (indexedAt.TryGetValue(index.Offset, out var earlier))
                {
                    Error(offset, $"MetadataIndex at offset {offset} points at the same metadata (offset {index.Offset}) as the MetadataIndex at offset {earlier}");
                    continue;
                }
                indexedAt.Add(index.Offset, offset);
                if (index.Offset > long.MaxValue || !_metadataByOffset.TryGetValue((long)index.Offset, out var facts))
                {
                    Error(offset, $"MetadataIndex at offset {offset} points at offset {index.Offset}, where no Metadata record starts");
                    continue;
                }
                facts.Indexed = true;
                if (index.Length != (ulong)facts.RecordLength)
                    Error(offset, $"MetadataIndex at offset {offset}: length is {index.Length} but the Metadata at offset {index.Offset} is {facts.RecordLength} bytes long");
                if (facts.Name is not null && index.Name != facts.Name)
                    Error(offset, $"MetadataIndex at offset {offset}: name is '{index.Name}' but the Metadata at offset {index.Offset} says '{facts.Name}'");
            }

            if (_metadataIndexes.Count == 0 || _stopped) return;
            foreach (var facts in _metadata)
                if (!facts.Indexed)
                    Error(facts.Offset, $"Metadata at offset {facts.Offset} has no MetadataIndex in the summary, though other metadata records have one");
        }

        private void CheckStatistics()
        {
            if (_statistics is not { } statistics) return;
            var offset = _statisticsOffset;

            if (statistics.AttachmentCount != (ulong)_attachments.Count)
                Error(offset, $"Statistics.attachment_count is {statistics.AttachmentCount} but the file holds {_attachments.Count} attachments");
            if (statistics.MetadataCount != (ulong)_metadata.Count)
                Error(offset, $"Statistics.metadata_count is {statistics.MetadataCount} but the file holds {_metadata.Count} metadata records");
            if (statistics.ChunkCount != (ulong)_chunks.Count)
                Error(offset, $"Statistics.chunk_count is {statistics.ChunkCount} but the file holds {_chunks.Count} chunks");

            if (_chunksNotFullyRead > 0 || _recordsSkipped)
            {
                // Comparing with what could be read would report a mismatch for every unreadable chunk.
                var reason = _chunksNotFullyRead > 0
                    ? $"{_chunksNotFullyRead} chunks could not be read completely"
                    : "records larger than MaxRecordSize were skipped";
                Warning(offset, $"Statistics message, schema and channel counts were not compared: {reason}");
            }
            else
            {
                if (statistics.MessageCount != _messages)
                    Error(offset, $"Statistics.message_count is {statistics.MessageCount} but the file holds {_messages} messages");
                if (statistics.SchemaCount != _schemas.Count)
                    Error(offset, $"Statistics.schema_count is {statistics.SchemaCount} but the file defines {_schemas.Count} schemas");
                if (statistics.ChannelCount != (ulong)_channels.Count)
                    Error(offset, $"Statistics.channel_count is {statistics.ChannelCount} but the file defines {_channels.Count} channels");
                var (start, end) = _messages > 0 ? (_messageStartTime, _messageEndTime) : (0UL, 0UL);
                if (statistics.MessageStartTime != start)
                    Error(offset, _messages > 0
                        ? $"Statistics.message_start_time is {statistics.MessageStartTime} but the earliest message has log_time {start}"
                        : $"Statistics.message_start_time is {statistics.MessageStartTime} but the file has no messages, so it must be 0");
                if (statistics.MessageEndTime != end)
                    Error(offset, _messages > 0
                        ? $"Statistics.message_end_time is {statistics.MessageEndTime} but the latest message has log_time {end}"
                        : $"Statistics.message_end_time is {statistics.MessageEndTime} but the file has no messages, so it must be 0");
                CheckChannelMessageCounts(statistics, offset);
            }

            if (statistics.ChannelMessageCounts.Count > 0) CheckChannelsPrecedeStatistics(offset);
        }

        private void CheckChannelMessageCounts(Statistics statistics, long offset)
        {
            var counts = statistics.ChannelMessageCounts;
            if (counts.Count == 0) return; // "not available"
            foreach (var channel in SortedKeys(_messagesPerChannel))
            {
                var actual = _messagesPerChannel[channel];
                if (!counts.TryGetValue(channel, out var stated))
                    Error(offset, $"Statistics.channel_message_counts has no entry for channel {channel}, which has {actual} messages");
                else if (stated != actual)
                    Error(offset, $"Statistics.channel_message_counts[{channel}] is {stated} but channel {channel} has {actual} messages");
            }
            foreach (var channel in SortedKeys(counts))
                if (!_messagesPerChannel.ContainsKey(channel) && counts[channel] != 0)
                    Error(offset, $"Statistics.channel_message_counts[{channel}] is {counts[channel]} but channel {channel} has 0 messages");
        }

        private void CheckChannelsPrecedeStatistics(long offset)
        {
            var missing = new List<ushort>();
            foreach (var channel in SortedKeys(_channels))
            {
                if (!_summaryChannels.TryGetValue(channel, out var copy)) missing.Add(channel);
                else if (copy.Order > _statisticsOrder)
                    Error(copy.Offset, $"Channel {channel} in the summary at offset {copy.Offset} comes after the Statistics record at offset {offset}; with channel_message_counts set, every Channel must precede it");
            }
            // A MUST in the spec, but conformance files with Statistics and no channel copies exist: warn.
            if (missing.Count > 0)
                Warning(offset, $"Statistics.channel_message_counts is set but channels {string.Join(", ", missing)} have no copy in the summary; every Channel should precede the Statistics record there");
        }

        private void CheckLooseMessages()
        {
            if (_topLevelMessages == 0 || (_chunkIndexes.Count == 0 && _messageIndexRecords == 0)) return;
            Warning(_firstTopLevelMessage, $"{_topLevelMessages} messages are outside chunks although the file has message or chunk indexes; indexed readers will miss them");
        }

        private static bool MapsEqual(IReadOnlyDictionary<ushort, ulong> a, IReadOnlyDictionary<ushort, ulong> b)
        {
            if (a.Count != b.Count) return false;
            foreach (var (key, value) in a)
                if (!b.TryGetValue(key, out var other) || other != value) return false;
            return true;
        }

        private static string Format(IReadOnlyDictionary<ushort, ulong> map)
        {
            var text = new StringBuilder("{");
            foreach (var key in SortedKeys(map))
            {
                if (text.Length > 1) text.Append(", ");
                text.Append(key).Append(": ").Append(map[key]);
            }
            return text.Append('}').ToString();
        }

        private static ushort[] SortedKeys<T>(IReadOnlyDictionary<ushort, T> map)
        {
            var keys = new ushort[map.Count];
            var i = 0;
            foreach (var key in map.Keys) keys[i++] = key;
            Array.Sort(keys);
            return keys;
        }
    }
}
