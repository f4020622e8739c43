using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Recorder.Cli;

/// <summary>`recorder info FILE [--json]`: what `mcap info` shows, from the summary when there is one.</summary>
public static class InfoCommand
{
    public static int Run(Arguments args, TextWriter stdout)
    {
        var path = args.OnePositional("FILE");
        var summary = FileSummary.Load(path);
        if (args.Has("--json")) WriteJson(summary, stdout);
        else WriteText(summary, stdout);
        return summary.ScanStoppedBy is null ? CommandLine.ExitOk : CommandLine.ExitError;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    public static string Bytes(ulong n) => n switch
    {
        >= 1UL << 30 => Inv($"{n / (double)(1UL << 30):0.00} GiB"),
        >= 1UL << 20 => Inv($"{n / (double)(1UL << 20):0.00} MiB"),
        >= 1UL << 10 => Inv($"{n / 1024.0:0.00} KiB"),
        _ => Inv($"{n} B"),
    };

    public static string Time(ulong ns) =>
        DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)(ns / 100)).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffff", CultureInfo.InvariantCulture)
        + "Z" + Inv($" ({ns})");

    private static double Rate(FileSummary s, ulong count) => s.DurationSeconds > 0 ? count / s.DurationSeconds : 0;

    private static void WriteText(FileSummary s, TextWriter o)
    {
        o.WriteLine($"file:        {s.Path} ({Bytes((ulong)s.FileSize)})");
        o.WriteLine($"library:     {s.Header.Library}");
        o.WriteLine($"profile:     {s.Header.Profile}");
        o.WriteLine($"index:       {(s.Indexed ? "summary" : "none; scanned linearly")}");
        if (s.ScanStoppedBy is not null) o.WriteLine($"damaged:     {s.ScanStoppedBy} (run `recorder recover`)");
        o.WriteLine(Inv($"messages:    {s.MessageCount}"));
        o.WriteLine(Inv($"duration:    {s.DurationSeconds:0.000000000}s"));
        if (s.MessageCount > 0)
        {
            o.WriteLine($"start:       {Time(s.StartTime)}");
            o.WriteLine($"end:         {Time(s.EndTime)}");
        }
        o.WriteLine(Inv($"chunks:      {s.ChunkCount}"));
        if (s.Compression.Count > 0)
        {
            o.WriteLine("compression:");
            foreach (var (name, c) in s.Compression)
            {
                var ratio = c.CompressedBytes == 0 ? 0 : c.UncompressedBytes / (double)c.CompressedBytes;
                o.WriteLine(Inv($"    {name}: [{c.Chunks}/{s.ChunkCount} chunks] [{Bytes(c.UncompressedBytes)}/{Bytes(c.CompressedBytes)} ratio {ratio:0.00}]"));
            }
        }
        o.WriteLine("channels:");
        var width = 0;
        foreach (var ch in s.Channels.Values) width = Math.Max(width, ch.Topic.Length);
        foreach (var ch in s.Channels.Values)
        {
            var count = s.ChannelMessageCounts.GetValueOrDefault(ch.Id);
            var schema = ch.SchemaId == 0 ? "(no schema)" : s.Schemas.TryGetValue(ch.SchemaId, out var sc) ? $"{sc.Name} [{sc.Encoding}]" : $"(unknown schema {ch.SchemaId})";
            o.WriteLine(Inv($"    ({ch.Id}) {ch.Topic.PadRight(width)}  {count,9} msgs ({Rate(s, count):0.00} Hz)  : {schema} [{ch.MessageEncoding}]"));
        }
        o.WriteLine(Inv($"attachments: {s.AttachmentNames.Count}{(s.AttachmentNames.Count > 0 ? " (" + string.Join(", ", s.AttachmentNames) + ")" : "")}"));
        o.WriteLine(Inv($"metadata:    {s.MetadataNames.Count}{(s.MetadataNames.Count > 0 ? " (" + string.Join(", ", s.MetadataNames) + ")" : "")}"));
    }

    private static void WriteJson(FileSummary s, TextWriter o)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("file", s.Path);
            w.WriteNumber("file_size", s.FileSize);
            w.WriteString("library", s.Header.Library);
            w.WriteString("profile", s.Header.Profile);
            w.WriteBoolean("indexed", s.Indexed);
            if (s.ScanStoppedBy is not null) w.WriteString("damaged", s.ScanStoppedBy);
            w.WriteNumber("message_count", s.MessageCount);
            w.WriteNumber("start_time", s.StartTime);
            w.WriteNumber("end_time", s.EndTime);
            w.WriteNumber("duration_seconds", s.DurationSeconds);
            w.WriteNumber("chunk_count", s.ChunkCount);
            w.WriteStartObject("compression");
            foreach (var (name, c) in s.Compression)
            {
                w.WriteStartObject(name);
                w.WriteNumber("chunks", c.Chunks);
                w.WriteNumber("compressed_bytes", c.CompressedBytes);
                w.WriteNumber("uncompressed_bytes", c.UncompressedBytes);
                w.WriteNumber("ratio", c.CompressedBytes == 0 ? 0 : Math.Round(c.UncompressedBytes / (double)c.CompressedBytes, 4));
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartArray("channels");
            foreach (var ch in s.Channels.Values)
            {
                var count = s.ChannelMessageCounts.GetValueOrDefault(ch.Id);
                w.WriteStartObject();
                w.WriteNumber("id", ch.Id);
                w.WriteString("topic", ch.Topic);
                w.WriteString("message_encoding", ch.MessageEncoding);
                w.WriteNumber("schema_id", ch.SchemaId);
                if (s.Schemas.TryGetValue(ch.SchemaId, out var schema))
                {
                    w.WriteString("schema_name", schema.Name);
                    w.WriteString("schema_encoding", schema.Encoding);
                }
                w.WriteNumber("message_count", count);
                w.WriteNumber("rate_hz", Math.Round(Rate(s, count), 3));
                w.WriteStartObject("metadata");
                foreach (var (k, v) in ch.Metadata) w.WriteString(k, v);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("attachments");
            foreach (var name in s.AttachmentNames) w.WriteStringValue(name);
            w.WriteEndArray();
            w.WriteStartArray("metadata");
            foreach (var name in s.MetadataNames) w.WriteStringValue(name);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
