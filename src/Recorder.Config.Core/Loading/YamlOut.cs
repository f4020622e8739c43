using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Recorder.Config.Loading;

/// <summary>
/// Writes settings back as YAML, one key a line, each marked with where its value came from
/// (<c>file:line:column</c> from the <see cref="SourceMap"/>, else the key's own origin, else
/// <c>default</c>) in a column of comments.
/// </summary>
internal sealed class YamlOut(SourceMap? map)
{
    private const int CommentColumn = 48;
    private readonly StringBuilder _text = new();

    public void Comment(string text) => _text.Append("# ").Append(text).Append('\n');

    public void Section(int depth, string key) => _text.Append(' ', depth * 2).Append(key).Append(":\n");

    public void Key(int depth, string key, string value, string path, Func<SourceMap, string?>? defaultOrigin = null) =>
        Line(new string(' ', depth * 2) + key + ": " + value, path, map is not null && defaultOrigin is not null ? defaultOrigin(map) : null);

    public void Line(string line, string path, string? origin = null)
    {
        _text.Append(line);
        _text.Append(' ', Math.Max(1, CommentColumn - line.Length));
        _text.Append("# ").Append(map?.Get(path)?.ToString() ?? origin ?? "default").Append('\n');
    }

    public override string ToString() => _text.ToString();

    /// <summary>A YAML double-quoted scalar (JSON string escapes are valid YAML escapes).</summary>
    public static string Str(string value) => "\"" + JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";

    public static string List(IReadOnlyList<string> values) => "[" + string.Join(", ", values.Select(Str)) + "]";

    public static string Map(IReadOnlyDictionary<string, string> values) =>
        "{" + string.Join(", ", values.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Str(p.Key) + ": " + Str(p.Value))) + "}";
}
