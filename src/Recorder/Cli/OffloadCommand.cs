using System.Globalization;
using System.Text.Json;

namespace Recorder.Cli;

/// <summary>`recorder offload now|pause|resume|status [--json]`: the offload stage over the control socket.</summary>
public static class OffloadCommand
{
    public static int Run(string[] rest, TextWriter stdout, TextWriter stderr)
    {
        var args = Arguments.Parse(rest, flags: ["--json", "--once"], values: ["--socket", "--config", "--device"]);
        if (args.Positionals.Count != 1 || args.Positionals[0] is not ("now" or "pause" or "resume" or "status"))
            throw new UsageException("offload needs one of now, pause, resume, status");
        var action = args.Positionals[0];
        if (action != "status") return DaemonCommands.Control("offload", [("action", action)], args, stdout, stderr);
        if (args.Has("--json")) return DaemonCommands.Control("offload", [("action", "status")], args, stdout, stderr, json: true);
        // In a terminal the status is live until Ctrl-C; piped or with --once it prints once.
        var live = !Console.IsOutputRedirected && !args.Has("--once") && ReferenceEquals(stdout, Console.Out);
        using var stop = new CancellationTokenSource();
        if (live) Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        while (true)
        {
            var text = new StringWriter(CultureInfo.InvariantCulture);
            var code = DaemonCommands.Control("offload", [("action", "status")], args, text, stderr, json: true);
            if (code != CommandLine.ExitOk) return code;
            using var doc = JsonDocument.Parse(text.ToString());
            if (live) stdout.Write("\u001b[H\u001b[J");
            Print(doc.RootElement, stdout);
            if (!live) return CommandLine.ExitOk;
            try
            {
                Task.Delay(1000, stop.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                return CommandLine.ExitOk;
            }
        }
    }

    internal static void Print(JsonElement s, TextWriter o)
    {
        string Bytes(string name) => InfoCommand.Bytes((ulong)Math.Max(0, s.GetProperty(name).GetInt64()));
        var rate = s.GetProperty("rate_bps").GetDouble();
        var eta = s.GetProperty("eta_s").ValueKind == JsonValueKind.Number ? Duration(s.GetProperty("eta_s").GetDouble()) : "-";
        o.WriteLine($"offload:   {s.GetProperty("state").GetString()} (presence {s.GetProperty("presence").GetString()}, {(s.GetProperty("in_range").GetBoolean() ? "in range" : "out of range")}{(s.GetProperty("paused").GetBoolean() ? ", paused" : "")})");
        var probeError = s.GetProperty("last_probe_error").GetString();
        o.WriteLine($"probe:     {s.GetProperty("probe_successes").GetInt32()} ok / {s.GetProperty("probe_failures").GetInt32()} failed in a row{(probeError is null ? "" : $"; last: {probeError}")}");
        o.WriteLine($"files:     {s.GetProperty("active").GetInt32()} uploading, {s.GetProperty("pending").GetInt32()} queued, {s.GetProperty("verified").GetInt32()} verified, {s.GetProperty("deleted").GetInt32()} deleted, {s.GetProperty("failed").GetInt32()} failed");
        o.WriteLine($"bytes:     {Bytes("bytes_pending")} to go, {Bytes("bytes_verified")} verified, {Bytes("bytes_sent")} sent; {InfoCommand.Bytes((ulong)rate)}/s, ETA {eta}");
        // A depot that does not verify (older daemons do not send the field).
        if (s.TryGetProperty("uploaded_unverified", out var unverified) && unverified.GetInt32() > 0)
            o.WriteLine($"unverified: {unverified.GetInt32()} uploaded to a depot that does not verify ({Bytes("bytes_uploaded_unverified")}); kept locally");
        if (s.GetProperty("last_error").GetString() is { } error) o.WriteLine($"error:     {error}");
        var files = s.GetProperty("files");
        if (files.GetArrayLength() == 0) return;
        o.WriteLine();
        foreach (var f in files.EnumerateArray())
        {
            var size = f.GetProperty("size").GetInt64();
            var offset = f.GetProperty("offset").GetInt64();
            var percent = size == 0 ? 100 : 100.0 * offset / size;
            var fileRate = f.GetProperty("rate_bps").GetDouble();
            var fileEta = f.GetProperty("eta_s").ValueKind == JsonValueKind.Number ? Duration(f.GetProperty("eta_s").GetDouble()) : "";
            var mark = f.GetProperty("marks").GetBoolean() ? "*" : " ";
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {mark}{f.GetProperty("state").GetString(),-9} {percent,5:0.0}% {InfoCommand.Bytes((ulong)size),10} {(fileRate > 0 ? InfoCommand.Bytes((ulong)fileRate) + "/s" : ""),12} {fileEta,8}  {f.GetProperty("file").GetString()}"));
            if (f.GetProperty("error").GetString() is { } fileError) o.WriteLine($"             {fileError}");
        }
    }

    private static string Duration(double seconds) =>
        seconds < 60 ? string.Create(CultureInfo.InvariantCulture, $"{seconds:0}s")
        : seconds < 3600 ? string.Create(CultureInfo.InvariantCulture, $"{(int)seconds / 60}m{(int)seconds % 60:00}s")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)seconds / 3600}h{(int)seconds % 3600 / 60:00}m");
}
