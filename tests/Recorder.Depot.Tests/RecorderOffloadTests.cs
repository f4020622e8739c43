using System.Globalization;
using System.Security.Cryptography;
using Recorder.Mcap;
using Recorder.Offload.Tests;
using Recorder.Tests;

namespace Recorder.Depot.Tests;

/// <summary>
/// The real recorder daemon offloads into the real recorder-depot process through the
/// fault-injecting proxy (cuts, 503s), and the depot is SIGKILLed and restarted mid-upload.
/// </summary>
[Collection("depot-process")]
public sealed class RecorderOffloadTests
{
    private const string Device = "test-0001"; // DaemonProcess's device.yaml

    static RecorderOffloadTests()
    {
        // This output directory carries ASP.NET Core for the depot, so the recorder's own package
        // assemblies are not copied here: run the recorder from its own build output (its apphost),
        // unless $RECORDER_BINARY already names a binary (the native AOT build in CI).
        if (DaemonProcess.NativeBinary is not null) return;
        var own = AppContext.BaseDirectory.Replace(Path.Combine("tests", "Recorder.Depot.Tests"), Path.Combine("src", "Recorder"), StringComparison.Ordinal);
        Environment.SetEnvironmentVariable("RECORDER_BINARY", Path.Combine(own, "recorder"));
    }

