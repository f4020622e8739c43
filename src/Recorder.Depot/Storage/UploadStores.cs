using Recorder.Depot.Config;
using Recorder.Depot.Storage.S3;

namespace Recorder.Depot.Storage;

/// <summary>Opens the upload store the settings name: the local directory, or S3 with its state in PostgreSQL.</summary>
public static class UploadStores
{
    /// <summary>The store; for S3 + PostgreSQL it connects and creates the state table, so a wrong address fails at start, clearly.</summary>
    public static IUploadStore Open(DepotSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Storage.S3 is not { } s3) return new LocalUploadStore(settings.Storage.Dir);
        var connection = settings.State.ResolvePostgres() ?? throw new InvalidOperationException("storage.s3 needs state.postgres");
        var client = new S3Client(new S3Connection(new Uri(s3.Endpoint), s3.Bucket, s3.Region,
            s3.ResolveAccessKey() ?? throw new InvalidOperationException("storage.s3: no access key"),
            s3.ResolveSecretKey() ?? throw new InvalidOperationException("storage.s3: no secret key"), s3.PathStyle));
        var state = PostgresUploadState.OpenAsync(connection, CancellationToken.None).GetAwaiter().GetResult();
        return new S3UploadStore(client, state, s3.Prefix, checked((int)s3.PartSize));
    }

    /// <summary>Where files are kept, for the start-up log line.</summary>
    public static string Describe(DepotSettings settings) =>
        settings.Storage.S3 is { } s3 ? $"s3 {s3.Endpoint} bucket {s3.Bucket} prefix '{s3.Prefix}', state in PostgreSQL" : Path.GetFullPath(settings.Storage.Dir);
}
