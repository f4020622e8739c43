using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Recorder.Depot.Operations;

/// <summary>
/// The depot's counters, exported in the Prometheus text format (0.0.4) by hand: no metrics
/// library is needed for a dozen series, and none adds reflection to the AOT binary.
/// </summary>
public sealed class DepotMetrics(DepotClock clock)
{
    private long _inProgress;
    private long _bytesReceived;
    private long _verified;
    private long _failed;
    private long _refused;
    private long _expired;
    private long _retentionRecordings;
    private long _retentionFiles;
    private long _schemaPinBreaches;
    private readonly ConcurrentDictionary<string, Device> _devices = new(StringComparer.Ordinal);

    private sealed class Device
    {
        public long Bytes;
        public long LastSeenUnixMs;
    }

    public long UploadsInProgress => Interlocked.Read(ref _inProgress);

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public long Verified => Interlocked.Read(ref _verified);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>A PATCH started streaming bytes.</summary>
    public void PatchStarted() => Interlocked.Increment(ref _inProgress);

    /// <summary>A PATCH ended, however.</summary>
    public void PatchEnded() => Interlocked.Decrement(ref _inProgress);

    /// <summary>Bytes stored for <paramref name="device"/>.</summary>
    public void Received(string device, long bytes)
    {
        Interlocked.Add(ref _bytesReceived, bytes);
        Interlocked.Add(ref DeviceOf(device).Bytes, bytes);
    }

    /// <summary>An authenticated request from <paramref name="device"/>.</summary>
    public void Seen(string device) => Interlocked.Exchange(ref DeviceOf(device).LastSeenUnixMs, clock.Time.GetUtcNow().ToUnixTimeMilliseconds());

    public void VerifiedOne() => Interlocked.Increment(ref _verified);

    public void FailedOne() => Interlocked.Increment(ref _failed);

    public void RefusedOne() => Interlocked.Increment(ref _refused);

    public void ExpiredOne() => Interlocked.Increment(ref _expired);

    /// <summary>Retention removed a recording group of <paramref name="files"/> files.</summary>
    public void RetentionRemovedOne(int files)
    {
        Interlocked.Increment(ref _retentionRecordings);
        Interlocked.Add(ref _retentionFiles, files);
    }

    /// <summary>A recording was cataloged that carries another schema than a topic's pin (<c>schemas.pinned</c>).</summary>
    public void SchemaPinBroken() => Interlocked.Increment(ref _schemaPinBreaches);

    public long SchemaPinBreaches => Interlocked.Read(ref _schemaPinBreaches);

    private Device DeviceOf(string device) => _devices.GetOrAdd(device, static _ => new Device());

    /// <summary>The exposition text.</summary>
    public string Render()
    {
        var s = new StringBuilder(1024);
        Metric(s, "recorder_depot_uploads_in_progress", "gauge", "PATCH requests streaming bytes now.", UploadsInProgress);
        Metric(s, "recorder_depot_bytes_received_total", "counter", "Upload bytes stored.", BytesReceived);
        Metric(s, "recorder_depot_uploads_verified_total", "counter", "Uploads whose SHA-256 matched and that were committed to storage.", Verified);
        Metric(s, "recorder_depot_uploads_failed_total", "counter", "Uploads whose SHA-256 did not match (answered 460, removed).", Failed);
        Metric(s, "recorder_depot_requests_refused_total", "counter", "Requests refused with 401, 403, 409, 423 or 460.", Interlocked.Read(ref _refused));
        Metric(s, "recorder_depot_uploads_expired_total", "counter", "Abandoned uploads removed by the expiry sweep.", Interlocked.Read(ref _expired));
        Metric(s, "recorder_depot_retention_recordings_removed_total", "counter", "Verified recordings removed by storage.keep_for.", Interlocked.Read(ref _retentionRecordings));
        Metric(s, "recorder_depot_retention_files_removed_total", "counter", "Verified files removed by storage.keep_for.", Interlocked.Read(ref _retentionFiles));
        Metric(s, "recorder_depot_schema_pin_breaches_total", "counter", "Recordings cataloged whose schema of a topic is not the one pinned in schemas.pinned.", SchemaPinBreaches);
        var devices = _devices.ToArray();
        Array.Sort(devices, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        s.Append("# HELP recorder_depot_device_bytes_received_total Upload bytes stored per device.\n# TYPE recorder_depot_device_bytes_received_total counter\n");
        foreach (var (name, d) in devices)
            s.Append(CultureInfo.InvariantCulture, $"recorder_depot_device_bytes_received_total{{device=\"{Escape(name)}\"}} {Interlocked.Read(ref d.Bytes)}\n");
        s.Append("# HELP recorder_depot_device_last_seen_seconds When the device last made an authenticated request (Unix time).\n# TYPE recorder_depot_device_last_seen_seconds gauge\n");
        foreach (var (name, d) in devices)
            s.Append(CultureInfo.InvariantCulture, $"recorder_depot_device_last_seen_seconds{{device=\"{Escape(name)}\"}} {Interlocked.Read(ref d.LastSeenUnixMs) / 1000.0:0.###}\n");
        return s.ToString();
    }

    private static void Metric(StringBuilder s, string name, string type, string help, long value) =>
        s.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");

    private static string Escape(string label) => label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
