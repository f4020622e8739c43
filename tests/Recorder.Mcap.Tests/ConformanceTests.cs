using System.Text.Json.Nodes;

namespace Recorder.Mcap.Tests;

/// <summary>The official MCAP conformance suite, read in place from ../shared/mcap-conformance.</summary>
public class ConformanceTests
{
    public static IEnumerable<object[]> AllFiles() =>
        Directory.EnumerateFiles(Path.Combine(RepoPaths.Conformance, "data"), "*.mcap", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(f => new object[] { Path.GetRelativePath(Path.Combine(RepoPaths.Conformance, "data"), f) });

    public static IEnumerable<object[]> WriterFiles() => AllFiles().Where(f => !Features((string)f[0]).Contains("pad"));

    public static IEnumerable<object[]> IndexedFiles() => AllFiles().Where(f =>
    {
        var name = (string)f[0];
        var features = Features(name);
        var input = name.Split('/')[0];
        if (input is not ("OneMessage" or "TenMessages" or "OneSchemalessMessage")) return false;
        string[] required = input == "OneSchemalessMessage" ? ["ch", "chx", "rch"] : ["ch", "chx", "rch", "rsh"];
        return required.All(features.Contains);
    });

    private static string Path_(string relative) => Path.Combine(RepoPaths.Conformance, "data", relative);

    private static JsonNode Expected(string relative) =>
        JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(Path_(relative), ".json")))!;

    private static HashSet<string> Features(string relative) =>
        Expected(relative)["meta"]!["variant"]!["features"]!.AsArray().Select(ConformanceJson.Str).ToHashSet();

    [Fact]
    public void Suite_is_present_with_all_416_files()
    {
        Assert.Equal(416, AllFiles().Count());
        Assert.Equal(208, WriterFiles().Count());
        Assert.Equal(48, IndexedFiles().Count());
    }

    [Theory]
    [MemberData(nameof(AllFiles))]
    public void Streamed_reader_yields_exactly_the_expected_records(string file)
    {
        var actual = new JsonArray();
        using (var stream = File.OpenRead(Path_(file)))
        {
            foreach (var record in McapStreamReader.ReadRecords(stream))
                if (ConformanceJson.Of(record) is { } json) actual.Add(json);
        }
        var expected = Expected(file)["records"]!;
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected\n{expected.ToJsonString()}\nactual\n{actual.ToJsonString()}");
    }

    [Theory]
    [MemberData(nameof(AllFiles))]
    public void Streamed_reader_gives_the_same_records_when_fed_one_byte_at_a_time(string file)
    {
        var bytes = File.ReadAllBytes(Path_(file));
        var expected = new JsonArray();
        foreach (var record in McapStreamReader.ReadRecords(new MemoryStream(bytes)))
            if (ConformanceJson.Of(record) is { } json) expected.Add(json);

        var actual = new JsonArray();
        using var reader = new McapStreamReader();
        var available = 0;
        var consumed = 0;
        while (true)
        {
            var buffer = new System.Buffers.ReadOnlySequence<byte>(bytes, consumed, available - consumed);
            var status = reader.Read(ref buffer, available == bytes.Length, out var record);
            consumed = available - (int)buffer.Length;
            if (status == McapReadStatus.End) break;
            if (status == McapReadStatus.NeedMoreData)
            {
                Assert.True(available < bytes.Length, "reader asked for more after the final byte");
                available++;
                continue;
            }
            if (ConformanceJson.Of(record) is { } json) actual.Add(json);
        }
        Assert.True(reader.ReachedFooter);
        Assert.True(JsonNode.DeepEquals(expected, actual));
    }

    [Theory]
    [MemberData(nameof(IndexedFiles))]
    public void Indexed_reader_yields_expected_schemas_channels_messages_and_statistics(string file)
    {
        var records = Expected(file)["records"]!.AsArray();
        JsonArray FirstById(string type) => new(records.Where(r => ConformanceJson.Str(r!["type"]) == type)
            .GroupBy(r => ConformanceJson.U64(ConformanceJson.Fields(r!)["id"])).OrderBy(g => g.Key)
            .Select(g => g.First()!.DeepClone()).ToArray());
        var expected = new JsonObject
        {
            ["schemas"] = FirstById("Schema"),
            ["channels"] = FirstById("Channel"),
            ["messages"] = new JsonArray(records.Where(r => ConformanceJson.Str(r!["type"]) == "Message")
                .OrderBy(r => ConformanceJson.U64(ConformanceJson.Fields(r!)["log_time"])).Select(r => r!.DeepClone()).ToArray()),
            ["statistics"] = new JsonArray(records.Where(r => ConformanceJson.Str(r!["type"]) == "Statistics").Select(r => r!.DeepClone()).ToArray()),
        };

        using var reader = McapIndexedReader.Open(Path_(file));
        var actual = new JsonObject
        {
            ["schemas"] = new JsonArray(reader.Schemas.Values.OrderBy(s => s.Id).Select(s => (JsonNode)ConformanceJson.Of(s)).ToArray()),
            ["channels"] = new JsonArray(reader.Channels.Values.OrderBy(c => c.Id).Select(c => (JsonNode)ConformanceJson.Of(c)).ToArray()),
            ["messages"] = new JsonArray(reader.ReadMessages().Select(m => (JsonNode)ConformanceJson.Of(m.Message)).ToArray()),
            ["statistics"] = reader.Statistics is { } st ? new JsonArray(ConformanceJson.Of(st)) : new JsonArray(),
        };
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected\n{expected.ToJsonString()}\nactual\n{actual.ToJsonString()}");
    }

    [Theory]
    [MemberData(nameof(WriterFiles))]
    public void Writer_output_is_byte_identical(string file)
    {
        var expectedJson = Expected(file);
        var features = Features(file);
        var records = expectedJson["records"]!.AsArray();
        var header = records.First(r => ConformanceJson.Str(r!["type"]) == "Header")!;
        var headerFields = ConformanceJson.Fields(header);
        var options = new McapWriterOptions
        {
            Profile = ConformanceJson.Str(headerFields["profile"]),
            Library = ConformanceJson.Str(headerFields["library"]),
            UseChunks = features.Contains("ch"),
            Compression = McapCompression.None,
            EnableMessageIndex = features.Contains("mx"),
            EnableChunkIndex = features.Contains("chx"),
            EnableStatistics = features.Contains("st"),
            RepeatSchemas = features.Contains("rsh"),
            RepeatChannels = features.Contains("rch"),
            EnableAttachmentIndex = features.Contains("ax"),
            EnableMetadataIndex = features.Contains("mdx"),
            EnableSummaryOffsets = features.Contains("sum"),
        };
        var output = new MemoryStream();
        var writer = new McapWriter(output, options, leaveOpen: true);
        foreach (var record in records)
        {
            if (writer.State != McapWriterState.Open) break; // the summary after DataEnd is the writer's to generate
            var f = ConformanceJson.Fields(record!);
            switch (ConformanceJson.Str(record!["type"]))
            {
                case "Schema":
                    writer.AddSchema(new Schema((ushort)ConformanceJson.U64(f["id"]), ConformanceJson.Str(f["name"]),
                        ConformanceJson.Str(f["encoding"]), ConformanceJson.ByteArray(f["data"])));
                    break;
                case "Channel":
                    writer.AddChannel(new Channel((ushort)ConformanceJson.U64(f["id"]), (ushort)ConformanceJson.U64(f["schema_id"]),
                        ConformanceJson.Str(f["topic"]), ConformanceJson.Str(f["message_encoding"]), ConformanceJson.StrMap(f["metadata"])));
                    break;
                case "Message":
                    writer.WriteMessage((ushort)ConformanceJson.U64(f["channel_id"]), (uint)ConformanceJson.U64(f["sequence"]),
                        ConformanceJson.U64(f["log_time"]), ConformanceJson.U64(f["publish_time"]), ConformanceJson.ByteArray(f["data"]));
                    break;
                case "Attachment":
                    writer.WriteAttachment(new Attachment(ConformanceJson.U64(f["log_time"]), ConformanceJson.U64(f["create_time"]),
                        ConformanceJson.Str(f["name"]), ConformanceJson.Str(f["media_type"]), ConformanceJson.ByteArray(f["data"])));
                    break;
                case "Metadata":
                    writer.WriteMetadata(new Metadata(ConformanceJson.Str(f["name"]), ConformanceJson.StrMap(f["metadata"])));
                    break;
                case "DataEnd":
                    writer.Finish();
                    break;
            }
        }
        Assert.Equal(McapWriterState.Finished, writer.State);
        var expected = File.ReadAllBytes(Path_(file));
        var actual = output.ToArray();
        if (!expected.AsSpan().SequenceEqual(actual))
            Assert.Fail($"output differs\n{HexDiff.ByRecord(expected, actual)}");
    }
}
