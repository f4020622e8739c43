using System.Globalization;

namespace Recorder.Daemon;

/// <summary>
/// Whether standard output goes to the systemd journal: systemd sets <c>JOURNAL_STREAM=DEV:INODE</c>
/// for a service whose stdout/stderr it connected to journald (systemd.exec(5)). The inode is
/// compared with the stream's (<c>/proc/self/fd/1</c> → <c>socket:[INODE]</c>) so that a child whose
/// output was redirected elsewhere does not write priority prefixes into a file. When
/// <c>/proc/self/fd</c> cannot be read, the variable alone decides.
/// </summary>
public static class Journal
{
    public static bool StdoutIsJournal() => IsJournal(1);

    /// <summary>Whether standard error goes to the journal (the unit's StandardError= defaults to the same stream as stdout).</summary>
    public static bool StderrIsJournal() => IsJournal(2);

    private static bool IsJournal(int fd)
    {
        var stream = Environment.GetEnvironmentVariable("JOURNAL_STREAM");
        if (string.IsNullOrEmpty(stream)) return false;
        var colon = stream.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || !ulong.TryParse(stream.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)) return false;
        try
        {
            // "socket:[INODE]" (or "pipe:[INODE]"): the same stream when the inode matches.
            var target = new FileInfo("/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture)).LinkTarget;
            if (target is null) return true;
            var open = target.IndexOf('[', StringComparison.Ordinal);
            return open >= 0 && target.EndsWith(']')
                && ulong.TryParse(target.AsSpan(open + 1, target.Length - open - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var actual)
                && actual == inode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }
}
