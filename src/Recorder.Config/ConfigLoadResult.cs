namespace Recorder.Config;

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
