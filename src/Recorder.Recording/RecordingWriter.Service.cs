using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;

namespace Recorder.Recording;

/// <summary>
/// What the service around the writer needs, kept apart from the write path: a progress counter
/// for the systemd watchdog, live reconfiguration (a reload) and a test-only stall.
/// </summary>
public sealed partial class RecordingWriter
{
    private long _operations;
    private long _busySince;

    /// <summary>
    /// How the writer thread is doing, readable from any thread without a lock: the operations it
    /// has completed (one per item taken from the queue or per idle wake-up, including the chunk
    /// cut and fsync that follow) and since when it has been inside the current one (0 while it
    /// waits for the queue). A stalled disk or a wedged writer shows as a growing
    /// <see cref="WriterProgress.BusyFor"/>; the host's watchdog stops pinging systemd then.
    /// </summary>
    public WriterProgress Progress => new(Volatile.Read(ref _operations), Volatile.Read(ref _busySince), _stopped.Task.IsCompleted, _time.TimestampFrequency);

    private void BeginOperation() => Volatile.Write(ref _busySince, _time.GetTimestamp());

    private void EndOperation()
    {
        Volatile.Write(ref _busySince, 0);
        Volatile.Write(ref _operations, _operations + 1);
    }

    /// <summary>
    /// Applies reloaded options in queue order, so every message queued before the reload is
    /// written under the old options and every one after under the new: nothing is dropped and the
    /// current file goes on. Chunk size and age, split size and duration, fsync and the latched set
    /// apply from the next message; compression, the directory and channel metadata from the next
    /// file. <see cref="RecordingOptions.ReorderWindow"/> and <see cref="RecordingOptions.UsesProducerTime"/>
    /// are fixed when the writer is built (the host treats them as restart-only).
    /// </summary>
    /// <summary>The recording options in force (the last reload's once the writer has reached it); for status.</summary>
    public RecordingOptions Options => Volatile.Read(ref _options);

    private void Reconfigure(ReconfigureCommand command)
    {
        var next = command.Options;
        foreach (var slot in _slots)
        {
            if (slot is null) continue;
            slot.Latched = next.LatchedTopics.Contains(slot.Channel.Topic);
            if (!slot.Latched) slot.LatchedData = null; // no longer repeated in new files
        }
        Volatile.Write(ref _options, next);
        RecordingLog.Reconfigured(_logger, next.Directory, next.ChunkSize, next.SplitSize, next.LatchedTopics.Count);
        command.Applied.TrySetResult();
    }

    /// <summary>Test hook (`test-stall` control command, only with RECORDER_TEST_HOOKS=1): the writer thread blocks as on a hung disk.</summary>
    private void Stall(TimeSpan duration)
    {
        RecordingLog.TestStall(_logger, duration.TotalSeconds);
        // Real time on purpose: the daemon tests watch a real process miss its systemd watchdog pings.
        Thread.Sleep(duration);
    }

    /// <summary>
    /// For tests: completes once the writer has taken everything queued before this call and then
    /// run its periodic work (reorder release, chunk age, keyframe deadlines, diagnostics, storage)
    /// at its clock's current time. A test advances a fake clock and awaits this instead of sleeping.
    /// </summary>
    internal Task RunPeriodicWorkAsync()
    {
        var pass = new WriterPassCommand();
        _queue.EnqueueCommand(pass);
        return pass.Done.Task;
    }

    private void RunPass(WriterPassCommand pass)
    {
        try
        {
            Tick();
        }
        finally
        {
            pass.Done.TrySetResult();
        }
    }

    private Channel WithConfiguredMetadata(Channel channel)
    {
        var configured = _options.ChannelMetadata(channel.Topic);
        if (configured.Count == 0) return channel;
        var merged = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in channel.Metadata) merged[key] = value;
        foreach (var (key, value) in configured) merged[key] = value; // configuration wins over the producer
        return channel with { Metadata = merged };
    }
}

/// <summary>A snapshot of <see cref="RecordingWriter.Progress"/>.</summary>
/// <param name="Operations">Operations completed so far.</param>
/// <param name="BusySince">The timestamp (of the writer's <see cref="TimeProvider"/>) at which the current operation began; 0 while idle.</param>
/// <param name="Finished">The writer thread has ended (stopped or failed).</param>
/// <param name="TimestampFrequency">Ticks per second of those timestamps.</param>
public readonly record struct WriterProgress(long Operations, long BusySince, bool Finished, long TimestampFrequency)
{
    /// <summary>How long the current operation has been running; zero while idle. <paramref name="now"/> is a timestamp of the writer's clock (<see cref="Stopwatch"/>'s in the daemon).</summary>
    public TimeSpan BusyFor(long now) => BusySince == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((now - BusySince) / (double)TimestampFrequency);
}

/// <summary>New recording options from a reload; they travel in the queue to keep their place among the messages.</summary>
public sealed record ReconfigureCommand(RecordingOptions Options) : RecorderCommand
{
    /// <summary>Completed on the writer thread once <see cref="Options"/> are in force: a reload waits for it before it says "applied".</summary>
    public TaskCompletionSource Applied { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Test-only: a pass of the writer's periodic work, in queue order (<see cref="RecordingWriter.RunPeriodicWorkAsync"/>).</summary>
internal sealed record WriterPassCommand : RecorderCommand
{
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Test-only: block the writer thread for <paramref name="Duration"/>, as a hung disk would.</summary>
public sealed record StallWriterCommand(TimeSpan Duration) : RecorderCommand;

internal static partial class RecordingLog
{
    [LoggerMessage(150, LogLevel.Information, "Recording settings reloaded: dir {Directory}, chunk {ChunkSize} bytes, split {SplitSize} bytes, {Latched} latched topics")]
    public static partial void Reconfigured(ILogger logger, string directory, int chunkSize, long splitSize, int latched);

    [LoggerMessage(151, LogLevel.Warning, "Test hook: the writer thread stalls for {Seconds} s")]
    public static partial void TestStall(ILogger logger, double seconds);
}
