using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>Dispatches `recorder VERB ...`. Every verb writes to the writers it is given, so tests run it in-process.</summary>
public static class CommandLine
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    private const string Usage = """
        usage: recorder <command> [options]

        Record:
          run [--config FLEET.yaml] [--device DEVICE.yaml] [--demo]
                                             the daemon; without files it runs on embedded defaults
                                             (recordings under ./recordings, sockets under ./run)
          demo [--socket PATH | --config F] [--duration S]
                                             built-in producers (IMU, GPS, diagnostics) into a running daemon
          publish --topic T [--encoding json] [--socket PATH | --config F]
                                             stdin lines become messages on topic T
          status [--json] | split | mark TEXT | operator NAME     [--socket PATH | --config F]
                                             talk to the running daemon over its control socket
          offload now|pause|resume|status [--json]     [--socket PATH | --config F]
                                             offload to the depot: start a session now, pause, resume;
                                             status is live (per file: progress, rate, ETA) in a terminal

        Inspect and repair MCAP files:
          info FILE [--json]                 summary: duration, topics, rates, schemas, chunks, compression
          cat FILE [--topic T]... [--start NS] [--end NS] [--json]
                                             print messages in log-time order
          doctor FILE [--strict]             check a file against the spec; exit 1 on errors
          recover IN -o OUT                  rebuild a valid, indexed file from a truncated or damaged one
                                             (exit 0 nothing lost, 3 recovered with loss, 1 nothing recoverable)
          version                            print the version

        Configuration:
          config check [--config FLEET.yaml] [--device DEVICE.yaml]
                                             check the configuration (embedded defaults for a file not given):
                                             every error as file:line:column: message and exit 1, or a summary

        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "help" or "-h" or "--help")
        {
            (args.Length == 0 ? stderr : stdout).Write(Usage);
            return args.Length == 0 ? ExitUsage : ExitOk;
        }
        try
        {
            var rest = args[1..];
            return args[0] switch
            {
                "info" => InfoCommand.Run(Arguments.Parse(rest, flags: ["--json"], values: []), stdout),
                "cat" => CatCommand.Run(Arguments.Parse(rest, flags: ["--json"], values: ["--topic", "--start", "--end"]), stdout),
                "doctor" => DoctorCommand.Run(Arguments.Parse(rest, flags: ["--strict"], values: []), stdout),
                "recover" => RecoverCommand.Run(Arguments.Parse(rest, flags: [], values: ["-o", "--output"]), stdout, stderr),
                "run" => DaemonCommands.Run(Arguments.Parse(rest, flags: ["--demo", "--verbose"], values: ["--config", "--device"]), stderr),
                "demo" => DaemonCommands.Demo(Arguments.Parse(rest, flags: [], values: ["--socket", "--config", "--device", "--duration"]), stderr),
                "publish" => DaemonCommands.Publish(Arguments.Parse(rest, flags: [], values: ["--topic", "--encoding", "--socket", "--config", "--device"]),
                    Console.In, stdout, stderr),
                "status" => Control("status", [], rest, flags: ["--json"], stdout, stderr),
                "split" => Control("split", [], rest, flags: [], stdout, stderr),
                "mark" => Control("mark", ["text"], rest, flags: [], stdout, stderr),
                "operator" => Control("operator", ["name"], rest, flags: [], stdout, stderr),
                "offload" => OffloadCommand.Run(rest, stdout, stderr),
                "config" => ConfigCommand.Run(Arguments.Parse(rest, flags: [], values: ["--config", "--device"]), stdout, stderr),
                "version" or "--version" => Version(stdout),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"recorder: {e.Message}");
            stderr.Write(Usage);
            return ExitUsage;
        }
        catch (McapException e)
        {
            stderr.WriteLine($"recorder: {e.Message}");
            return ExitError;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"recorder: {e.Message}");
            return ExitError;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"recorder: {e.Message}");
            return ExitError;
        }
    }

    /// <summary>A control verb: its positional arguments become the named request fields.</summary>
    private static int Control(string command, string[] positionalFields, string[] rest, string[] flags, TextWriter stdout, TextWriter stderr)
    {
        var args = Arguments.Parse(rest, flags, values: ["--socket", "--config", "--device"]);
        if (args.Positionals.Count != positionalFields.Length)
            throw new UsageException(positionalFields.Length == 0 ? $"{command} takes no arguments" : $"{command} needs {string.Join(' ', positionalFields).ToUpperInvariant()}");
        var fields = positionalFields.Select((name, i) => (name, args.Positionals[i])).ToArray();
        return DaemonCommands.Control(command, fields, args, stdout, stderr, json: args.Has("--json"));
    }

    private static int Version(TextWriter stdout)
    {
        stdout.WriteLine($"recorder {BuildInfo.Version}");
        return ExitOk;
    }
}

public static class BuildInfo
{
    public static string Version { get; } = typeof(BuildInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}

public sealed class UsageException(string message) : Exception(message);
