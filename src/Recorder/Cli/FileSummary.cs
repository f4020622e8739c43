using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>What `info` reports about a file: from its summary when it has one, else from a linear scan.</summary>
public sealed class FileSummary
{
    public required string Path { get; init; }
    public long FileSize { get; init; }
    public Header Header { get; set; } = new("", "");
    public bool Indexed { get; set; }
    /// <summary>Set when the linear scan stopped at damage: the file needs `recorder recover`.</summary>
    public string? ScanStoppedBy { get; set; }
    public ulong MessageCount { get; set; }
    public ulong StartTime { get; set; }
    public ulong EndTime { get; set; }
    public SortedDictionary<ushort, Channel> Channels { get; } = new();
    public Dictionary<ushort, Schema> Schemas { get; } = new();
    public Dictionary<ushort, ulong> ChannelMessageCounts { get; } = new();
    public SortedDictionary<string, CompressionTotals> Compression { get; } = new(StringComparer.Ordinal);
    public List<string> AttachmentNames { get; } = new();
    public List<string> MetadataNames { get; } = new();

    public int ChunkCount
    {
        get
        {
            var n = 0;
            foreach (var c in Compression.Values) n += c.Chunks;
            return n;
        }
    }

    public double DurationSeconds => MessageCount == 0 ? 0 : (EndTime - StartTime) / 1e9;

    public sealed class CompressionTotals
    {
        public int Chunks { get; set; }
        public ulong CompressedBytes { get; set; }
        public ulong UncompressedBytes { get; set; }
    }

    public static FileSummary Load(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var summary = new FileSummary { Path = path, FileSize = stream.Length };
        if (!summary.TryFromIndex(stream)) summary.FromScan(stream);
        return summary;
    }

    private bool TryFromIndex(Stream stream)
    {
        McapIndexedReader reader;
        try
        {
            reader = new McapIndexedReader(stream, leaveOpen: true);
        }
        catch (McapException)
        {
            return false;
        }
        using (reader)
        {
            // Counts per channel need Statistics; without them the summary is not enough.
            if (reader.Statistics is not { } stats || (stats.MessageCount > 0 && stats.ChannelMessageCounts.Count == 0)
                || (stats.ChunkCount > 0 && reader.ChunkIndexes.Count == 0))
                return false;
            Header = reader.Header;
            Indexed = true;
            MessageCount = stats.MessageCount;
            StartTime = stats.MessageStartTime;
            EndTime = stats.MessageEndTime;
            foreach (var (id, channel) in reader.Channels) Channels[id] = channel;
            foreach (var (id, schema) in reader.Schemas) Schemas[id] = schema;
            foreach (var (id, count) in stats.ChannelMessageCounts) ChannelMessageCounts[id] = count;
            foreach (var chunk in reader.ChunkIndexes) AddChunk(chunk.Compression, chunk.CompressedSize, chunk.UncompressedSize);
            foreach (var a in reader.AttachmentIndexes) AttachmentNames.Add(a.Name);
            foreach (var m in reader.MetadataIndexes) MetadataNames.Add(m.Name);
            return true;
        }
    }

    private void FromScan(Stream stream)
    {
        stream.Position = 0;
        Indexed = false;
        var start = ulong.MaxValue;
        ulong end = 0;
        try
        {
            foreach (var record in McapStreamReader.ReadRecords(stream, new McapReaderOptions { EmitChunks = true }))
            {
                switch (record.Opcode)
                {
                    case McapOpcode.Header: Header = record.ToHeader(); break;
                    case McapOpcode.Schema:
                        var schema = record.ToSchema();
                        Schemas.TryAdd(schema.Id, schema with { Data = schema.Data.ToArray() });
                        break;
                    case McapOpcode.Channel:
                        var channel = record.ToChannel();
                        Channels.TryAdd(channel.Id, channel);
                        break;
                    case McapOpcode.Message:
                        var message = record.ToMessage();
                        MessageCount++;
                        ChannelMessageCounts[message.ChannelId] = ChannelMessageCounts.GetValueOrDefault(message.ChannelId) + 1;
                        if (message.LogTime < start) start = message.LogTime;
                        if (message.LogTime > end) end = message.LogTime;
                        break;
                    case McapOpcode.Chunk:
                        var chunk = record.ToChunk();
                        AddChunk(chunk.Compression, (ulong)chunk.Records.Length, chunk.UncompressedSize);
                        break;
                    case McapOpcode.Attachment: AttachmentNames.Add(record.ToAttachment().Name); break;
                    case McapOpcode.Metadata: MetadataNames.Add(record.ToMetadata().Name); break;
                }
                if (record.Opcode == McapOpcode.DataEnd) break;
            }
        }
        catch (McapException e)
        {
            ScanStoppedBy = e.Message;
        }
        StartTime = MessageCount > 0 ? start : 0;
        EndTime = end;
    }

    private void AddChunk(string compression, ulong compressed, ulong uncompressed)
    {
        var name = compression.Length == 0 ? "none" : compression;
        if (!Compression.TryGetValue(name, out var totals)) Compression[name] = totals = new CompressionTotals();
        totals.Chunks++;
        totals.CompressedBytes += compressed;
        totals.UncompressedBytes += uncompressed;
    }
}
