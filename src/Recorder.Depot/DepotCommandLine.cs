using Recorder.Depot.Config;
using Recorder.Daemon;
using Recorder.Depot.Identity;

namespace Recorder.Depot;

/// <summary>
/// <c>recorder-depot</c>'s verbs: <c>run</c>, <c>config check</c> and <c>token add|remove|list</c>.
/// Exit codes: 0 success, 1 the configuration or the operation failed, 2 bad usage.
/// </summary>
public static class DepotCommandLine
{
    public static readonly string Usage = $"""
        usage: recorder-depot run [--config FILE] [--listen ADDRESS:PORT]
               recorder-depot config check [--config FILE]
               recorder-depot token add DEVICE_ID [--config FILE]
               recorder-depot token remove DEVICE_ID [--config FILE]
               recorder-depot token list [--config FILE]
               recorder-depot token add|remove --operator NAME [--config FILE]
               recorder-depot token list --operators [--config FILE]
        {Catalog.CatalogCommands.Usage.TrimEnd()}
               recorder-depot export --device DEVICE_ID --start TIME --end TIME [--topic TOPIC]... -o FILE|- [--config FILE]
        {Catalog.CatalogWatchApi.Usage.TrimEnd()}

        Without --config the embedded defaults apply: plain HTTP on 127.0.0.1:1080, the tus
        endpoint at /files/, verified files under ./depot, tokens in ./depot-state/tokens.
        Operator tokens (./depot-state/operator-tokens) read the web pages and /api/ from
        elsewhere than loopback; they upload nothing, and vehicle tokens read nothing.
        See config/depot.example.yaml for every key and its default.
        export: one MCAP of the device's recordings in [start, end] (RFC 3339 or nanoseconds), merged in
        log-time order (proto/depot_export.md); GET /api/export?device=&start=&end=&topic= does the same.
        """;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            (args.Length == 0 ? error : output).WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (Catalog.CatalogCommands.Verbs.Contains(args[0])) return Catalog.CatalogCommands.Run(args, output, error);
        if (args[0] == "export") return Export.ExportCommand.Run(args[1..], output, error);
        if (Catalog.CatalogWatchApi.Verbs.Contains(args[0])) return Catalog.CatalogWatchApi.Run(args, output, error);
        var positional = new List<string>();
        string? config = null;
        string? listen = null;
        string? operatorName = null;
        var operators = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    config = args[++i];
                    break;
                case "--listen" when i + 1 < args.Length:
                    listen = args[++i];
                    break;
                case "--operator" when i + 1 < args.Length:
                    operatorName = args[++i];
                    break;
                case "--operators":
                    operators = true;
                    break;
                case "--config" or "--listen" or "--operator":
                    error.WriteLine($"recorder-depot: {args[i]} needs a value");
                    return 2;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        error.WriteLine($"recorder-depot: unknown option '{args[i]}'\n{Usage}");
                        return 2;
                    }
                    positional.Add(args[i]);
                    break;
            }
        }
        return positional switch
        {
            ["run"] => RunDepot(config, listen, error),
            ["config", "check"] => Check(config, listen, output, error),
            ["token", "add"] when operatorName is not null => WithSettings(config, error, s => TokenAdd(s.OperatorTokensFile, "operator", operatorName, output, error)),
            ["token", "remove"] when operatorName is not null => WithSettings(config, error, s => TokenRemove(s.OperatorTokensFile, operatorName, output)),
            ["token", "list"] when operators => WithSettings(config, error, s => TokenList(s.OperatorTokensFile, output)),
            ["token", "add", var device] when operatorName is null => WithSettings(config, error, s => TokenAdd(s.TokensFile, "device", device, output, error)),
            ["token", "remove", var device] when operatorName is null => WithSettings(config, error, s => TokenRemove(s.TokensFile, device, output)),
            ["token", "list"] => WithSettings(config, error, s => TokenList(s.TokensFile, output)),
            _ => UsageError(error),
        };
    }

    private static int UsageError(TextWriter error)
    {
        error.WriteLine(Usage);
        return 2;
    }

    private static bool TryLoad(string? config, string? listen, TextWriter error, out DepotSettings settings)
    {
        var result = DepotConfigLoader.Load(config, listen);
        foreach (var e in result.Errors) error.WriteLine(e.ToString());
        settings = result.Settings ?? new DepotSettings();
        return result.Succeeded;
    }

    private static int Check(string? config, string? listen, TextWriter output, TextWriter error)
    {
        if (!TryLoad(config, listen, error, out _)) return 1;
        output.WriteLine($"{config ?? "(defaults)"}: ok");
        return 0;
    }

    private static int WithSettings(string? config, TextWriter error, Func<DepotSettings, int> action) =>
        TryLoad(config, null, error, out var settings) ? action(settings) : 1;

    private static int TokenAdd(string file, string kind, string name, TextWriter output, TextWriter error)
    {
        try
        {
            var token = new TokenStore(file).Add(name);
            output.WriteLine(token);
            error.WriteLine($"token for {kind} {name} added to {file} (only its hash is kept: copy it now, it is not shown again)");
            return 0;
        }
        catch (ArgumentException e)
        {
            error.WriteLine("recorder-depot: " + e.Message);
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"recorder-depot: cannot write {file}: {e.Message}");
            return 1;
        }
    }

    private static int TokenRemove(string file, string device, TextWriter output)
    {
        var removed = new TokenStore(file).Remove(device);
        output.WriteLine($"{removed} token(s) of {device} removed");
        return removed > 0 ? 0 : 1;
    }

    private static int TokenList(string file, TextWriter output)
    {
        foreach (var (device, count) in new TokenStore(file).List()) output.WriteLine($"{device}\t{count}");
        return 0;
    }

    private static int RunDepot(string? config, string? listen, TextWriter error)
    {
        if (!TryLoad(config, listen, error, out var settings)) return 1;
        var depot = DepotApp.Build(settings);
        try
        {
            depot.StartAsync().GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            // Address in use, permission denied on a low port: say so, no stack trace.
            error.WriteLine($"recorder-depot: cannot listen on {settings.Listen}: {e.Message}");
            depot.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 1;
        }
        // Type=notify: started once Kestrel accepts connections. SIGTERM (systemctl stop) ends
        // WaitForShutdown: in-flight PATCHes end, every stored byte stays resumable.
        SystemdNotifier.Notify($"READY=1\nSTATUS=listening on {depot.Url}, tus endpoint {settings.Tus.Path}");
        using var stopping = depot.Stopping.Register(static () => SystemdNotifier.Notify("STOPPING=1\nSTATUS=stopping: ending the uploads in flight"));
        depot.WaitForShutdownAsync().GetAwaiter().GetResult();
        depot.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }
}
