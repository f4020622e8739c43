using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Recorder.Tests;

/// <summary>
/// The daemon under a fake systemd: a Unix datagram socket as $NOTIFY_SOCKET and a watchdog
/// interval in $WATCHDOG_USEC, as systemd passes them to a Type=notify service with WatchdogSec=.
/// Runs against $RECORDER_BINARY when set (CI runs it again with the native AOT binary).
/// </summary>
[Collection("daemon")]
public sealed class SystemdTests
{
    /// <summary>Receives sd_notify datagrams, each stamped with the time it arrived.</summary>
    private sealed class NotifyListener : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly List<(TimeSpan At, string Text)> _messages = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Thread _thread;
        private readonly string _dir = Directory.CreateTempSubdirectory("recorder-notify-").FullName;
        private volatile bool _stop;

        public NotifyListener()
        {
            Path = System.IO.Path.Combine(_dir, "notify.sock");
            _socket.Bind(new UnixDomainSocketEndPoint(Path));
            _socket.ReceiveTimeout = 200;
            _thread = new Thread(Receive) { IsBackground = true };
            _thread.Start();
        }

        public string Path { get; }

        public TimeSpan Now => _clock.Elapsed;

        public List<(TimeSpan At, string Text)> Messages
        {
            get { lock (_messages) return _messages.ToList(); }
        }

        private void Receive()
        {
            var buffer = new byte[4096];
            while (!_stop)
            {
                try
                {
                    var n = _socket.Receive(buffer);
                    lock (_messages) _messages.Add((_clock.Elapsed, Encoding.UTF8.GetString(buffer, 0, n)));
                }
                catch (SocketException)
                {
                    // Timeout: look at _stop again.
                }
            }
        }

        public (TimeSpan At, string Text) WaitFor(Func<string, bool> match, TimeSpan timeout, string what, TimeSpan? after = null)
        {
            var deadline = _clock.Elapsed + timeout;
            while (_clock.Elapsed < deadline)
            {
                foreach (var m in Messages)
                    if (m.At >= (after ?? TimeSpan.Zero) && match(m.Text)) return m;
                Thread.Sleep(20);
            }
            throw new TimeoutException($"no {what} within {timeout}; received:\n{string.Join("\n", Messages.Select(m => $"{m.At.TotalSeconds:0.00}s {m.Text.Replace('\n', '|')}"))}");
        }

        public List<TimeSpan> Pings(TimeSpan from, TimeSpan to) =>
            Messages.Where(m => m.At >= from && m.At < to && m.Text.Split('\n').Contains("WATCHDOG=1")).Select(m => m.At).ToList();

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
            _socket.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Sends_READY_pings_the_watchdog_while_recording_stops_pinging_when_the_writer_is_wedged_and_sends_STOPPING()
    {
        using var notify = new NotifyListener();
        using var d = DaemonProcess.Start(environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = "2000000", // WatchdogSec=2s: pings every 1 s while no writer operation takes 1 s
            ["RECORDER_TEST_HOOKS"] = "1",
        });

        // READY=1 once the sockets accept: the control socket answers by then.
        var ready = notify.WaitFor(m => m.Split('\n').Contains("READY=1"), TimeSpan.FromSeconds(30), "READY=1");
        Assert.Contains("STATUS=", ready.Text);
        Assert.True(d.Control("status").GetProperty("ok").GetBoolean());

