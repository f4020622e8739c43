using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Recorder.Depot.Config;
using Recorder.Depot.Tus;

namespace Recorder.Depot.Operations;

/// <summary>Runs the expiry sweep every <c>uploads.sweep_interval</c> on the injected clock.</summary>
internal sealed class UploadExpiry(TusHandler handler, DepotSettings settings, DepotClock clock, ILogger<UploadExpiry> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.Uploads.SweepInterval, clock.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await handler.SweepAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Data.Common.DbException)
                {
                    DepotLog.SweepFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
