using Xunit.Abstractions;

namespace Recorder.Offload.Tests;

/// <summary>
/// The depot behind a proxy that cuts PATCH requests, stalls them and answers 503 itself, on a seeded,
/// deterministic schedule: every file still arrives byte-identical, nothing is deleted before the
/// depot verified it, and resumption keeps the client's own bytes sent below 1.1× the data.
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

    /// <summary>
    /// What the design guarantees, and so what is asserted: a PATCH that fails (cut, stalled past the
    /// inactivity timeout, refused) costs at most its own body in re-sent bytes, because the uploader
    /// then HEADs and resumes from the depot's offset, which is never below where that PATCH started
    /// (a tus server only grows an upload's offset). Successful PATCHes never re-send. So
    /// <c>bytes sent − data ≤ failed PATCHes × chunk_size</c>, counted by the client itself. Nothing
    /// tighter is guaranteed: how much of a cut body the depot kept depends on kernel buffers and the
    /// depot's own buffering (@tus/server's file store keeps what it wrote). With the default 16 MiB
    /// chunk one cut may cost 16 MiB; this test's chunk (32 KiB) is chosen so that its fault budget
    /// fits in half of the 10% allowance, whatever the interleaving.
    /// </summary>
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

        const long chunk = 32 * 1024;
        // 12 cuts, 3 stalls, 4 injected 503s, one every 16th PATCH, strike points and order from seed 11.
        var schedule = FaultSchedule.Build(seed: 11, cuts: 12, stalls: 3, errors503: 4, spacing: 16, stallDuration: TimeSpan.FromSeconds(4));
        Assert.True(schedule.Faults.Count * chunk <= 0.05 * total,
            $"{schedule.Faults.Count} faults × {chunk} B do not fit in half the 10% budget of {total} B: the schedule is wrong for this data");
        using var proxy = new FaultProxy(depot.Port, schedule);
        var violations = new List<string>();
        var deleted = 0;
        var options = Samples.Options(_recordings, proxy.Through(depot.Url)) with
        {
            DeleteAfterUpload = true,
            Presence = PresenceMode.Probe,
            Parallel = 2,
            ChunkSize = chunk,
            // Shorter than the stalls (4 s): a stalled PATCH is given up and resumed.
            InactivityTimeout = TimeSpan.FromSeconds(2),
            // Faults are 16 PATCHes apart and each failed upload's next request (HEAD) succeeds, so at
            // most two failures (one per worker) come in a row: the depot never leaves range.
            LeaveAfter = 4,
            // The link, not the depot's disk, is the bottleneck on a vehicle.
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

        Assert.Null(proxy.Error);
        Assert.Empty(violations);
        Assert.Empty(Directory.EnumerateFiles(_recordings, "*.mcap", SearchOption.AllDirectories));
        var stored = depot.Verified();
        Assert.Equal(50, stored.Count);
        foreach (var (name, original) in files)
            Assert.True(File.ReadAllBytes(stored[name].Path).AsSpan().SequenceEqual(File.ReadAllBytes(original)), $"{name} differs on the depot");

        var sent = service.BytesSent;
        var failed = service.FailedPatches;
        var resent = sent - total;
        output.WriteLine($"data {total} B in 50 files; client body bytes sent {sent} ({(double)sent / total:0.0000}x); through the proxy {proxy.BytesFromClient} B");
        output.WriteLine($"PATCHes {proxy.Patches}, failed (client) {failed}; cuts {proxy.Cuts}, stalls {proxy.Stalls}, injected 503s {proxy.Injected503}; {watch.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine($"re-sent {resent} B = {(double)resent / Math.Max(failed, 1):0} B per failed PATCH (bound {chunk}); faulted bodies {proxy.FaultedBodyBytes} B");
        // An upload started over (a new POST) re-sends the whole file: the depot's events say whether and why.
        output.WriteLine($"uploads created {depot.Events("create").Count} for 50 files, hash mismatches {depot.Events("mismatch").Count}; last error {service.Status().LastError}");

        // The schedule struck exactly as built: the run is the same every time.
        Assert.True(proxy.Patches >= schedule.LastOrdinal, $"only {proxy.Patches} PATCHes: the faults after it never struck");
        Assert.Equal(schedule.Count(RequestFaultKind.Cut), proxy.Cuts);
        Assert.Equal(schedule.Count(RequestFaultKind.Stall), proxy.Stalls);
        Assert.Equal(schedule.Count(RequestFaultKind.Error503), proxy.Injected503);
        // Every cut and 503 is a failed PATCH on the client's side (a stall is one unless the link comes back in time).
        Assert.True(failed >= proxy.Cuts + proxy.Injected503, $"{failed} failed PATCHes for {proxy.Cuts} cuts and {proxy.Injected503} 503s");
        Assert.True(resent >= 0, $"sent {sent} of {total} bytes");
        Assert.True(resent <= failed * chunk, $"re-sent {resent} B for {failed} failed PATCHes of at most {chunk} B");
        Assert.True(sent <= 1.1 * total, $"{sent} bytes sent for {total} bytes of data ({(double)sent / total:0.000}x)");
    }

    internal static string Describe(OffloadStatus s) =>
        $"{s.State} in_range={s.InRange} pending={s.Pending} active={s.Active} verified={s.Verified} uploaded_unverified={s.UploadedUnverified} session={s.Session} deleted={s.Deleted} failed={s.Failed} last_error={s.LastError} probe={s.LastProbeError}";
}
