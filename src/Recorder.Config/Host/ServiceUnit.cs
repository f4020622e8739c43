namespace Recorder.Config;

/// <summary>
/// Where a systemd service may write, read from its unit file and drop-ins: under
/// <c>ProtectSystem=strict</c> only <c>ReadWritePaths=</c>, the directories systemd makes for it
/// (<c>RuntimeDirectory=</c> under /run, <c>StateDirectory=</c> under /var/lib,
/// <c>CacheDirectory=</c> under /var/cache, <c>LogsDirectory=</c> under /var/log), its own /tmp and
/// /var/tmp with <c>PrivateTmp=</c>, and the API file systems (/dev, /proc, /sys) are writable
/// (systemd.exec(5)). `config check` run as root, outside the sandbox, uses it to report a path
/// the service would be refused. Without <c>ProtectSystem=strict</c> nothing is concluded.
/// </summary>
public sealed class ServiceUnit
{
    /// <summary>The packaged unit's name and where the package installs it.</summary>
    public const string PackagedName = "recorder.service";

    /// <summary>systemd's unit directories, highest priority first (a unit or drop-in in /etc overrides the same name below it).</summary>
    public static readonly string[] SystemUnitDirectories = ["/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"];

    private readonly List<string> _readWrite = [];
    private readonly List<string> _managed = [];

    private ServiceUnit(string path, string name)
    {
        Path = path;
        Name = name;
    }

    /// <summary>The unit file read (drop-ins are applied on top of it).</summary>
    public string Path { get; }

    /// <summary>The unit's name without <c>.service</c>, for <c>systemctl edit NAME</c>.</summary>
    public string Name { get; }

    /// <summary>True when <c>ProtectSystem=strict</c>: only the writable paths may be written.</summary>
    public bool Strict { get; private set; }

    /// <summary><c>ReadWritePaths=</c> after every file and reset.</summary>
    public IReadOnlyList<string> ReadWritePaths => _readWrite;

    /// <summary>Every path the service may write (with <see cref="Strict"/>).</summary>
    public IEnumerable<string> WritablePaths => _readWrite.Concat(_managed).Concat(["/dev", "/proc", "/sys"]);

    /// <summary>
    /// Reads <paramref name="unitFile"/> and then the <c>*.conf</c> drop-ins of <paramref name="dropInDirectories"/>
    /// (highest priority first; a name in an earlier directory hides it in later ones; applied in name order).
    /// </summary>
    public static ServiceUnit Load(string unitFile, IEnumerable<string> dropInDirectories)
    {
        ArgumentNullException.ThrowIfNull(unitFile);
        ArgumentNullException.ThrowIfNull(dropInDirectories);
        var name = System.IO.Path.GetFileName(unitFile);
        var unit = new ServiceUnit(unitFile, name.EndsWith(".service", StringComparison.Ordinal) ? name[..^".service".Length] : name);
        unit.Apply(File.ReadAllLines(unitFile));
        var dropIns = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in dropInDirectories)
        {
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.conf")) dropIns.TryAdd(System.IO.Path.GetFileName(file), file);
        }
        foreach (var file in dropIns.Values) unit.Apply(File.ReadAllLines(file));
        return unit;
    }

    /// <summary>A unit given by path (<c>config check --unit PATH</c>): its drop-ins are in <c>PATH.d/</c>.</summary>
    public static ServiceUnit Load(string unitFile) => Load(unitFile, [unitFile + ".d"]);

    /// <summary>The installed recorder.service with its drop-ins (as <c>systemctl edit recorder</c> writes them), or null when it is not installed.</summary>
    public static ServiceUnit? Installed()
    {
        var unit = SystemUnitDirectories.Select(d => System.IO.Path.Combine(d, PackagedName)).FirstOrDefault(File.Exists);
        return unit is null ? null : Load(unit, SystemUnitDirectories.Select(d => System.IO.Path.Combine(d, PackagedName + ".d")));
    }

    /// <summary>Whether the service may create or write <paramref name="path"/> (absolute).</summary>
    public bool MayWrite(string path) => !Strict || WritablePaths.Any(w => Inside(path, w));

    private static bool Inside(string path, string dir)
    {
        var d = dir.TrimEnd('/');
        return d.Length == 0 || path == d || path.StartsWith(d + "/", StringComparison.Ordinal);
    }

    private void Apply(string[] lines)
    {
        var inService = false;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line[0] == '[')
            {
                inService = line == "[Service]";
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (!inService || eq < 0) continue;
            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            var words = value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            switch (key)
            {
                case "ProtectSystem":
                    Strict = value == "strict";
                    break;
                case "ReadWritePaths":
                    if (words.Length == 0) _readWrite.Clear(); // an empty assignment resets the list
                    // "-PATH": ignored when missing; "+PATH": not inside RootDirectory=. Both still writable.
                    _readWrite.AddRange(words.Select(w => w.TrimStart('-', '+')));
                    break;
                case "RuntimeDirectory":
                    Managed("/run", words);
                    break;
                case "StateDirectory":
                    Managed("/var/lib", words);
                    break;
                case "CacheDirectory":
                    Managed("/var/cache", words);
                    break;
                case "LogsDirectory":
                    Managed("/var/log", words);
                    break;
                case "PrivateTmp" when value is "yes" or "true" or "on" or "1":
                    _managed.AddRange(["/tmp", "/var/tmp"]);
                    break;
            }
        }
    }

    /// <summary>RuntimeDirectory=a b/c: /run/a and /run/b/c (a ":" suffix names a symlink, not another directory).</summary>
    private void Managed(string root, string[] words)
    {
        foreach (var w in words) _managed.Add(root + "/" + w.Split(':')[0].Trim('/'));
    }

    /// <summary>How the writable paths read in a message: <c>ReadWritePaths=/data/recordings, /run/recorder, /var/lib/recorder</c>.</summary>
    public string Describe() =>
        $"ReadWritePaths={(_readWrite.Count == 0 ? "(none)" : string.Join(' ', _readWrite))}; also {string.Join(", ", _managed.Distinct(StringComparer.Ordinal))}";
}
