using System.Globalization;
using System.Text.Json.Nodes;

namespace Recorder.Mcap.Tests;

/// <summary>
/// The conformance suite's JSON model of a record: {"type", "fields": [[name, value], ...]} with
/// fields sorted by name, integers as decimal strings, bytes as arrays of decimal strings.
/// </summary>
public static class ConformanceJson
{
    private static string S(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static JsonArray Bytes(ReadOnlySpan<byte> data)
    {
        var array = new JsonArray();
        foreach (var b in data) array.Add(S(b));
        return array;
    }

    private static JsonObject StringMap(IReadOnlyDictionary<string, string> map)
    {
        var o = new JsonObject();
        foreach (var (k, v) in map) o[k] = v;
        return o;
    }

    private static JsonObject NumberMap(IReadOnlyDictionary<ushort, ulong> map)
    {
        var o = new JsonObject();
        foreach (var (k, v) in map.OrderBy(p => p.Key)) o[S(k)] = S(v);
        return o;
    }

    private static JsonObject Record(string type, params (string Name, JsonNode? Value)[] fields)
    {
        var array = new JsonArray();
        foreach (var (name, value) in fields.OrderBy(f => f.Name, StringComparer.Ordinal))
            array.Add(new JsonArray(name, value));
        return new JsonObject { ["type"] = type, ["fields"] = array };
    }

    public static JsonObject Of(Schema s) => Record("Schema", ("data", Bytes(s.Data.Span)), ("encoding", s.Encoding), ("id", S(s.Id)), ("name", s.Name));

    public static JsonObject Of(Channel c) => Record("Channel", ("id", S(c.Id)), ("message_encoding", c.MessageEncoding),
        ("metadata", StringMap(c.Metadata)), ("schema_id", S(c.SchemaId)), ("topic", c.Topic));

    public static JsonObject Of(Message m) => Record("Message", ("channel_id", S(m.ChannelId)), ("data", Bytes(m.Data.Span)),
        ("log_time", S(m.LogTime)), ("publish_time", S(m.PublishTime)), ("sequence", S(m.Sequence)));

    public static JsonObject Of(Statistics s) => Record("Statistics", ("attachment_count", S(s.AttachmentCount)), ("channel_count", S(s.ChannelCount)),
        ("channel_message_counts", NumberMap(s.ChannelMessageCounts)), ("chunk_count", S(s.ChunkCount)), ("message_count", S(s.MessageCount)),
        ("message_end_time", S(s.MessageEndTime)), ("message_start_time", S(s.MessageStartTime)), ("metadata_count", S(s.MetadataCount)),
        ("schema_count", S(s.SchemaCount)));

    /// <summary>The streamed-reader view of one record, or null for records the suite omits (MessageIndex, Chunk).</summary>
    public static JsonObject? Of(McapRecord r) => r.Opcode switch
    {
        McapOpcode.Header => r.ToHeader() is var h ? Record("Header", ("library", h.Library), ("profile", h.Profile)) : null,
        McapOpcode.Footer => r.ToFooter() is var f ? Record("Footer", ("summary_crc", S(f.SummaryCrc)), ("summary_offset_start", S(f.SummaryOffsetStart)),
            ("summary_start", S(f.SummaryStart))) : null,
        McapOpcode.Schema => Of(r.ToSchema()),
        McapOpcode.Channel => Of(r.ToChannel()),
        McapOpcode.Message => Of(r.ToMessage()),
        McapOpcode.ChunkIndex => r.ToChunkIndex() is var ci ? Record("ChunkIndex", ("chunk_length", S(ci.ChunkLength)), ("chunk_start_offset", S(ci.ChunkStartOffset)),
            ("compressed_size", S(ci.CompressedSize)), ("compression", ci.Compression), ("message_end_time", S(ci.MessageEndTime)),
            ("message_index_length", S(ci.MessageIndexLength)), ("message_index_offsets", NumberMap(ci.MessageIndexOffsets)),
            ("message_start_time", S(ci.MessageStartTime)), ("uncompressed_size", S(ci.UncompressedSize))) : null,
        McapOpcode.Attachment => r.ToAttachment() is var a ? Record("Attachment", ("create_time", S(a.CreateTime)), ("data", Bytes(a.Data.Span)),
            ("log_time", S(a.LogTime)), ("media_type", a.MediaType), ("name", a.Name)) : null,
        McapOpcode.AttachmentIndex => r.ToAttachmentIndex() is var ai ? Record("AttachmentIndex", ("create_time", S(ai.CreateTime)), ("data_size", S(ai.DataSize)),
            ("length", S(ai.Length)), ("log_time", S(ai.LogTime)), ("media_type", ai.MediaType), ("name", ai.Name), ("offset", S(ai.Offset))) : null,
        McapOpcode.Statistics => Of(r.ToStatistics()),
        McapOpcode.Metadata => r.ToMetadata() is var md ? Record("Metadata", ("metadata", StringMap(md.Values)), ("name", md.Name)) : null,
        McapOpcode.MetadataIndex => r.ToMetadataIndex() is var mi ? Record("MetadataIndex", ("length", S(mi.Length)), ("name", mi.Name), ("offset", S(mi.Offset))) : null,
        McapOpcode.SummaryOffset => r.ToSummaryOffset() is var so ? Record("SummaryOffset", ("group_length", S(so.GroupLength)),
            ("group_opcode", S((byte)so.GroupOpcode)), ("group_start", S(so.GroupStart))) : null,
        McapOpcode.DataEnd => Record("DataEnd", ("data_section_crc", S(r.ToDataEnd().DataSectionCrc))),
        _ => null,
    };

    // Readers of the expected JSON.
    public static string Str(JsonNode? n) => n!.GetValue<string>();
    public static ulong U64(JsonNode? n) => ulong.Parse(Str(n), CultureInfo.InvariantCulture);
    public static byte[] ByteArray(JsonNode? n) => n!.AsArray().Select(b => byte.Parse(Str(b), CultureInfo.InvariantCulture)).ToArray();
    public static Dictionary<string, string> StrMap(JsonNode? n) => n!.AsObject().ToDictionary(p => p.Key, p => Str(p.Value));

    public static Dictionary<string, JsonNode?> Fields(JsonNode record) =>
        record["fields"]!.AsArray().ToDictionary(f => Str(f![0]), f => f![1]);
}
