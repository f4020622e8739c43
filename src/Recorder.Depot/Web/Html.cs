using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace Recorder.Depot.Web;

/// <summary>
/// A small HTML writer: every text and attribute value goes through <see cref="HtmlEncoder"/>, so a
/// device id, topic or event text can never become markup. Tag and attribute names are constants
/// of the page code. No Razor: pages are plain methods, so native AOT compiles them.
/// </summary>
public sealed class Html
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Default;
    private readonly StringBuilder _out = new();

    /// <summary>Opens <c>&lt;tag a="v" …&gt;</c>; attributes whose value is null are left out, and an empty name/value pair ("", …) is skipped.</summary>
    public Html Open(string tag, params (string Name, string? Value)[] attributes)
    {
        _out.Append('<').Append(tag);
        foreach (var (name, value) in attributes)
        {
            if (value is null || name.Length == 0) continue;
            _out.Append(' ').Append(name).Append("=\"");
            Encoder.Encode(new StringWriter(_out, CultureInfo.InvariantCulture), value);
            _out.Append('"');
        }
        _out.Append('>');
        return this;
    }

    public Html Close(string tag)
    {
        _out.Append("</").Append(tag).Append('>');
        return this;
    }

    /// <summary>Encoded text.</summary>
    public Html Text(string? text)
    {
        if (!string.IsNullOrEmpty(text)) Encoder.Encode(new StringWriter(_out, CultureInfo.InvariantCulture), text);
        return this;
    }

    /// <summary><c>&lt;tag …&gt;text&lt;/tag&gt;</c>.</summary>
    public Html Element(string tag, string? text, params (string Name, string? Value)[] attributes) => Open(tag, attributes).Text(text).Close(tag);

    /// <summary>A void element (<c>&lt;input …&gt;</c>, <c>&lt;img …&gt;</c>).</summary>
    public Html Void(string tag, params (string Name, string? Value)[] attributes) => Open(tag, attributes);

    /// <summary>The document type line (a constant: nothing from a request reaches it).</summary>
    public Html Doctype()
    {
        _out.Append("<!doctype html>\n");
        return this;
    }

    public override string ToString() => _out.ToString();
}
