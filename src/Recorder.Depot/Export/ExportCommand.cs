using Recorder.Depot.Config;
using Recorder.Mcap;

namespace Recorder.Depot.Export;

/// <summary>
/// <c>recorder-depot export --device D --start T --end T [--topic X]... -o FILE [--config FILE]</c>:
/// the same merged MCAP as <c>GET /api/export</c>, into a file (<c>-o -</c>: standard output).
/// </summary>
public static class ExportCommand
{
    public const string Usage = "recorder-depot export --device DEVICE_ID --start TIME --end TIME [--topic TOPIC]... -o FILE|- [--config FILE]";

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error, Func<Stream>? standardOutput = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(error);
        string? device = null, start = null, end = null, file = null, config = null;
        var topics = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "--around" or "--before" or "--after")
            {
                error.WriteLine($"recorder-depot export: {name} needs the catalog (event ids and times), which this depot does not have yet; give --start and --end");
                return 2;
            }
            if (name is not ("--device" or "--start" or "--end" or "--topic" or "-o" or "--output" or "--config"))
            {
                error.WriteLine($"recorder-depot export: unknown argument '{name}'\nusage: {Usage}");
                return 2;
            }
            if (i + 1 >= args.Count)
            {
                error.WriteLine($"recorder-depot export: {name} needs a value");
                return 2;
            }
            var value = args[++i];
            switch (name)
            {
                case "--device": device = value; break;
                case "--start": start = value; break;
                case "--end": end = value; break;
                case "--topic": topics.Add(value); break;
                case "--config": config = value; break;
                default: file = value; break;
            }
        }
        if (file is null)
        {
            error.WriteLine($"recorder-depot export: -o FILE is required (- for standard output)\nusage: {Usage}");
            return 2;
        }
        if (!ExportRequest.TryParse(device, start, end, topics, out var request, out var why))
        {
            error.WriteLine($"recorder-depot export: {why}");
            return 2;
        }
        var loaded = DepotConfigLoader.Load(config, null);
        foreach (var e in loaded.Errors) error.WriteLine(e.ToString());
        if (!loaded.Succeeded) return 1;
        var root = loaded.Settings!.Storage.Dir;

        var files = ExportSelection.LocalFiles(root, request);
        McapMerger merger;
        try
        {
            merger = DepotExport.Open(root, request, files);
        }
        catch (Exception e) when (e is McapException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"recorder-depot export: {e.Message}");
            return 1;
        }
        using (merger)
        {
            var partial = file == "-" ? null : file + ".partial";
            try
            {
                McapMergeResult result;
                using (var stream = partial is null ? (standardOutput ?? Console.OpenStandardOutput)() : new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                    result = merger.WriteTo(stream);
                if (partial is not null) File.Move(partial, file, overwrite: true);
                error.WriteLine($"{(partial is null ? "(stdout)" : file)}: {result.Messages} messages from {result.SourcesUsed} of {files.Count} file(s), {result.Bytes} bytes");
                return 0;
            }
            catch (Exception e) when (e is McapException or IOException or UnauthorizedAccessException)
            {
                if (partial is not null) File.Delete(partial);
                error.WriteLine($"recorder-depot export: {e.Message}");
                return 1;
            }
        }
    }
}
