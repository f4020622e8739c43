using System.Globalization;
using System.Text.Json.Nodes;

namespace Recorder.Mcap.Tests;

/// <summary>Files we write are read by @mcap/core (what Foxglove uses), and files it writes are read by us.</summary>
public class InteropTests
{
    private static string S(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(McapCompression.None)]
    [InlineData(McapCompression.Lz4)]
    [InlineData(McapCompression.Zstd)]
    public void Mcap_core_reads_back_everything_we_wrote(McapCompression compression)
    {
        var file = SampleFiles.Write(new McapWriterOptions { Compression = compression, ChunkSize = 16 * 1024, ForceCompression = true },
            channels: 4, messagesPerChannel: 250, payloadSize: 200, monotonic: false, seed: 11);
        var path = Path.Combine(Path.GetTempPath(), $"interop-{compression}-{Guid.NewGuid():N}.mcap");
        File.WriteAllBytes(path, file.Bytes);
        try
        {
            var dump = NodeInterop.Dump(path);

            var schemas = dump["schemas"]!.AsArray();
            Assert.Equal(file.Schemas.Count, schemas.Count);
            foreach (var (expected, actual) in file.Schemas.Zip(schemas))
            {
                Assert.Equal(expected.Id, (ushort)actual!["id"]!.GetValue<int>());
                Assert.Equal(expected.Name, actual["name"]!.GetValue<string>());
                Assert.Equal(expected.Encoding, actual["encoding"]!.GetValue<string>());
                Assert.Equal(Convert.ToBase64String(expected.Data.Span), actual["data"]!.GetValue<string>());
            }

            var channels = dump["channels"]!.AsArray();
            Assert.Equal(file.Channels.Count, channels.Count);
            foreach (var (expected, actual) in file.Channels.Zip(channels))
            {
                Assert.Equal(expected.Id, (ushort)actual!["id"]!.GetValue<int>());
                Assert.Equal(expected.SchemaId, (ushort)actual["schemaId"]!.GetValue<int>());
                Assert.Equal(expected.Topic, actual["topic"]!.GetValue<string>());
                Assert.Equal(expected.MessageEncoding, actual["messageEncoding"]!.GetValue<string>());
                Assert.Equal(expected.Metadata["frame_id"], actual["metadata"]!["frame_id"]!.GetValue<string>());
            }

            // @mcap/core returns messages in log-time order; ties keep file order.
            var expectedMessages = file.Messages.Select((m, i) => (m, i)).OrderBy(p => p.m.LogTime).ThenBy(p => p.i).Select(p => p.m).ToList();
            var messages = dump["messages"]!.AsArray();
            Assert.Equal(expectedMessages.Count, messages.Count);
            for (var i = 0; i < messages.Count; i++)
            {
                var actual = messages[i]!;
                Assert.Equal(S(expectedMessages[i].LogTime), actual["logTime"]!.GetValue<string>());
                Assert.Equal(S(expectedMessages[i].LogTime - 5), actual["publishTime"]!.GetValue<string>());
                Assert.Equal(expectedMessages[i].Channel, (ushort)actual["channelId"]!.GetValue<int>());
                Assert.Equal(expectedMessages[i].Sequence, (uint)actual["sequence"]!.GetValue<long>());
                Assert.Equal(Convert.ToBase64String(expectedMessages[i].Data), actual["data"]!.GetValue<string>());
            }

            var metadata = Assert.Single(dump["metadata"]!.AsArray())!;
            Assert.Equal("device", metadata["name"]!.GetValue<string>());
            Assert.Equal("veh-042", metadata["metadata"]!["device_id"]!.GetValue<string>());
            Assert.Equal("ana", metadata["metadata"]!["operator"]!.GetValue<string>());

            var attachment = Assert.Single(dump["attachments"]!.AsArray())!;
            Assert.Equal(file.Attachments[0].Name, attachment["name"]!.GetValue<string>());
            Assert.Equal(file.Attachments[0].MediaType, attachment["mediaType"]!.GetValue<string>());
            Assert.Equal(Convert.ToBase64String(file.Attachments[0].Data.Span), attachment["data"]!.GetValue<string>());

            var stats = dump["statistics"]!;
            Assert.Equal(S((ulong)file.Messages.Count), stats["messageCount"]!.GetValue<string>());
            Assert.Equal(dump["chunkIndexCount"]!.GetValue<int>(), stats["chunkCount"]!.GetValue<int>());
            Assert.True(stats["chunkCount"]!.GetValue<int>() > 5);

            // The streaming reader validates every CRC and sees the same message count.
            Assert.Equal(file.Messages.Count, dump["streamed"]!["messageCount"]!.GetValue<int>());
            Assert.True(dump["streamed"]!["done"]!.GetValue<bool>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("none")]
    [InlineData("zstd")]
    public void We_read_what_mcap_core_writes(string compression)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mcap-core-{compression}-{Guid.NewGuid():N}.mcap");
        try
        {
            NodeInterop.WriteSample(path, compression);
            var dump = NodeInterop.Dump(path);

            using var reader = McapIndexedReader.Open(path);
            Assert.Equal(dump["header"]!["library"]!.GetValue<string>(), reader.Header.Library);
            var ours = reader.ReadMessages().ToList();
            var theirs = dump["messages"]!.AsArray();
            Assert.Equal(1000, ours.Count);
            Assert.Equal(theirs.Count, ours.Count);
            for (var i = 0; i < ours.Count; i++)
            {
                Assert.Equal(theirs[i]!["logTime"]!.GetValue<string>(), S(ours[i].Message.LogTime));
                Assert.Equal(theirs[i]!["channelId"]!.GetValue<int>(), ours[i].Message.ChannelId);
                Assert.Equal(theirs[i]!["data"]!.GetValue<string>(), Convert.ToBase64String(ours[i].Message.Data.Span));
            }
            Assert.Equal(dump["channels"]!.AsArray().Count, reader.Channels.Count);
            Assert.Equal(dump["schemas"]!.AsArray().Count, reader.Schemas.Count);
            Assert.Equal(dump["chunkIndexCount"]!.GetValue<int>(), reader.ChunkIndexes.Count);
            Assert.Equal("calibration.yaml", reader.ReadAttachment(Assert.Single(reader.AttachmentIndexes)).Name);

            using var stream = File.OpenRead(path);
            var streamed = McapStreamReader.ReadRecords(stream).Count(r => r.Opcode == McapOpcode.Message);
            Assert.Equal(1000, streamed);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
