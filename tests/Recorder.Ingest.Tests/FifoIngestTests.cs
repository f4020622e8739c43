using System.Runtime.InteropServices;
using System.Text.Json;
using Recorder.Recording;
using Recorder.Recording.Tests;

namespace Recorder.Ingest.Tests;

/// <summary>A FIFO input read by the real <see cref="FifoIngest"/> thread, written through the real kernel FIFO.</summary>
public class FifoIngestTests
{
    private static readonly IngestOptions Ingest = new() { SocketPath = null, FifoPollInterval = TimeSpan.FromMilliseconds(50) };

    [Fact]
    public async Task A_fifo_writer_that_opens_while_the_previous_session_is_still_finishing_is_recorded()
    {
        // Nothing drains the queue yet: the first session fills it and cannot finish after its EOF.
        using var p = new Pipeline(ingest: Ingest, queueBytes: 64 * 1024, startWriter: false);
        var path = Path.Combine(p.Directory, "diag.jsonl");
        using var fifo = new FifoIngest(new TopicInputOptions(path, "/diag", TopicInputFormat.Jsonl), p.Ingest);
        Assert.True(fifo.Start(), fifo.RefusedBecause);

        const int first = 10_000, second = 100;
        await WriteLines(path, 0, first);
        await WaitUntil(() => p.Queue.Stalls > 0 && BytesWaitingIn(path) == 0, "the first session to stall with all of its writer's bytes read");
        // The reader has taken every byte and its writer is gone: its next poll (at once, POLLHUP) reads
        // the EOF. Real threads and a real FIFO: a sleep gives it the time. Were it too short, the second
        // writer would only join the first session, and the test would pass without telling anything.
        await Task.Delay(300);
        // The first session's end is still open (it waits for the queue), so this open does not wait.
        await WriteLines(path, first, second);
        p.Writer.Start();

        await WaitUntil(() => p.Writer.Status().Topics.FirstOrDefault(t => t.Topic == "/diag")?.Messages == first + second, "both writers' lines");
        fifo.Dispose();
        var seqs = Files.Messages(await p.StopAsync()).Where(m => m.Topic == "/diag")
            .Select(m => JsonDocument.Parse(m.Data).RootElement.GetProperty("seq").GetInt32()).Order();
        Assert.Equal(Enumerable.Range(0, first + second), seqs);
    }

    [Fact]
    public async Task Mcap_streams_that_follow_each_other_on_a_fifo_without_an_eof_between_are_each_recorded()
    {
        using var p = new Pipeline(ingest: Ingest);
        var path = Path.Combine(p.Directory, "raw.mcap");
        using var fifo = new FifoIngest(new TopicInputOptions(path, "/raw", TopicInputFormat.Mcap), p.Ingest);
        Assert.True(fifo.Start(), fifo.RefusedBecause);

        // What the reader sees when a producer restarts and opens the FIFO again before the daemon has
        // read the first one's EOF: one stream after the other, no boundary between them.
        await using (var w = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            await w.WriteAsync(ProducerStreams.Json("/a", 300));
            await w.WriteAsync(ProducerStreams.Json("/a", 300, startSequence: 300, chunked: true));
        }

        await WaitUntil(() => p.Writer.Status().Topics.FirstOrDefault(t => t.Topic == "/a")?.Messages == 600, "both streams' messages");
        Assert.Equal(2, fifo.Sessions);
        Assert.Null(fifo.Current!.RefusedBecause);
        fifo.Dispose();
        var sequences = Files.Messages(await p.StopAsync()).Where(m => m.Topic == "/a").Select(m => (int)m.Sequence).Order();
        Assert.Equal(Enumerable.Range(0, 600), sequences);
    }

    private static async Task WriteLines(string path, int from, int count)
    {
        await using var w = new StreamWriter(new FileStream(path, FileMode.Open, FileAccess.Write)); // UTF-8, no BOM
        for (var i = from; i < from + count; i++) await w.WriteLineAsync($"{{\"seq\":{i},\"battery_v\":48.1}}");
    }

    /// <summary>Polls a condition of real threads and I/O; the bound only turns a hang into a failure.</summary>
    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    private const int ONonBlock = 0x800;
    private const uint FionRead = 0x541B;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open(string path, int flags);

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static extern int Ioctl(int fd, nuint request, out int count);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);

    /// <summary>Bytes in the FIFO's kernel buffer, not yet read; a second read end looks without taking any.</summary>
    private static int BytesWaitingIn(string path)
    {
        var fd = Open(path, ONonBlock);
        Assert.True(fd >= 0, $"open {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            Assert.Equal(0, Ioctl(fd, FionRead, out var count));
            return count;
        }
        finally
        {
            Close(fd);
        }
    }
}