    [Fact]
    public void Recordings_with_companions_arrive_byte_identical_and_verified_through_faults_and_a_depot_restart()
    {
        var depotRoot = Directory.CreateTempSubdirectory("recorder-depot-proc-").FullName;
        var root = Directory.CreateTempSubdirectory("recorder-daemon-").FullName;
        var depot = DepotProcess.Start(depotRoot);
        try
        {
            var token = DepotProcess.AddToken(depotRoot, Device);
            File.WriteAllText(Path.Combine(root, "depot.token"), token + "\n");
            var expected = WriteRecordings(Path.Combine(root, "rec", Device, "2026-11-27"));
            var total = expected.Values.Sum(e => (long)e.Size);
            using var proxy = new FaultProxy(depot.Url.Port, new FaultPlan(CutProbability: 0.25, MaxCutOffset: 1 << 20, Error503Probability: 0.1, MaxFaults: 10));
            var endpoint = proxy.Through(depot.Endpoint);
            using var daemon = DaemonProcess.Start($"""
                offload:
                  endpoint: {endpoint}
                  insecure: true
                  presence: manual
                  token_file: {Path.Combine(root, "depot.token")}
                  inactivity_timeout: 2s
                  retry: {"{"} min: 50ms, max: 300ms {"}"}
                  rescan_interval: 500ms
                  chunk_size: 512KiB
                  delete_after_upload: true
                """, root: root);
            daemon.WaitFor(() => Status(daemon).GetProperty("pending").GetInt32() == expected.Count, TimeSpan.FromSeconds(30), "every file to be queued");
            Assert.True(daemon.Control("offload", ("action", "now")).GetProperty("ok").GetBoolean());

            // Kill the depot when a third and two thirds of the bytes are stored, in the middle of whatever upload is running, and start it again on its port.
            var port = depot.Url.Port;
            foreach (var (fraction, what) in new[] { (1.0 / 3, "a third"), (2.0 / 3, "two thirds") })
            {
                daemon.WaitFor(() => StoredBytes(depotRoot) > total * fraction, TimeSpan.FromSeconds(120), $"{what} of the bytes at the depot");
                depot.Kill();
                depot.Dispose();
                depot = DepotProcess.Start(depotRoot, port);
                daemon.Control("offload", ("action", "now"));
            }

            // With presence: manual a failed probe ends the session (the depot was dead for a moment): enter range again, as the presence check would.
            daemon.WaitFor(() =>
            {
                var status = Status(daemon);
                if (!status.GetProperty("in_range").GetBoolean()) daemon.Control("offload", ("action", "now"));
                return status.GetProperty("deleted").GetInt32() == expected.Count;
            }, TimeSpan.FromSeconds(180),
                $"every file verified and deleted (depot: {depot.Output})");
            foreach (var (name, (size, sha)) in expected)
            {
                var stored = Path.Combine(depotRoot, "store", Device, "2026-11-27", name);
                Assert.True(File.Exists(stored), $"{name} is not at the depot");
                Assert.Equal(size, new FileInfo(stored).Length);
                Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(stored))));
            }
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "rec", Device, "2026-11-27")));
            // Uploads the recorder abandoned (a POST whose answer a cut lost) wait for expiry; every verified one was committed whole.
            foreach (var record in Directory.EnumerateFiles(Path.Combine(depotRoot, "store", ".uploads"), "*.json"))
                if (File.ReadAllText(record).Contains("\"verified_sha256\":\"", StringComparison.Ordinal))
                    Assert.False(File.Exists(Path.ChangeExtension(record, ".part")), $"{record} is verified but its bytes were not moved into place");
            // The faults happened: this round is not empty.
            Assert.True(proxy.Cuts + proxy.Injected503 > 0, "the proxy injected no fault");
            var ratio = (double)proxy.BytesFromClient / total;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"recorder -> depot: {expected.Count} files, {total} B, sent {proxy.BytesFromClient} B through the proxy ({ratio:0.000}x), {proxy.Cuts} cuts, {proxy.Injected503} 503s, 2 depot SIGKILLs"));
            Assert.True(ratio < 3, $"sent {ratio:0.00}x the data");
            Assert.Equal(0, daemon.Stop());
        }
        finally
        {
            depot.Dispose();
            Directory.Delete(depotRoot, recursive: true);
        }
    }

    private static System.Text.Json.JsonElement Status(DaemonProcess daemon) => daemon.Control("offload", ("action", "status")).GetProperty("result");

    private static long StoredBytes(string depotRoot)
    {
        var store = Path.Combine(depotRoot, "store");
        if (!Directory.Exists(store)) return 0;
        long sum = 0;
        foreach (var file in Directory.EnumerateFiles(store, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".json", StringComparison.Ordinal)))
        {
            try
            {
                sum += new FileInfo(file).Length;
            }
            catch (FileNotFoundException)
            {
                // Renamed into place (or removed) by the depot meanwhile.
            }
        }
        return sum;
    }

    /// <summary>12 finished recordings of mixed sizes (20 KB to 2.5 MB); every third with a .vidx and a sidecar stream. Returns name → (size, sha256).</summary>
    private static Dictionary<string, (long Size, string Sha256)> WriteRecordings(string dir)
    {
        Directory.CreateDirectory(dir);
        var random = new Random(13);
        var expected = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        int[] sizes = [20_000, 2_500_000, 300_000, 64_000, 1_200_000, 700_000, 20_000, 1_800_000, 150_000, 900_000, 40_000, 500_000];
        for (var i = 0; i < sizes.Length; i++)
        {
            var stem = string.Create(CultureInfo.InvariantCulture, $"{Device}_20261127T08{i:D2}00Z_0001");
            var mcap = Path.Combine(dir, stem + ".mcap");
            using (var writer = new McapWriter(File.Create(mcap), new McapWriterOptions { Compression = McapCompression.None }))
            {
                var channel = writer.AddChannel("/blob", "application/octet-stream");
                var payload = new byte[10_000];
                for (uint m = 0; m < sizes[i] / payload.Length; m++)
                {
                    random.NextBytes(payload);
                    var t = 1_795_766_400_000_000_000UL + ((ulong)i * 60 + m) * 1_000_000;
                    writer.WriteMessage(channel, m, t, t, payload);
                }
            }
            var files = new List<string> { mcap };
            if (i % 3 == 0)
            {
                var vidx = Path.Combine(dir, stem + ".vidx");
                var stream = Path.Combine(dir, stem + ".camera_front.h264");
                File.WriteAllBytes(vidx, RandomBytes(random, 4_096 + i));
                File.WriteAllBytes(stream, RandomBytes(random, sizes[i] / 2));
                files.Add(vidx);
                files.Add(stream);
            }
            foreach (var f in files) expected[Path.GetFileName(f)] = (new FileInfo(f).Length, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))));
        }
        return expected;
    }

    private static byte[] RandomBytes(Random random, int size)
    {
        var bytes = new byte[size];
        random.NextBytes(bytes);
        return bytes;
    }
}
