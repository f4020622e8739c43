using System.Runtime.InteropServices;

namespace Recorder.Storage;

/// <summary>
/// Crash-safe file operations: a file appears under its final name whole or not at all
/// (written to a temporary name, fsynced, renamed, the directory fsynced).
/// </summary>
public static partial class DurableFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> through a temporary file, fsync and rename.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 0))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>
    /// Renames the finished, already fsynced file <paramref name="source"/> to <paramref name="destination"/>
    /// (replacing it), creating the directories, and fsyncs the directory so the rename survives a power cut.
    /// </summary>
    public static void MoveIntoPlace(string source, string destination)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(destination))!;
        Directory.CreateDirectory(dir);
        File.Move(source, destination, overwrite: true);
        SyncDirectory(dir);
    }

    /// <summary>fsync on a directory: makes the names created or renamed in it durable. Best effort where not supported.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var fd = Open(directory, 0x10000 /* O_DIRECTORY */ | 0 /* O_RDONLY */);
        if (fd < 0) return;
        try
        {
            _ = Fsync(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
