namespace Recorder.Config;

/// <summary>A mounted file system as the running process sees it (inside its own mount namespace).</summary>
/// <param name="MountPoint">Where it is mounted, e.g. <c>/</c> or <c>/data</c>.</param>
/// <param name="ReadOnly">True when mounted read-only (including the read-only bind mounts of systemd's <c>ProtectSystem=strict</c>).</param>
/// <param name="TotalBytes">Its size in bytes, or 0 when unknown.</param>
public sealed record HostVolume(string MountPoint, bool ReadOnly, long TotalBytes);

/// <summary>
/// What the configuration checks need to know about the machine the daemon runs on. Injected so
/// that the checks are tested against a fake machine; <see cref="SystemHostProbe"/> asks the real one.
/// </summary>
public interface IHostProbe
{
    /// <summary>The volume that holds <paramref name="path"/> (or would, once created: its nearest existing ancestor), or null when unknown.</summary>
    HostVolume? VolumeOf(string path);

    /// <summary>Why this process cannot read <paramref name="path"/> as a non-empty file (<c>no such file</c>, <c>permission denied</c>, ...), or null when it can.</summary>
    string? WhyUnreadable(string path);
}
