using System.Globalization;
using System.Security.Cryptography;
using Recorder.Mcap;
using Recorder.Offload.Tests;
using Recorder.Tests;

namespace Recorder.Depot.Tests;

/// <summary>
/// The real recorder daemon offloads into the real recorder-depot process through the
/// fault-injecting proxy (cuts, stalls, 503s), and the depot is SIGKILLed and restarted mid-upload.
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

    /// <summary>
    /// Fifty recordings of mixed sizes (every third with a .vidx and a sidecar stream) offloaded by
    /// the daemon through scheduled cuts, stalls and 503s, with the depot SIGKILLed and restarted
    /// twice mid-upload. Every file arrives byte-identical and verified; a vehicle file is only ever
    /// deleted once the depot holds it verified (the depot commits before it answers, so a delete
    /// seen with no stored file is a real violation, never a race of this check).
    /// </summary>
    [Fact]
    public void Fifty_recordings_with_companions_arrive_byte_identical_and_verified_through_faults_and_two_depot_kills()
    {
        var depotRoot = Directory.CreateTempSubdirectory("recorder-depot-proc-").FullName;
        var root = Directory.CreateTempSubdirectory("recorder-daemon-").FullName;
        var depot = DepotProcess.Start(depotRoot);
        try
        {
            var token = DepotProcess.AddToken(depotRoot, Device);
            File.WriteAllText(Path.Combine(root, "depot.token"), token + "\n");
            var vehicleDir = Path.Combine(root, "rec", Device, "2026-11-27");
            var expected = WriteRecordings(vehicleDir, count: 50);
            var total = expected.Values.Sum(e => e.Size);
            var storedDir = Path.Combine(depotRoot, "store", Device, "2026-11-27");

            // Every deletion on the vehicle is checked against the depot the moment it is seen.
            var violations = new List<string>();
            var deletions = 0;
            using var watcher = new FileSystemWatcher(vehicleDir) { InternalBufferSize = 64 * 1024 };
            watcher.Deleted += (_, e) =>
            {
                string? problem = null;
                if (!expected.TryGetValue(e.Name!, out var want)) problem = $"unexpected deletion of {e.Name}";
                else if (!File.Exists(Path.Combine(storedDir, e.Name!))) problem = $"{e.Name} deleted on the vehicle before the depot had it verified";
                else if (new FileInfo(Path.Combine(storedDir, e.Name!)).Length != want.Size) problem = $"{e.Name} deleted while the depot's copy has another size";
                lock (violations)
                {
                    deletions++;
                    if (problem is not null) violations.Add(problem);
                }
            };
            watcher.Error += (_, e) => { lock (violations) violations.Add("the watcher lost events: " + e.GetException().Message); };
            watcher.EnableRaisingEvents = true;

            const int chunk = 256 * 1024;
            // 6 cuts, 2 stalls (longer than the daemon's inactivity_timeout: given up and resumed), 4 injected 503s, every 8th PATCH.
            var schedule = FaultSchedule.Build(seed: 13, cuts: 6, stalls: 2, errors503: 4, spacing: 8, stallDuration: TimeSpan.FromSeconds(3));
            using var proxy = new FaultProxy(depot.Url.Port, schedule);
            var endpoint = proxy.Through(depot.Endpoint);
            using var daemon = DaemonProcess.Start($"""
                offload:
                  endpoint: {endpoint}
                  insecure: true
                  presence: manual
                  token_file: {Path.Combine(root, "depot.token")}
                  inactivity_timeout: 1500ms
                  retry: {"{"} min: 50ms, max: 300ms {"}"}
                  rescan_interval: 500ms
                  chunk_size: {chunk}B
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
                var stored = Path.Combine(storedDir, name);
                Assert.True(File.Exists(stored), $"{name} is not at the depot");
                Assert.Equal(size, new FileInfo(stored).Length);
                Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(stored))));
            }
            Assert.Empty(Directory.EnumerateFiles(vehicleDir));
            // The watcher saw every deletion (the round is not empty) and none came early.
            daemon.WaitFor(() => Volatile.Read(ref deletions) >= expected.Count, TimeSpan.FromSeconds(10), "the watcher to report every deletion");
            lock (violations) Assert.Empty(violations);
            // Uploads the recorder abandoned (a POST whose answer a cut lost) wait for expiry; every verified one was committed whole.
            foreach (var record in Directory.EnumerateFiles(Path.Combine(depotRoot, "store", ".uploads"), "*.json"))
                if (File.ReadAllText(record).Contains("\"verified_sha256\":\"", StringComparison.Ordinal))
                    Assert.False(File.Exists(Path.ChangeExtension(record, ".part")), $"{record} is verified but its bytes were not moved into place");
            // The faults happened: this round is not empty. (Two depot kills cut connections too, so a
            // scheduled fault can land on a request already dead; at least most of them struck.)
            Assert.True(proxy.Patches >= schedule.LastOrdinal, $"only {proxy.Patches} PATCHes: the faults after it never struck");
            Assert.True(proxy.Cuts > 0 && proxy.Stalls > 0 && proxy.Injected503 > 0, $"cuts {proxy.Cuts}, stalls {proxy.Stalls}, 503s {proxy.Injected503}");
            Assert.Null(proxy.Error);
            var ratio = (double)proxy.BytesFromClient / total;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"recorder -> depot: {expected.Count} files of 50 recordings, {total} B, sent {proxy.BytesFromClient} B through the proxy ({ratio:0.000}x), {proxy.Patches} PATCHes, {proxy.Cuts} cuts, {proxy.Stalls} stalls, {proxy.Injected503} 503s, 2 depot SIGKILLs"));
            Assert.True(ratio < 3, $"sent {ratio:0.00}x the data");
            Assert.Equal(0, daemon.Stop());
        }
        finally
        {
            depot.Dispose();
            Directory.Delete(depotRoot, recursive: true); // the daemon's root goes with DaemonProcess.Dispose
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

    /// <summary>
    /// <paramref name="count"/> finished recordings of mixed sizes (log-uniform, 20 KB to 2 MB), written
    /// straight into the vehicle's recording directory; every third with a .vidx and a sidecar stream.
    /// Returns file name → (size, sha256).
    /// </summary>
    private static Dictionary<string, (long Size, string Sha256)> WriteRecordings(string dir, int count)
    {
        Directory.CreateDirectory(dir);
        var random = new Random(13);
        var expected = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        var payload = new byte[10_000];
        for (var i = 0; i < count; i++)
        {
            var size = (int)Math.Exp(Math.Log(20_000) + random.NextDouble() * (Math.Log(2_000_000) - Math.Log(20_000)));
            var stem = string.Create(CultureInfo.InvariantCulture, $"{Device}_20261127T{8 + i / 60:D2}{i % 60:D2}00Z_{i + 1:D4}");
            var mcap = Path.Combine(dir, stem + ".mcap");
            using (var writer = new McapWriter(File.Create(mcap), new McapWriterOptions { Compression = McapCompression.None }))
            {
                var channel = writer.AddChannel("/blob", "application/octet-stream");
                for (uint m = 0; m <= size / payload.Length; m++)
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
                File.WriteAllBytes(stream, RandomBytes(random, size / 2));
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
