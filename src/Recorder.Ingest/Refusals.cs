using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>A refused producer leaves a trace in three places: the session's counters, the log, and a `producer_refused` event in the file.</summary>
internal static class Refusals
{
    public static void Record(IngestContext context, ProducerStats stats, string reason)
    {
        stats.RefusedBecause = reason;
        IngestLog.ProducerRefused(context.Logger, stats.Source, reason, stats.Messages);
        Event(context.Recording, stats, reason);
    }

    /// <summary>A session that ended with an exception nobody expected: logged with its stack, and counted as refused like any other.</summary>
    public static void RecordCrash(IngestContext context, ProducerStats stats, Exception exception)
    {
        stats.RefusedBecause = $"unexpected {exception.GetType().Name}: {exception.Message}";
        IngestLog.ProducerCrashed(context.Logger, stats.Source, exception);
        Event(context.Recording, stats, stats.RefusedBecause);
    }

    private static void Event(IRecordingIntake recording, ProducerStats stats, string reason) =>
        recording.EnqueueCommand(new EventCommand("producer_refused", new Dictionary<string, string>
        {
            ["producer"] = stats.Source,
            ["reason"] = reason,
            ["messages_kept"] = stats.Messages.ToString(CultureInfo.InvariantCulture),
        }));
}

/// <summary>How every kind of input runs one producer's session.</summary>
internal static class ProducerSessions
{
    /// <summary>
    /// Runs a session to its end. Shutdown and a peer reset are expected ends; any other exception
    /// (a bug, or input nobody foresaw) ends only this producer, counted as refused with an event in
    /// the file (<see cref="Refusals.RecordCrash"/>). Never throws.
    /// </summary>
    public static async Task RunAsync(Func<Task> session, IngestContext context, ProducerStats stats)
    {
        try
        {
            await session().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
        catch (IOException e) when (e.InnerException is SocketException)
        {
            IngestLog.ProducerReset(context.Logger, stats.Source);
        }
        catch (Exception e)
        {
            Refusals.RecordCrash(context, stats, e);
        }
    }
}
