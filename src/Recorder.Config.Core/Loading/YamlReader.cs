using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Recorder.Config.Loading;

/// <summary>
/// Reads one YAML file as a node tree (YamlDotNet's representation model: no reflection, every
/// node carries its position) and typed values out of it. Every problem becomes a
/// <see cref="ConfigError"/> at the node at fault; nothing throws, so all problems of a file are
/// collected. Each value read is recorded in the <see cref="SourceMap"/> under its key path.
/// </summary>
internal sealed class YamlReader(string file, List<ConfigError> errors, SourceMap map)
{
    public string File { get; } = file;

    public SourceMap Map { get; } = map;

    /// <summary>
    /// Parses <paramref name="text"/> into <paramref name="root"/>: null for a file without a
    /// document (empty, or only comments). Returns false after reporting a syntax error.
    /// </summary>
    public bool TryLoad(string text, out YamlNode? root)
    {
        root = null;
        var stream = new YamlStream();
        var scanner = new Scanner(new StringReader(text));
        try
        {
            stream.Load(new Parser(scanner));
        }
        catch (YamlException e)
        {
            var (line, column, message) = Describe(e, text);
            errors.Add(new ConfigError(File, line, column, message));
            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // YamlDotNet's scanner throws InvalidOperationException, without a position, when a
            // flow list or mapping runs on into the next line's "key: value".
            var line = Math.Max(Line(scanner.CurrentPosition), 1);
            var column = Math.Max(Column(scanner.CurrentPosition), 1);
            errors.Add(new ConfigError(File, line, column, e is InvalidOperationException
                ? "invalid YAML: unterminated flow list or mapping (a '[' or '{' without its closing bracket)"
                : "invalid YAML: " + e.Message));
            return false;
        }
        if (stream.Documents.Count == 0) return true;
        // A second document with content is a mistake (two files pasted together); an empty one (a trailing '---') is not.
        foreach (var extra in stream.Documents.Skip(1))
        {
            if (IsNull(extra.RootNode)) continue;
            Error(extra.RootNode, "expected one YAML document, found a second one (remove the '---' separator)");
            break;
        }
        root = stream.Documents[0].RootNode;
        return true;
    }

    public void Error(YamlNode node, string message) => errors.Add(new ConfigError(File, Line(node.Start), Column(node.Start), message));

    public void Error(int line, int column, string message) => errors.Add(new ConfigError(File, line, column, message));

    /// <summary>Reports <paramref name="message"/> at <paramref name="node"/> and marks <paramref name="path"/> as failed.</summary>
    public void Fail(YamlNode node, string path, string message)
    {
        Error(node, message);
        Map.Fail(path);
    }

    public Location LocationOf(YamlNode node) =>
        new(File, Line(node.Start), Column(node.Start), node is YamlScalarNode scalar ? scalar.Value : null);

