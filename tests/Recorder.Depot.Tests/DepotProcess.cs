using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Recorder.Depot.Tests;

/// <summary>
/// `recorder-depot run` as a child process (this build's recorder-depot.dll under `dotnet`, or
/// $RECORDER_DEPOT_BINARY, e.g. the native AOT build), with its own config file, storage and state
/// under one directory. It can be SIGKILLed and started again on the same port and directory.
/// </summary>
public sealed partial class DepotProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Root { get; }
    public Uri Url { get; }
    public Uri Endpoint => new(Url, "/files/");
    public string Storage => Path.Combine(Root, "store");
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private DepotProcess(string root, int port, string? storage, string? extra, string name)
    {
        Root = root;
        var config = Path.Combine(root, name + ".yaml");
        File.WriteAllText(config, $"""
            listen: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
            storage: {"{"} dir: {Path.Combine(root, "store")}{storage} {"}"}
            state_dir: {Path.Combine(root, "state")}
            {extra}
            """);
        var binary = Environment.GetEnvironmentVariable("RECORDER_DEPOT_BINARY") is { Length: > 0 } native ? Path.GetFullPath(native) : null;
        var info = new ProcessStartInfo(binary ?? "dotnet")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (binary is null) info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "recorder-depot.dll"));
        foreach (var a in new[] { "run", "--config", config }) info.ArgumentList.Add(a);
        info.Environment.Remove("JOURNAL_STREAM");
        _process = new Process { StartInfo = info };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null) return;
            lock (_output) _output.AppendLine(e.Data);
            if (ListeningLine().Match(e.Data) is { Success: true } m) _listening.TrySetResult(new Uri(m.Groups[1].Value));
        };
        _process.OutputDataReceived += onLine;
        _process.ErrorDataReceived += onLine;
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!_listening.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException("recorder-depot did not start:\n" + Output);
        }
        Url = _listening.Task.Result;
    }

    [GeneratedRegex(@"listening on (http\S+/),")]
    private static partial Regex ListeningLine();

    /// <summary>Starts a depot in <paramref name="root"/> (a fresh directory when null) on <paramref name="port"/> (0: any).</summary>
    /// <param name="storage">More of the storage map, after its dir: e.g. <c>, s3: { … }</c>.</param>
    /// <param name="extra">More top-level YAML, e.g. <c>state: { postgres: … }</c>.</param>
    /// <param name="name">The config file's name (NAME.yaml): replicas sharing one root each have their own.</param>
    public static DepotProcess Start(string? root = null, int port = 0, string? storage = null, string? extra = null, string name = "depot") =>
        new(root ?? Directory.CreateTempSubdirectory("recorder-depot-proc-").FullName, port, storage, extra, name);

    /// <summary>A token for <paramref name="device"/>, added the way an operator would (`recorder-depot token add`, in-process).</summary>
    public static string AddToken(string root, string device)
    {
        var output = new StringWriter();
        var code = DepotCommandLine.Run(["token", "add", device, "--config", Path.Combine(root, "depot.yaml")], output, TextWriter.Null);
        Assert.Equal(0, code);
        return output.ToString().Trim();
    }

    /// <summary>SIGKILL, as a power cut would stop it; the directory stays for a restart.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public int Stop()
    {
        if (_process.HasExited) return _process.ExitCode;
        Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(30))) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }
}
