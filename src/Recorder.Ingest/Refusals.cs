using System.Globalization;
using Microsoft.Extensions.Logging;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>A refused producer leaves a trace in three places: the session's counters, the log, and a `producer_refused` event in the file.</summary>
internal static class Refusals
{
    public static void Record(BatchQueue queue, ProducerStats stats, ILogger logger, string reason)
    {
        stats.RefusedBecause = reason;
        IngestLog.ProducerRefused(logger, stats.Source, reason, stats.Messages);
        queue.EnqueueCommand(new EventCommand("producer_refused", new Dictionary<string, string>
        {
            ["producer"] = stats.Source,
            ["reason"] = reason,
            ["messages_kept"] = stats.Messages.ToString(CultureInfo.InvariantCulture),
        }));
    }
}
