using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Recorder.Recording;

namespace Recorder.Daemon;

/// <summary>
/// The systemd watchdog (<c>WatchdogSec=</c>): every half interval it sends <c>WATCHDOG=1</c>,
/// but only while the write path makes progress, i.e. the writer thread is waiting for work or
/// has been inside its current operation (a batch, a chunk cut, an fsync, a file rotation) for
/// less than <see cref="StallLimit"/>. A stalled disk or a wedged writer stops the pings, systemd
/// kills the service (SIGABRT) and <c>Restart=on-failure</c> starts it again, which recovers the
/// open file. Each ping carries a <c>STATUS=</c> line for <c>systemctl status</c>.
/// </summary>
internal sealed class Watchdog : IAsyncDisposable
{
    private readonly Func<WriterProgress> _progress;
    private readonly Func<string> _status;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private Watchdog(TimeSpan interval, Func<WriterProgress> progress, Func<string> status, ILogger logger)
    {
        Interval = interval;
        StallLimit = interval / 2;
        _progress = progress;
        _status = status;
        _logger = logger;
        _loop = Task.Run(Loop);
    }

    /// <summary>systemd's watchdog interval (<c>WATCHDOG_USEC</c>).</summary>
    public TimeSpan Interval { get; }

    /// <summary>How long one writer operation may take before the pings stop: half the interval.</summary>
    public TimeSpan StallLimit { get; }

    /// <summary>
    /// A watchdog when systemd asked for one: <c>WATCHDOG_USEC</c> set and <c>WATCHDOG_PID</c>
    /// unset or this process (so a child that inherits the variables does not ping), and a
    /// <c>NOTIFY_SOCKET</c> to ping. Null otherwise.
    /// </summary>
    public static Watchdog? FromEnvironment(Func<WriterProgress> progress, Func<string> status, ILogger logger)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"))) return null;
        if (!long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec <= 0) return null;
        if (Environment.GetEnvironmentVariable("WATCHDOG_PID") is { Length: > 0 } pid
            && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture)) return null;
        return new Watchdog(TimeSpan.FromTicks(usec * 10), progress, status, logger);
    }

    /// <summary>True while pings are withheld because the writer stalled (for the status and metrics).</summary>
    public bool Withholding => _withholding;
    private volatile bool _withholding;

    private async Task Loop()
    {
        using var timer = new PeriodicTimer(Interval / 2);
        var stalled = false;
        do
        {
            var progress = _progress();
            var busy = progress.BusyFor(Stopwatch.GetTimestamp());
            if (progress.Finished) continue; // the host is exiting; nothing to vouch for
            if (busy < StallLimit)
            {
                if (stalled) WatchdogLog.Resumed(_logger, progress.Operations);
                stalled = false;
                _withholding = false;
                SystemdNotifier.Notify("WATCHDOG=1\nSTATUS=" + _status());
            }
            else if (!stalled)
            {
                stalled = true;
                _withholding = true;
                WatchdogLog.Stalled(_logger, busy.TotalSeconds, progress.Operations);
                SystemdNotifier.Notify(string.Create(CultureInfo.InvariantCulture, $"STATUS=writer stalled for {busy.TotalSeconds:0.0} s; watchdog pings withheld"));
            }
        }
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        _stop.Dispose();
    }
}

internal static partial class WatchdogLog
{
    [LoggerMessage(320, LogLevel.Error, "The writer has been stuck in one operation for {Seconds} s (after {Operations} operations); withholding the watchdog ping so that systemd restarts the service")]
    public static partial void Stalled(ILogger logger, double seconds, long operations);

    [LoggerMessage(321, LogLevel.Warning, "The writer makes progress again ({Operations} operations); watchdog pings resumed")]
    public static partial void Resumed(ILogger logger, long operations);
}
