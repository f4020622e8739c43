using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Recorder.Depot.Catalog;
using Recorder.Depot.Config;
using Recorder.Mcap;

namespace Recorder.Depot.Tests.Catalog;

/// <summary>
/// Watching the fleet's data, on both databases: schema history and pins, and field profiles
/// (KLL) of JSON and protobuf topics. Recordings are real MCAP files with the recorder's
/// metadata; protobuf messages and their FileDescriptorSet are encoded by Google.Protobuf.
/// </summary>
public abstract partial class CatalogTests
{
    private static readonly byte[] JsonSchemaA = "{\"type\":\"object\",\"properties\":{\"accel\":{\"type\":\"object\"}}}"u8.ToArray();
    private static readonly byte[] JsonSchemaB = "{\"type\":\"object\",\"properties\":{\"accel\":{\"type\":\"object\"},\"gyro\":{\"type\":\"object\"}}}"u8.ToArray();

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>test.Imu { Vec3 accel = 1; double temperature = 2; repeated double samples = 3; uint32 seq = 4 }, Vec3 { double x = 1; float y = 2; sint64 z = 3 } (proto3).</summary>
    private static byte[] ImuDescriptorSet()
    {
        static FieldDescriptorProto Field(string name, int number, FieldDescriptorProto.Types.Type type, string? typeName = null, bool repeated = false)
        {
            var field = new FieldDescriptorProto { Name = name, Number = number, Type = type, Label = repeated ? FieldDescriptorProto.Types.Label.Repeated : FieldDescriptorProto.Types.Label.Optional };
            if (typeName is not null) field.TypeName = typeName;
            return field;
        }
        var vec = new DescriptorProto { Name = "Vec3" };
        vec.Field.Add(Field("x", 1, FieldDescriptorProto.Types.Type.Double));
        vec.Field.Add(Field("y", 2, FieldDescriptorProto.Types.Type.Float));
        vec.Field.Add(Field("z", 3, FieldDescriptorProto.Types.Type.Sint64));
        var imu = new DescriptorProto { Name = "Imu" };
        imu.Field.Add(Field("accel", 1, FieldDescriptorProto.Types.Type.Message, ".test.Vec3"));
        imu.Field.Add(Field("temperature", 2, FieldDescriptorProto.Types.Type.Double));
        imu.Field.Add(Field("samples", 3, FieldDescriptorProto.Types.Type.Double, repeated: true));
        imu.Field.Add(Field("seq", 4, FieldDescriptorProto.Types.Type.Uint32));
        var file = new FileDescriptorProto { Name = "imu.proto", Package = "test", Syntax = "proto3" };
        file.MessageType.Add(vec);
        file.MessageType.Add(imu);
        var set = new FileDescriptorSet();
        set.File.Add(file);
        return set.ToByteArray();
    }

    private static byte[] ImuMessage(double x, float y, long z, double temperature, uint seq)
    {
        using var inner = new MemoryStream();
        var io = new CodedOutputStream(inner);
        io.WriteTag(1, WireFormat.WireType.Fixed64);
        io.WriteDouble(x);
        io.WriteTag(2, WireFormat.WireType.Fixed32);
        io.WriteFloat(y);
        io.WriteTag(3, WireFormat.WireType.Varint);
        io.WriteSInt64(z);
        io.Flush();
        using var outer = new MemoryStream();
        var o = new CodedOutputStream(outer);
        o.WriteTag(1, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(inner.ToArray()));
        o.WriteTag(2, WireFormat.WireType.Fixed64);
        o.WriteDouble(temperature);
        o.WriteTag(3, WireFormat.WireType.LengthDelimited); // packed repeated: not a profiled value, must be skipped
        o.WriteBytes(ByteString.CopyFrom(new byte[16]));
        o.WriteTag(4, WireFormat.WireType.Varint);
        o.WriteUInt32(seq);
        o.Flush();
        return outer.ToArray();
    }

