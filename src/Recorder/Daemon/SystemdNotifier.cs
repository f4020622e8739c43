using System.Net.Sockets;
using System.Text;

namespace Recorder.Daemon;

/// <summary>sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. A no-op outside systemd.</summary>
public static class SystemdNotifier
{
    public static bool Notify(string state)
    {
        var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return false;
        if (path[0] == '@') path = "\0" + path[1..]; // abstract namespace
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(state));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
