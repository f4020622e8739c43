using Recorder.Mcap;

namespace Recorder.Storage.Tests;

/// <summary>A temporary recordings root with real recordings in it, laid out as the writer lays them out.</summary>
public sealed class Disk : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("recorder-storage-").FullName;

    /// <summary>A finished MCAP DEV/DAY/NAME.mcap with about <paramref name="payloadBytes"/> of messages.</summary>
    public string Recording(string day, string name, int payloadBytes = 10_000, ulong startNs = 1_000_000_000)
    {
        var dir = Path.Combine(Root, "dev", day);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + RecordingLayout.McapExtension);
        using (var writer = new McapWriter(File.Create(path), new McapWriterOptions { Compression = McapCompression.None }))
        {
            var channel = writer.AddChannel("/blob", "application/octet-stream");
            writer.WriteMessage(channel, 0, startNs, startNs, new byte[payloadBytes]);
        }
        return path;
    }

    /// <summary>A companion file of <paramref name="mcapPath"/> of <paramref name="bytes"/> bytes.</summary>
    public static string Companion(string path, int bytes)
    {
        File.WriteAllBytes(path, new byte[bytes]);
        return path;
    }

    /// <summary>Every file under the root, by name.</summary>
    public List<string> Files() => Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;

    /// <summary>What the files under the root occupy.</summary>
    public long Used() => Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// The offload stage's side of the store, as its contract says: which recordings are offloaded,
/// and every deletion in the order the store announces it.
/// </summary>
public sealed class RecordingLedger : IRetentionLedger
{
    public HashSet<string> Offloaded { get; } = new(StringComparer.Ordinal);

    public List<string> Events { get; } = new();

    public bool IsOffloaded(string mcapPath) => Offloaded.Contains(mcapPath);

    public void Deleting(string path) => Events.Add("deleting " + Path.GetFileName(path) + (File.Exists(path) ? "" : " (already gone)"));

    public void Deleted(string path) => Events.Add("deleted " + Path.GetFileName(path) + (File.Exists(path) ? " (still there)" : ""));
}
