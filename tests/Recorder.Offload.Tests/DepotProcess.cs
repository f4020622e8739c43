using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Recorder.Mcap.Tests;

namespace Recorder.Offload.Tests;

/// <summary>
/// tests/interop/depot.mjs (@tus/server + @tus/file-store) as a child process on 127.0.0.1: the
/// test starts it, reads its URL and events from stdout, and stops it.
/// </summary>
public sealed class DepotProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Directory { get; }
    public Uri Url { get; }
    public int Port => Url.Port;
    public const string Token = "depot-test-token-5f2c";

    private DepotProcess(string directory, string[] extra)
    {
        Directory = directory;
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = NodeInterop.Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "depot.mjs", "--dir", directory }.Concat(extra)) info.ArgumentList.Add(a);
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            var json = JsonNode.Parse(e.Data)!.AsObject();
            if (json["event"]!.GetValue<string>() == "listening") _listening.TrySetResult(new Uri(json["url"]!.GetValue<string>()));
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!_listening.Task.Wait(TimeSpan.FromSeconds(30)))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException("depot.mjs did not start: " + Stderr);
        }
        Url = _listening.Task.Result;
    }

    /// <summary>
    /// Starts a depot storing into a fresh directory (or <paramref name="directory"/>), with the bearer token unless <paramref name="token"/> is false.
    /// <paramref name="standard"/>: stock @tus/server, which neither verifies nor advertises <c>X-Ingest-Verify</c>.
    /// </summary>
    public static DepotProcess Start(string? directory = null, bool token = true, string? lie = null, int port = 0, string[]? tls = null, bool standard = false,
        int verifyDelayMs = 0)
    {
        directory ??= System.IO.Directory.CreateTempSubdirectory("recorder-depot-").FullName;
        var args = new List<string> { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (token) args.AddRange(["--token", Token]);
        if (lie is not null) args.AddRange(["--lie", lie]);
        if (tls is not null) args.AddRange(tls);
        if (standard) args.Add("--standard");
        if (verifyDelayMs > 0) args.AddRange(["--verify-delay-ms", verifyDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return new DepotProcess(directory, args.ToArray());
    }

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>
    /// The depot's events called <paramref name="name"/>, read from its `events.jsonl`, which it appends
    /// before it answers the request that caused them (see <see cref="Verified"/> for why not stdout).
    /// </summary>
    public List<JsonObject> Events(string name)
    {
        var events = new List<JsonObject>();
        var log = System.IO.Path.Combine(Directory, "events.jsonl");
        if (!File.Exists(log)) return events;
        using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        var text = reader.ReadToEnd();
        // Only whole lines: one being appended right now is not final yet.
        foreach (var line in text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var json = JsonNode.Parse(line)!.AsObject();
            if (json["event"]!.GetValue<string>() == name) events.Add(json);
        }
        return events;
    }

    /// <summary>
    /// filename → (sha256, stored path) for every upload the depot verified. Read from the depot's
    /// `verified.jsonl`, which it appends before it answers X-Ingest-Sha256, not from its stdout
    /// events: those come through a pipe and a reader thread, and under load the client can act on
    /// the answer (delete its file) before this process has read the line.
    /// </summary>
    public Dictionary<string, (string Sha256, string Path)> Verified()
    {
        var verified = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        var log = System.IO.Path.Combine(Directory, "verified.jsonl");
        if (!File.Exists(log)) return verified;
        using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } line)
        {
            // One append per line; a line being appended right now may be read torn: it is not final yet.
            if (!line.EndsWith('}')) continue;
            JsonObject e;
            try { e = JsonNode.Parse(line)!.AsObject(); }
            catch (System.Text.Json.JsonException) { continue; }
            verified[e["filename"]!.GetValue<string>()] = (e["sha256"]!.GetValue<string>(), e["path"]!.GetValue<string>());
        }
        return verified;
    }

    public int Creates(string filename) => Events("create").Count(e => e["metadata"]!["filename"]!.GetValue<string>() == filename);

    public void Stop()
    {
        if (_process.HasExited) return;
        Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
