using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Recorder.Mcap.Tests;

/// <summary>
/// The merged time-slice export: what @mcap/core reads from the output equals, message for message,
/// what @mcap/core reads from the sources in that window, and the output passes the doctor with
/// strict message order.
/// </summary>
[Collection(MemoryMeasurements.Name)]
public sealed class MergerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("merger-").FullName;
    private readonly ITestOutputHelper _output;

    public MergerTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const ulong Ms = 1_000_000;
    private const ulong T0 = 1_700_000_000_000 * Ms;

    private static readonly byte[] ImuSchemaV1 = Encoding.UTF8.GetBytes("""{"type":"object","properties":{"ax":{"type":"number"}}}""");
    private static readonly byte[] ImuSchemaV2 = Encoding.UTF8.GetBytes("""{"type":"object","properties":{"ax":{"type":"number"},"ay":{"type":"number"}}}""");
    private static readonly byte[] GpsSchema = Encoding.UTF8.GetBytes("""{"type":"object","properties":{"lat":{"type":"number"}}}""");

    /// <summary>A topic of a synthetic recording: its period, and how late its log times run behind writing order (so chunks overlap).</summary>
    private sealed record TopicSpec(string Topic, string SchemaName, byte[]? Schema, ulong PeriodNs, ulong LagNs = 0, int PayloadBytes = 64);

    /// <summary>
    /// Writes a recording like the daemon's (recorder.device first, recorder.topic_stats last) from
    /// <paramref name="start"/> for <paramref name="duration"/>: topics interleave by time, a lagging
    /// topic makes chunks overlap in time and messages inside a chunk out of order.
    /// </summary>
    private string Record(string name, string session, int fileSequence, ulong start, ulong duration, IReadOnlyList<TopicSpec> topics,
        int chunkSize = 4096, McapWriterOptions? options = null)
    {
        var path = Path.Combine(_dir, name);
        using var writer = new McapWriter(File.Create(path), options ?? new McapWriterOptions { ChunkSize = chunkSize, Compression = McapCompression.Zstd });
        writer.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = "truck-7",
            ["session_id"] = session,
            ["file_sequence"] = fileSequence.ToString(CultureInfo.InvariantCulture),
        }));
        var ids = new List<ushort>();
        foreach (var t in topics)
        {
            var schemaId = t.Schema is null ? (ushort)0 : writer.AddSchema(t.SchemaName, "jsonschema", t.Schema);
            ids.Add(writer.AddChannel(t.Topic, t.Schema is null ? "application/octet-stream" : "json", schemaId,
                new Dictionary<string, string> { ["frame_id"] = "base_link" }));
        }
        // Writing order = arrival order; a lagging topic's log times are older than their arrival.
        var events = new List<(ulong Arrival, int Topic, uint Sequence)>();
        for (var i = 0; i < topics.Count; i++)
        {
            uint seq = 0;
            for (var t = start + topics[i].LagNs; t < start + duration; t += topics[i].PeriodNs) events.Add((t, i, seq++));
        }
        events.Sort();
        foreach (var (arrival, topic, sequence) in events)
        {
            var logTime = arrival - topics[topic].LagNs;
            var payload = new byte[topics[topic].PayloadBytes];
            var text = Encoding.UTF8.GetBytes($"{{\"{name}\":{sequence},\"t\":{logTime}}}");
            // Sensor-like bytes: the text, then noise in the low bits (compresses, but not to nothing).
            var noise = new Random((int)sequence * 31 + topic);
            for (var i = 0; i < payload.Length; i++) payload[i] = i < text.Length ? text[i] : (byte)(0x40 | noise.Next(0, 32));
            writer.WriteMessage(ids[topic], sequence, logTime, logTime - 1000, payload);
        }
        writer.WriteMetadata(new Metadata("recorder.topic_stats", new Dictionary<string, string> { ["file"] = name }));
        return path;
    }

    private static TopicSpec Imu(byte[] schema, ulong lag = 0) => new("/imu", "demo.Imu", schema, 10 * Ms, lag);
    private static TopicSpec Gps(ulong lag = 0) => new("/gps", "demo.Gps", GpsSchema, 100 * Ms, lag, 48);
    private static TopicSpec Camera() => new("/camera/raw", "", null, 33 * Ms, 0, 700);

    /// <summary>
    /// Two sessions, three recordings: s1 in two consecutive files (same ids, /gps lagging so chunks
    /// overlap), s2 overlapping s1's second file in time, registering its topics in another order and
    /// with a changed /imu schema (a separate channel) and an identical /gps schema (shared).
    /// </summary>
    private List<string> ThreeRecordingsOfTwoSessions(int chunkSize = 4096) =>
    [
        Record("s1-0001.mcap", "s1", 1, T0, 2000 * Ms, [Imu(ImuSchemaV1), Gps(lag: 250 * Ms), Camera()], chunkSize),
        Record("s1-0002.mcap", "s1", 2, T0 + 2000 * Ms, 2000 * Ms, [Imu(ImuSchemaV1), Gps(lag: 250 * Ms), Camera()], chunkSize),
        Record("s2-0001.mcap", "s2", 1, T0 + 3000 * Ms, 2000 * Ms, [Gps(), Imu(ImuSchemaV2)], chunkSize),
    ];

    private string Merge(IReadOnlyList<string> sources, McapMergeOptions options, out McapMergeResult result)
    {
        var output = Path.Combine(_dir, $"merged-{Guid.NewGuid():N}.mcap");
        using var merger = McapMerger.Open(sources, options);
        using (var stream = File.Create(output)) result = merger.WriteTo(stream);
        return output;
    }

    /// <summary>One message as @mcap/core shows it, with its channel and schema resolved (ids differ between files).</summary>
    private sealed record Seen(string Topic, string Encoding, string SchemaName, string SchemaData, string LogTime, string PublishTime, long Sequence, string Data);

    private static List<Seen> MessagesOf(JsonObject dump)
    {
        var schemas = dump["schemas"]!.AsArray().ToDictionary(s => s!["id"]!.GetValue<int>(), s => s!);
        var channels = dump["channels"]!.AsArray().ToDictionary(c => c!["id"]!.GetValue<int>(), c => c!);
        return dump["messages"]!.AsArray().Select(m =>
        {
            var channel = channels[m!["channelId"]!.GetValue<int>()];
            var schemaId = channel["schemaId"]!.GetValue<int>();
            var schema = schemaId == 0 ? null : schemas[schemaId];
            return new Seen(channel["topic"]!.GetValue<string>(), channel["messageEncoding"]!.GetValue<string>(),
                schema?["name"]!.GetValue<string>() ?? "", schema?["data"]!.GetValue<string>() ?? "",
                m["logTime"]!.GetValue<string>(), m["publishTime"]!.GetValue<string>(), m["sequence"]!.GetValue<long>(), m["data"]!.GetValue<string>());
        }).ToList();
    }

    /// <summary>What the sources hold in the window, by @mcap/core: log-time order, ties in source order then file order.</summary>
    private static List<Seen> Expected(IReadOnlyList<string> sources, ulong start, ulong end, IReadOnlyCollection<string>? topics = null) =>
        sources.SelectMany((path, source) => MessagesOf(NodeInterop.Dump(path)).Select((m, i) => (m, source, i)))
            .Where(p => ulong.Parse(p.m.LogTime, CultureInfo.InvariantCulture) is var t && t >= start && t <= end)
            .Where(p => topics is null || topics.Contains(p.m.Topic))
            .OrderBy(p => ulong.Parse(p.m.LogTime, CultureInfo.InvariantCulture)).ThenBy(p => p.source).ThenBy(p => p.i)
            .Select(p => p.m).ToList();

    private static JsonObject AssertReadsWell(string output, ulong expectedMessages)
    {
        var report = McapDoctor.Check(output, new McapDoctorOptions { StrictMessageOrder = true });
        // A copied chunk may repeat a definition the output already gave outside it (legal, and a note only).
        var findings = report.Diagnostics.Where(d => !d.Message.Contains("repeats the identical", StringComparison.Ordinal)).ToList();
        Assert.True(findings.Count == 0, string.Join("\n", findings));
        Assert.Equal(expectedMessages, report.Messages);
        var dump = NodeInterop.Dump(output);
        Assert.True(dump["streamed"]!["done"]!.GetValue<bool>());
        Assert.Equal((long)expectedMessages, dump["streamed"]!["messageCount"]!.GetValue<long>());
        Assert.Equal(expectedMessages.ToString(CultureInfo.InvariantCulture), dump["statistics"]!["messageCount"]!.GetValue<string>());
        return dump;
    }

    private static void AssertSameMessages(List<Seen> expected, List<Seen> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++) Assert.True(expected[i] == actual[i], $"message {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Merged_export_of_three_recordings_from_two_sessions_equals_the_sources_in_the_window()
    {
        var sources = ThreeRecordingsOfTwoSessions();
        // Cuts chunks in the middle at both ends, and spans the overlap of the two sessions.
        var start = T0 + 1234 * Ms + 567;
        var end = T0 + 3777 * Ms + 89;
        var output = Merge(sources, new McapMergeOptions { StartTime = start, EndTime = end }, out var result);

        var expected = Expected(sources, start, end);
        Assert.True(expected.Count > 300, $"the window holds only {expected.Count} messages");
        Assert.Contains(expected, m => m.Topic == "/imu" && m.SchemaData == Convert.ToBase64String(ImuSchemaV2));
        var dump = AssertReadsWell(output, (ulong)expected.Count);
        AssertSameMessages(expected, MessagesOf(dump));
        Assert.Equal((ulong)expected.Count, result.Messages);
        Assert.Equal(3, result.SourcesUsed);
        Assert.True(result.ChunksRewritten > 0);

        // Identical schemas once; the changed /imu schema is a second schema and a second /imu channel.
        var schemas = dump["schemas"]!.AsArray();
        Assert.Equal(3, schemas.Count);
        Assert.Single(schemas, s => s!["name"]!.GetValue<string>() == "demo.Gps");
        var channels = dump["channels"]!.AsArray();
        Assert.Equal(2, channels.Count(c => c!["topic"]!.GetValue<string>() == "/imu"));
        Assert.Single(channels, c => c!["topic"]!.GetValue<string>() == "/gps");
        Assert.Equal(4, channels.Count);

        // Every source's recorder.device record comes along.
        var devices = dump["metadata"]!.AsArray().Where(m => m!["name"]!.GetValue<string>() == "recorder.device").ToList();
        Assert.Equal(["s1/1", "s1/2", "s2/1"], devices.Select(d => $"{d!["metadata"]!["session_id"]}/{d["metadata"]!["file_sequence"]}"));
    }

    [Fact]
    public void Whole_recordings_are_copied_chunk_by_chunk_and_equal_a_rewrite_message_for_message()
    {
        // One session in three consecutive files: same ids, log-time ordered chunks that nothing interleaves with.
        List<string> sources =
        [
            Record("a.mcap", "s1", 1, T0, 1000 * Ms, [Imu(ImuSchemaV1), Gps(), Camera()]),
            Record("b.mcap", "s1", 2, T0 + 1000 * Ms, 1000 * Ms, [Imu(ImuSchemaV1), Gps(), Camera()]),
            Record("c.mcap", "s1", 3, T0 + 2000 * Ms, 1000 * Ms, [Imu(ImuSchemaV1), Gps(), Camera()]),
        ];
        var copied = Merge(sources, new McapMergeOptions(), out var fast);
        var rewritten = Merge(sources, new McapMergeOptions { CopyWholeChunks = false }, out var slow);

        var expected = Expected(sources, 0, ulong.MaxValue);
        Assert.True(fast.ChunksCopied > 10, $"{fast.ChunksCopied} chunks copied");
        Assert.Equal(0, fast.ChunksRewritten);
        Assert.Equal(0, slow.ChunksCopied);
        AssertSameMessages(expected, MessagesOf(AssertReadsWell(copied, (ulong)expected.Count)));
        AssertSameMessages(expected, MessagesOf(AssertReadsWell(rewritten, (ulong)expected.Count)));
    }

    [Fact]
    public void Topic_filter_keeps_only_those_topics()
    {
        var sources = ThreeRecordingsOfTwoSessions();
        string[] topics = ["/gps", "/camera/raw"];
        var output = Merge(sources, new McapMergeOptions { Topics = topics }, out var result);

        var expected = Expected(sources, 0, ulong.MaxValue, topics);
        Assert.True(expected.Count > 100);
        var dump = AssertReadsWell(output, (ulong)expected.Count);
        AssertSameMessages(expected, MessagesOf(dump));
        Assert.Equal(["/camera/raw", "/gps"], dump["channels"]!.AsArray().Select(c => c!["topic"]!.GetValue<string>()).Order());
        Assert.Equal(0, result.ChunksCopied);
    }

    [Fact]
    public void Empty_window_gives_a_valid_empty_mcap()
    {
        var sources = ThreeRecordingsOfTwoSessions();
        var start = T0 + 10_000 * Ms;
        var output = Merge(sources, new McapMergeOptions { StartTime = start, EndTime = start + 1000 * Ms }, out var result);

        Assert.Equal(0UL, result.Messages);
        Assert.Equal(0, result.SourcesUsed);
        var dump = AssertReadsWell(output, 0);
        Assert.Empty(dump["messages"]!.AsArray());
        Assert.Empty(dump["metadata"]!.AsArray());
    }

    [Fact]
    public void Window_between_two_messages_of_one_chunk_gives_an_empty_mcap_with_the_sources_metadata()
    {
        var sources = ThreeRecordingsOfTwoSessions();
        // /imu every 10 ms from T0, /gps every 100 ms, camera every 33 ms: nothing between T0+1 ms and T0+2 ms in s1-0001.
        var output = Merge([sources[0]], new McapMergeOptions { StartTime = T0 + 1 * Ms, EndTime = T0 + 2 * Ms }, out var result);

        Assert.Equal(0UL, result.Messages);
        var dump = AssertReadsWell(output, 0);
        Assert.Contains(dump["metadata"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "recorder.device");
    }

    [Fact]
    public void Metadata_policy_and_extra_records_are_applied()
    {
        var sources = ThreeRecordingsOfTwoSessions();
        var output = Merge(sources, new McapMergeOptions
        {
            CarryMetadata = m => m.Name == "recorder.device",
            ExtraMetadata = [new Metadata("recorder.export", new Dictionary<string, string> { ["version"] = "1" })],
        }, out var result);

        var dump = AssertReadsWell(output, result.Messages);
        Assert.Equal(["recorder.device", "recorder.device", "recorder.device", "recorder.export"],
            dump["metadata"]!.AsArray().Select(m => m!["name"]!.GetValue<string>()));
    }

    [Fact]
    public void Attachments_in_the_window_are_carried()
    {
        var path = Path.Combine(_dir, "with-attachments.mcap");
        using (var writer = new McapWriter(File.Create(path), new McapWriterOptions { ChunkSize = 1024 }))
        {
            var channel = writer.AddChannel("/x", "application/octet-stream");
            for (var i = 0UL; i < 100; i++) writer.WriteMessage(channel, (uint)i, T0 + i * Ms, T0 + i * Ms, new byte[40]);
            writer.WriteAttachment(new Attachment(T0 + 10 * Ms, 0, "inside.bin", "application/octet-stream", new byte[] { 1, 2, 3 }));
            writer.WriteAttachment(new Attachment(T0 + 90 * Ms, 0, "outside.bin", "application/octet-stream", new byte[] { 4 }));
        }
        var output = Merge([path], new McapMergeOptions { StartTime = T0, EndTime = T0 + 50 * Ms }, out var result);

        var dump = AssertReadsWell(output, 51);
        Assert.Equal(1, result.Attachments);
        Assert.Equal("inside.bin", Assert.Single(dump["attachments"]!.AsArray())!["name"]!.GetValue<string>());
    }

    [Fact]
    public void Torn_source_is_refused_before_anything_is_written()
    {
        var sources = ThreeRecordingsOfTwoSessions();
        var bytes = File.ReadAllBytes(sources[1]);
        File.WriteAllBytes(sources[1], bytes.AsSpan(0, bytes.Length / 2).ToArray());

        var e = Assert.Throws<McapException>(() => McapMerger.Open(sources));
        Assert.Contains("s1-0002.mcap", e.Message, StringComparison.Ordinal);
        Assert.Equal(McapErrorKind.BadMagic, e.Kind);
        // Nothing stays open: the files can be deleted and rewritten.
        foreach (var s in sources) File.Delete(s);
    }

    [Fact]
    public void Unindexed_source_is_refused_with_a_clear_error()
    {
        var path = Record("no-summary.mcap", "s1", 1, T0, 100 * Ms, [Imu(ImuSchemaV1)],
            options: new McapWriterOptions { ChunkSize = 4096, EnableSummary = false });

        var e = Assert.Throws<McapException>(() => McapMerger.Open([path]));
        Assert.Equal(McapErrorKind.NotIndexed, e.Kind);
        Assert.Contains("no-summary.mcap has no summary", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Different_schemas_for_one_topic_stay_separate_channels_and_identical_ones_merge()
    {
        List<string> sources =
        [
            Record("v1.mcap", "s1", 1, T0, 200 * Ms, [Imu(ImuSchemaV1)]),
            Record("v1-again.mcap", "s2", 1, T0 + 100 * Ms, 200 * Ms, [Gps(), Imu(ImuSchemaV1)]),
            Record("v2.mcap", "s3", 1, T0 + 50 * Ms, 200 * Ms, [Imu(ImuSchemaV2)]),
        ];
        var output = Merge(sources, new McapMergeOptions(), out _);

        var expected = Expected(sources, 0, ulong.MaxValue);
        var dump = AssertReadsWell(output, (ulong)expected.Count);
        AssertSameMessages(expected, MessagesOf(dump));
        var imu = dump["channels"]!.AsArray().Where(c => c!["topic"]!.GetValue<string>() == "/imu").ToList();
        Assert.Equal(2, imu.Count);
        Assert.NotEqual(imu[0]!["schemaId"]!.GetValue<int>(), imu[1]!["schemaId"]!.GetValue<int>());
        Assert.Equal(3, dump["schemas"]!.AsArray().Count);
    }

    /// <summary>
    /// Memory is bounded by the merge frontier, not by the input: the live managed heap, sampled with a
    /// full collection while the export writes, and the chunk bytes the merger holds, stay the same when
    /// the input grows fourfold (measured, never timed).
    /// </summary>
    [Fact]
    public void Export_memory_stays_bounded_independent_of_input_size()
    {
        var output = _output;
        (long PeakLive, long PeakBuffered, long Input) Measure(int files, bool copy)
        {
            var sources = new List<string>();
            for (var f = 0; f < files; f++)
                sources.Add(Record($"big-{files}-{f}.mcap", "s1", f, T0 + (ulong)f * 20_000 * Ms, 20_000 * Ms,
                    [new TopicSpec("/lidar", "", null, 10 * Ms, 0, 4000), Imu(ImuSchemaV1), Gps(lag: 300 * Ms)], chunkSize: 16 * 1024));
            var input = sources.Sum(s => new FileInfo(s).Length);
            var baseline = GC.GetTotalMemory(forceFullCollection: true);
            using var merger = McapMerger.Open(sources, new McapMergeOptions { CopyWholeChunks = copy, Writer = new McapWriterOptions { ChunkSize = 16 * 1024 } });
            var sink = new LiveMemorySampler();
            var result = merger.WriteTo(sink);
            Assert.True(sink.Samples >= 10, $"only {sink.Samples} samples");
            Assert.True(result.Bytes > input / 2);
            foreach (var s in sources) File.Delete(s);
            output.WriteLine($"copy={copy} files={files}: input {input} B, output {result.Bytes} B, peak live heap above baseline {sink.PeakLive - baseline} B, peak chunk bytes held {result.PeakBufferedBytes} B, copied {result.ChunksCopied}, rewritten {result.ChunksRewritten}");
            return (sink.PeakLive - baseline, result.PeakBufferedBytes, input);
        }

        foreach (var copy in new[] { false, true })
        {
            var small = Measure(1, copy);
            var large = Measure(4, copy);
            Assert.True(large.Input > 4 * small.Input - small.Input / 2, $"inputs {small.Input} and {large.Input}");
            // The summaries (a few hundred bytes per chunk) grow with the input; the chunks held do not.
            Assert.True(large.PeakBuffered <= small.PeakBuffered + 64 * 1024, $"copy={copy}: buffered {small.PeakBuffered} -> {large.PeakBuffered}");
            Assert.True(large.PeakLive < small.PeakLive + large.Input / 20,
                $"copy={copy}: live heap {small.PeakLive} -> {large.PeakLive} for inputs {small.Input} -> {large.Input}");
            Assert.True(large.PeakLive < large.Input / 4, $"copy={copy}: live heap {large.PeakLive} for an input of {large.Input}");
        }
    }

    /// <summary>A write-only sink that measures the live managed heap (after a full collection) every few writes.</summary>
    private sealed class LiveMemorySampler : Stream
    {
        private long _writes;
        public long PeakLive { get; private set; }
        public int Samples { get; private set; }
        private long _length;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _length += buffer.Length;
            if (_writes++ % 4 != 0) return;
            var live = GC.GetTotalMemory(forceFullCollection: true);
            if (live > PeakLive) PeakLive = live;
            Samples++;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>Tests that measure the process's managed heap run alone, so no other test's allocations count.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurements
{
    public const string Name = "memory measurements";
}
