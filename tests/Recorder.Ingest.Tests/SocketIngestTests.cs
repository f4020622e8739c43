using System.Net.Sockets;
using System.Text;
using Recorder.Recording.Tests;

namespace Recorder.Ingest.Tests;

/// <summary>
/// The Unix socket inputs, in-process: real sockets, real connections, sessions on their own
/// threads. What arrives is read from the recording stage's intake (bounded waits: real I/O).
/// </summary>
public sealed class SocketIngestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-ingest-sockets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    [Fact]
    public async Task Each_connection_to_the_ingest_socket_is_an_mcap_session_of_its_own()
    {
        var path = Path.Combine(_dir, "run", "ingest.sock");
        var inbox = new RecordingInbox(new IngestOptions { SocketPath = path });
        var ingest = new UnixSocketIngest(inbox.Context);
        ingest.Start();
        try
        {
            Assert.Equal(UnixSockets.OwnerAndGroup, File.GetUnixFileMode(path));
            using (var first = Connect(path))
            using (var second = Connect(path))
            {
                await first.SendAsync(ProducerStreams.Json("/a", 50));
                await second.SendAsync(ProducerStreams.Json("/b", 70));
            }
            inbox.DrainUntil(120);
        }
        finally
        {
            await ingest.DisposeAsync();
        }

        Assert.Equal(2, ingest.Connections);
        Assert.Equal(0, ingest.Refused);
        var bySource = inbox.Messages.GroupBy(m => m.Source).ToDictionary(g => inbox.TopicOf(g.First().ChannelId), g => g.Select(m => m.Sequence).ToList());
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (uint)i), bySource["/a"]);
        Assert.Equal(Enumerable.Range(0, 70).Select(i => (uint)i), bySource["/b"]);
        Assert.False(File.Exists(path)); // removed at shutdown
    }

    [Fact]
    public async Task A_topic_socket_records_one_writer_and_refuses_a_second_while_the_first_is_writing()
    {
        var path = Path.Combine(_dir, "diag.sock");
        var inbox = new RecordingInbox();
        using var input = (TopicSocketIngest)TopicInputs.Create(new TopicInputOptions(path, "/diag", TopicInputFormat.Jsonl, Transport: TopicInputTransport.Socket), inbox.Context);
        Assert.True(input.Start(), input.RefusedBecause);

        using (var writer = Connect(path))
        {
            await writer.SendAsync("{\"seq\":0}\n"u8.ToArray());
            inbox.DrainUntil(1); // the first writer's session is running
            using var intruder = Connect(path);
            await intruder.SendAsync("{\"intruder\":true}\n"u8.ToArray());
            // The input closes a second connection at once: its read ends (0 bytes, or a reset).
            var buffer = new byte[16];
            try
            {
                Assert.Equal(0, await intruder.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(30)));
            }
            catch (SocketException)
            {
                // Reset: the input had not read what the intruder sent before closing it.
            }
            await writer.SendAsync("{\"seq\":1}\n"u8.ToArray());
        }
        inbox.DrainUntil(2);

        Assert.Equal(1, input.RefusedBusy);
        Assert.Equal(["{\"seq\":0}", "{\"seq\":1}"], inbox.Messages.Select(m => Encoding.UTF8.GetString(m.Data)));
        Assert.All(inbox.Messages, m => Assert.Equal("/diag", inbox.TopicOf(m.ChannelId)));
        Assert.Equal($"socket:{path}#1", inbox.Messages[0].Source);
    }
}
