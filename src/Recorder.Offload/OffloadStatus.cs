namespace Recorder.Offload;

/// <summary>One file in <c>recorder offload status</c>.</summary>
public sealed record OffloadFileStatus(
    string File, string Kind, long Size, long Offset, string State, double RateBytesPerSecond, double? EtaSeconds, bool Marks, string? Error);

/// <summary>
/// A snapshot of the offload stage for the control protocol. <c>State</c> is one of
/// <c>uploading</c> (an upload exists on the depot: an interruption resumes it), <c>preparing</c>
/// (hashing a file or creating its upload), <c>in_range</c> (nothing to do), <c>out_of_range</c>, <c>paused</c>, <c>waiting</c>
/// (manual presence, no session). <c>UploadedUnverified</c> counts files a depot that does not verify
/// (no <c>X-Ingest-Verify: sha256</c>) holds completely: uploaded once, kept locally.
/// <c>DepotVerifies</c> is what the last session's OPTIONS said (null before any session asked).
/// </summary>
public sealed record OffloadStatus(
    string State,
    string Presence,
    bool InRange,
    bool Paused,
    bool Session,
    int ProbeSuccesses,
    int ProbeFailures,
    DateTimeOffset? LastProbe,
    string? LastProbeError,
    int Pending,
    int Active,
    int Verified,
    int Deleted,
    int Failed,
    long BytesPending,
    long BytesSent,
    long BytesVerified,
    double RateBytesPerSecond,
    double? EtaSeconds,
    string? LastError,
    IReadOnlyList<OffloadFileStatus> Files,
    int UploadedUnverified = 0,
    long BytesUploadedUnverified = 0,
    bool? DepotVerifies = null);
