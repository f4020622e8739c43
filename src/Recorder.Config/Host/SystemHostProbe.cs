using System.Globalization;
using System.Text;

namespace Recorder.Config;

/// <summary>
/// <see cref="IHostProbe"/> on the running machine: mounts from <c>/proc/self/mountinfo</c> (so
/// inside a systemd sandbox it sees the sandbox's read-only mounts), sizes from the file system,
/// readability by opening the file as this process's user.
/// </summary>
public sealed class SystemHostProbe : IHostProbe
{
    private readonly string _mountInfo;

    /// <param name="mountInfo">The mount table to read; <c>/proc/self/mountinfo</c> by default.</param>
    public SystemHostProbe(string mountInfo = "/proc/self/mountinfo") => _mountInfo = mountInfo;

    /// <inheritdoc />
    public HostVolume? VolumeOf(string path)
    {
        string resolved;
        List<(string MountPoint, bool ReadOnly)> mounts;
        try
        {
            resolved = Resolve(NearestExisting(Path.GetFullPath(path)));
            mounts = ReadMounts(File.ReadAllLines(_mountInfo));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
        (string MountPoint, bool ReadOnly)? best = null;
        foreach (var mount in mounts)
        {
            // The longest mount point containing the path; of equal ones the last (it is mounted over the others).
            if (!Contains(mount.MountPoint, resolved)) continue;
            if (best is null || mount.MountPoint.Length >= best.Value.MountPoint.Length) best = mount;
        }
        if (best is null) return null;
        long total = 0;
        try
        {
            total = new DriveInfo(best.Value.MountPoint).TotalSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Unknown size: the quota check is skipped.
        }
        return new HostVolume(best.Value.MountPoint, best.Value.ReadOnly, total);
    }

    /// <inheritdoc />
    public string? WhyUnreadable(string path)
    {
        try
        {
            if (Directory.Exists(path)) return "it is a directory";
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
            return file.Length == 0 ? "it is empty" : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "no such file";
        }
        catch (UnauthorizedAccessException)
        {
            return "permission denied";
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private static bool Contains(string mountPoint, string path) =>
        mountPoint == "/" || path == mountPoint || (path.StartsWith(mountPoint, StringComparison.Ordinal) && path[mountPoint.Length] == '/');

    private static string NearestExisting(string full)
    {
        var p = full;
        while (!Directory.Exists(p) && !File.Exists(p) && Path.GetDirectoryName(p) is { } parent) p = parent;
        return p;
    }

    /// <summary>The path with every symbolic link along it resolved (an existing path).</summary>
    private static string Resolve(string path)
    {
        var current = "/";
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Join(current, part);
            current = File.ResolveLinkTarget(next, returnFinalTarget: true)?.FullName ?? next;
        }
        return current;
    }

    /// <summary>Mount points and read-only flags from mountinfo lines (proc(5)): field 5 is the mount point, 6 the mount options, and after " - " the super options.</summary>
    internal static List<(string MountPoint, bool ReadOnly)> ReadMounts(IEnumerable<string> lines)
    {
        var mounts = new List<(string, bool)>();
        foreach (var line in lines)
        {
            var fields = line.Split(' ');
            if (fields.Length < 6) continue;
            var separator = Array.IndexOf(fields, "-", 6);
            var readOnly = HasRo(fields[5]) || (separator > 0 && separator + 3 < fields.Length && HasRo(fields[separator + 3]));
            mounts.Add((Unescape(fields[4]), readOnly));
        }
        return mounts;

        static bool HasRo(string options) => options.Split(',').Contains("ro");
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \040, \011, \012 and \134.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal)) return field;
        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && int.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }
}
