using System.Globalization;

namespace Recorder.Config;

/// <summary>
/// One problem in the configuration, located at the YAML node at fault. <see cref="Line"/> and
/// <see cref="Column"/> are 1-based; both are 0 for a problem with the file as a whole (it cannot
/// be read) or with the embedded defaults (file <c>(defaults)</c>).
/// </summary>
/// <param name="File">The file as it was named to the loader.</param>
/// <param name="Line">1-based line, or 0.</param>
/// <param name="Column">1-based column, or 0.</param>
/// <param name="Message">What is wrong and, where it helps, what would be right.</param>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    /// <summary>The file name used for problems that no file caused.</summary>
    public const string DefaultsFile = "(defaults)";

    /// <summary><c>file:line:column: message</c>, or <c>file: message</c> when there is no line.</summary>
    public override string ToString() => Line > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: {Message}")
        : $"{File}: {Message}";
}
