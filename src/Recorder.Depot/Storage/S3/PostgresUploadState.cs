using System.Runtime.CompilerServices;
using Npgsql;

namespace Recorder.Depot.Storage.S3;

/// <summary>
/// How far an S3 upload has come: the multipart upload (created at its first full part), the ETags
/// of the parts uploaded (part 1 first, each <see cref="PartSize"/> bytes), the bytes after them
/// kept in the "incomplete part" object, and the SHA-256 midstate over exactly
/// <see cref="Offset"/> bytes. PostgreSQL's row is the truth: S3 may hold more (a part or an
/// incomplete object written just before a crash), never less.
/// </summary>
public sealed record S3Progress(int PartSize, string? MultipartId, IReadOnlyList<string> PartETags, long PartBytes, int IncompleteBytes, byte[]? Sha256State)
{
    public long Offset => PartBytes + IncompleteBytes;
}

/// <summary>One upload's row: the record the tus handler sees, whether the verified file was committed to S3, and the progress.</summary>
public sealed record StateRow(UploadRecord Record, bool Committed, S3Progress Progress);

/// <summary>
/// Upload state in PostgreSQL, shared by every depot replica (proto/depot_s3_state.md): one row per
/// upload in <c>depot_upload_state</c>, and a session advisory lock per upload while a replica
/// writes it. The lock lives as long as the connection that took it: a replica that dies (SIGKILL,
/// crash) loses its connection and PostgreSQL releases the lock at once; a host that vanishes is
/// noticed by TCP keepalive within ~25 s (set on every connection). Npgsql's slim data source: no
/// reflection, no AOT warnings.
/// </summary>
public sealed class PostgresUploadState : IAsyncDisposable
{
    /// <summary>The advisory lock namespace ('tus1'): the first key of the two-key lock; the second is from the upload id.</summary>
    private const int LockNamespace = 0x74757331;

