using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Recorder.Mcap;
using Recorder.Mcap.Tests;

namespace Recorder.Tests;

/// <summary>SIGKILL at random points while producers stream: the next start recovers the file, and nothing flushed is lost.</summary>
[Collection("daemon")]
public class CrashTests
{
    /// <summary>Streams until the daemon dies; returns (sequence, time it was handed to the socket).</summary>
    private static async Task<List<(uint Sequence, long SentTicks)>> StreamUntilDead(string socketPath, string topic)
    {
        var sent = new List<(uint, long)>();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var writer = new McapWriter(stream, new McapWriterOptions { UseChunks = false, EnableSummary = false, OutputBufferSize = 4096 }, leaveOpen: true);
        try
        {
            var channel = writer.AddChannel(topic, "json");
            for (uint i = 0; ; i++)
            {
                writer.WriteMessage(channel, i, i, i, Encoding.UTF8.GetBytes($"{{\"seq\":{i}}}"));
                writer.Flush(); // on the socket now
                sent.Add((i, Stopwatch.GetTimestamp()));
                if (i % 20 == 0) await Task.Delay(2);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or McapException)
        {
            return sent; // the daemon is gone
        }
        finally
        {
            try { writer.Abort(); } catch (McapException) { }
        }
    }

    [Fact]
    public async Task Sigkill_mid_stream_loses_at_most_the_open_chunk_and_the_file_is_recovered_on_restart()
    {
        var root = Directory.CreateTempSubdirectory("recorder-crash-").FullName;
        var random = new Random(2026);
        var maxAge = TimeSpan.FromMilliseconds(100);
        var slack = TimeSpan.FromMilliseconds(500); // scheduling on a busy 2-core machine
        var killTimes = new List<long>();
        var sentByTopic = new Dictionary<string, List<(uint Sequence, long SentTicks)>>();
        try
        {
            for (var round = 0; round < 6; round++)
            {
                using var d = DaemonProcess.Start(root: root, chunk: "{ size: 64KiB, max_age: 100ms, compression: zstd }");
                d.KeepRoot = true;
                var topic = $"/crash/{round}";
                var producer = StreamUntilDead(d.IngestSocket, topic);
                await Task.Delay(random.Next(300, 1200));
                killTimes.Add(Stopwatch.GetTimestamp());
                d.Kill();
                sentByTopic[topic] = await producer;
                File.Delete(d.ControlSocket); // a killed daemon leaves its socket files behind
            }
            // The next start finishes every file the kills left open.
            using (var last = DaemonProcess.Start(root: root))
            {
                last.KeepRoot = true;
                Assert.Equal(0, last.Stop());
                Assert.Contains("Recovered unfinished file", last.Output);
            }

            var files = Directory.EnumerateFiles(Path.Combine(root, "rec"), "*", SearchOption.AllDirectories).ToList();
            Assert.DoesNotContain(files, f => f.EndsWith(".active", StringComparison.Ordinal));
            var messages = new List<(string Topic, uint Sequence)>();
            foreach (var file in files.Where(f => f.EndsWith(".mcap", StringComparison.Ordinal)))
            {
                var doctor = new StringWriter();
                Assert.True(Recorder.Cli.CommandLine.Run(["doctor", file], doctor, doctor) == 0, $"{file}\n{doctor}");
                var dump = NodeInterop.Dump(file); // @mcap/core reads every recovered file
                using var reader = McapIndexedReader.Open(file);
                var inFile = reader.ReadMessages().Select(m => (m.Channel.Topic, m.Message.Sequence)).ToList();
                Assert.Equal(inFile.Count, dump["messages"]!.AsArray().Count);
                messages.AddRange(inFile);
            }

            for (var round = 0; round < killTimes.Count; round++)
            {
                var topic = $"/crash/{round}";
                var kept = messages.Where(m => m.Topic == topic).Select(m => m.Sequence).Order().ToList();
                // Whole chunks survive: what is kept is a gap-free prefix of what was sent, each message once.
                Assert.Equal(Enumerable.Range(0, kept.Count).Select(i => (uint)i), kept);
                // Everything sent longer than the chunk age (plus slack) before the kill was on disk.
                var deadline = killTimes[round] - (long)((maxAge + slack).TotalSeconds * Stopwatch.Frequency);
                var mustHave = sentByTopic[topic].Where(s => s.SentTicks < deadline).Select(s => (int)s.Sequence + 1).DefaultIfEmpty(0).Max();
                Assert.True(kept.Count >= mustHave, $"{topic}: kept {kept.Count} of {sentByTopic[topic].Count} sent; {mustHave} were sent more than {maxAge + slack} before the kill");
                Assert.True(sentByTopic[topic].Count > 0);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
