using System.Diagnostics;
using Recorder.Depot.Tests.Fixtures;

namespace Recorder.Depot.Tests;

[Collection(SharedStorageCollection.Name)]
public sealed class ZzThroughputProbe(S3Server s3, PostgresServer postgres)
{
    [Fact]
    public async Task Probe()
    {
        var sample = Sample.Random("dev-a_20261127T080000Z_0001.mcap", 96 << 20, seed: 3);
        foreach (var shared in new SharedStorage?[] { null, new(s3, postgres), null, new(s3, postgres) })
        {
            await using var depot = await TestDepot.StartAsync(s => s with { Storage = s.Storage with { S3 = s.Storage.S3 is { } x ? x with { PartSize = 8 << 20 } : null } }, shared);
            using var client = depot.Client(depot.TokenA);
            var watch = Stopwatch.StartNew();
            var upload = await Tus.CreateOk(client, depot.Endpoint, sample);
            long offset = 0;
            while (offset < sample.Bytes.Length)
            {
                var n = Math.Min(16 << 20, sample.Bytes.Length - (int)offset);
                using var r = await Tus.Patch(client, upload, offset, sample.Bytes.AsMemory((int)offset, n));
                Assert.Equal(204, (int)r.StatusCode);
                offset += n;
            }
            Console.WriteLine($"PROBE {(shared is null ? "local" : "s3+pg")}: {sample.Bytes.Length / 1048576.0 / watch.Elapsed.TotalSeconds:0.0} MiB/s");
        }
    }
}
