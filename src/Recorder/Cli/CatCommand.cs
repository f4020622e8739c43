using System.Globalization;
using System.Text;
using System.Text.Json;
using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>`recorder cat FILE [--topic T]... [--start NS] [--end NS] [--json]`: messages in log-time order.</summary>
public static class CatCommand
{
    public static int Run(Arguments args, TextWriter stdout)
    {
        var path = args.OnePositional("FILE");
        var topics = args.All("--topic");
        var start = args.UInt64("--start") ?? 0;
        var end = args.UInt64("--end") ?? ulong.MaxValue;
        var json = args.Has("--json");
        using var reader = McapIndexedReader.Open(path);
        var line = new MemoryStream();
        foreach (var m in reader.ReadMessages(start, end, topics.Count > 0 ? topics : null))
        {
            if (json) WriteJson(m, line, stdout);
            else WriteText(m, stdout);
        }
        return CommandLine.ExitOk;
    }

    private static bool IsJsonEncoded(McapMessage m) => m.Channel.MessageEncoding == "json";

    private static void WriteText(McapMessage m, TextWriter o)
    {
        var data = m.Message.Data.Span;
        string preview;
        if (IsJsonEncoded(m) && System.Text.Unicode.Utf8.IsValid(data))
            preview = Encoding.UTF8.GetString(data);
        else
            preview = Convert.ToHexString(data[..Math.Min(data.Length, 32)]) + (data.Length > 32 ? "..." : "");
        var schema = m.Schema?.Name ?? "no schema";
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{m.Message.LogTime} {m.Channel.Topic} [{schema}] seq={m.Message.Sequence} {data.Length} B {preview}"));
    }

    private static void WriteJson(McapMessage m, MemoryStream line, TextWriter o)
    {
        line.SetLength(0);
        using (var w = new Utf8JsonWriter(line))
        {
            w.WriteStartObject();
            w.WriteString("topic", m.Channel.Topic);
            w.WriteNumber("channel_id", m.Channel.Id);
            w.WriteNumber("sequence", m.Message.Sequence);
            w.WriteNumber("log_time", m.Message.LogTime);
            w.WriteNumber("publish_time", m.Message.PublishTime);
            w.WriteString("message_encoding", m.Channel.MessageEncoding);
            if (m.Schema is { } schema) w.WriteString("schema", schema.Name);
            var data = m.Message.Data.Span;
            if (IsJsonEncoded(m) && IsJson(data))
            {
                w.WritePropertyName("data");
                w.WriteRawValue(data, skipInputValidation: false);
            }
            else
            {
                w.WriteBase64String("data_base64", data);
            }
            w.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length));
    }

    private static bool IsJson(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        try
        {
            return JsonDocument.TryParseValue(ref reader, out var doc) && doc is not null && reader.BytesConsumed > 0 && Dispose(doc);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool Dispose(JsonDocument doc)
    {
        doc.Dispose();
        return true;
    }
}
