using Recorder.Mcap;

namespace Recorder.Cli;

/// <summary>Dispatches `recorder VERB ...`. Every verb writes to the writers it is given, so tests run it in-process.</summary>
public static class CommandLine
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    private const string Usage = Help.Usage;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" || (args[0] == "help" && args.Length == 1))
        {
            (args.Length == 0 ? stderr : stdout).Write(Usage);
            return args.Length == 0 ? ExitUsage : ExitOk;
        }
        if (args[0] == "help" || args.Skip(1).Any(a => a is "--help" or "-h"))
        {
            var topic = args[0] == "help" ? args[1] : args[0];
            if (Help.For(topic) is { } text)
            {
                stdout.Write(text);
                return ExitOk;
            }
            if (args[0] != "help") stdout.Write(Usage); // a verb without a page of its own: the usage covers it
            else stderr.Write($"recorder: no help for '{topic}'\n{Usage}");
            return args[0] == "help" ? ExitUsage : ExitOk;
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
                "status" => Control("status", [], rest, flags: ["--json", "--prometheus"], stdout, stderr),
                "split" => Control("split", [], rest, flags: [], stdout, stderr),
                "mark" => Control("mark", ["text"], rest, flags: [], stdout, stderr),
                "operator" => Control("operator", ["name"], rest, flags: [], stdout, stderr),
                "reload" => Control("reload", [], rest, flags: [], stdout, stderr),
                "config" => ConfigCommand.Run(Arguments.Parse(rest, flags: ["--effective", "--quiet", "--errors-only"], values: ["--config", "--device", "--unit"]), stdout, stderr),
                "loadgen" => LoadgenCommand.Run(Arguments.Parse(rest, flags: ["--json"], values: ["--socket", "--producers", "--size", "--rate", "--duration", "--video"]), stdout),
                "offload" => OffloadCommand.Run(rest, stdout, stderr),
                "frames" => FramesCommand.Run(Arguments.Parse(rest, flags: ["--json", "--rebuild"], values: ["--topic"]), stdout, stderr),
                "export-video" => ExportVideoCommand.Run(Arguments.Parse(rest, flags: [], values: ["--topic", "-o", "--output", "--start", "--end"]), stdout, stderr),
                "version" or "--version" => Version(stdout),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            Problems.Error(stderr, $"recorder: {e.Message}");
            stderr.Write(Usage);
            return ExitUsage;
        }
        catch (InvalidDataException e)
        {
            Problems.Error(stderr, $"recorder: {e.Message}");
            return ExitError;
        }
        catch (McapException e)
        {
            Problems.Error(stderr, $"recorder: {e.Message}");
            return ExitError;
        }
        catch (IOException e)
        {
            Problems.Error(stderr, $"recorder: {e.Message}");
            return ExitError;
        }
        catch (UnauthorizedAccessException e)
        {
            Problems.Error(stderr, $"recorder: {e.Message}");
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
        if (args.Has("--prometheus")) return DaemonCommands.StatusPrometheus(args, stdout, stderr);
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
