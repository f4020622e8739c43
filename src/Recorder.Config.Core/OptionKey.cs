using System.Globalization;
using Recorder.Config.Loading;
using YamlDotNet.RepresentationModel;

namespace Recorder.Config;

/// <summary>How a running daemon takes a new value of a key on reload.</summary>
public enum ReloadClass
{
    /// <summary>Applied by a reload while recording goes on.</summary>
    Live,

    /// <summary>Bound at start (a socket, the queue, a directory): a reload keeps the old value and names the key as needing a restart.</summary>
    Restart,
}

/// <summary>One YAML key as its table declares it: its full path, its default as YAML text (null: unset), how a reload treats it and what it means.</summary>
/// <param name="Path">The key path, <c>recording.chunk.size</c>; items of a list are <c>topics[].drop</c>.</param>
/// <param name="Default">The default, formatted as a file would write it; null when the key is unset by default.</param>
/// <param name="Reload">How a reload treats the key.</param>
/// <param name="Doc">What the key means.</param>
public sealed record OptionKeyInfo(string Path, string? Default, ReloadClass Reload, string Doc);

/// <summary>
/// One YAML key of an options type <typeparamref name="T"/>, declared once: its name below its
/// section, how its value is read onto <typeparamref name="T"/> and printed back, what it means and
/// how a reload treats it. The default is <typeparamref name="T"/>'s own (the property's
/// initialiser); a table never repeats it. Built with <see cref="OptionKeys"/>: plain delegates, no
/// reflection, so it trims and compiles ahead of time.
/// </summary>
/// <typeparam name="T">The options type the key is read onto (an immutable record).</typeparam>
public abstract class OptionKey<T>
{
    private protected OptionKey(string name, ReloadClass reload, string doc)
    {
        Name = name;
        Reload = reload;
        Doc = doc;
    }

    /// <summary>The key's name below its section; a dotted name (<c>chunk.size</c>) nests in the file (<c>chunk: { size: ... }</c>).</summary>
    public string Name { get; }

    /// <summary>How a reload treats the key (for a section: its own presence).</summary>
    public ReloadClass Reload { get; }

    /// <summary>What the key means.</summary>
    public string Doc { get; }

    /// <summary>Reads <paramref name="node"/> onto <paramref name="target"/>; on an error (reported to the reader) returns it unchanged.</summary>
    internal abstract T Read(YamlReader r, YamlNode node, string path, T target);

    /// <summary>Writes the value (or section) as YAML, marked with where it came from.</summary>
    internal abstract void Write(YamlOut w, T value, int depth, string label, string path);

    /// <summary>Adds the value as text under its path (a section: its keys), for comparing two settings.</summary>
    internal abstract void Flatten(T value, string path, IDictionary<string, string> into);

    /// <summary>Puts back the restart-only values of <paramref name="old"/> into <paramref name="next"/>, adding each that differed to <paramref name="changed"/>.</summary>
    internal abstract T KeepRestartOnly(T old, T next, string path, List<string> changed);

    /// <summary>The leaf keys with their defaults, taken from <paramref name="defaults"/>.</summary>
    internal abstract IEnumerable<OptionKeyInfo> Describe(T defaults, string path);
}

/// <summary>
/// The keys of one options type, in file order (the order of "known keys" in errors and of
/// <c>config check --effective</c>). Dotted names group into nested mappings.
/// </summary>
/// <typeparam name="T">The options type.</typeparam>
public sealed class OptionTable<T>
{
    private readonly List<(string Segment, OptionKey<T>? Key, OptionTable<T>? Group)> _nodes = [];

    /// <summary>A table of <paramref name="keys"/>; <paramref name="defaults"/> builds the options type's defaults.</summary>
    public OptionTable(Func<T> defaults, params OptionKey<T>[] keys) : this(defaults, keys, 0)
    {
    }