    /// <summary>Values one IMU recording wrote, for the exact answers.</summary>
    protected sealed record ImuValues(List<double> JsonX, int JsonNulls, List<double> ProtoX);

    /// <summary>
    /// A recording with the recorder's metadata: /imu (JSON, accel.x uniform on [−1, 1], every
    /// 100th accel.x null) and /imu_pb (protobuf test.Imu, accel.x uniform on [−1, 1]), 1 kHz.
    /// </summary>
    protected (string Group, ImuValues Values) WriteImuRecording(string storage, string device, int day, int minute, string software, byte[] jsonSchema,
        int messages, int seed, bool withProtobuf = true)
    {
        var start = Base + (ulong)day * 86_400 * Second + (ulong)minute * 60 * Second;
        var date = DateTimeOffset.UnixEpoch.AddTicks((long)(start / 100)).UtcDateTime;
        var dir = Path.Combine(storage, device, date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        var name = $"{device}_{date:yyyyMMdd'T'HHmmss}Z_0001.mcap";
        var random = new Random(seed);
        var values = new ImuValues([], 0, []);
        var nulls = 0;
        using (var writer = new McapWriter(File.Create(Path.Combine(dir, name)), new McapWriterOptions { Library = "recorder/" + software }))
        {
            writer.WriteMetadata(new Metadata("recorder.device", new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["device_id"] = device, ["software_version"] = software, ["vehicle"] = "v-" + device, ["operator"] = "tester",
            }));
            var jsonChannel = writer.AddChannel("/imu", "json", writer.AddSchema("test.Imu", "jsonschema", jsonSchema));
            var protoChannel = withProtobuf ? writer.AddChannel("/imu_pb", "protobuf", writer.AddSchema("test.Imu", "protobuf", ImuDescriptorSet())) : (ushort)0;
            for (var i = 0; i < messages; i++)
            {
                var t = start + (ulong)i * 1_000_000UL;
                var x = random.NextDouble() * 2 - 1;
                string json;
                if (i % 100 == 99)
                {
                    json = string.Create(CultureInfo.InvariantCulture, $"{{\"accel\":{{\"x\":null,\"y\":{random.NextDouble():R}}},\"label\":\"n\"}}");
                    nulls++;
                }
                else
                {
                    json = string.Create(CultureInfo.InvariantCulture, $"{{\"accel\":{{\"x\":{x:R},\"y\":{random.NextDouble():R}}},\"label\":\"n\"}}");
                    values.JsonX.Add(x);
                }
                writer.WriteMessage(jsonChannel, (uint)i, t, t, Encoding.UTF8.GetBytes(json));
                if (withProtobuf)
                {
                    var px = random.NextDouble() * 2 - 1;
                    values.ProtoX.Add(px);
                    writer.WriteMessage(protoChannel, (uint)i, t, t, ImuMessage(px, (float)random.NextDouble(), random.Next(-5, 5), 20 + random.NextDouble(), (uint)i));
                }
            }
            var stats = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["/imu"] = string.Create(CultureInfo.InvariantCulture, $"{{\"messages\":{messages},\"bytes\":{messages * 60},\"drops\":2,\"refused\":1,\"max_gap_ns\":3000000}}"),
            };
            writer.WriteMetadata(new Metadata("recorder.topic_stats", stats));
        }
        return ($"{device}/{date:yyyy-MM-dd}/{name}", values with { JsonNulls = nulls });
    }

    private async Task<TestDepot> StartWatchDepot(Func<DepotSettings, DepotSettings> configure) =>
        await TestDepot.StartAsync(s => configure(UseCatalog(s)));

    private static async Task Catalog(TestDepot depot, params string[] groups)
    {
        var indexer = (CatalogIndexer)depot.App.Services.GetService(typeof(CatalogIndexer))!;
        await indexer.WhenIdleAsync();
        foreach (var group in groups) indexer.Enqueue(group); // the background queue, as an arrival does
        await indexer.WhenIdleAsync();
    }

    private static async Task<JsonElement> GetFrom(TestDepot depot, string pathAndQuery, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var client = new HttpClient();
        using var response = await client.GetAsync(new Uri(depot.App.Url, pathAndQuery));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"GET {pathAndQuery}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Asserts a field profile against the exact values: count, min, max and mean exactly, each quantile within the sketch's stated rank error.</summary>
    private static double AssertProfile(JsonElement field, List<double> exact, long nulls, double bound)
    {
        var sorted = exact.Order().ToArray();
        Assert.Equal(sorted.Length, field.GetProperty("count").GetInt64());
        Assert.Equal(nulls, field.GetProperty("nulls").GetInt64());
        Assert.Equal(sorted[0], field.GetProperty("min").GetDouble());
        Assert.Equal(sorted[^1], field.GetProperty("max").GetDouble());
        Assert.Equal(exact.Average(), field.GetProperty("mean").GetDouble(), 1e-9);
        Assert.InRange(field.GetProperty("mean").GetDouble(), -0.03, 0.03); // uniform on [−1, 1]: mean 0, σ/√n ≈ 0.004 here
        var quantiles = field.GetProperty("quantiles");
        var worst = 0.0;
        foreach (var (name, q) in ProfileStore.Quantiles)
        {
            var v = quantiles.GetProperty(name).GetDouble();
            Assert.InRange(v, 2 * q - 1 - 4 * bound, 2 * q - 1 + 4 * bound); // against the distribution: the q-quantile of U[−1, 1] is 2q − 1
            worst = Math.Max(worst, KllSketchTests.WorstRankError(_ => v, sorted, [q]));
        }
        Assert.True(worst <= bound, $"rank error {worst} over the bound {bound}");
        return worst;
    }

    [Fact]
    public async Task Profiles_of_a_uniform_imu_topic_are_within_the_sketch_error_merged_across_recordings_and_days()
    {
        await using var depot = await StartWatchDepot(s => s with
        {
            Profiles = new ProfileSettings
            {
                Topics = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal) { ["/imu"] = ["accel.x", "accel.missing"] },
                DefaultFields = 8,
            },
        });
        var (a1, va1) = WriteImuRecording(depot.Storage, "dev-a", 0, 0, "1.0.0", JsonSchemaA, 12_000, seed: 1);
        var (a2, va2) = WriteImuRecording(depot.Storage, "dev-a", 1, 30, "1.0.0", JsonSchemaA, 12_000, seed: 2);
        var (b2, vb2) = WriteImuRecording(depot.Storage, "dev-b", 1, 40, "1.1.0", JsonSchemaA, 8_000, seed: 3);
        await Catalog(depot, a1, a2, b2);
        var bound = KllSketch.RankErrorBound(KllSketch.DefaultK);

        // Merged over everything: one group per software version; dev-a's two recordings on two days are one 1.0.0 group.
        var bySoftware = await GetFrom(depot, "/api/profiles?topic=/imu&field=accel.x&by=software");
        Assert.Equal(KllSketch.DefaultK, bySoftware.GetProperty("sketch_k").GetInt32());
        Assert.Equal(bound, bySoftware.GetProperty("rank_error_bound").GetDouble(), 1e-12);
        Assert.Equal(["accel.missing", "accel.x"], bySoftware.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!).ToList());
        var groups = bySoftware.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(["1.0.0", "1.1.0"], groups.Select(g => g.GetProperty("group").GetString()!).ToList());
        Assert.Equal(2, groups[0].GetProperty("recordings").GetInt64());
        Assert.Equal(24_000, groups[0].GetProperty("messages").GetInt64());
        Assert.Equal(6, groups[0].GetProperty("drops").GetInt64()); // 2 drops + 1 refused per recording
        Assert.Equal(1000.0, groups[0].GetProperty("rate_hz").GetDouble(), 0.1);
        var worstJson = AssertProfile(groups[0].GetProperty("field"), [.. va1.JsonX, .. va2.JsonX], va1.JsonNulls + va2.JsonNulls, bound);

        // By day: day 1 merges dev-a and dev-b (two devices, two software versions).
        var byDay = (await GetFrom(depot, "/api/profiles?topic=/imu&field=accel.x&by=day")).GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(["2026-11-27", "2026-11-28"], byDay.Select(g => g.GetProperty("group").GetString()!).ToList());
        worstJson = Math.Max(worstJson, AssertProfile(byDay[1].GetProperty("field"), [.. va2.JsonX, .. vb2.JsonX], va2.JsonNulls + vb2.JsonNulls, bound));
        // The week against itself, one query: from/to select days.
        var secondDay = (await GetFrom(depot, "/api/profiles?topic=/imu&field=accel.x&from=2026-11-28T00:00:00Z&to=2026-11-28T23:59:59Z&by=device")).GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(["dev-a", "dev-b"], secondDay.Select(g => g.GetProperty("group").GetString()!).ToList());
        AssertProfile(secondDay[1].GetProperty("field"), vb2.JsonX, vb2.JsonNulls, bound);

        // A configured field no message has: all nulls, no numbers.
        var missing = (await GetFrom(depot, "/api/profiles?topic=/imu&field=accel.missing&by=software")).GetProperty("groups")[0].GetProperty("field");
        Assert.Equal(0, missing.GetProperty("count").GetInt64());
        Assert.Equal(24_000, missing.GetProperty("nulls").GetInt64());
        Assert.Equal(JsonValueKind.Null, missing.GetProperty("quantiles").ValueKind);

        // Protobuf, decoded through the embedded FileDescriptorSet: its default fields are the first numeric ones in declaration order (not the repeated one).
        var proto = await GetFrom(depot, "/api/profiles?topic=/imu_pb&field=accel.x&by=device");
        Assert.Equal(["accel.x", "accel.y", "accel.z", "seq", "temperature"], proto.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!).ToList());
        var protoGroups = proto.GetProperty("groups").EnumerateArray().ToList();
        var worstProto = AssertProfile(protoGroups[0].GetProperty("field"), [.. va1.ProtoX, .. va2.ProtoX], 0, bound);
        worstProto = Math.Max(worstProto, AssertProfile(protoGroups[1].GetProperty("field"), vb2.ProtoX, 0, bound));
        var seq = (await GetFrom(depot, "/api/profiles?topic=/imu_pb&field=seq&by=device")).GetProperty("groups")[1].GetProperty("field");
        Assert.Equal((0.0, 7999.0, 3999.5), (seq.GetProperty("min").GetDouble(), seq.GetProperty("max").GetDouble(), seq.GetProperty("mean").GetDouble()));
        var temperature = (await GetFrom(depot, "/api/profiles?topic=/imu_pb&field=temperature&by=device")).GetProperty("groups")[1].GetProperty("field");
        Assert.InRange(temperature.GetProperty("min").GetDouble(), 20, 21);

        // The CLI verb gives the same answer.
        var config = WatchConfig(depot);
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.True(0 == CatalogWatchApi.Run(["profiles", "--topic", "/imu", "--field", "accel.x", "--by", "software", "--json", "--config", config], output, error), error.ToString());
        Assert.Equal(bySoftware.GetRawText(), output.ToString().Trim());
        Assert.Equal(2, CatalogWatchApi.Run(["profiles", "--field", "accel.x", "--config", config], output, error));
        await GetFrom(depot, "/api/profiles?topic=/imu&by=week", HttpStatusCode.BadRequest);
        await GetFrom(depot, "/api/profiles?field=accel.x", HttpStatusCode.BadRequest);

        // Analysis is not repeated for an unchanged recording, and reindex keeps the same numbers.
        Assert.Equal(3, CatalogIndexer.Reindex(DatabaseOf(depot), new LocalCatalogSource(depot.Storage), new RecordingAnalysis(depot.App.Settings.Profiles, depot.App.Settings.Schemas)).Unchanged);
        Assert.Equal(bySoftware.GetRawText(), (await GetFrom(depot, "/api/profiles?topic=/imu&field=accel.x&by=software")).GetRawText());
        Console.WriteLine($"[{GetType().Name}] profile rank error observed: JSON {worstJson:0.#####}, protobuf {worstProto:0.#####}; bound {bound:0.#####}");
    }

    private static CatalogDatabase DatabaseOf(TestDepot depot) => (CatalogDatabase)depot.App.Services.GetService(typeof(CatalogDatabase))!;

    /// <summary>A depot.yaml naming the same storage and catalog as <paramref name="depot"/>, for the CLI verbs.</summary>
    private static string WatchConfig(TestDepot depot)
    {
        var s = depot.App.Settings;
        var path = Path.Combine(depot.Root, "depot.yaml");
        var yaml = new StringBuilder();
        yaml.Append(CultureInfo.InvariantCulture, $"storage: {{ dir: \"{s.Storage.Dir}\" }}\nstate_dir: \"{s.StateDir}\"\n");
        if (s.Catalog.Postgres is { } pg) yaml.Append(CultureInfo.InvariantCulture, $"catalog: {{ postgres: \"{pg}\" }}\n");
        foreach (var (topic, hash) in s.Schemas.Pinned) yaml.Append(CultureInfo.InvariantCulture, $"schemas: {{ pinned: {{ \"{topic}\": {hash} }} }}\n");
        File.WriteAllText(path, yaml.ToString());
        return path;
    }

    [Fact]
    public async Task A_schema_change_by_a_second_producer_version_is_reported_with_its_first_device_and_recording()
    {
        await using var depot = await StartWatchDepot(s => s);
        var (first, _) = WriteImuRecording(depot.Storage, "dev-a", 0, 0, "1.0.0", JsonSchemaA, 50, seed: 1, withProtobuf: false);
        var (sameOld, _) = WriteImuRecording(depot.Storage, "dev-b", 0, 5, "1.0.0", JsonSchemaA, 50, seed: 2, withProtobuf: false);
        var (changed, _) = WriteImuRecording(depot.Storage, "dev-b", 0, 10, "2.0.0", JsonSchemaB, 50, seed: 3, withProtobuf: false);
        var (stillOld, _) = WriteImuRecording(depot.Storage, "dev-a", 0, 20, "1.0.0", JsonSchemaA, 50, seed: 4, withProtobuf: false);
        await Catalog(depot, first, sameOld, changed, stillOld);

        var page = await GetFrom(depot, "/api/schema-changes?topic=/imu");
        var topic = Assert.Single(page.GetProperty("topics").EnumerateArray());
        Assert.Equal("/imu", topic.GetProperty("topic").GetString());
        Assert.Equal(1, topic.GetProperty("changes").GetInt32());
        Assert.Equal(Sha(JsonSchemaB), topic.GetProperty("newest_sha256").GetString());
        var schemas = topic.GetProperty("schemas").EnumerateArray().ToList();
        Assert.Equal([Sha(JsonSchemaA), Sha(JsonSchemaB)], schemas.Select(s => s.GetProperty("schema_sha256").GetString()!).ToList());
        Assert.Equal((first, "dev-a", "1.0.0", 3, 2), (schemas[0].GetProperty("first_group_key").GetString(), schemas[0].GetProperty("first_device_id").GetString(),
            schemas[0].GetProperty("first_software_version").GetString(), schemas[0].GetProperty("recordings").GetInt32(), schemas[0].GetProperty("devices").GetInt32()));
        // The change: brought by dev-b's software 2.0.0, in that recording.
        var changedId = (await GetFrom(depot, "/api/recordings?device=dev-b&software=2.0.0")).GetProperty("recordings")[0].GetProperty("id").GetInt64();
        Assert.Equal((changed, changedId, "dev-b", "2.0.0", 1), (schemas[1].GetProperty("first_group_key").GetString(), schemas[1].GetProperty("first_recording_id").GetInt64(),
            schemas[1].GetProperty("first_device_id").GetString(), schemas[1].GetProperty("first_software_version").GetString(), schemas[1].GetProperty("recordings").GetInt32()));
        // Still on the old one: dev-a (its latest recording) and that recording, made after the change appeared.
        Assert.Equal(["dev-a"], topic.GetProperty("devices_still_on_old").EnumerateArray().Select(d => d.GetProperty("device_id").GetString()!).ToList());
        Assert.Equal([stillOld], topic.GetProperty("recordings_still_on_old").EnumerateArray().Select(d => d.GetProperty("group_key").GetString()!).ToList());
        // `changed=true` lists only topics that changed; /recorder/events has no schema and is not a topic here.
        Assert.Equal(["/imu"], (await GetFrom(depot, "/api/schema-changes?changed=true")).GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("topic").GetString()!).ToList());
        await GetFrom(depot, "/api/schema-changes?colour=red", HttpStatusCode.BadRequest);

        var output = new StringWriter();
        var error = new StringWriter();
        Assert.True(0 == CatalogWatchApi.Run(["schema-changes", "--topic", "/imu", "--json", "--config", WatchConfig(depot)], output, error), error.ToString());
        Assert.Equal(page.GetRawText(), output.ToString().Trim());
        output = new StringWriter();
        Assert.Equal(0, CatalogWatchApi.Run(["schema-changes", "--config", WatchConfig(depot)], output, error));
        Assert.Contains($"dev-b 2.0.0 {changed}", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_recording_that_breaks_a_schema_pin_is_flagged_in_its_entry_and_counted_in_metrics()
    {
        await using var depot = await StartWatchDepot(s => s with
        {
            Schemas = new SchemaSettings { Pinned = new Dictionary<string, string>(StringComparer.Ordinal) { ["/imu"] = Sha(JsonSchemaA) } },
        });
        var (keeps, _) = WriteImuRecording(depot.Storage, "dev-a", 0, 0, "1.0.0", JsonSchemaA, 20, seed: 1, withProtobuf: false);
        var (breaks, _) = WriteImuRecording(depot.Storage, "dev-b", 0, 10, "2.0.0", JsonSchemaB, 20, seed: 2, withProtobuf: false);
        await Catalog(depot, keeps, breaks);

        async Task<JsonElement> Detail(string device) =>
            await GetFrom(depot, "/api/recordings/" + (await GetFrom(depot, "/api/recordings?device=" + device)).GetProperty("recordings")[0].GetProperty("id").GetInt64());
        Assert.Empty((await Detail("dev-a")).GetProperty("schema_pin_breaches").EnumerateArray());
        var breach = Assert.Single((await Detail("dev-b")).GetProperty("schema_pin_breaches").EnumerateArray());
        Assert.Equal(("/imu", Sha(JsonSchemaA), Sha(JsonSchemaB)),
            (breach.GetProperty("topic").GetString(), breach.GetProperty("pinned_sha256").GetString(), breach.GetProperty("schema_sha256").GetString()));

        using var client = new HttpClient();
        var metrics = await client.GetStringAsync(new Uri(depot.App.Url, "/metrics"));
        Assert.Contains("\nrecorder_depot_schema_pin_breaches_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains(depot.Log.Lines, l => l.Contains("breaks the schema pin of /imu", StringComparison.Ordinal));

        // Cataloged again (its .vidx arriving, say): the same recording is not counted twice.
        await Catalog(depot, breaks);
        Assert.Contains("\nrecorder_depot_schema_pin_breaches_total 1\n", await client.GetStringAsync(new Uri(depot.App.Url, "/metrics")), StringComparison.Ordinal);
        var topic = Assert.Single((await GetFrom(depot, "/api/schema-changes")).GetProperty("topics").EnumerateArray());
        Assert.Equal((Sha(JsonSchemaA), 1L), (topic.GetProperty("pinned_sha256").GetString(), topic.GetProperty("pin_breaches").GetInt64()));
    }
}
