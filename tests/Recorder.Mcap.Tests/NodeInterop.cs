using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Recorder.Mcap.Tests;

/// <summary>
/// Runs the scripts in tests/interop with Node.js: @mcap/core (Foxglove's own reader and writer)
/// and the test depot (@tus/server + @tus/file-store). The first use installs the pinned packages (npm ci), so a fresh checkout needs nothing
/// but node and npm on PATH.
/// </summary>
public static class NodeInterop
{
    private static readonly Lazy<string> Directory_ = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Directory => Directory_.Value;

    private static string Install()
    {
        var dir = Path.Combine(RepoPaths.Root, "tests", "interop");
        // Every pinned package must be there; a checkout from before a package was added needs npm ci again.
        if (!File.Exists(Path.Combine(dir, "node_modules", "@mcap", "core", "package.json"))
            || !File.Exists(Path.Combine(dir, "node_modules", "@tus", "server", "package.json"))
            || !File.Exists(Path.Combine(dir, "node_modules", "@tus", "file-store", "package.json"))
            || !File.Exists(Path.Combine(dir, "node_modules", "protobufjs", "package.json"))
            || !File.Exists(Path.Combine(dir, "node_modules", "tus-js-client", "package.json"))
            || !File.Exists(Path.Combine(dir, "node_modules", "puppeteer-core", "package.json")))
        {
            var (code, output, error) = Run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], dir, TimeSpan.FromMinutes(5));
            if (code != 0) throw new InvalidOperationException($"npm ci failed ({code}): {output}\n{error}");
        }
        return dir;
    }

    public static (int Code, string Stdout, string Stderr) Run(string file, string[] args, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Every protobuf message of a file decoded as Foxglove does: @mcap/core reads it, protobufjs
    /// loads the embedded FileDescriptorSet (video-decode.mjs).
    /// </summary>
    public static JsonObject DecodeProtobuf(string mcapPath, string? topic = null)
    {
        var (code, output, error) = Run("node", topic is null ? ["video-decode.mjs", mcapPath] : ["video-decode.mjs", mcapPath, topic], Directory, TimeSpan.FromMinutes(2));
        if (code != 0) throw new InvalidOperationException($"@mcap/core + protobufjs could not decode {mcapPath}: {error}");
        return JsonNode.Parse(output)!.AsObject();
    }

    /// <summary>What @mcap/core's indexed and streaming readers see in a file.</summary>
    public static JsonObject Dump(string mcapPath)
    {
        var (code, output, error) = Run("node", ["mcap-dump.mjs", mcapPath], Directory, TimeSpan.FromMinutes(2));
        if (code != 0) throw new InvalidOperationException($"@mcap/core could not read {mcapPath}: {error}");
        return JsonNode.Parse(output)!.AsObject();
    }

    /// <summary>
    /// Per file, per topic, the sequence numbers @mcap/core's indexed reader returns, and the
    /// messages its streamed reader (CRCs checked) counts: one Node start for many files.
    /// </summary>
    public static Dictionary<string, (Dictionary<string, List<uint>> Topics, int StreamedMessages)> Sequences(IReadOnlyList<string> mcapPaths)
    {
        var (code, output, error) = Run("node", ["mcap-sequences.mjs", .. mcapPaths], Directory, TimeSpan.FromMinutes(5));
        if (code != 0) throw new InvalidOperationException($"@mcap/core could not read the files: {error}");
        var result = new Dictionary<string, (Dictionary<string, List<uint>>, int)>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var file = JsonNode.Parse(line)!.AsObject();
            var topics = file["topics"]!.AsObject().ToDictionary(t => t.Key, t => t.Value!.AsArray().Select(s => s!.GetValue<uint>()).ToList());
            result[file["file"]!.GetValue<string>()] = (topics, file["streamedMessages"]!.GetValue<int>());
        }
        return result;
    }

    /// <summary>Writes a sample file with @mcap/core's writer (compression "none" or "zstd").</summary>
    public static void WriteSample(string mcapPath, string compression)
    {
        var (code, _, error) = Run("node", ["make-sample.mjs", mcapPath, compression], Directory, TimeSpan.FromMinutes(2));
        if (code != 0) throw new InvalidOperationException($"@mcap/core could not write {mcapPath}: {error}");
    }
}
