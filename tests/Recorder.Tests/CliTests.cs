using System.Text;
using System.Text.Json.Nodes;
using Recorder.Cli;
using Recorder.Mcap;
using static Recorder.Tests.RecorderCli;

namespace Recorder.Tests;

/// <summary>The CLI verbs, run in-process against files written by the library.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two topics over 10 s: /imu at 100 Hz (json) and /gps at 10 Hz (json), plus device metadata.</summary>
    private string WriteRecording(McapCompression compression = McapCompression.Zstd, int chunkSize = 8 * 1024)
    {
        var path = Path.Combine(_dir, $"rec-{Guid.NewGuid():N}.mcap");
        using var writer = new McapWriter(File.Create(path), new McapWriterOptions { Compression = compression, ChunkSize = chunkSize });
        writer.WriteMetadata(new Metadata("device", new Dictionary<string, string> { ["device_id"] = "veh-7" }));
        var imuSchema = writer.AddSchema("Imu", "jsonschema", "{}"u8.ToArray());
        var imu = writer.AddChannel("/imu", "json", imuSchema);
        var gps = writer.AddChannel("/gps", "json");
        const ulong start = 1_764_000_000_000_000_000;
        for (var i = 0; i < 1000; i++)
        {
            var t = start + (ulong)i * 10_000_000;
            writer.WriteMessage(imu, (uint)i, t, t, Encoding.UTF8.GetBytes($"{{\"ax\":{i % 7},\"i\":{i}}}"));
            if (i % 10 == 0) writer.WriteMessage(gps, (uint)(i / 10), t, t, Encoding.UTF8.GetBytes($"{{\"lat\":48.1,\"i\":{i / 10}}}"));
        }
        writer.Finish();
        return path;
    }

    [Fact]
    public void Info_reports_counts_rates_schemas_chunks_and_metadata()
    {
        var path = WriteRecording();
        var (code, output, _) = Run("info", path);
        Assert.Equal(0, code);
        Assert.Contains("messages:    1100", output);
        Assert.Contains("duration:    9.990000000s", output);
        Assert.Matches(@"\(1\) /imu\s+1000 msgs \(100\.10 Hz\)\s+: Imu \[jsonschema\] \[json\]", output);
        Assert.Matches(@"\(2\) /gps\s+100 msgs \(10\.01 Hz\)\s+: \(no schema\) \[json\]", output);
        Assert.Matches(@"zstd: \[\d+/\d+ chunks\]", output);
        Assert.Contains("metadata:    1 (device)", output);
        Assert.Contains("index:       summary", output);
    }

    [Fact]
    public void Info_json_is_machine_readable()
    {
        var path = WriteRecording(McapCompression.Lz4);
        var (code, output, _) = Run("info", path, "--json");
        Assert.Equal(0, code);
        var json = JsonNode.Parse(output)!;
        Assert.Equal(1100, json["message_count"]!.GetValue<long>());
        Assert.True(json["indexed"]!.GetValue<bool>());
        var chunks = json["chunk_count"]!.GetValue<int>();
        Assert.True(chunks > 3);
        Assert.Equal(chunks, json["compression"]!["lz4"]!["chunks"]!.GetValue<int>());
        Assert.True(json["compression"]!["lz4"]!["ratio"]!.GetValue<double>() > 1.5);
        var imu = json["channels"]!.AsArray().Single(c => c!["topic"]!.GetValue<string>() == "/imu")!;
        Assert.Equal(1000, imu["message_count"]!.GetValue<long>());
        Assert.Equal("Imu", imu["schema_name"]!.GetValue<string>());
    }

    [Fact]
    public void Info_on_a_truncated_file_scans_it_and_says_it_is_damaged()
    {
        var path = WriteRecording(McapCompression.None);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var (code, output, _) = Run("info", path);
        Assert.Equal(1, code);
        Assert.Contains("index:       none; scanned linearly", output);
        Assert.Contains("damaged:     Truncated", output);
    }

    [Fact]
    public void Cat_prints_one_topic_in_log_time_order_and_json_payloads_inline()
    {
        var path = WriteRecording();
        var (code, output, _) = Run("cat", path, "--topic", "/gps", "--json");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(100, lines.Length);
        var previous = 0UL;
        for (var i = 0; i < lines.Length; i++)
        {
            var json = JsonNode.Parse(lines[i])!;
            Assert.Equal("/gps", json["topic"]!.GetValue<string>());
            Assert.Equal(i, json["data"]!["i"]!.GetValue<int>());
            var t = json["log_time"]!.GetValue<ulong>();
            Assert.True(t >= previous);
            previous = t;
        }
    }

    [Fact]
    public void Cat_time_range_is_inclusive()
    {
        var path = WriteRecording();
        const ulong start = 1_764_000_000_000_000_000;
        var (code, output, _) = Run("cat", path, "--topic", "/imu", "--start", (start + 100_000_000).ToString(), "--end", (start + 200_000_000).ToString());
        Assert.Equal(0, code);
        Assert.Equal(11, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Recover_exits_zero_for_a_whole_file_and_three_for_a_torn_one()
    {
        var path = WriteRecording(McapCompression.Zstd);
        var output = Path.Combine(_dir, "out.mcap");
        var (code, text, _) = Run("recover", path, "-o", output);
        Assert.Equal(0, code);
        Assert.Contains("recovered 1100 messages", text);

        var bytes = File.ReadAllBytes(path);
        var torn = Path.Combine(_dir, "torn.mcap");
        File.WriteAllBytes(torn, bytes[..(bytes.Length * 2 / 3)]);
        var (tornCode, tornText, tornErr) = Run("recover", torn, "-o", output);
        Assert.Equal(3, tornCode);
        Assert.Contains("input usable up to byte", tornErr);
        using var reader = McapIndexedReader.Open(output);
        var recovered = reader.Statistics!.MessageCount;
        Assert.InRange(recovered, 1UL, 1099UL);
        Assert.Contains($"recovered {recovered} messages", tornText);
    }

    [Fact]
    public void Recover_of_garbage_exits_one()
    {
        var path = Path.Combine(_dir, "garbage.mcap");
        File.WriteAllText(path, "this is not mcap");
        var (code, _, err) = Run("recover", path, "-o", Path.Combine(_dir, "out.mcap"));
        Assert.Equal(1, code);
        Assert.Contains("BadMagic", err);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "info" }, "expected exactly one FILE")]
    [InlineData(new[] { "info", "a", "--bogus" }, "unknown option '--bogus'")]
    [InlineData(new[] { "cat", "a", "--start", "soon" }, "option --start needs a non-negative integer")]
    [InlineData(new[] { "recover", "a" }, "recover needs -o OUT")]
    public void Usage_errors_exit_two_with_a_specific_message(string[] args, string message)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact]
    public void A_missing_file_is_an_error_not_a_crash()
    {
        var (code, _, err) = Run("info", Path.Combine(_dir, "nope.mcap"));
        Assert.Equal(1, code);
        Assert.Contains("nope.mcap", err);
    }
}