    private OptionTable(Func<T> defaults, IReadOnlyList<OptionKey<T>> keys, int prefix)
    {
        Defaults = defaults;
        Keys = keys;
        foreach (var key in keys)
        {
            var rest = key.Name[prefix..];
            var dot = rest.IndexOf('.', StringComparison.Ordinal);
            var segment = dot < 0 ? rest : rest[..dot];
            if (_nodes.Exists(n => n.Segment == segment)) continue;
            if (dot < 0)
            {
                _nodes.Add((segment, key, null));
            }
            else
            {
                var group = keys.Where(k => k.Name.AsSpan(prefix).StartsWith(segment + ".", StringComparison.Ordinal)).ToList();
                _nodes.Add((segment, null, new OptionTable<T>(defaults, group, prefix + segment.Length + 1)));
            }
        }
        Names = _nodes.Select(n => n.Segment).ToArray();
    }

    /// <summary>The options type's defaults.</summary>
    public Func<T> Defaults { get; }

    /// <summary>The keys, in declaration order.</summary>
    public IReadOnlyList<OptionKey<T>> Keys { get; }

    /// <summary>The names at this level of the file, in order (<c>dir, chunk, split, fsync</c>).</summary>
    public IReadOnlyList<string> Names { get; }

    internal static string Join(string path, string segment) => path.Length == 0 ? segment : path + "." + segment;

    /// <summary>Reads a mapping onto <paramref name="target"/>: unknown keys are errors (with a did-you-mean), known ones override.</summary>
    internal T Read(YamlReader r, YamlNode? node, string path, T target, Func<string, string?>? hint = null)
    {
        var t = target;
        foreach (var (key, value, keyPath) in r.Keys(node, path, Names, hint))
            t = ReadKey(r, key, value, keyPath, t);
        return t;
    }

    /// <summary>Reads one key of this level (known to be one of <see cref="Names"/>).</summary>
    internal T ReadKey(YamlReader r, string name, YamlNode value, string path, T target)
    {
        var node = _nodes.Find(n => n.Segment == name);
        return node.Key is { } key ? key.Read(r, value, path, target) : node.Group!.Read(r, value, path, target);
    }

    /// <summary>Whether <paramref name="name"/> is a key of this level.</summary>
    internal bool Has(string name) => _nodes.Exists(n => n.Segment == name);

    internal void Write(YamlOut w, T value, int depth, string path, string? firstPrefix = null)
    {
        foreach (var (segment, key, group) in _nodes)
        {
            var label = firstPrefix is not null ? firstPrefix + segment : segment;
            var keyDepth = firstPrefix is not null ? depth - 1 : depth;
            firstPrefix = null;
            if (key is not null)
            {
                key.Write(w, value, keyDepth, label, Join(path, segment));
            }
            else
            {
                w.Section(keyDepth, label);
                group!.Write(w, value, depth + 1, Join(path, segment));
            }
        }
    }

    internal void Flatten(T value, string path, IDictionary<string, string> into)
    {
        foreach (var key in Keys) key.Flatten(value, path.Length == 0 ? key.Name : path + "." + key.Name, into);
    }

    internal T KeepRestartOnly(T old, T next, string path, List<string> changed)
    {
        foreach (var key in Keys) next = key.KeepRestartOnly(old, next, path.Length == 0 ? key.Name : path + "." + key.Name, changed);
        return next;
    }

    /// <summary>Every leaf key below <paramref name="path"/> with its default.</summary>
    public IEnumerable<OptionKeyInfo> Describe(string path = "") =>
        Keys.SelectMany(k => k.Describe(Defaults(), path.Length == 0 ? k.Name : path + "." + k.Name));
}

/// <summary>Reads one typed value; reports to the reader and returns false when the node does not hold one.</summary>
internal delegate bool ValueParser<TValue>(YamlReader r, YamlNode node, string path, out TValue value);

/// <summary>Builders of <see cref="OptionKey{T}"/>: one per kind of value, each knowing how to read and print it.</summary>
internal static class OptionKeys
{
    public static OptionKey<T> String<T>(string name, Func<T, string> get, Func<T, string, T> set, ReloadClass reload, string doc,
        Func<SourceMap, string?>? defaultOrigin = null) =>
        new ValueKey<T, string>(name, get, set, (YamlReader r, YamlNode n, string p, out string v) => r.String(n, p, out v), YamlOut.Str, reload, doc)
        {
            DefaultOrigin = defaultOrigin,
        };

