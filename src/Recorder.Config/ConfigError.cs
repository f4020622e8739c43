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

/// <summary>The outcome of loading: the settings when there are no errors, otherwise every error found.</summary>
/// <param name="Settings">The loaded settings; null when <paramref name="Errors"/> is not empty.</param>
/// <param name="Errors">Every error in all files, ordered by file (fleet, then device), line and column.</param>
public sealed record ConfigLoadResult(RecorderSettings? Settings, IReadOnlyList<ConfigError> Errors)
{
    /// <summary>True when the configuration is valid and <see cref="Settings"/> is set.</summary>
    public bool Succeeded => Settings is not null && Errors.Count == 0;

    /// <summary>
    /// Problems that do not stop the daemon (a device file without <c>device_id</c>, a quota
    /// larger than the volume), in the same order and format as <see cref="Errors"/>.
    /// </summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary>Where each value came from, by key path; for <see cref="EffectiveConfig"/>.</summary>
    internal Loading.SourceMap? Sources { get; init; }
}
