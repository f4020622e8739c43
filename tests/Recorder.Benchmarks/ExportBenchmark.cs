using System.Diagnostics;
using System.Globalization;
using Recorder.Mcap;

namespace Recorder.Benchmarks;

/// <summary>
/// `dotnet run -c Release --project tests/Recorder.Benchmarks -- export [SIZE_MIB] [ROUNDS]`: the
/// depot's merged export (McapMerger, as `recorder-depot export` runs it) of three recordings of
/// two sessions, SIZE MiB in all (default 256), against a plain concatenating copy of the same
/// files into one output file, in the same run. Cases: the whole range (chunks copied whole where
/// they can be), the whole range with every chunk rewritten, and a window with a topic filter
/// (rewritten). Rounds alternate; medians and the ratio export/copy throughput are printed (goal ≥ 0.5).
/// </summary>
public static class ExportBenchmark
{
    private const ulong Ms = 1_000_000;
    private const ulong T0 = 1_764_000_000_000 * Ms;

    public static void Run(string[] args)
    {
        var size = (args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 256) << 20;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var root = Directory.CreateTempSubdirectory("export-bench-").FullName;
        try
        {
            var pool = Payload.CreatePool();
            var camera = new byte[64 * 1024 + 1024 * 1024];
            new Random(7).NextBytes(camera); // JPEG-like: does not compress
            // Per second: IMU 200 × 256 B, lidar 10 × 32 KiB, camera 10 × ~48 KiB ≈ 860 KB.
            var seconds = (ulong)Math.Max(3, size / 860_000);
            var third = seconds / 3 * 1000 * Ms;
            List<string> files =
            [
                Record(Path.Combine(root, "s1-0001.mcap"), T0, third, pool, camera),
                Record(Path.Combine(root, "s1-0002.mcap"), T0 + third, third, pool, camera),
                Record(Path.Combine(root, "s2-0001.mcap"), T0 + 2 * third + 1234 * Ms, third, pool, camera),
            ];
            var input = files.Sum(f => new FileInfo(f).Length);
            var output = Path.Combine(root, "out.mcap");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{files.Count} recordings, {input / 1e6:0.0} MB, {seconds} s of data"));

            var cases = new (string Name, McapMergeOptions Options)[]
            {
                ("whole range", new McapMergeOptions()),
                ("whole range, rewritten", new McapMergeOptions { CopyWholeChunks = false }),
                ("middle third, /imu + /lidar", new McapMergeOptions { StartTime = T0 + third, EndTime = T0 + 2 * third, Topics = ["/imu", "/lidar"] }),
            };
            var copyTimes = new List<double>();
            var exportTimes = cases.Select(_ => new List<double>()).ToArray();
            var results = new McapMergeResult[cases.Length];
            Copy(files, output); // warm the page cache
            for (var round = 0; round < rounds; round++)
            {
                copyTimes.Add(Copy(files, output));
                for (var c = 0; c < cases.Length; c++)
                {
                    var watch = Stopwatch.StartNew();
                    using (var merger = McapMerger.Open(files, cases[c].Options))
                    using (var stream = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                        results[c] = merger.WriteTo(stream);
                    exportTimes[c].Add(watch.Elapsed.TotalSeconds);
                }
            }
            var copy = Median(copyTimes);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"concatenating copy: {input / copy / 1e6:0} MB/s (median of {rounds})"));
            for (var c = 0; c < cases.Length; c++)
            {
                var export = Median(exportTimes[c]);
                var r = results[c];
                // Throughput counts the input bytes read, as for the copy, so the ratio compares the same work.
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"export {cases[c].Name}: {input / export / 1e6:0} MB/s of input, ratio export/copy {copy / export:0.00} ({r.Messages} messages, {r.Bytes / 1e6:0.0} MB out, {r.ChunksCopied} chunks copied, {r.ChunksRewritten} rewritten, peak {r.PeakBufferedBytes / 1e6:0.0} MB of chunks held)"));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static double Copy(List<string> files, string output)
    {
        var watch = Stopwatch.StartNew();
        using (var target = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            foreach (var file in files)
            {
                using var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                source.CopyTo(target, 1 << 20);
            }
        return watch.Elapsed.TotalSeconds;
    }

    private static string Record(string path, ulong start, ulong duration, byte[] pool, byte[] camera)
    {
        using var writer = new McapWriter(File.Create(path));
        writer.WriteMetadata(new Metadata("recorder.device", new Dictionary<string, string> { ["device_id"] = "bench-1", ["file"] = Path.GetFileName(path) }));
        var imu = writer.AddChannel("/imu", "cdr", writer.AddSchema("sensor_msgs/Imu", "ros2msg", "float64[9] orientation_covariance"u8.ToArray()));
        var lidar = writer.AddChannel("/lidar", "cdr", writer.AddSchema("sensor_msgs/PointCloud2", "ros2msg", "uint8[] data"u8.ToArray()));
        var cam = writer.AddChannel("/camera/jpeg", "cdr", writer.AddSchema("sensor_msgs/CompressedImage", "ros2msg", "uint8[] data"u8.ToArray()));
        var offset = 0;
        var seq = 0u;
        var random = new Random((int)(start / Ms));
        for (var t = start; t < start + duration; t += 5 * Ms, seq++)
        {
            writer.WriteMessage(imu, seq, t, t, pool.AsSpan(offset, 256));
            offset = Payload.NextOffset(offset, 256);
            if (seq % 20 == 0)
            {
                writer.WriteMessage(lidar, seq / 20, t + 1, t + 1, pool.AsSpan(offset, 32 * 1024));
                offset = Payload.NextOffset(offset, 32 * 1024);
            }
            if (seq % 20 == 10) writer.WriteMessage(cam, seq / 20, t + 2, t + 2, camera.AsSpan(random.Next(0, 1024 * 1024), 40 * 1024 + random.Next(0, 16 * 1024)));
        }
        return path;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
