using Microsoft.Extensions.Logging;
using Recorder.Config;

namespace Recorder.Daemon.Metrics;

/// <summary>
/// Writes the metrics to <c>metrics.textfile</c> every <c>metrics.interval</c>, for node_exporter's
/// textfile collector: at start, then each interval, and once more at shutdown with the final
/// counters. Each write is atomic (a temp file in the same directory, not named *.prom so the
/// collector never reads it half-written; fsync; rename), so a scrape sees the old file or the new
/// one. The settings are read at every tick, so a reload that changes the path or the interval
/// applies at the next write (the old file is removed). The file is mode 0644: node_exporter runs
/// as another user than the recorder, whose umask would otherwise leave it unreadable.
/// </summary>
public sealed class MetricsTextfile
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly Func<MetricsSettings> _settings;
    private readonly Func<string> _render;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private string? _written; // the file this instance last wrote
    private string? _lastError;

    public MetricsTextfile(Func<MetricsSettings> settings, Func<string> render, TimeProvider time, ILogger logger)
    {
        _settings = settings;
        _render = render;
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised after each textfile write is in place (renamed), with its path.</summary>
    public event Action<string>? Written;

    /// <summary>Writes now, then every interval until <paramref name="stop"/>, then a last time.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        // Due times are anchored to the clock (the start of the previous write), not to when the wait
        // begins: a slow write does not push the schedule back, and the interval in force applies (reload).
        var due = _time.GetUtcNow();
        while (!stop.IsCancellationRequested)
        {
            var wait = due - _time.GetUtcNow();
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var started = _time.GetUtcNow();
            WriteOnce();
            due = started + _settings().Interval;
        }
        WriteOnce();
    }

    /// <summary>One write of the textfile (or removal of the previous one when the metrics were turned off or moved). Never throws on I/O.</summary>
    public void WriteOnce()
    {
        var path = _settings().Textfile;
        if (_written is not null && _written != path)
        {
            TryDelete(_written);
            _written = null;
        }
        if (path is null) return;
        var temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "." + Path.GetFileName(path) + ".tmp");
        try
        {
            var text = System.Text.Encoding.UTF8.GetBytes(_render());
            using (var file = new FileStream(temporary, new FileStreamOptions
            {
                Mode = System.IO.FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = FileMode,
            }))
            {
                file.Write(text);
                file.Flush(flushToDisk: true);
            }
            File.SetUnixFileMode(temporary, FileMode); // an existing temp file keeps its old mode otherwise
            File.Move(temporary, path, overwrite: true);
            _written = path;
            if (_lastError is not null) MetricsLog.TextfileWritten(_logger, path);
            _lastError = null;
            Written?.Invoke(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            // Once per distinct failure, not every interval.
            if (_lastError != e.Message) MetricsLog.TextfileFailed(_logger, path, e.Message);
            _lastError = e.Message;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing to do; a stale file shows in node_textfile_mtime_seconds.
        }
    }
}

internal static partial class MetricsLog
{
    [LoggerMessage(700, LogLevel.Warning, "Cannot write the metrics textfile {Path}: {Error}; retrying every interval")]
    public static partial void TextfileFailed(ILogger logger, string path, string error);

    [LoggerMessage(701, LogLevel.Information, "Metrics textfile {Path} written again")]
    public static partial void TextfileWritten(ILogger logger, string path);
}
