using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Recorder.Config;
using Recorder.Daemon;
using Recorder.Demo;
using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>`recorder run`, `demo`, `publish` and the control verbs `status`, `split`, `mark`, `operator`.</summary>
public static class DaemonCommands
{
    private static RecorderSettings? LoadSettings(Arguments args, TextWriter stderr)
    {
        var result = ConfigFiles.Load(args, checkHost: false);
        if (result.Errors.Count == 0) return result.Settings;
        foreach (var error in result.Errors) Problems.Error(stderr, error.ToString());
        return null;
    }

    /// <summary>
    /// Console logging: under systemd (stdout is the journal) the systemd format, one line per
    /// event with a <c>&lt;N&gt;</c> syslog priority prefix that journald turns into the entry's
    /// priority (no timestamp: the journal has its own); otherwise single lines with UTC times.
    /// </summary>
    public static ILoggerFactory Loggers(LogLevel level = LogLevel.Information) => LoggerFactory.Create(b =>
    {
        b.SetMinimumLevel(level);
        if (Journal.StdoutIsJournal())
        {
            b.AddSystemdConsole(o =>
            {
                o.IncludeScopes = false;
                o.TimestampFormat = null;
            });
        }
        else
        {
            b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        }
    });

    public static int Run(Arguments args, TextWriter stderr)
    {
        // The same checks as `config check`, against this machine: a daemon that cannot create its sockets does not start.
        var result = ConfigFiles.Load(args, checkHost: true);
        foreach (var error in result.Errors) Problems.Error(stderr, error.ToString());
        foreach (var warning in result.Warnings) Problems.Warning(stderr, ConfigCommand.Warning(warning));
        if (!result.Succeeded) return CommandLine.ExitError;
        using var loggers = Loggers(args.Has("--verbose") ? LogLevel.Debug : LogLevel.Information);
        return new RecorderHost(result.Settings!, loggers, args.Has("--demo")).RunAsync().GetAwaiter().GetResult();
    }

    /// <summary>The ingest socket: --socket, else the configuration's.</summary>
    private static string? IngestSocket(Arguments args, TextWriter stderr) =>
        args.Value("--socket") ?? LoadSettings(args, stderr)?.Ingest.Socket;

