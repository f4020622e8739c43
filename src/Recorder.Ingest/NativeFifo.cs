using System.Runtime.InteropServices;

namespace Recorder.Ingest;

/// <summary>
/// The few libc calls a cancellable FIFO reader needs. A FileStream cannot do it: opening a FIFO
/// blocks until a writer appears and a pending read cannot be cancelled (see
/// ../shared/notes/dependencies.md §6). Opening with O_NONBLOCK and polling with a timeout never
/// blocks shutdown.
/// </summary>
internal static unsafe partial class NativeFifo
{
    private const int ONonBlock = 0x800; // Linux x86-64 and arm64
    private const short PollIn = 0x001;
    public const short PollHup = 0x010;
    public const short PollErr = 0x008;
    private const int FSetPipeSize = 1031;
    private const int FGetPipeSize = 1032;
    public const int EAgain = 11;
    public const int EIntr = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FChmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    /// <summary>
    /// Creates the FIFO when nothing is at the path, and gives it exactly <paramref name="mode"/>.
    /// mkfifo's mode is filtered by the umask (the service runs with UMask=0027, which would take
    /// the group's write bit and lock out producers in the recorder group), so the mode is set
    /// again with chmod, as the sockets' is after bind. A FIFO kept from an earlier run
    /// (RuntimeDirectoryPreserve=restart) is given the mode too, when it is ours to change.
    /// Returns an error text, or null when a FIFO is there.
    /// </summary>
    public static string? Ensure(string path, UnixFileMode mode)
    {
        if (Directory.Exists(path)) return $"{path} is a directory, not a FIFO";
        if (!File.Exists(path))
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            if (MkFifo(path, (uint)mode) != 0) return $"mkfifo {path} failed (errno {Marshal.GetLastPInvokeError()})";
            if (SetMode(path, mode) is { } error) return error;
            return null;
        }
        // Only pipes answer F_GETPIPE_SZ: a regular file at the path is refused, not read.
        var fd = Open(path, ONonBlock);
        if (fd < 0) return $"cannot open {path} (errno {Marshal.GetLastPInvokeError()})";
        var isPipe = Fcntl(fd, FGetPipeSize, 0) > 0;
        if (isPipe) FChmod(fd, (uint)mode); // EPERM when another user made it: then its mode is theirs to choose
        Close(fd);
        return isPipe ? null : $"{path} exists and is not a FIFO";
    }

    private static string? SetMode(string path, UnixFileMode mode)
    {
        try
        {
            File.SetUnixFileMode(path, mode);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"chmod {path} failed: {e.Message}";
        }
    }

    public static int OpenNonBlocking(string path) => Open(path, ONonBlock); // O_RDONLY is 0

    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>Asks for a larger pipe buffer (slack against writer stalls); failure is harmless.</summary>
    public static void TryGrowPipe(int fd, int size) => Fcntl(fd, FSetPipeSize, size);

    /// <summary>Waits for input; returns the revents bits, 0 on timeout, -1 on error.</summary>
    public static int WaitReadable(int fd, int timeoutMs)
    {
        var pfd = new PollFd { Fd = fd, Events = PollIn };
        var r = Poll(&pfd, 1, timeoutMs);
        return r <= 0 ? r : pfd.Revents;
    }

    public static nint ReadInto(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer) return Read(fd, p, buffer.Length);
    }
}
