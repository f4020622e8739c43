using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Recorder.Mcap.Tests;

namespace Recorder.Depot.Tests.Fixtures;

/// <summary>
/// An S3-compatible server: `s3rver` (npm, pinned in tests/interop) on 127.0.0.1, any free port, data in
/// a temp directory, with bucket <see cref="Bucket"/> configured. Clients use path-style addressing,
/// region us-east-1 and the credentials S3RVER / S3RVER.
/// </summary>
public sealed partial class S3Server : IDisposable
{
    public const string Bucket = "depot";
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    public const string Region = "us-east-1";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _root;

    public Uri Endpoint { get; }

    public S3Server()
    {
        _root = Directory.CreateTempSubdirectory("recorder-s3-").FullName;
        var bin = Path.Combine(NodeInterop.Directory, "node_modules", "s3rver", "bin", "s3rver.js");
        if (!File.Exists(bin)) throw new InvalidOperationException($"s3rver is not installed at {bin} (tests/interop/package.json)");
        var info = new ProcessStartInfo("node", [bin, "-d", _root, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", Bucket, "--silent"])
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = new Process { StartInfo = info };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null) return;
            lock (_output) _output.AppendLine(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m) listening.TrySetResult(new Uri($"http://127.0.0.1:{m.Groups[1].Value}"));
        };
        _process.OutputDataReceived += onLine;
        _process.ErrorDataReceived += onLine;
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            _process.Kill(entireProcessTree: true);
            lock (_output) throw new TimeoutException("s3rver did not start:\n" + _output);
        }
        Endpoint = listening.Task.Result;
    }

    /// <summary>Where s3rver keeps its objects on disk (for tests that check nothing was left behind).</summary>
    public string DataDirectory => _root;

    [GeneratedRegex(@"listening on [^:\s]+:(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex Listening();

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class S3Collection : ICollectionFixture<S3Server>
{
    public const string Name = "s3";
}