    /// <summary>
    /// The control socket: --socket, else the configuration's. When the configuration has errors
    /// (a broken fleet file is exactly when an operator runs `recorder reload` to see them), the
    /// packaged default (<see cref="ConfigFiles.PackagedControlSocket"/>) with a warning naming the
    /// broken file; the daemon keeps the configuration it was started with, and its socket.
    /// </summary>
    private static string ControlSocket(Arguments args, TextWriter stderr)
    {
        if (args.Value("--socket") is { } given) return given;
        var result = ConfigFiles.Load(args, checkHost: false);
        if (result.Succeeded) return result.Settings!.ControlSocket;
        var broken = string.Join(" and ", result.Errors.Select(e => e.File).Distinct(StringComparer.Ordinal));
        var fallback = ConfigFiles.PackagedControlSocket;
        Problems.Warning(stderr, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"recorder: warning: {broken} has {result.Errors.Count} error(s) (first: {result.Errors[0]}); using the packaged control socket {fallback}"));
        return fallback;
    }

    public static int Demo(Arguments args, TextWriter stderr)
    {
        var socket = IngestSocket(args, stderr);
        if (socket is null) return CommandLine.ExitError;
        using var loggers = Loggers();
        using var stop = new CancellationTokenSource();
        if (args.UInt64("--duration") is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        DemoProducers.RunAsync(socket, loggers.CreateLogger("recorder.demo"), stop.Token).GetAwaiter().GetResult();
        return CommandLine.ExitOk;
    }

    /// <summary>stdin lines → messages on one topic, for shell producers.</summary>
    public static int Publish(Arguments args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var topic = args.Value("--topic") ?? throw new UsageException("publish needs --topic T");
        var encoding = args.Value("--encoding") ?? "json";
        var path = IngestSocket(args, stderr);
        if (path is null) return CommandLine.ExitError;
        // Reconnect notes go to stderr: stdout is the summary line.
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        ReconnectingProducer producer;
        try
        {
            producer = ReconnectingProducer.ConnectAsync(path, "recorder-publish/" + BuildInfo.Version, loggers.CreateLogger("recorder.publish"),
                CancellationToken.None, attempts: 1).GetAwaiter().GetResult();
        }
        catch (SocketException e)
        {
            stderr.WriteLine($"recorder: cannot reach the daemon at {path}: {e.Message}");
            return CommandLine.ExitError;
        }
        using (producer)
        {
            var channel = producer.AddChannel(topic, encoding);
            uint sequence = 0;
            while (stdin.ReadLine() is { } line)
            {
                if (line.Length == 0) continue;
                var now = (ulong)(DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
                producer.Send(channel, sequence++, now, now, Encoding.UTF8.GetBytes(line));
            }
            producer.Finish();
            stdout.WriteLine(producer.Lost == 0
                ? $"published {producer.Sent} messages on {topic}"
                : $"published {producer.Sent} messages on {topic}; {producer.Lost} not sent while the daemon was away ({producer.Reconnects} reconnects)");
        }
        return CommandLine.ExitOk;
    }

    /// <summary>One request over the control socket; prints the result. Exit 1 when the daemon says no or is not there.</summary>
    public static int Control(string command, (string, string)[] fields, Arguments args, TextWriter stdout, TextWriter stderr, bool json = false)
    {
        var path = ControlSocket(args, stderr);
        string response;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            using var stream = new NetworkStream(socket, ownsSocket: false);
            stream.Write(ControlProtocol.Request(command, fields));
            using var reader = new StreamReader(stream, Encoding.UTF8);
            response = reader.ReadLine() ?? throw new IOException("the daemon closed the connection");
        }
        catch (SocketException e)
        {
            Problems.Error(stderr, $"recorder: cannot reach the daemon at {path}: {e.Message}");
            return CommandLine.ExitError;
        }
        using var doc = JsonDocument.Parse(response);
        var root = doc.RootElement;
        if (!root.GetProperty("ok").GetBoolean())
        {
            Problems.Error(stderr, $"recorder: {root.GetProperty("error").GetString()}");
            return CommandLine.ExitError;
        }
        var result = root.GetProperty("result");
        if (result.ValueKind == JsonValueKind.String) stdout.WriteLine(result.GetString());
        else if (json || command != "status") stdout.WriteLine(result.GetRawText());
        else PrintStatus(result, stdout);
        return CommandLine.ExitOk;
    }

    /// <summary>`recorder status --prometheus`: the daemon's status once, in the format of the metrics textfile (the same formatter).</summary>
    public static int StatusPrometheus(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = ControlSocket(args, stderr);
        if (path is null) return CommandLine.ExitError;
        string text;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            text = Daemon.Metrics.PrometheusText.FromControl(request =>
            {
                stream.Write(request);
                return Encoding.UTF8.GetBytes(reader.ReadLine() ?? throw new IOException("the daemon closed the connection"));
            });
        }
        catch (SocketException e)
        {
            stderr.WriteLine($"recorder: cannot reach the daemon at {path}: {e.Message}");
            return CommandLine.ExitError;
        }
        stdout.Write(text);
        return CommandLine.ExitOk;
    }

    private static void PrintStatus(JsonElement s, TextWriter o)
    {
        o.WriteLine($"state:     {s.GetProperty("state").GetString()}");
        o.WriteLine($"file:      {s.GetProperty("file").GetString() ?? "(none)"} ({InfoCommand.Bytes((ulong)s.GetProperty("file_bytes").GetInt64())})");
        o.WriteLine($"messages:  {s.GetProperty("messages_total").GetUInt64()} in {s.GetProperty("files_finished").GetUInt64()} finished files");
        o.WriteLine($"queue:     {InfoCommand.Bytes((ulong)s.GetProperty("queue_bytes").GetInt64())} of {InfoCommand.Bytes((ulong)s.GetProperty("queue_capacity_bytes").GetInt64())}, {s.GetProperty("queue_stalls").GetInt64()} stalls");
        o.WriteLine($"disk free: {InfoCommand.Bytes((ulong)Math.Max(0, s.GetProperty("disk_free_bytes").GetInt64()))}");
        o.WriteLine($"producers: {s.GetProperty("producers").GetInt32()} connected, {s.GetProperty("producers_refused").GetInt64()} refused");
        if (s.TryGetProperty("offload", out var offload) && offload.GetString() is { } offloadState) o.WriteLine($"offload:   {offloadState} (recorder offload status)");
        o.WriteLine("topics:");
        foreach (var t in s.GetProperty("topics").EnumerateArray())
            o.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"    {t.GetProperty("topic").GetString(),-28} {t.GetProperty("messages").GetUInt64(),10} msgs {t.GetProperty("rate_hz").GetDouble(),9:0.0} Hz  drops {t.GetProperty("drops").GetUInt64()}{(t.TryGetProperty("refused", out var refused) && refused.GetUInt64() > 0 ? $"  refused {refused.GetUInt64()}" : "")}"));
    }
}
