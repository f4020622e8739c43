using System.Text;

namespace Recorder.Mcap.Tests;

/// <summary>Deterministic MCAP files for round-trip, truncation and corruption tests.</summary>
public static class SampleFiles
{
    public sealed record Written(byte[] Bytes, List<(ushort Channel, uint Sequence, ulong LogTime, byte[] Data)> Messages,
        List<Schema> Schemas, List<Channel> Channels, List<Attachment> Attachments, List<Metadata> Metadata);

    /// <summary>Messages whose payload says what they are, so a reader's output can be checked exactly.</summary>
    public static byte[] Payload(int channel, int index, int size, Random random)
    {
        var data = new byte[size];
        // Half structured (compresses), half noise (does not): like a real sensor mix.
        for (var i = 0; i < size; i++) data[i] = (byte)(i % 7 == 0 ? random.Next(256) : (channel * 31 + i / 16) & 0xFF);
        var tag = Encoding.ASCII.GetBytes($"c{channel}m{index}");
        tag.AsSpan(0, Math.Min(tag.Length, size)).CopyTo(data);
        return data;
    }

    public static Written Write(McapWriterOptions options, int channels = 4, int messagesPerChannel = 200, int payloadSize = 300,
        int seed = 1, bool attachments = true, bool monotonic = true)
    {
        var random = new Random(seed);
        var stream = new MemoryStream();
        var messages = new List<(ushort, uint, ulong, byte[])>();
        var schemas = new List<Schema>();
        var channelList = new List<Channel>();
        var attachmentList = new List<Attachment>();
        var metadataList = new List<Metadata>();
        using (var writer = new McapWriter(stream, options, leaveOpen: true))
        {
            var metadata = new Metadata("device", new Dictionary<string, string> { ["device_id"] = "veh-042", ["operator"] = "ana" });
            writer.WriteMetadata(metadata);
            metadataList.Add(metadata);
            for (var c = 0; c < channels; c++)
            {
                var schemaId = writer.AddSchema($"pkg.Type{c}", "jsonschema", Encoding.UTF8.GetBytes($"{{\"title\":\"T{c}\"}}"));
                schemas.Add(new Schema(schemaId, $"pkg.Type{c}", "jsonschema", Encoding.UTF8.GetBytes($"{{\"title\":\"T{c}\"}}")));
                var md = new Dictionary<string, string> { ["frame_id"] = $"link{c}" };
                var channelId = writer.AddChannel($"/sensor/{c}", "json", schemaId, md);
                channelList.Add(new Channel(channelId, schemaId, $"/sensor/{c}", "json", md));
            }
            var total = channels * messagesPerChannel;
            for (var i = 0; i < total; i++)
            {
                var c = i % channels;
                var logTime = monotonic ? 1_000_000_000UL + (ulong)i * 1_000_000 : 1_000_000_000UL + (ulong)random.Next(0, total) * 1_000_000;
                var data = Payload(c, i / channels, payloadSize, random);
                writer.WriteMessage(channelList[c].Id, (uint)(i / channels), logTime, logTime - 5, data);
                messages.Add((channelList[c].Id, (uint)(i / channels), logTime, data));
                if (attachments && i == total / 2)
                {
                    var a = new Attachment(logTime, logTime, "calibration.yaml", "application/yaml", Encoding.UTF8.GetBytes("fx: 600\nfy: 600\n"));
                    writer.WriteAttachment(a);
                    attachmentList.Add(a);
                }
            }
            writer.Finish();
        }
        return new Written(stream.ToArray(), messages, schemas, channelList, attachmentList, metadataList);
    }

    /// <summary>Messages as a reader returns them, for comparison.</summary>
    public static List<(ushort, uint, ulong, byte[])> ReadAllStreamed(byte[] bytes, McapReaderOptions? options = null)
    {
        var list = new List<(ushort, uint, ulong, byte[])>();
        foreach (var r in McapStreamReader.ReadRecords(new MemoryStream(bytes), options))
        {
            if (r.Opcode != McapOpcode.Message) continue;
            var m = r.ToMessage();
            list.Add((m.ChannelId, m.Sequence, m.LogTime, m.Data.ToArray()));
        }
        return list;
    }
}
