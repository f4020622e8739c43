namespace Recorder.Depot.Operations;

/// <summary>
/// The depot's own clock (upload expiry, last-seen times), injected so tests can fake it. It is
/// wrapped rather than registered as <see cref="TimeProvider"/> itself: Kestrel and the host take
/// that one from the container for their timeouts and heartbeat, which must stay real.
/// </summary>
public sealed class DepotClock(TimeProvider time)
{
    public TimeProvider Time { get; } = time;
}
