using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Recorder.Offload;
using Recorder.Offload.Tests;

namespace Recorder.Benchmarks;

/// <summary>
/// Offload throughput on loopback: one 64 MiB file to the test depot (@tus/server + @tus/file-store,
/// tests/interop/depot.mjs) with our tus client, against a raw HTTP POST of the same bytes to the
/// same Node process (which only writes them to disk). The tus case includes the POST that creates
/// the upload and the depot's finish hook, which hashes the stored file; the service case also
/// includes our SHA-256 of the file before the upload.
/// </summary>
[Config(typeof(OffloadConfig))]
public class OffloadBenchmarks
{
    public const long Size = 64L << 20;
    private DepotProcess? _depot;
    private string _file = "";
    private string _recordings = "";
    private HttpClient? _raw;
    private TusClient? _tus;
    private SocketsHttpHandler? _handler;
    private string _sha = "";

    private sealed class OffloadConfig : ManualConfig
    {
        public OffloadConfig()
        {
            AddJob(Job.Default
                .WithStrategy(RunStrategy.Monitoring)
                .WithWarmupCount(1)
                .WithIterationCount(5)
                .WithId("Offload")
                .AsDefault());
            AddColumn(new ThroughputColumn());
        }
    }

    /// <summary>MB/s (10⁶ bytes) of the 64 MiB file, from the mean.</summary>
    private sealed class ThroughputColumn : BenchmarkDotNet.Columns.IColumn
    {
        public string Id => "MBps";
        public string ColumnName => "MB/s";
        public bool AlwaysShow => true;
        public BenchmarkDotNet.Columns.ColumnCategory Category => BenchmarkDotNet.Columns.ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public BenchmarkDotNet.Columns.UnitType UnitType => BenchmarkDotNet.Columns.UnitType.Dimensionless;
        public string Legend => "megabytes (10^6) of file per second, from the mean";
        public bool IsAvailable(BenchmarkDotNet.Reports.Summary summary) => true;
        public bool IsDefault(BenchmarkDotNet.Reports.Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) => false;
        public string GetValue(BenchmarkDotNet.Reports.Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) =>
            summary[benchmarkCase]?.ResultStatistics is { } s ? (Size / (s.Mean / 1e9) / 1e6).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) : "-";
        public string GetValue(BenchmarkDotNet.Reports.Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase, BenchmarkDotNet.Reports.SummaryStyle style) =>
            GetValue(summary, benchmarkCase);
    }

    [GlobalSetup]
    public void Setup()
    {
        _depot = DepotProcess.Start(token: false);
        _recordings = Directory.CreateTempSubdirectory("recorder-bench-rec-").FullName;
        _file = Path.Combine(_recordings, "bench.bin");
        var bytes = new byte[Size];
        new Random(1).NextBytes(bytes);
        File.WriteAllBytes(_file, bytes);
        _sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        _raw = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        _handler = new SocketsHttpHandler();
        _tus = new TusClient(_handler, _depot.Url, () => null, TimeSpan.FromSeconds(60));
    }

    [Benchmark(Baseline = true)]
    public async Task RawHttpPost()
    {
        await using var stream = new FileStream(_file, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous);
        using var content = new StreamContent(stream, 64 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _raw!.PostAsync(new Uri(_depot!.Url, "/raw"), content);
        response.EnsureSuccessStatusCode();
    }

    [Benchmark]
    public async Task TusClientUpload()
    {
        var created = await _tus!.CreateAsync(Size, Metadata(), CancellationToken.None);
        var result = await _tus.PatchAsync(created.Url, _file, 0, Size, null, CancellationToken.None);
        if (result.VerifiedSha256 != _sha) throw new InvalidOperationException("not verified");
        await _tus.DeleteAsync(created.Url, CancellationToken.None);
    }

    [Benchmark]
    public async Task TusClientUpload16MiBPatches()
    {
        var created = await _tus!.CreateAsync(Size, Metadata(), CancellationToken.None);
        long offset = 0;
        string? verified = null;
        while (offset < Size)
        {
            var result = await _tus.PatchAsync(created.Url, _file, offset, Math.Min(16L << 20, Size - offset), null, CancellationToken.None);
            offset = result.Offset;
            verified = result.VerifiedSha256;
        }
        if (verified != _sha) throw new InvalidOperationException("not verified");
        await _tus.DeleteAsync(created.Url, CancellationToken.None);
    }

    private List<KeyValuePair<string, string>> Metadata() =>
    [
        new("filename", "bench.bin"), new("sha256", _sha), new("size", Size.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("device_id", "bench"), new("start_time", "0"), new("end_time", "0"), new("kind", "mcap"), new("recording", "bench.bin"),
    ];

    [GlobalCleanup]
    public void Cleanup()
    {
        _tus?.Dispose();
        _handler?.Dispose();
        _raw?.Dispose();
        _depot?.Dispose();
        Directory.Delete(_recordings, recursive: true);
    }
}

/// <summary>
/// <c>dotnet run -c Release --project tests/Recorder.Benchmarks -- offload-cuts [MiB]</c>: one file
/// through the fault proxy cutting every connection at a random offset, with the service doing
/// what it does in the field (HEAD, resume); prints cuts, bytes on the wire and bytes re-sent per cut,
/// unlimited and capped at 20 MB/s.
/// </summary>
public static class OffloadCuts
{
    public static async Task Run(string[] args)
    {
        var mib = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 64;
        foreach (var bandwidth in new long[] { 0, 20_000_000 })
        {
            using var depot = DepotProcess.Start(token: false);
            var recordings = Directory.CreateTempSubdirectory("recorder-cuts-").FullName;
            var dir = Path.Combine(recordings, "bench", "2026-11-27");
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, "cuts.mcap");
            var bytes = new byte[(long)mib << 20];
            new Random(2).NextBytes(bytes);
            // A valid MCAP ending: the catalog only takes finished files (trailing magic).
            Recorder.Mcap.McapConstants.Magic.CopyTo(bytes.AsSpan(bytes.Length - 8));
            Recorder.Mcap.McapConstants.Magic.CopyTo(bytes);
            await File.WriteAllBytesAsync(path, bytes);
            using var proxy = new FaultProxy(depot.Port, new FaultPlan(CutProbability: 1, MaxCutOffset: 8 << 20), seed: 3);
            var options = new OffloadOptions
            {
                Endpoint = proxy.Through(depot.Url),
                RecordingsDirectory = recordings,
                DeviceId = "bench",
                Insecure = true,
                Presence = PresenceMode.Manual,
                ChunkSize = 16L << 20,
                Bandwidth = bandwidth,
                RetryMin = TimeSpan.FromMilliseconds(10),
                RetryMax = TimeSpan.FromMilliseconds(100),
                InactivityTimeout = TimeSpan.FromSeconds(5),
                LeaveAfter = 1000,
            };
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await using (var service = new OffloadService(options))
            {
                service.Start();
                service.Now();
                while (service.Status().Verified == 0)
                {
                    if (watch.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException("no verification in 3 minutes");
                    await Task.Delay(20);
                }
                watch.Stop();
                var size = bytes.Length;
                var wire = proxy.BytesFromClient;
                var line = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"bandwidth {(bandwidth == 0 ? "unlimited" : $"{bandwidth / 1e6:0} MB/s")}: {size / 1e6:0.0} MB in {watch.Elapsed.TotalSeconds:0.00} s ({size / 1e6 / watch.Elapsed.TotalSeconds:0.0} MB/s), {proxy.Cuts} cuts, " +
                    $"wire {wire / 1e6:0.00} MB ({(double)wire / size:0.000}x), re-sent on the wire {(wire - size) / 1e3 / Math.Max(proxy.Cuts, 1):0.0} KB per cut, client body bytes re-sent {(service.BytesSent - size) / 1e3 / Math.Max(proxy.Cuts, 1):0.0} KB per cut");
                Console.WriteLine(line);
            }
            Directory.Delete(recordings, recursive: true);
        }
    }
}
