namespace Recorder.Recording;

/// <summary>
/// Which file the writer is in and when it must move on: names each new recording (by
/// <see cref="RecordingLayout"/>: the date and time of its first message, the sequence counting
/// files of this run and skipping names already taken), remembers the open file's start and clock
/// epoch, and says when a file has reached its size or duration.
/// It touches the disk only to create the day's directory and to see which names are taken.
/// </summary>
internal sealed class FileRotation(string root, string deviceId)
{
    /// <summary>The number of the last file named (0 before the first).</summary>
    public int Sequence { get; private set; }

    /// <summary>The open file's start (log time, ns since the Unix epoch) and the clock epoch its times belong to.</summary>
    public ulong FileStartTime { get; private set; }
    public int FileEpoch { get; private set; }

    /// <summary>
    /// The final path of the next file, starting at <paramref name="startTime"/>; its directory is
    /// created. A name taken by a finished or an unfinished (<c>.active</c>) file is skipped.
    /// </summary>
    public string NextFile(ulong startTime)
    {
        Sequence++;
        var start = DateTimeOffset.UnixEpoch.AddTicks((long)(startTime / 100));
        var dir = Path.Combine(root, RecordingLayout.DateDirectory(start));
        Directory.CreateDirectory(dir);
        while (true)
        {
            var final = Path.Combine(dir, RecordingLayout.McapFileName(deviceId, start, Sequence));
            if (!File.Exists(final) && !File.Exists(RecordingLayout.ActivePath(final))) return final;
            Sequence++;
        }
    }

    /// <summary>The file just named is open: its messages start at <paramref name="startTime"/>, in <paramref name="epoch"/>.</summary>
    public void Opened(ulong startTime, int epoch)
    {
        FileStartTime = startTime;
        FileEpoch = epoch;
    }

    /// <summary>
    /// Why the open file should end before a message at <paramref name="logTime"/>: "size" once it
    /// holds <see cref="RecordingOptions.SplitSize"/> bytes (its sidecar streams included), "duration"
    /// once it spans <see cref="RecordingOptions.SplitDuration"/>; null while it goes on. A message
    /// older than the file's start (released late from the reorder window) never ends it by duration.
    /// </summary>
    public string? SplitDue(RecordingOptions options, long fileBytes, ulong logTime)
    {
        if (fileBytes >= options.SplitSize) return "size";
        if (logTime > FileStartTime && logTime - FileStartTime >= (ulong)options.SplitDuration.Ticks * 100) return "duration";
        return null;
    }
}
