using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Recorder.Depot.Identity;

namespace Recorder.Benchmarks;

/// <summary>
/// `dotnet run -c Release --project tests/Recorder.Benchmarks -- depot-fleet [VEHICLES] [MIB_EACH]`:
/// VEHICLES devices (default 50), each with its own token and connection, upload MIB_EACH (default
/// 20) at once through tus (POST, 16 MiB PATCHes: the recorder's default chunk) to recorder-depot
/// run as its own process ($RECORDER_DEPOT_BINARY, e.g. the native AOT build, or this build's
/// recorder-depot.dll under dotnet). Prints the aggregate MB/s, the depot's peak RSS (VmHWM) and
/// its CPU time (user + system) per GB received.
/// </summary>
public static partial class DepotFleetBenchmark
{
    private const long Chunk = 16L << 20;

    public static async Task Run(string[] args)
    {
        var vehicles = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
        var size = (args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 20) << 20;
        var root = Directory.CreateTempSubdirectory("depot-fleet-").FullName;
        Process? depot = null;
        try
        {
            var yaml = Path.Combine(root, "depot.yaml");
            File.WriteAllText(yaml, $"listen: 127.0.0.1:0\nstorage: {{ dir: {Path.Combine(root, "store")} }}\nstate_dir: {Path.Combine(root, "state")}\n");
            var tokens = new TokenStore(Path.Combine(root, "state", "tokens"));
            var devices = Enumerable.Range(1, vehicles).Select(i => string.Create(CultureInfo.InvariantCulture, $"rt-{i:D4}")).ToArray();
            var tokenOf = devices.ToDictionary(d => d, tokens.Add);
            var block = new byte[Math.Min(size, 64L << 20)];
            new Random(1).NextBytes(block);
            var sha = Sha256(block, size);

            var native = Environment.GetEnvironmentVariable("RECORDER_DEPOT_BINARY") is { Length: > 0 } b ? Path.GetFullPath(b) : null;
            var info = new ProcessStartInfo(native ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (native is null) info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "recorder-depot.dll"));
            foreach (var a in new[] { "run", "--config", yaml }) info.ArgumentList.Add(a);
            depot = Process.Start(info)!;
            var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            depot.OutputDataReceived += (_, e) => { if (e.Data is { } line && Listening().Match(line) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups[1].Value)); };
            depot.ErrorDataReceived += (_, _) => { };
            depot.BeginOutputReadLine();
            depot.BeginErrorReadLine();
            var url = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var endpoint = new Uri(url, "/files/");

            var cpuBefore = CpuSeconds(depot.Id);
            var rssSamples = new List<long>();
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    rssSamples.Add(Status(depot.Id, "VmRSS"));
                    try { await Task.Delay(100, sampling.Token); } catch (OperationCanceledException) { }
                }
            });
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(devices.Select(d => Upload(endpoint, d, tokenOf[d], block, size, sha)));
            var seconds = watch.Elapsed.TotalSeconds;
            sampling.Cancel();
            await sampler;
            var cpu = CpuSeconds(depot.Id) - cpuBefore;
            var peak = Status(depot.Id, "VmHWM");
            var bytes = (double)size * vehicles;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{vehicles} vehicles x {size >> 20} MiB at once ({(native is null ? "recorder-depot.dll" : "native")}): {bytes / seconds / 1e6:0} MB/s aggregate in {seconds:0.0} s; " +
                $"depot RSS peak {peak / 1024.0:0} MiB (median while uploading {Median(rssSamples) / 1024.0:0} MiB), CPU {cpu:0.00} s = {cpu / seconds * 100:0}% of one core, {cpu / (bytes / 1e9):0.00} CPU-s per GB"));
        }
        finally
        {
            if (depot is { HasExited: false })
            {
                depot.Kill();
                await depot.WaitForExitAsync();
            }
            depot?.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    [GeneratedRegex(@"listening on (http\S+/),")]
    private static partial Regex Listening();

    private static async Task Upload(Uri endpoint, string device, string token, byte[] block, long size, string sha)
    {
        using var client = new HttpClient(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var name = device + "_20261127T080000Z_0001.mcap";
        using var create = new HttpRequestMessage(HttpMethod.Post, endpoint);
        create.Headers.Add("Tus-Resumable", "1.0.0");
        create.Headers.Add("Upload-Length", size.ToString(CultureInfo.InvariantCulture));
        create.Headers.Add("Upload-Metadata", string.Join(",",
            new[] { ("filename", name), ("sha256", sha), ("device_id", device), ("recording", name) }
                .Select(m => m.Item1 + " " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(m.Item2)))));
        using var created = await client.SendAsync(create);
        if (created.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"{device}: POST answered {created.StatusCode}");
        var upload = new Uri(endpoint, created.Headers.Location!);
        string? verified = null;
        for (long offset = 0; offset < size; offset += Chunk)
        {
            var count = Math.Min(Chunk, size - offset);
            using var patch = new HttpRequestMessage(HttpMethod.Patch, upload) { Content = new DepotUploadBenchmark.RepeatedContent(block, offset, count) };
            patch.Headers.Add("Tus-Resumable", "1.0.0");
            patch.Headers.Add("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture));
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
            using var response = await client.SendAsync(patch);
            if (response.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"{device}: PATCH answered {response.StatusCode}");
            if (response.Headers.TryGetValues("X-Ingest-Sha256", out var values)) verified = values.First();
        }
        if (verified != sha) throw new InvalidOperationException($"{device}: the depot did not verify the upload");
    }

    private static string Sha256(byte[] block, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long done = 0; done < size; done += block.Length) hash.AppendData(block, 0, (int)Math.Min(block.Length, size - done));
        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    /// <summary>utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>A kB value from /proc/PID/status (VmRSS, VmHWM).</summary>
    private static long Status(int pid, string key)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    private static double Median(List<long> values) => values.Count == 0 ? 0 : values.Order().ElementAt(values.Count / 2);
}
