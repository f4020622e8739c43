using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Recorder.Depot;
using Recorder.Depot.Config;
using Recorder.Depot.Identity;

namespace Recorder.Benchmarks;

/// <summary>
/// `dotnet run -c Release --project tests/Recorder.Benchmarks -- depot-upload [SIZE_MIB] [ROUNDS]`:
/// one upload of SIZE (default 1024 MiB) on loopback through recorder-depot (tus: POST, then
/// 16 MiB PATCHes, the recorder's default chunk; hashed, fsynced, verified, renamed into place)
/// against a plain HTTP PUT of the same bytes into the same Kestrel process, streamed to a file and
/// fsynced once (the same gathered positional writes). Rounds alternate; the medians and their ratio are printed (goal ≥ 0.9).
/// </summary>
public static class DepotUploadBenchmark
{
    private const int Block = 64 << 20;
    private const long Chunk = 16L << 20;

    public static async Task Run(string[] args)
    {
        var size = (args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 1024) << 20;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var root = Directory.CreateTempSubdirectory("depot-bench-").FullName;
        try
        {
            var block = new byte[Block];
            new Random(1).NextBytes(block);
            var hashWatch = Stopwatch.StartNew();
            var sha = Sha256(block, size);
            // What the depot adds per byte, measured alone on one core: the SHA-256.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SHA-256 alone (one thread): {size / hashWatch.Elapsed.TotalSeconds / 1e6:0} MB/s"));
            var settings = new DepotSettings
            {
                Listen = "127.0.0.1:0",
                Storage = new StorageSettings { Dir = Path.Combine(root, "store") },
                StateDir = Path.Combine(root, "state"),
            };
            var token = new TokenStore(settings.TokensFile).Add("bench-1");
            var rawPath = Path.Combine(root, "raw.bin");
            await using var depot = DepotApp.Build(settings, logging: l => { }, fallback: context => RawPut(context, rawPath));
            await depot.StartAsync();
            using var client = new HttpClient(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var depotTimes = new List<double>();
            var rawTimes = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                rawTimes.Add(await Raw(client, new Uri(depot.Url, "/raw"), block, size));
                File.Delete(rawPath);
                depotTimes.Add(await Tus(client, depot.Endpoint, block, size, sha, round));
                foreach (var f in Directory.EnumerateFiles(settings.Storage.Dir, "*.mcap", SearchOption.AllDirectories)) File.Delete(f);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round + 1}: raw PUT {size / rawTimes[^1] / 1e6:0} MB/s, depot {size / depotTimes[^1] / 1e6:0} MB/s"));
            }
            var rawMedian = Median(rawTimes);
            var depotMedian = Median(depotTimes);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{size >> 20} MiB, median of {rounds}: raw PUT {size / rawMedian / 1e6:0} MB/s, depot {size / depotMedian / 1e6:0} MB/s, ratio depot/raw {rawMedian / depotMedian:0.00}"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static string Sha256(byte[] block, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long done = 0; done < size; done += Block) hash.AppendData(block, 0, (int)Math.Min(Block, size - done));
        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    /// <summary>The baseline: the body streamed to a file as it arrives, fsynced once.</summary>
    private static async Task RawPut(HttpContext context, string path)
    {
        // The same positional, gathered writes the depot's local store makes: the difference measured is the protocol, the hash and the fsyncs.
        using (var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.Asynchronous))
        {
            var reader = context.Request.BodyReader;
            var segments = new List<ReadOnlyMemory<byte>>(16);
            long offset = 0;
            while (true)
            {
                var result = await reader.ReadAsync();
                segments.Clear();
                foreach (var segment in result.Buffer) segments.Add(segment);
                await RandomAccess.WriteAsync(handle, segments, offset);
                offset += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) break;
            }
            RandomAccess.FlushToDisk(handle);
        }
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task<double> Raw(HttpClient client, Uri uri, byte[] block, long size)
    {
        var watch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = new RepeatedContent(block, 0, size) };
        using var response = await client.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"raw PUT answered {response.StatusCode}");
        return watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> Tus(HttpClient client, Uri endpoint, byte[] block, long size, string sha, int round)
    {
        var watch = Stopwatch.StartNew();
        var name = string.Create(CultureInfo.InvariantCulture, $"bench-1_20261127T0800{round:D2}Z_0001.mcap");
        using var create = new HttpRequestMessage(HttpMethod.Post, endpoint);
        create.Headers.Add("Tus-Resumable", "1.0.0");
        create.Headers.Add("Upload-Length", size.ToString(CultureInfo.InvariantCulture));
        create.Headers.Add("Upload-Metadata", string.Join(",",
            new[] { ("filename", name), ("sha256", sha), ("device_id", "bench-1"), ("recording", name) }
                .Select(m => m.Item1 + " " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(m.Item2)))));
        using var created = await client.SendAsync(create);
        if (created.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"POST answered {created.StatusCode}");
        var upload = new Uri(endpoint, created.Headers.Location!);
        string? verified = null;
        for (long offset = 0; offset < size; offset += Chunk)
        {
            var count = Math.Min(Chunk, size - offset);
            using var patch = new HttpRequestMessage(HttpMethod.Patch, upload) { Content = new RepeatedContent(block, offset, count) };
            patch.Headers.Add("Tus-Resumable", "1.0.0");
            patch.Headers.Add("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture));
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
            using var response = await client.SendAsync(patch);
            if (response.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"PATCH answered {response.StatusCode}");
            if (response.Headers.TryGetValues("X-Ingest-Sha256", out var values)) verified = values.First();
        }
        if (verified != sha) throw new InvalidOperationException("the depot did not verify the upload");
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Bytes [offset, offset+count) of the block repeated endlessly.</summary>
    internal sealed class RepeatedContent(byte[] block, long offset, long count) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (long done = 0; done < count;)
            {
                var at = (int)((offset + done) % block.Length);
                var n = (int)Math.Min(block.Length - at, count - done);
                n = Math.Min(n, 1 << 20);
                await stream.WriteAsync(block.AsMemory(at, n));
                done += n;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = count;
            return true;
        }
    }
}
