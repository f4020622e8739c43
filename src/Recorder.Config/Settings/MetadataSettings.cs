namespace Recorder.Config;

/// <summary>Rules for the <c>recorder.device</c> metadata (<c>metadata:</c> in the fleet file).</summary>
public sealed record MetadataSettings
{
    /// <summary>
    /// <c>metadata.required</c>: keys of the <c>recorder.device</c> metadata that must have a value
    /// (for example <c>operator</c>). Configuration checking rejects a required static device key
    /// that the device file leaves unset (<c>vehicle</c>, <c>software_version</c>); keys that change
    /// at run time are the daemon's to enforce. Empty by default.
    /// </summary>
    public IReadOnlyList<string> Required { get; init; } = [];
}