    private const string Columns = "id, device_id, length, metadata, expected_sha256, storage_path, created_ms, expires_ms, verified_sha256, committed, part_size, multipart_id, part_etags, part_bytes, incomplete_bytes, sha256_state";

    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS depot_upload_state (
            id               text PRIMARY KEY,
            device_id        text NOT NULL,
            length           bigint NOT NULL,
            metadata         text NOT NULL,
            expected_sha256  text NOT NULL,
            storage_path     text NOT NULL,
            created_ms       bigint NOT NULL,
            expires_ms       bigint NOT NULL,
            verified_sha256  text,
            committed        boolean NOT NULL DEFAULT false,
            part_size        integer NOT NULL,
            multipart_id     text,
            part_etags       text NOT NULL DEFAULT '',
            part_bytes       bigint NOT NULL DEFAULT 0,
            incomplete_bytes integer NOT NULL DEFAULT 0,
            sha256_state     bytea
        );
        COMMENT ON TABLE depot_upload_state IS 'recorder-depot upload state, schema 1 (proto/depot_s3_state.md)';
        """;

    private readonly NpgsqlDataSource _source;

    private PostgresUploadState(NpgsqlDataSource source) => _source = source;

    /// <summary>Connects and creates the table when it is missing (under a transaction lock, so replicas starting together do not race).</summary>
    public static async Task<PostgresUploadState> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(connectionString);
        // A dead host's connection (and its upload locks) is dropped after ~25 s of silence, not hours.
        const string keepalive = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3";
        builder.ConnectionStringBuilder.Options = string.IsNullOrEmpty(builder.ConnectionStringBuilder.Options) ? keepalive : builder.ConnectionStringBuilder.Options + " " + keepalive;
        builder.ConnectionStringBuilder.ApplicationName ??= "recorder-depot";
        var state = new PostgresUploadState(builder.Build());
        await using var connection = await state._source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockSchema = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({LockNamespace}, 0)", connection, transaction))
            await lockSchema.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await using (var create = new NpgsqlCommand(Schema, connection, transaction))
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return state;
    }

    public async Task InsertAsync(UploadRecord r, int partSize, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand(
            "INSERT INTO depot_upload_state (id, device_id, length, metadata, expected_sha256, storage_path, created_ms, expires_ms, part_size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        command.Parameters.Add(new() { Value = r.Id });
        command.Parameters.Add(new() { Value = r.DeviceId });
        command.Parameters.Add(new() { Value = r.Length });
        command.Parameters.Add(new() { Value = r.MetadataHeader });
        command.Parameters.Add(new() { Value = r.ExpectedSha256 });
        command.Parameters.Add(new() { Value = r.StoragePath });
        command.Parameters.Add(new() { Value = r.Created.ToUnixTimeMilliseconds() });
        command.Parameters.Add(new() { Value = r.Expires.ToUnixTimeMilliseconds() });
        command.Parameters.Add(new() { Value = partSize });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<StateRow?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand($"SELECT {Columns} FROM depot_upload_state WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public async IAsyncEnumerable<StateRow> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand($"SELECT {Columns} FROM depot_upload_state ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) yield return Read(reader);
    }

    public Task SaveExpiryAsync(string id, DateTimeOffset expires, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE depot_upload_state SET expires_ms = $2 WHERE id = $1", cancellationToken, id, expires.ToUnixTimeMilliseconds());

    /// <summary>Records progress: called after the bytes it describes are in S3.</summary>
    public Task SaveProgressAsync(string id, S3Progress p, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE depot_upload_state SET multipart_id = $2, part_etags = $3, part_bytes = $4, incomplete_bytes = $5, sha256_state = $6 WHERE id = $1",
            cancellationToken, id, (object?)p.MultipartId ?? DBNull.Value, string.Join(',', p.PartETags), p.PartBytes, p.IncompleteBytes, (object?)p.Sha256State ?? DBNull.Value);

    /// <summary>Marks the upload verified (before its object is completed in S3: a crash between them is finished by the next look-up).</summary>
    public Task SaveVerifiedAsync(UploadRecord verified, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE depot_upload_state SET verified_sha256 = $2, expires_ms = $3 WHERE id = $1", cancellationToken,
            verified.Id, verified.VerifiedSha256!, verified.Expires.ToUnixTimeMilliseconds());

    public Task SaveCommittedAsync(string id, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE depot_upload_state SET committed = true WHERE id = $1", cancellationToken, id);

    public Task DeleteAsync(string id, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM depot_upload_state WHERE id = $1", cancellationToken, id);

    /// <summary>
    /// Takes the upload's lock for this process, or null when another holder (any replica) has it.
    /// Held on a connection of its own until disposed.
    /// </summary>
    public async ValueTask<IAsyncDisposable?> TryLockAsync(string id, CancellationToken cancellationToken)
    {
        var key = LockKey(id);
        var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand($"SELECT pg_try_advisory_lock({LockNamespace}, $1)", connection);
            command.Parameters.Add(new() { Value = key });
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true) return new Held(connection, key);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    private static int LockKey(string id) => int.Parse(id.AsSpan(0, 8), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);

    private sealed class Held(NpgsqlConnection connection, int key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockNamespace}, $1)", connection);
                command.Parameters.Add(new() { Value = key });
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is NpgsqlException or IOException)
            {
                // The connection broke: PostgreSQL released the lock with it.
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = _source.CreateCommand(sql);
        foreach (var v in values) command.Parameters.Add(new() { Value = v });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static StateRow Read(NpgsqlDataReader r)
    {
        var record = new UploadRecord
        {
            Id = r.GetString(0),
            DeviceId = r.GetString(1),
            Length = r.GetInt64(2),
            MetadataHeader = r.GetString(3),
            ExpectedSha256 = r.GetString(4),
            StoragePath = r.GetString(5),
            Created = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)),
            Expires = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)),
            VerifiedSha256 = r.IsDBNull(8) ? null : r.GetString(8),
        };
        var etags = r.GetString(12);
        var progress = new S3Progress(
            r.GetInt32(10),
            r.IsDBNull(11) ? null : r.GetString(11),
            etags.Length == 0 ? [] : etags.Split(','),
            r.GetInt64(13),
            r.GetInt32(14),
            r.IsDBNull(15) ? null : r.GetFieldValue<byte[]>(15));
        return new StateRow(record, r.GetBoolean(9), progress);
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
