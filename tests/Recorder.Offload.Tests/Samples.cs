using System.Security.Cryptography;
using Recorder.Mcap;

namespace Recorder.Offload.Tests;

/// <summary>Finished recordings for the tests: real MCAP files of a chosen size, laid out as the writer lays them out.</summary>
public static class Samples
{
    /// <summary>Writes DIR/dev-1/2026-11-27/NAME.mcap of about <paramref name="size"/> bytes of random payload.</summary>
    public static string Recording(string root, string name, long size, ulong startNs, bool mark = false, int seed = 1)
    {
        var dir = Path.Combine(root, "dev-1", "2026-11-27");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + ".mcap");
        var random = new Random(seed);
        using (var writer = new McapWriter(File.Create(path), new McapWriterOptions { Compression = McapCompression.None, ChunkSize = 256 * 1024 }))
        {
            writer.WriteMetadata(new Metadata("recorder.device", new Dictionary<string, string> { ["device_id"] = "dev-1" }));
            var channel = writer.AddChannel("/blob", "application/octet-stream");
            var payload = new byte[Math.Clamp(size / 16, 16, 64 * 1024)];
            long written = 0;
            uint sequence = 0;
            var time = startNs;
            while (written < size)
            {
                random.NextBytes(payload);
                var n = (int)Math.Min(payload.Length, Math.Max(size - written, 1));
                writer.WriteMessage(channel, sequence++, time, time, payload.AsSpan(0, n));
                written += n;
                time += 1_000_000;
            }
            if (mark) writer.WriteMetadata(new Metadata("recorder.mark", new Dictionary<string, string> { ["text"] = "hard brake", ["log_time_ns"] = startNs.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        }
        return path;
    }

    /// <summary>
    /// Writes a sidecar video stream NAME.SLUG.EXT beside <paramref name="mcapPath"/> (EXT h264 or
    /// h265): Annex B start codes and random bytes, as the recorder writes a <c>store: sidecar</c>
    /// topic. <paramref name="active"/>: still open (<c>.active</c> suffix).
    /// </summary>
    public static string Stream(string mcapPath, string slug, string ext, long size, int seed = 1, bool active = false)
    {
        var path = Path.ChangeExtension(mcapPath, null) + "." + slug + "." + ext + (active ? ".active" : "");
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        for (var at = 0; at + 4 <= bytes.Length; at += 4096) bytes.AsSpan(at, 4).SetToStartCode();
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void SetToStartCode(this Span<byte> four)
    {
        four[0] = 0;
        four[1] = 0;
        four[2] = 0;
        four[3] = 1;
    }

    public static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    public static OffloadOptions Options(string recordings, Uri endpoint, string? stateDir = null) => new()
    {
        Endpoint = endpoint,
        RecordingsDirectory = recordings,
        DeviceId = "dev-1",
        StateDirectory = stateDir,
        Insecure = true,
        TokenFile = TokenFile(),
        Presence = PresenceMode.Manual,
        ProbeInterval = TimeSpan.FromMilliseconds(100),
        ProbeTimeout = TimeSpan.FromSeconds(2),
        EnterAfter = 2,
        LeaveAfter = 3,
        InactivityTimeout = TimeSpan.FromSeconds(2),
        RetryMin = TimeSpan.FromMilliseconds(20),
        RetryMax = TimeSpan.FromMilliseconds(300),
        RescanInterval = TimeSpan.FromSeconds(1),
        ChunkSize = 1 << 20,
    };

    private static readonly Lazy<string> Token = new(() =>
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("recorder-token-").FullName, "depot.token");
        File.WriteAllText(path, DepotProcess.Token + "\n");
        return path;
    });

    public static string TokenFile() => Token.Value;

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes. The
    /// offload tests run a real depot process over real sockets: its answers come in real time.
    /// </summary>
    public static async Task WaitFor(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) throw new TimeoutException($"waited {timeout} for {what()}");
            await Task.Delay(20);
        }
    }
}