    /// <summary>A string that may be left empty (null); a null value is left out of the effective configuration.</summary>
    public static OptionKey<T> OptionalString<T>(string name, Func<T, string?> get, Func<T, string?, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, string?>(name, get, set, (YamlReader r, YamlNode n, string p, out string? v) => r.OptionalString(n, p, out v),
            v => v is null ? null : YamlOut.Str(v), reload, doc);

    public static OptionKey<T> Bool<T>(string name, Func<T, bool> get, Func<T, bool, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, bool>(name, get, set, (YamlReader r, YamlNode n, string p, out bool v) => r.Bool(n, p, out v), v => v ? "true" : "false", reload, doc);

    public static OptionKey<T> Int<T>(string name, Func<T, int> get, Func<T, int, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, int>(name, get, set, (YamlReader r, YamlNode n, string p, out int v) => r.Int(n, p, out v),
            v => v.ToString(CultureInfo.InvariantCulture), reload, doc);

    /// <summary>A size; zero prints as <c>0</c>.</summary>
    public static OptionKey<T> Size<T>(string name, Func<T, long> get, Func<T, long, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, long>(name, get, set, (YamlReader r, YamlNode n, string p, out long v) => r.Size(n, p, out v), FormatSize, reload, doc);

    /// <summary>
    /// A size held in an <see cref="int"/>: a larger one is kept as <see cref="int.MaxValue"/>, so
    /// the range check reports it (as written) instead of a wrapped value passing.
    /// </summary>
    public static OptionKey<T> Size<T>(string name, Func<T, int> get, Func<T, int, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, int>(name, get, set, (YamlReader r, YamlNode n, string p, out int v) =>
        {
            var ok = r.Size(n, p, out var bytes);
            v = (int)Math.Min(bytes, int.MaxValue);
            return ok;
        }, v => FormatSize(v), reload, doc);

    public static OptionKey<T> Duration<T>(string name, Func<T, TimeSpan> get, Func<T, TimeSpan, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, TimeSpan>(name, get, set, (YamlReader r, YamlNode n, string p, out TimeSpan v) => r.Duration(n, p, out v), Units.FormatDuration, reload, doc);

    /// <summary>One of <paramref name="names"/> (the file's spelling of each value).</summary>
    public static OptionKey<T> Enum<T, TEnum>(string name, Func<T, TEnum> get, Func<T, TEnum, T> set, (string Name, TEnum Value)[] names, ReloadClass reload, string doc)
        where TEnum : struct, System.Enum =>
        new ValueKey<T, TEnum>(name, get, set, (YamlReader r, YamlNode n, string p, out TEnum v) => r.Enum(n, p, names, out v), v => NameOf(names, v), reload, doc);

    /// <summary>An enum that is unset (null) unless a file names it; unset is left out of the effective configuration.</summary>
    public static OptionKey<T> OptionalEnum<T, TEnum>(string name, Func<T, TEnum?> get, Func<T, TEnum?, T> set, (string Name, TEnum Value)[] names, ReloadClass reload,
        string doc, Func<T, bool>? applies = null)
        where TEnum : struct, System.Enum =>
        new ValueKey<T, TEnum?>(name, get, set, (YamlReader r, YamlNode n, string p, out TEnum? v) =>
        {
            var ok = r.Enum(n, p, names, out var e);
            v = ok ? e : null;
            return ok;
        }, v => v is { } e ? NameOf(names, e) : null, reload, doc)
        {
            Applies = applies,
        };

    public static OptionKey<T> StringList<T>(string name, Func<T, IReadOnlyList<string>> get, Func<T, IReadOnlyList<string>, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, IReadOnlyList<string>>(name, get, set, (YamlReader r, YamlNode n, string p, out IReadOnlyList<string> v) =>
        {
            var ok = r.StringList(n, p, out var list);
            v = list.AsReadOnly();
            return ok;
        }, YamlOut.List, reload, doc) { ReplacedWhole = true };

    public static OptionKey<T> StringMap<T>(string name, Func<T, IReadOnlyDictionary<string, string>> get, Func<T, IReadOnlyDictionary<string, string>, T> set,
        ReloadClass reload, string doc) =>
        new ValueKey<T, IReadOnlyDictionary<string, string>>(name, get, set, (YamlReader r, YamlNode n, string p, out IReadOnlyDictionary<string, string> v) =>
        {
            var ok = r.StringMap(n, p, out var map);
            v = new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(map);
            return ok;
        }, YamlOut.Map, reload, doc);

    /// <summary>An absolute or relative URI as written; what it must be is the validation pass's to say.</summary>
    public static OptionKey<T> Uri<T>(string name, Func<T, System.Uri> get, Func<T, System.Uri, T> set, ReloadClass reload, string doc) =>
        new ValueKey<T, System.Uri>(name, get, set, (YamlReader r, YamlNode n, string p, out System.Uri v) =>
        {
            v = EmptyUri;
            if (!r.String(n, p, out var text)) return false;
            if (System.Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out var uri))
            {
                v = uri;
                return true;
            }
            r.Fail(n, p, $"{p} must be an absolute http:// or https:// URL, got '{text}'");
            return false;
        }, v => YamlOut.Str(v.OriginalString), reload, doc);

    /// <summary>The empty relative URI: an endpoint not set yet.</summary>
    public static readonly System.Uri EmptyUri = new("", UriKind.Relative);

    /// <summary>A nested mapping read onto its own options type.</summary>
    public static OptionKey<T> Section<T, TSection>(string name, Func<T, TSection> get, Func<T, TSection, T> set, OptionTable<TSection> table, string doc) =>
        new SectionKey<T, TSection>(name, t => get(t), set, table, doc);

    /// <summary>A nested mapping that is absent (null) by default; naming it in a file starts from the section's defaults.</summary>
    public static OptionKey<T> OptionalSection<T, TSection>(string name, Func<T, TSection?> get, Func<T, TSection, T> set, OptionTable<TSection> table, string doc)
        where TSection : class =>
        new SectionKey<T, TSection>(name, get, set, table, doc);

    /// <summary>
    /// A list of mappings, each identified by the string of its table's first key, which is
    /// required. A file's list replaces the list as a whole.
    /// </summary>
    /// <remarks><paramref name="example"/> is what an item looks like in "expected a mapping like { key: example }".</remarks>
    public static OptionKey<T> List<T, TItem>(string name, Func<T, IReadOnlyList<TItem>> get, Func<T, IReadOnlyList<TItem>, T> set, OptionTable<TItem> table,
        Func<TItem, string> id, string example, string doc) =>
        new ListKey<T, TItem>(name, get, set, table, id, example, doc);

    private static string FormatSize(long bytes) => bytes == 0 ? "0" : Units.FormatSize(bytes);

    private static string NameOf<TEnum>((string Name, TEnum Value)[] names, TEnum value) where TEnum : struct, System.Enum
    {
        foreach (var (n, v) in names)
            if (EqualityComparer<TEnum>.Default.Equals(v, value)) return n;
        throw new ArgumentOutOfRangeException(nameof(value), value, "not a defined value");
    }

    private sealed class ValueKey<T, TValue>(string name, Func<T, TValue> get, Func<T, TValue, T> set, ValueParser<TValue> parse, Func<TValue, string?> format,
        ReloadClass reload, string doc) : OptionKey<T>(name, reload, doc)
    {
        /// <summary>Where an unset value comes from, when it is not simply the default (<c>the host name</c>).</summary>
        public Func<SourceMap, string?>? DefaultOrigin { get; init; }

        /// <summary>Whether the key means anything for this value (printed only then).</summary>
        public Func<T, bool>? Applies { get; init; }

        /// <summary>A list: a later file's value replaces it as a whole.</summary>
        public bool ReplacedWhole { get; init; }

        internal override T Read(YamlReader r, YamlNode node, string path, T target) => parse(r, node, path, out var value) ? set(target, value) : target;

        internal override void Write(YamlOut w, T value, int depth, string label, string path)
        {
            if (Applies is { } applies && !applies(value)) return;
            if (format(get(value)) is { } text) w.Key(depth, label, text, path, DefaultOrigin);
        }

        internal override void Flatten(T value, string path, IDictionary<string, string> into) => into[path] = format(get(value)) ?? "";

        internal override T KeepRestartOnly(T old, T next, string path, List<string> changed)
        {
            if (Reload != ReloadClass.Restart || format(get(old)) == format(get(next))) return next;
            changed.Add(path);
            return set(next, get(old));
        }

        internal override IEnumerable<OptionKeyInfo> Describe(T defaults, string path) => [new(path, format(get(defaults)), Reload, Doc)];
    }

    private sealed class SectionKey<T, TSection>(string name, Func<T, TSection?> get, Func<T, TSection, T> set, OptionTable<TSection> table, string doc)
        : OptionKey<T>(name, ReloadClass.Live, doc)
    {
        internal override T Read(YamlReader r, YamlNode node, string path, T target) => set(target, table.Read(r, node, path, get(target) ?? table.Defaults()));

        internal override void Write(YamlOut w, T value, int depth, string label, string path)
        {
            if (get(value) is not { } section) return;
            w.Section(depth, label);
            table.Write(w, section, depth + 1, path);
        }

        internal override void Flatten(T value, string path, IDictionary<string, string> into)
        {
            if (get(value) is { } section) table.Flatten(section, path, into);
        }

        internal override T KeepRestartOnly(T old, T next, string path, List<string> changed) =>
            get(old) is { } o && get(next) is { } n ? set(next, table.KeepRestartOnly(o, n, path, changed)) : next;

        internal override IEnumerable<OptionKeyInfo> Describe(T defaults, string path) => table.Describe(path);
    }

    private sealed class ListKey<T, TItem>(string name, Func<T, IReadOnlyList<TItem>> get, Func<T, IReadOnlyList<TItem>, T> set, OptionTable<TItem> table,
        Func<TItem, string> id, string example, string doc) : OptionKey<T>(name, ReloadClass.Live, doc)
    {
        private string IdKey => table.Names[0];

        internal override T Read(YamlReader r, YamlNode node, string path, T target)
        {
            var items = new List<TItem>();
            if (!r.Items(node, path, out var nodes)) return set(target, items.AsReadOnly());
            foreach (var (item, itemPath) in nodes)
            {
                if (item is not YamlMappingNode)
                {
                    r.Fail(item, itemPath, item is YamlScalarNode scalar && !YamlReader.IsNull(item)
                        ? $"{itemPath}: expected a mapping like {{ {IdKey}: {scalar.Value} }}, got {YamlReader.Describe(item)}"
                        : $"{itemPath}: expected a mapping like {{ {IdKey}: {example} }}, got {YamlReader.Describe(item)}");
                    items.Add(table.Defaults()); // a failed placeholder keeps indexes aligned with the file
                    continue;
                }
                var t = table.Read(r, item, itemPath, table.Defaults());
                if (!r.Map.IsSet(itemPath + "." + IdKey)) r.Fail(item, itemPath + "." + IdKey, $"{itemPath}: missing required key '{IdKey}'");
                items.Add(t);
            }
            return set(target, items.AsReadOnly());
        }

        internal override void Write(YamlOut w, T value, int depth, string label, string path)
        {
            var items = get(value);
            if (items.Count == 0)
            {
                w.Key(depth, label, "[]", path);
                return;
            }
            w.Line(new string(' ', depth * 2) + label + ":", path);
            for (var n = 0; n < items.Count; n++)
                table.Write(w, items[n], depth + 2, string.Create(CultureInfo.InvariantCulture, $"{path}[{n}]"), firstPrefix: "- ");
        }

        internal override void Flatten(T value, string path, IDictionary<string, string> into)
        {
            foreach (var item in get(value))
            {
                var p = path + "[" + id(item) + "]";
                into[p] = "configured";
                foreach (var key in table.Keys.Skip(1)) key.Flatten(item, p + "." + key.Name, into);
            }
        }

        // Items are matched by the host, which knows what a changed item means (see the restart-only keys of the item table).
        internal override T KeepRestartOnly(T old, T next, string path, List<string> changed) => next;

        internal override IEnumerable<OptionKeyInfo> Describe(T defaults, string path) => table.Describe(path + "[]");
    }
}