        // Recording: a producer keeps writing while the watchdog is pinged.
        using var producing = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            var sent = 0;
            while (!producing.IsCancellationRequested)
            {
                await SocketProducer.Send(d.IngestSocket, "/live", 200, chunked: false, pauseEvery: 20, startSequence: sent);
                sent += 200;
            }
            return sent;
        });
        var healthyFrom = notify.Now;
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        var healthyTo = notify.Now;
        var pings = notify.Pings(healthyFrom, healthyTo);
        Assert.True(pings.Count >= 3, $"expected a ping about every second while recording, got {pings.Count} in {(healthyTo - healthyFrom).TotalSeconds:0.0} s");
        Assert.True(d.TopicCounts().GetValueOrDefault("/live") > 0, "the producer's messages are recorded");

        // Wedge the writer (test hook): the pings stop, systemd would kill and restart the service.
        Assert.True(d.Control("test-stall", ("seconds", "8")).GetProperty("ok").GetBoolean());
        var stalledAt = notify.Now;
        var stalled = notify.WaitFor(m => m.Contains("STATUS=writer stalled", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "the stalled STATUS", after: stalledAt);
        var quietFrom = stalledAt + TimeSpan.FromSeconds(2.5); // at most one ping in flight when the stall began, plus the stall limit
        var quietTo = stalledAt + TimeSpan.FromSeconds(7.5);
        while (notify.Now < quietTo) await Task.Delay(100);
        Assert.Empty(notify.Pings(quietFrom, quietTo));
        Assert.InRange(stalled.At - stalledAt, TimeSpan.Zero, TimeSpan.FromSeconds(3));
        // The daemon's log reaches the test through a pipe and a reader thread, later than its notify datagrams: wait for it.
        d.WaitFor(() => d.Output.Contains("withholding the watchdog ping", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the log line withholding the ping");

        // The writer comes back: the pings resume.
        notify.WaitFor(m => m.Split('\n').Contains("WATCHDOG=1"), TimeSpan.FromSeconds(10), "pings after the stall", after: stalledAt + TimeSpan.FromSeconds(8));

        await producing.CancelAsync();
        var sent = await producer;
        var stopAsked = notify.Now;
        Assert.Equal(0, d.Stop());
        notify.WaitFor(m => m.Split('\n').Contains("STOPPING=1"), TimeSpan.FromSeconds(5), "STOPPING=1", after: stopAsked);
        Assert.True(sent >= 200);
    }

    [Fact]
    public void Without_test_hooks_the_stall_command_does_not_exist()
    {
        using var d = DaemonProcess.Start();
        var response = d.Control("test-stall", ("seconds", "1"));
        Assert.False(response.GetProperty("ok").GetBoolean());
        Assert.StartsWith("unknown command 'test-stall'", response.GetProperty("error").GetString());
        Assert.Equal(0, d.Stop());
    }

    /// <summary>
    /// Runs `recorder run` on the embedded defaults with stdout a pipe; JOURNAL_STREAM names that
    /// pipe's inode (as systemd names the journal socket's) or, with <paramref name="matching"/>
    /// false, another one. Returns what it printed.
    /// </summary>
    private static string RunWithJournalStream(bool matching)
    {
        var dir = Directory.CreateTempSubdirectory("recorder-journal-").FullName;
        try
        {
            var recorder = DaemonProcess.NativeBinary is { } native ? $"'{native}'" : $"dotnet '{Path.Combine(AppContext.BaseDirectory, "recorder.dll")}'";
            var inode = matching ? "$(stat -L -c %i /proc/self/fd/3)" : "12345";
            var info = new ProcessStartInfo("sh", ["-c", $"exec 3>&1; JOURNAL_STREAM=0:{inode} exec {recorder} run 2>&1"])
            {
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            info.Environment["RECORDER_CONFIG_DIR"] = Path.Combine(dir, "none");
            using var process = Process.Start(info)!;
            var output = new StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            var watch = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(dir, "run", "control.sock")) && watch.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(20);
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
            lock (output) return output.ToString();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Logs_carry_journal_priorities_when_stdout_is_the_journal_stream()
    {
        var lines = RunWithJournalStream(matching: true).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("<6>recorder[302] Recorder ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l == "<6>recorder[304] Stopped cleanly");
        Assert.All(lines, l => Assert.Matches(@"^<[0-7]>", l));
    }

    [Fact]
    public void Logs_stay_plain_when_JOURNAL_STREAM_names_another_stream()
    {
        var output = RunWithJournalStream(matching: false);
        Assert.Matches(@"(?m)^\d{4}-\d\d-\d\dT[0-9:.]+Z info: recorder\[304\] Stopped cleanly", output);
        Assert.DoesNotContain("<6>", output, StringComparison.Ordinal);
    }
}
