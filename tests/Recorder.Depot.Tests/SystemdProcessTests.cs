using System.Net.Sockets;
using System.Text;

namespace Recorder.Depot.Tests;

/// <summary>
/// recorder-depot under a fake systemd (Type=notify): a Unix datagram socket as $NOTIFY_SOCKET, as
/// systemd passes it. Runs against $RECORDER_DEPOT_BINARY when set (CI: the native AOT binary).
/// </summary>
[Collection("depot-process")]
public sealed class SystemdProcessTests
{
    [Fact]
    public async Task The_depot_sends_ready_once_it_listens_and_stopping_on_sigterm()
    {
        var dir = Directory.CreateTempSubdirectory("depot-notify-").FullName;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            var path = Path.Combine(dir, "notify.sock");
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.ReceiveTimeout = 30_000; // a bound for a real process starting, not a timed assertion
            var depot = DepotProcess.Start(Directory.CreateDirectory(Path.Combine(dir, "depot")).FullName, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path }.AsReadOnly());
            string ready;
            using (depot)
            {
                ready = Receive(socket);
                // READY=1 comes after Kestrel accepts: the health check answers.
                using var client = new HttpClient();
                Assert.Equal("{\"status\":\"ok\"}", await client.GetStringAsync(new Uri(depot.Url, "/healthz")));
                Assert.Equal(0, depot.Stop());
            }
            Assert.Equal(["READY=1", $"STATUS=listening on {depot.Url}, tus endpoint /files/"], ready.Split('\n'));
            Assert.Equal(["STOPPING=1", "STATUS=stopping: ending the uploads in flight"], Receive(socket).Split('\n'));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[4096];
        var n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