    /// <summary>
    /// The keys of a mapping with their values and key paths, reporting unknown and non-scalar
    /// keys. A null node (a key with nothing after it) is an empty mapping. Anything other than a
    /// mapping is reported and yields nothing.
    /// </summary>
    public IEnumerable<(string Key, YamlNode Value, string Path)> Keys(YamlNode? node, string path, IReadOnlyList<string> known, Func<string, string?>? hint = null)
    {
        if (node is null || IsNull(node)) yield break;
        if (node is not YamlMappingNode mapping)
        {
            if (path.Length == 0)
            {
                Error(node, $"expected a mapping of keys to values at the top of the file, got {Describe(node)}");
                foreach (var key in known) Map.Fail(key);
            }
            else
            {
                Fail(node, path, $"{path}: expected a mapping of keys to values, got {Describe(node)}");
            }
            yield break;
        }
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                Error(keyNode, $"{(path.Length == 0 ? "" : path + ": ")}expected a plain key, got {Describe(keyNode)}");
                continue;
            }
            if (!known.Contains(key))
            {
                Error(keyNode, UnknownKey(key, path, known, hint?.Invoke(key)));
                continue;
            }
            var childPath = path.Length == 0 ? key : path + "." + key;
            // A key set by an earlier file (the device file overriding the fleet file) is replaced;
            // a list is replaced whole, a mapping key by key.
            Map.Replace(childPath, whole: value is YamlSequenceNode);
            Map.Set(childPath, LocationOf(value));
            yield return (key, value, childPath);
        }
    }

    private static string UnknownKey(string key, string path, IReadOnlyList<string> known, string? hint)
    {
        var where = path.Length == 0 ? "" : $" in '{path}'";
        if (hint is not null) return $"unknown key '{key}'{where} ({hint})";
        var suggestion = Suggest.Closest(key, known);
        return suggestion is not null
            ? $"unknown key '{key}'{where} (did you mean '{suggestion}'?)"
            : $"unknown key '{key}'{where} (known keys: {string.Join(", ", known)})";
    }

    /// <summary>
    /// The items of a list with their paths (<c>path[i]</c>). A null node is an empty list.
    /// Returns false, reporting it, when the node is not a list.
    /// </summary>
    public bool Items(YamlNode node, string path, out List<(YamlNode Item, string Path)> items)
    {
        items = [];
        if (IsNull(node)) return true;
        if (node is not YamlSequenceNode sequence)
        {
            Fail(node, path, $"{path}: expected a list, got {Describe(node)}");
            return false;
        }
        var i = 0;
        foreach (var item in sequence.Children)
        {
            var itemPath = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}[{i++}]");
            Map.Set(itemPath, LocationOf(item));
            items.Add((item, itemPath));
        }
        return true;
    }

    /// <summary>A scalar's text; reports "expected <paramref name="expected"/>" for a list, a mapping or nothing.</summary>
    public bool Scalar(YamlNode node, string path, string expected, out string text)
    {
        if (node is YamlScalarNode { Value: { } value } && !IsNull(node))
        {
            text = value;
            return true;
        }
        Fail(node, path, $"{path}: expected {expected}, got {Describe(node)}");
        text = "";
        return false;
    }

    /// <summary>A string that must be present (it may be empty; the validation pass decides).</summary>
    public bool String(YamlNode node, string path, out string value) => Scalar(node, path, "a string", out value);

    /// <summary>A string that may be left empty (<c>key:</c> or <c>key: null</c>), which gives null.</summary>
    public bool OptionalString(YamlNode node, string path, out string? value)
    {
        value = null;
        if (IsNull(node)) return true;
        if (!Scalar(node, path, "a string", out var text)) return false;
        value = text;
        return true;
    }

    public bool Bool(YamlNode node, string path, out bool value)
    {
        value = false;
        if (!Scalar(node, path, "true or false", out var text)) return false;
        switch (text)
        {
            case "true" or "True" or "TRUE":
                value = true;
                return true;
            case "false" or "False" or "FALSE":
                return true;
            default:
                Fail(node, path, $"{path}: expected true or false, got '{text}'");
                return false;
        }
    }

    /// <summary>A whole number (range checks are the validation pass's).</summary>
    public bool Int(YamlNode node, string path, out int value)
    {
        value = 0;
        if (!Scalar(node, path, "a whole number", out var text)) return false;
        if (int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out value)) return true;
        Fail(node, path, $"{path}: expected a whole number, got '{text}'");
        return false;
    }

    public bool Size(YamlNode node, string path, out long bytes)
    {
        bytes = 0;
        if (!Scalar(node, path, "a size like 512MiB or 2GiB", out var text)) return false;
        if (Units.TryParseSize(text, out bytes, out var error)) return true;
        Fail(node, path, $"{path}: {error}");
        return false;
    }

    public bool Duration(YamlNode node, string path, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (!Scalar(node, path, "a duration like 500ms, 1s or 10m", out var text)) return false;
        if (Units.TryParseDuration(text, out duration, out var error)) return true;
        Fail(node, path, $"{path}: {error}");
        return false;
    }

    /// <summary>One of the names in <paramref name="names"/> (exact, case-sensitive), with a did-you-mean when close.</summary>
    public bool Enum<T>(YamlNode node, string path, (string Name, T Value)[] names, out T value)
    {
        value = default!;
        var allowed = string.Join(", ", names.Select(n => n.Name));
        if (!Scalar(node, path, "one of " + allowed, out var text)) return false;
        foreach (var (name, v) in names)
        {
            if (name == text)
            {
                value = v;
                return true;
            }
        }
        var suggestion = Suggest.Closest(text, names.Select(n => n.Name));
        Fail(node, path, $"{path} must be one of {allowed}, got '{text}'{(suggestion is null ? "" : $" (did you mean '{suggestion}'?)")}");
        return false;
    }

    /// <summary>
    /// A list of strings; each item's position is recorded under <c>path[i]</c>. An item that is
    /// not a string is reported, marked failed and kept as "" so that indexes stay aligned with
    /// the file. Returns false only when the node is not a list.
    /// </summary>
    public bool StringList(YamlNode node, string path, out List<string> values)
    {
        values = [];
        if (!Items(node, path, out var items)) return false;
        foreach (var (item, itemPath) in items)
            values.Add(String(item, itemPath, out var text) ? text : "");
        return true;
    }

    /// <summary>
    /// A mapping of strings to strings (tags, extra); each value's position is recorded under
    /// <c>path.key</c>. Entries that are not strings are reported and left out; the result holds
    /// the others. Returns false only when the node is not a mapping.
    /// </summary>
    public bool StringMap(YamlNode node, string path, out Dictionary<string, string> values)
    {
        values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (IsNull(node)) return true;
        if (node is not YamlMappingNode mapping)
        {
            Fail(node, path, $"{path}: expected a mapping of keys to values, got {Describe(node)}");
            return false;
        }
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key } || key.Length == 0)
            {
                Error(keyNode, $"{path}: expected a non-empty plain key, got {Describe(keyNode)}");
                continue;
            }
            var valuePath = path + "." + key;
            Map.Set(valuePath, LocationOf(valueNode));
            if (String(valueNode, valuePath, out var value)) values[key] = value;
        }
        return true;
    }

    /// <summary>An unquoted empty value, <c>~</c> or <c>null</c>: YAML's null.</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    /// <summary>How a node reads in "got ...": <c>a list</c>, <c>a mapping</c>, <c>nothing</c> or the quoted scalar.</summary>
    public static string Describe(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ when IsNull(node) => "nothing",
        YamlScalarNode scalar => $"'{scalar.Value}'",
        _ => "an alias",
    };

    private static int Line(Mark mark) => (int)Math.Min(mark.Line, int.MaxValue);

    private static int Column(Mark mark) => (int)Math.Min(mark.Column, int.MaxValue);

    /// <summary>Rewrites YamlDotNet's parser exceptions into a position and a short, clear message.</summary>
    internal static (int Line, int Column, string Message) Describe(YamlException e, string text)
    {
        var line = Line(e.Start);
        var column = Column(e.Start);
        var raw = e.Message;
        string message;
        if (raw.StartsWith("Duplicate key ", StringComparison.Ordinal))
        {
            message = $"duplicate key '{raw["Duplicate key ".Length..]}'";
        }
        else if (e is AnchorNotFoundException)
        {
            var start = raw.IndexOf('\'', StringComparison.Ordinal);
            var end = start < 0 ? -1 : raw.IndexOf('\'', start + 1);
            if (end > start)
            {
                var anchor = raw[(start + 1)..end];
                message = $"invalid YAML: alias '*{anchor}' refers to no anchor";
                (line, column) = FindAlias(text, anchor, line, column);
            }
            else
            {
                message = "invalid YAML: alias refers to no anchor";
            }
        }
        else if (raw.Contains("found invalid tab", StringComparison.Ordinal) || raw.Contains("tab character", StringComparison.Ordinal))
        {
            message = "invalid YAML: tabs cannot indent; use spaces";
            (line, column) = FirstTabIndent(text, line, column);
        }
        else if (raw.Contains("quoted scalar", StringComparison.Ordinal))
        {
            message = "invalid YAML: unterminated quoted string";
        }
        else if (raw.Contains("did not find expected ',' or ']'", StringComparison.Ordinal))
        {
            message = "invalid YAML: unterminated list, expected ',' or ']'";
        }
        else if (raw.Contains("did not find expected ',' or '}'", StringComparison.Ordinal))
        {
            message = "invalid YAML: unterminated mapping, expected ',' or '}'";
        }
        else if (raw.Contains("found invalid mapping", StringComparison.Ordinal) || raw.Contains("mapping values are not allowed", StringComparison.Ordinal))
        {
            message = "invalid YAML: unexpected ':' (check the indentation, or quote a value that contains ': ')";
        }
        else if (raw.Contains("did not find expected key", StringComparison.Ordinal))
        {
            message = "invalid YAML: bad indentation (a key is not aligned with the keys above it)";
        }
        else if (raw.Contains("cannot start any token", StringComparison.Ordinal))
        {
            message = "invalid YAML: a plain value cannot start with this character (quote the value)";
        }
        else
        {
            var trimmed = raw.TrimEnd('.');
            message = "invalid YAML: " + (trimmed.Length > 0 ? char.ToLowerInvariant(trimmed[0]) + trimmed[1..] : "parse error");
        }
        return (Math.Max(line, 1), Math.Max(column, 1), message);
    }

    /// <summary>YamlDotNet places an unknown alias at the start of the document; find the alias itself.</summary>
    private static (int Line, int Column) FindAlias(string text, string anchor, int line, int column)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            for (var at = lines[i].IndexOf("*" + anchor, StringComparison.Ordinal); at >= 0; at = lines[i].IndexOf("*" + anchor, at + 1, StringComparison.Ordinal))
            {
                var after = at + 1 + anchor.Length;
                if (after == lines[i].Length || lines[i][after] is ' ' or ',' or ']' or '}' or '\r') return (i + 1, at + 1);
            }
        }
        return (line, column);
    }

    /// <summary>YamlDotNet places a tab-indentation error at the enclosing mapping; find the tab itself.</summary>
    private static (int Line, int Column) FirstTabIndent(string text, int line, int column)
    {
        var lines = text.Split('\n');
        for (var i = Math.Max(line - 1, 0); i < lines.Length; i++)
        {
            var l = lines[i];
            for (var c = 0; c < l.Length && (l[c] == ' ' || l[c] == '\t'); c++)
                if (l[c] == '\t') return (i + 1, c + 1);
        }
        return (line, column);
    }
}
