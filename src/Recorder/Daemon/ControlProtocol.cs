using System.Text;
using System.Text.Json;

namespace Recorder.Daemon;

/// <summary>Framing and envelopes of the control protocol (proto/control.md), shared by server and client.</summary>
public static class ControlProtocol
{
    public const int Version = 1;
    public const int MaxLineLength = 64 * 1024;

    public static byte[] Request(string command, params (string Key, string Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            w.WriteString("cmd", command);
            foreach (var (k, v) in fields) w.WriteString(k, v);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static byte[] Ok(Action<Utf8JsonWriter> writeResult)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            w.WriteBoolean("ok", true);
            w.WritePropertyName("result");
            writeResult(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static byte[] Error(string message)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            w.WriteBoolean("ok", false);
            w.WriteString("error", message);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static string Text(byte[] line) => Encoding.UTF8.GetString(line).TrimEnd('\n');
}
