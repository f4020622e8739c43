using System.Text.Json.Serialization;

namespace Recorder.Depot.Storage;

/// <summary>
/// An upload's state as a store keeps it: who sends what, where it goes once verified, and when
/// it expires. The offset is not here: it is what the store holds (the bytes themselves).
/// </summary>
public sealed record UploadRecord
{
    /// <summary>The upload's id: 32 lowercase hex characters (the last segment of its URL).</summary>
    public required string Id { get; init; }

    /// <summary>The device that created it; only it may continue, read or end it.</summary>
    public required string DeviceId { get; init; }

    /// <summary><c>Upload-Length</c>.</summary>
    public required long Length { get; init; }

    /// <summary>The raw <c>Upload-Metadata</c> header, echoed by HEAD.</summary>
    public required string MetadataHeader { get; init; }

    /// <summary>The lowercase hex SHA-256 the client declared (<c>sha256</c> in the metadata).</summary>
    public required string ExpectedSha256 { get; init; }

    /// <summary>Where the verified file goes, relative to the storage root: <c>device_id/YYYY-MM-DD/filename</c>.</summary>
    public required string StoragePath { get; init; }

    /// <summary>When the upload was created.</summary>
    public required DateTimeOffset Created { get; init; }

    /// <summary>When it expires unless bytes arrive (each PATCH moves it on).</summary>
    public required DateTimeOffset Expires { get; init; }

    /// <summary>The stored bytes' SHA-256 once verified and committed; null before.</summary>
    public string? VerifiedSha256 { get; init; }

    /// <summary>When the depot verified it (its clock): the file's arrival, which <c>storage.keep_for</c> counts from.</summary>
    public DateTimeOffset? VerifiedAt { get; init; }

    /// <summary>True once verified: HEAD answers <c>X-Ingest-Sha256</c>.</summary>
    [JsonIgnore]
    public bool IsVerified => VerifiedSha256 is not null;
}

/// <summary>Source-generated JSON for the records a store writes.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(UploadRecord))]
internal sealed partial class StoreJson : JsonSerializerContext;
