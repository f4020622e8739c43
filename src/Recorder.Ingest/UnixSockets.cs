using System.Net.Sockets;

namespace Recorder.Ingest;

/// <summary>Listening Unix stream sockets as the daemon needs them: directory made, stale file replaced, access owner+group only.</summary>
public static class UnixSockets
{
    public const UnixFileMode OwnerAndGroup = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    public static Socket Listen(string path, UnixFileMode mode, int backlog)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        if (File.Exists(path)) File.Delete(path); // a stale socket file from a crashed run
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            // Set before anyone can connect: listen() has not been called yet.
            File.SetUnixFileMode(path, mode);
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
