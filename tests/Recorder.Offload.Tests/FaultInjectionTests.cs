using Xunit.Abstractions;

namespace Recorder.Offload.Tests;

/// <summary>
/// The depot behind a proxy that cuts connections at random byte offsets, stalls them and answers
/// 503 itself: every file still arrives byte-identical, nothing is deleted before the depot verified
/// it, and resumption keeps the bytes on the wire below 1.1× the data.
/// </summary>
[Collection("depot")]
public sealed class FaultInjectionTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _recordings = Directory.CreateTempSubdirectory("recorder-rec-").FullName;
    private readonly string _originals = Directory.CreateTempSubdirectory("recorder-orig-").FullName;

    public void Dispose()
    {
        Directory.Delete(_recordings, recursive: true);
        Directory.Delete(_originals, recursive: true);
    }

    [Fact]
    public async Task Fifty_files_through_cuts_stalls_and_503s_arrive_byte_identical_and_are_deleted_only_after_verification()
    {
        using var depot = DepotProcess.Start();
        // Mixed sizes, 2 KB to 3 MB, log-uniform: small diagnostics files and big camera files.
        var random = new Random(6);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (var i = 0; i < 50; i++)
        {
            var size = (long)Math.Exp(Math.Log(2_000) + random.NextDouble() * (Math.Log(3_000_000) - Math.Log(2_000)));
            var name = $"dev-1_20261127T{10 + i / 60:D2}{i % 60:D2}00Z_{i:D4}";
            var path = Samples.Recording(_recordings, name, size, (ulong)(1_000_000_000L * (i + 1)), mark: i % 9 == 0, seed: i);
            var copy = Path.Combine(_originals, name + ".mcap");
            File.Copy(path, copy);
            files[name + ".mcap"] = copy;
            total += new FileInfo(path).Length;
        }

        using var proxy = new FaultProxy(depot.Port, new FaultPlan(
            CutProbability: 1.0, MaxCutOffset: 2 << 20, StallProbability: 0.1, StallDuration: TimeSpan.FromMilliseconds(1500),
            Error503Probability: 0.1, MaxFaults: 40), seed: 7);
        var violations = new List<string>();
        var deleted = 0;
        var options = Samples.Options(_recordings, proxy.Through(depot.Url)) with
        {
            DeleteAfterUpload = true,
            Presence = PresenceMode.Probe,
            Parallel = 2,
            InactivityTimeout = TimeSpan.FromSeconds(1),
            LeaveAfter = 4,
            // The link, not the depot's disk, is the bottleneck on a vehicle: the depot then holds little unwritten data when a cut comes.
            Bandwidth = 8_000_000,
        };
        await using var service = new OffloadService(options);
        service.Deleting += (path, sha) =>
        {
            // The depot must have verified exactly these bytes before the file may go.
            var name = Path.GetFileName(path);
            var verified = depot.Verified();
            string? problem = null;
            if (!verified.TryGetValue(name, out var v)) problem = $"{name} deleted before the depot verified it";
            else if (v.Sha256 != sha || v.Sha256 != Samples.Sha256(path)) problem = $"{name} deleted with hash {sha}, depot verified {v.Sha256}";
            else if (!File.ReadAllBytes(v.Path).AsSpan().SequenceEqual(File.ReadAllBytes(path))) problem = $"{name}: the depot's bytes differ";
            lock (violations)
            {
                if (problem is not null) violations.Add(problem);
                deleted++;
            }
        };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        service.Start();
        await Samples.WaitFor(() => Volatile.Read(ref deleted) == 50 || violations.Count > 0, TimeSpan.FromSeconds(150),
            () => $"50 deletions, got {deleted}; status {Describe(service.Status())}; depot stderr {depot.Stderr}");
        watch.Stop();

        Assert.Empty(violations);
        Assert.Empty(Directory.EnumerateFiles(_recordings, "*.mcap", SearchOption.AllDirectories));
        var stored = depot.Verified();
        Assert.Equal(50, stored.Count);
        foreach (var (name, original) in files)
            Assert.True(File.ReadAllBytes(stored[name].Path).AsSpan().SequenceEqual(File.ReadAllBytes(original)), $"{name} differs on the depot");

        var wire = proxy.BytesFromClient;
        output.WriteLine($"data {total} B in 50 files; client body bytes {service.BytesSent}; bytes through the proxy {wire} ({(double)wire / total:0.000}x)");
        output.WriteLine($"connections {proxy.Connections}, cuts {proxy.Cuts}, stalls {proxy.Stalls}, injected 503s {proxy.Injected503}; {watch.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine($"re-sent body bytes {service.BytesSent - total} = {(double)(service.BytesSent - total) / Math.Max(proxy.Cuts + proxy.Stalls, 1):0} per cut or stall");
        Assert.True(proxy.Cuts >= 10, $"only {proxy.Cuts} cuts: the test did not test much");
        Assert.True(proxy.Injected503 >= 2, $"only {proxy.Injected503} injected 503s");
        Assert.True(proxy.Stalls >= 1, "no stall happened");
        Assert.True(wire < 1.1 * total, $"{wire} bytes on the wire for {total} bytes of data ({(double)wire / total:0.000}x)");
    }

    internal static string Describe(OffloadStatus s) =>
        $"{s.State} in_range={s.InRange} pending={s.Pending} active={s.Active} verified={s.Verified} deleted={s.Deleted} failed={s.Failed} last_error={s.LastError} probe={s.LastProbeError}";
}
