using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Recorder.Daemon;
using Recorder.Mcap;

namespace Recorder.Tests;

/// <summary>The real daemon as a child process, with its own directory, config files and sockets.</summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public string Root { get; }
    public string Recordings => Path.Combine(Root, "rec");
    public string IngestSocket => Path.Combine(Root, "ingest.sock");
    public string ControlSocket => Path.Combine(Root, "control.sock");
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>
    /// The binary under test: $RECORDER_BINARY (e.g. the native AOT build, as CI runs the systemd
    /// tests a second time) or, by default, this build's recorder.dll under `dotnet`.
    /// </summary>
    public static string? NativeBinary => Environment.GetEnvironmentVariable("RECORDER_BINARY") is { Length: > 0 } path ? Path.GetFullPath(path) : null;

    private DaemonProcess(string root, string[] args, IReadOnlyDictionary<string, string>? environment = null, string? umask = null)
    {
        Root = root;
        var info = StartInfo(root, args, environment, umask);
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>
    /// `recorder ARGS` as a child process in <paramref name="root"/>, with the test's environment
    /// (never the machine's /etc/recorder) and, when given, a umask set by the shell first, as
    /// systemd's UMask= sets it.
    /// </summary>
    private static ProcessStartInfo StartInfo(string root, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, string? umask)
    {
        var info = new ProcessStartInfo(umask is null ? NativeBinary ?? "dotnet" : "/bin/sh")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (umask is not null)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"umask {umask} && exec \"$@\"");
            info.ArgumentList.Add("sh");
            info.ArgumentList.Add(NativeBinary ?? "dotnet");
        }
        if (NativeBinary is null) info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "recorder.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        // Never the machine's /etc/recorder files: only what a test passes.
        info.Environment["RECORDER_CONFIG_DIR"] = Path.Combine(root, "no-etc-recorder");
        foreach (var name in new[] { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "RECORDER_TEST_HOOKS", "RECORDER_RUNTIME_DIR" }) info.Environment.Remove(name);
        if (environment is not null)
            foreach (var (name, value) in environment) info.Environment[name] = value;
        return info;
    }

    /// <summary>The command line that runs `recorder`: the native binary, or `dotnet recorder.dll`.</summary>
    public static string[] RecorderInvocation => NativeBinary is { } native ? [native] : ["dotnet", Path.Combine(AppContext.BaseDirectory, "recorder.dll")];

    /// <summary>Runs a `recorder` command (a CLI verb, not the daemon) to its end as its own process: exit code, stdout, stderr.</summary>
    public static (int Code, string Out, string Err) RunCli(string root, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var process = Process.Start(StartInfo(root, args, environment, umask: null))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill();
            throw new TimeoutException($"recorder {string.Join(' ', args)} did not finish");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }

    /// <summary>The fleet file the daemon was started with; <see cref="WriteFleet"/> rewrites it for a reload.</summary>
    public string FleetFile => Path.Combine(Root, "fleet.yaml");

    /// <summary>Writes the fleet file: the test's recording directory and sockets, plus <paramref name="fleetExtra"/> YAML.</summary>
    public static void WriteFleet(string root, string fleetExtra = "", string recording = "",
        string chunk = "{ size: 64KiB, max_age: 100ms, compression: lz4 }", string ingestExtra = "", string? recordingDir = null, string fsync = "never")
    {
        var fleet = $$"""
            fleet: test-fleet
            recording:
              dir: {{recordingDir ?? Path.Combine(root, "rec")}}
              chunk: {{chunk}}
              fsync: {{fsync}}
            {{recording}}
            ingest: { socket: {{Path.Combine(root, "ingest.sock")}}, queue: 64MiB{{ingestExtra}} }
            control_socket: {{Path.Combine(root, "control.sock")}}
            {{fleetExtra}}
            """;
        File.WriteAllText(Path.Combine(root, "fleet.yaml"), fleet);
    }

    /// <summary>
    /// Starts `recorder run` with a fleet file whose `extra` YAML is appended, and waits for the
    /// control socket (unless <paramref name="waitUntilReady"/> is false: a test that kills it while it starts).
    /// </summary>
    public static DaemonProcess Start(string fleetExtra = "", string recording = "", bool demo = false,
        string chunk = "{ size: 64KiB, max_age: 100ms, compression: lz4 }", string ingestExtra = "",
        IReadOnlyDictionary<string, string>? environment = null, string? root = null, string? recordingDir = null, string fsync = "never",
        bool waitUntilReady = true, string? umask = null, string? fleetText = null)
    {
        root ??= Directory.CreateTempSubdirectory("recorder-daemon-").FullName;
        if (fleetText is null) WriteFleet(root, fleetExtra, recording, chunk, ingestExtra, recordingDir, fsync);
        else File.WriteAllText(Path.Combine(root, "fleet.yaml"), fleetText);
        File.WriteAllText(Path.Combine(root, "device.yaml"), """
            device_id: test-0001
            device_version: rev-t
            vehicle: "0001"
            software_version: 9.9.9
            operator: tester
            """);
        string[] args = ["run", "--config", Path.Combine(root, "fleet.yaml"), "--device", Path.Combine(root, "device.yaml")];
        if (demo) args = [.. args, "--demo"];
        var daemon = new DaemonProcess(root, args, environment, umask);
        if (waitUntilReady) daemon.WaitFor(() => Accepts(daemon.ControlSocket), TimeSpan.FromSeconds(30), "the control socket to accept");
        return daemon;
    }

    /// <summary>
    /// The daemon is ready when its control socket accepts a connection. The socket's file alone
    /// does not say so: it appears at bind(), before listen(), and a client connecting in between
    /// is refused (seen under load). The control socket is opened last, after the ingest sockets,
    /// the topic inputs and offload.
    /// </summary>
    public static bool Accepts(string socketPath)
    {
        if (!File.Exists(socketPath)) return false;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public int Pid => _process.Id;

    /// <summary>Sends a signal by name (HUP, TERM, ...), as systemd's ExecReload=/bin/kill -HUP $MAINPID does.</summary>
    public void Signal(string name) =>
        Process.Start("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();

    /// <summary>Starts `recorder run` with no files at all: embedded defaults under <paramref name="workingDirectory"/>.</summary>
    public static DaemonProcess StartWithDefaults(string workingDirectory, bool demo)
    {
        var daemon = new DaemonProcess(workingDirectory, demo ? ["run", "--demo"] : ["run"]);
        daemon.WaitFor(() => Accepts(Path.Combine(workingDirectory, "run", "control.sock")), TimeSpan.FromSeconds(30), "the control socket to accept");
        return daemon;
    }

    public void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (_process.HasExited) throw new InvalidOperationException($"the daemon exited ({_process.ExitCode}) while waiting for {what}:\n{Output}");
            if (watch.Elapsed > timeout) throw new TimeoutException($"waited {timeout} for {what}:\n{Output}");
            Thread.Sleep(20);
        }
    }

    public bool IsRunning => !_process.HasExited;

    /// <summary>SIGKILL, as a power cut would stop it; the directory stays for a restart.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Keeps the directory when disposed (for a restart in the same place).</summary>
    public bool KeepRoot { get; set; }

    /// <summary>One control request; returns the parsed response.</summary>
    public JsonElement Control(string command, params (string, string)[] fields)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(ControlSocket));
        using var stream = new NetworkStream(socket);
        stream.Write(ControlProtocol.Request(command, fields));
        using var reader = new StreamReader(stream);
        var line = reader.ReadLine() ?? throw new IOException("no response");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>Messages received so far per topic, from `status`.</summary>
    public Dictionary<string, ulong> TopicCounts()
    {
        var status = Control("status").GetProperty("result");
        return status.GetProperty("topics").EnumerateArray().ToDictionary(t => t.GetProperty("topic").GetString()!, t => t.GetProperty("messages").GetUInt64());
    }

    /// <summary>SIGTERM, then the exit code.</summary>
    public int Stop(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!_process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
            {
                _process.Kill();
                throw new TimeoutException("the daemon did not stop after SIGTERM:\n" + Output);
            }
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public List<string> FinishedFiles(string? root = null) =>
        Directory.Exists(root ?? Recordings)
            ? Directory.EnumerateFiles(root ?? Recordings, "*.mcap", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList()
            : [];

    public List<string> ActiveFiles() =>
        Directory.Exists(Recordings) ? Directory.EnumerateFiles(Recordings, "*.active", SearchOption.AllDirectories).ToList() : [];

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
        if (KeepRoot) return;
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Producers for the end-to-end tests: our MCAP writer over the real socket.</summary>
public static class SocketProducer
{
    public static async Task Send(string socketPath, string topic, int count, bool chunked, McapCompression compression = McapCompression.None,
        int pauseEvery = 0, int startSequence = 0)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var writer = new McapWriter(stream, new McapWriterOptions
        {
            UseChunks = chunked,
            Compression = compression,
            ChunkSize = 8 * 1024,
            EnableSummary = chunked,
            Library = "test-producer",
        }, leaveOpen: true);
        var schema = writer.AddSchema("test.Sample", "jsonschema", "{\"type\":\"object\"}"u8.ToArray());
        var channel = writer.AddChannel(topic, "json", schema);
        for (var i = startSequence; i < startSequence + count; i++)
        {
            var now = (ulong)DateTime.UtcNow.Ticks;
            writer.WriteMessage(channel, (uint)i, now, now, Encoding.UTF8.GetBytes($"{{\"topic\":\"{topic}\",\"seq\":{i}}}"));
            if (pauseEvery > 0 && i % pauseEvery == 0)
            {
                writer.Flush();
                await Task.Delay(1);
            }
        }
        writer.Finish();
    }

    /// <summary>Raw bytes into the socket, as a hostile or broken producer would send them.</summary>
    public static async Task SendRaw(string socketPath, byte[] bytes)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        try
        {
            await socket.SendAsync(bytes);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[16];
            await socket.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(10)); // until the daemon closes it
        }
        catch (SocketException)
        {
            // The daemon may close first.
        }
    }
}

public class DaemonProcessTests
{
    [Fact]
    public void A_socket_file_that_exists_is_not_ready_until_it_listens()
    {
        var dir = Directory.CreateTempSubdirectory("recorder-ready-").FullName;
        try
        {
            var path = Path.Combine(dir, "control.sock");
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(path)); // what a daemon between bind() and listen() shows
            Assert.True(File.Exists(path));
            Assert.False(DaemonProcess.Accepts(path));
            socket.Listen(1);
            Assert.True(DaemonProcess.Accepts(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
