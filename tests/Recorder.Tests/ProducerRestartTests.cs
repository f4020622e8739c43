using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Recorder.Demo;
using Recorder.Mcap;

namespace Recorder.Tests;

/// <summary>
/// Producers across a daemon restart (issue 11, defect 7): `recorder publish` and the demo producers
/// used to die with "WriterFailed: the writer is Failed". They reconnect with backoff, say why, and
/// count what they could not send; the recordings hold exactly what was sent.
/// </summary>
[Collection("daemon")]
public class ProducerRestartTests
{
    /// <summary>Monotonic time that moves only when the test says so: the producer's backoff is measured on it.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _lines = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines) _lines.Add(formatter(state, exception));
        }
        public List<string> Lines
        {
            get { lock (_lines) return _lines.ToList(); }
        }
    }

    private static List<uint> Sequences(DaemonProcess d, string topic) =>
        d.FinishedFiles().SelectMany(f =>
        {
            using var reader = McapIndexedReader.Open(f);
            return reader.ReadMessages(topics: [topic]).Select(m => m.Message.Sequence).ToList();
        }).Order().ToList();

    [Fact]
    public async Task A_producer_survives_a_daemon_restart_reconnecting_with_backoff_and_counting_what_it_could_not_send()
    {
        var time = new ManualTime();
        var log = new ListLogger();
        using var first = DaemonProcess.Start();
        first.KeepRoot = true;
        using var producer = await ReconnectingProducer.ConnectAsync(first.IngestSocket, "restart-test", log, CancellationToken.None, attempts: 1, time: time);
        var channel = producer.AddChannel("/restart", "json");
        uint sequence = 0;
        void Send(int count, bool expected)
        {
            for (var i = 0; i < count; i++) Assert.Equal(expected, producer.Send(channel, sequence++, 1, 1, "{}"u8));
        }

        Send(10, expected: true);
        first.WaitFor(() => first.TopicCounts().GetValueOrDefault("/restart") == 10, TimeSpan.FromSeconds(30), "the first 10 messages");
        Assert.Equal(0, first.Stop());

        // Daemon gone: the first write finds the connection dead, one immediate attempt fails, backoff starts.
        Send(5, expected: false);
        Assert.Contains(log.Lines, l => l.Contains("The daemon went away") && l.Contains("reconnecting"));
        using var second = DaemonProcess.Start(root: first.Root);
        // Back, but the backoff (on the producer's clock) has not passed: no attempt, still counted.
        Send(1, expected: false);
        Assert.False(producer.IsConnected);
        time.Advance(ReconnectingProducer.InitialBackoff);
        Send(4, expected: true);
        producer.Finish();
        Assert.Contains(log.Lines, l => l.Contains("Reconnected") && l.Contains("6 messages were not sent"));
        Assert.Equal((14UL, 6UL, 1), (producer.Sent, producer.Lost, producer.Reconnects));

        second.WaitFor(() => second.TopicCounts().GetValueOrDefault("/restart") == 4, TimeSpan.FromSeconds(30), "the 4 messages after the restart");
        Assert.Equal(0, second.Stop());
        // Exactly what was sent, once: 0..9 before, 16..19 after; 10..15 are the 6 reported.
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (uint)i), 16u, 17u, 18u, 19u], Sequences(second, "/restart"));
    }

    [Fact]
    public void Recorder_publish_reconnects_after_a_daemon_restart_and_reports_the_lines_it_could_not_send()
    {
        using var first = DaemonProcess.Start();
        first.KeepRoot = true;
        var info = new ProcessStartInfo(DaemonProcess.NativeBinary ?? "dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (DaemonProcess.NativeBinary is null) info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "recorder.dll"));
        foreach (var arg in new[] { "publish", "--topic", "/shell", "--socket", first.IngestSocket }) info.ArgumentList.Add(arg);
        using var publish = Process.Start(info)!;
        var stderr = new StringBuilder();
        publish.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        publish.BeginErrorReadLine();
        string Stderr()
        {
            lock (stderr) return stderr.ToString();
        }
        var lines = 0;
        void Line()
        {
            publish.StandardInput.WriteLine($"{{\"n\":{lines++}}}");
            publish.StandardInput.Flush();
        }

        for (var i = 0; i < 20; i++) Line();
        first.WaitFor(() => first.TopicCounts().GetValueOrDefault("/shell") == 20, TimeSpan.FromSeconds(30), "the first 20 lines");
        Assert.Equal(0, first.Stop());
        Line();
        var noticed = Stopwatch.StartNew();
        while (!Stderr().Contains("The daemon went away"))
        {
            Assert.True(noticed.Elapsed < TimeSpan.FromSeconds(30), "publish did not notice:\n" + Stderr());
            Thread.Sleep(20); // a real process: its stderr arrives when it arrives
        }
        using var second = DaemonProcess.Start(root: first.Root);
        // A real process on the real clock: a line every 50 ms until its backoff lets it reconnect.
        var watch = Stopwatch.StartNew();
        while (!Stderr().Contains("Reconnected"))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "publish did not reconnect:\n" + Stderr());
            Line();
            Thread.Sleep(50);
        }
        for (var i = 0; i < 10; i++) Line();
        publish.StandardInput.Close();
        var summary = publish.StandardOutput.ReadToEnd();
        publish.WaitForExit();
        Assert.Equal(0, publish.ExitCode);

        var match = System.Text.RegularExpressions.Regex.Match(summary, @"published (\d+) messages on /shell; (\d+) not sent while the daemon was away \(1 reconnects\)");
        Assert.True(match.Success, summary + Stderr());
        var (sent, lost) = (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
        Assert.Equal(lines, sent + lost);
        Assert.True(lost >= 1);
        second.WaitFor(() => second.TopicCounts().GetValueOrDefault("/shell") == (ulong)(sent - 20), TimeSpan.FromSeconds(30), "the lines after the restart");
        Assert.Equal(0, second.Stop());
        Assert.Equal(sent, Sequences(second, "/shell").Distinct().Count());
    }
}
