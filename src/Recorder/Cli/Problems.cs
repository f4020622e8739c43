using Recorder.Daemon;

namespace Recorder.Cli;

/// <summary>
/// Error and warning lines for stderr. Under systemd, when stderr is the journal stream
/// (<see cref="Journal.StderrIsJournal"/>), every line carries the sd-daemon priority prefix
/// <c>&lt;3&gt;</c> (error) or <c>&lt;4&gt;</c> (warning), which journald turns into the entry's
/// priority, so <c>journalctl -p warning</c> shows them; elsewhere the lines are plain.
/// </summary>
public static class Problems
{
    private static readonly bool Prefixed = Journal.StderrIsJournal();

    public static void Error(TextWriter stderr, string text) => Write(stderr, "<3>", text);

    public static void Warning(TextWriter stderr, string text) => Write(stderr, "<4>", text);

    private static void Write(TextWriter stderr, string priority, string text)
    {
        if (!Prefixed)
        {
            stderr.WriteLine(text);
            return;
        }
        // journald reads one entry per line: each line needs its own prefix.
        foreach (var line in text.Split('\n')) stderr.WriteLine(priority + line);
    }
}
