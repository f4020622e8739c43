namespace Recorder.Cli;

/// <summary>A small strict argument parser: known flags, known options with values, positionals. Anything else is a usage error.</summary>
public sealed class Arguments
{
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = new();

    public static Arguments Parse(string[] args, string[] flags, string[] values)
    {
        var parsed = new Arguments();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var eq = arg.StartsWith("--", StringComparison.Ordinal) ? arg.IndexOf('=', StringComparison.Ordinal) : -1;
            var name = eq > 0 ? arg[..eq] : arg;
            if (flags.Contains(name) && eq < 0)
            {
                parsed._flags.Add(name);
            }
            else if (values.Contains(name))
            {
                string value;
                if (eq > 0) value = arg[(eq + 1)..];
                else if (i + 1 < args.Length) value = args[++i];
                else throw new UsageException($"option {name} needs a value");
                if (!parsed._values.TryGetValue(name, out var list)) parsed._values[name] = list = new List<string>();
                list.Add(value);
            }
            else if (arg.StartsWith('-') && arg.Length > 1)
            {
                throw new UsageException($"unknown option '{arg}'");
            }
            else
            {
                parsed.Positionals.Add(arg);
            }
        }
        return parsed;
    }

    public bool Has(string flag) => _flags.Contains(flag);

    public IReadOnlyList<string> All(string option) => _values.TryGetValue(option, out var list) ? list : [];

    public string? Value(params string[] names)
    {
        foreach (var name in names)
            if (_values.TryGetValue(name, out var list)) return list[^1];
        return null;
    }

    public ulong? UInt64(string option)
    {
        var value = Value(option);
        if (value is null) return null;
        return ulong.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? n : throw new UsageException($"option {option} needs a non-negative integer (nanoseconds), not '{value}'");
    }

    public string OnePositional(string what)
    {
        if (Positionals.Count != 1) throw new UsageException($"expected exactly one {what}");
        return Positionals[0];
    }
}