public sealed class DoctorCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-doctor-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write()
    {
        var path = Path.Combine(_dir, "ok.mcap");
        using var writer = new McapWriter(File.Create(path), new McapWriterOptions { ChunkSize = 4096, Compression = McapCompression.None });
        var ch = writer.AddChannel("/a", "json");
        for (uint i = 0; i < 500; i++) writer.WriteMessage(ch, i, i * 1000, i * 1000, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"));
        writer.Finish();
        return path;
    }

    [Fact]
    public void Doctor_passes_a_file_we_wrote()
    {
        var (code, output, _) = Run("doctor", Write());
        Assert.Equal(0, code);
        Assert.Contains(": 0 errors, 0 warnings (500 messages", output);
    }

    [Fact]
    public void Doctor_names_a_torn_file_and_where_it_stops_being_whole()
    {
        var path = Write();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var (code, output, _) = Run("doctor", path);
        Assert.Equal(1, code);
        Assert.Matches(@"file stops being whole at byte \d+ of " + (bytes.Length - 100), output);
    }

    [Fact]
    public void Doctor_reports_a_flipped_chunk_byte_as_a_crc_error_with_its_offset()
    {
        var path = Write();
        var bytes = File.ReadAllBytes(path);
        using (var reader = new McapIndexedReader(new MemoryStream(bytes)))
        {
            var chunk = reader.ChunkIndexes[1];
            bytes[(int)(chunk.ChunkStartOffset + chunk.ChunkLength) - 3] ^= 0x40;
            File.WriteAllBytes(path, bytes);
            var (code, output, _) = Run("doctor", path);
            Assert.Equal(1, code);
            Assert.Contains($"Error at offset {chunk.ChunkStartOffset}", output);
            Assert.Contains("uncompressed_crc is", output);
        }
    }
}
