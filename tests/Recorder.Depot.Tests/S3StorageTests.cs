using System.Security.Cryptography;
using Recorder.Depot.Storage;
using Recorder.Depot.Storage.S3;
using Recorder.Depot.Tests.Fixtures;

namespace Recorder.Depot.Tests;

public sealed class ResumableSha256Tests
{
    [Fact]
    public void A_hash_saved_and_restored_anywhere_gives_the_sha256_of_the_whole()
    {
        var bytes = new byte[300_001];
        new Random(5).NextBytes(bytes);
        var expected = SHA256.HashData(bytes);
        foreach (var cut in new[] { 0, 1, 63, 64, 65, 4096, 150_000, 300_000, 300_001 })
        {
            byte[] state;
            using (var first = new ResumableSha256())
            {
                first.Append(bytes.AsSpan(0, cut));
                Assert.Equal(cut, first.Length);
                Assert.Equal(SHA256.HashData(bytes.AsSpan(0, cut)), first.Current());
                state = first.Export();
            }
            using var second = ResumableSha256.Import(state);
            second.Append(bytes.AsSpan(cut));
            Assert.Equal(expected, second.Current());
        }
    }

    [Fact]
    public void A_state_that_is_not_one_is_refused()
    {
        Assert.Throws<ArgumentException>(() => ResumableSha256.Import(new byte[10]));
        var state = new ResumableSha256().Export();
        state[0] = 99;
        Assert.Throws<ArgumentException>(() => ResumableSha256.Import(state));
    }
}

/// <summary>The hand-written S3 client against a real S3-compatible server.</summary>
[Collection(S3Collection.Name)]
public sealed class S3ClientTests(S3Server server)
{
    private S3Client Client() => new(new S3Connection(server.Endpoint, S3Server.Bucket, S3Server.Region, S3Server.AccessKey, S3Server.SecretKey, PathStyle: true));

    [Fact]
    public async Task Objects_are_put_got_listed_and_deleted()
    {
        using var s3 = Client();
        var prefix = $"client-{Guid.NewGuid():N}/";
        await s3.PutObjectAsync(prefix + "a/one file.bin", new byte[] { 1, 2, 3 }, CancellationToken.None);
        await s3.PutObjectAsync(prefix + "b", Array.Empty<byte>(), CancellationToken.None);
        Assert.Equal(new byte[] { 1, 2, 3 }, await s3.GetObjectAsync(prefix + "a/one file.bin", CancellationToken.None));
        Assert.Equal(3, await s3.HeadObjectAsync(prefix + "a/one file.bin", CancellationToken.None));
        var listed = new List<(string, long)>();
        await foreach (var o in s3.ListAsync(prefix, CancellationToken.None)) listed.Add(o);
        Assert.Equal([(prefix + "a/one file.bin", 3L), (prefix + "b", 0L)], listed.Order());
        await s3.DeleteObjectAsync(prefix + "a/one file.bin", CancellationToken.None);
        Assert.Null(await s3.GetObjectAsync(prefix + "a/one file.bin", CancellationToken.None));
        Assert.Null(await s3.HeadObjectAsync(prefix + "a/one file.bin", CancellationToken.None));
    }

    [Fact]
    public async Task A_multipart_upload_appears_only_when_completed_and_byte_identical()
    {
        using var s3 = Client();
        var key = $"client-{Guid.NewGuid():N}/multi.bin";
        var bytes = new byte[(5 << 20) * 2 + 1234];
        new Random(3).NextBytes(bytes);
        var id = await s3.CreateMultipartUploadAsync(key, CancellationToken.None);
        var etags = new List<string>();
        for (var (n, at) = (1, 0); at < bytes.Length; n++, at += 5 << 20)
            etags.Add(await s3.UploadPartAsync(key, id, n, bytes.AsMemory(at, Math.Min(5 << 20, bytes.Length - at)), CancellationToken.None));
        Assert.Null(await s3.HeadObjectAsync(key, CancellationToken.None));
        await s3.CompleteMultipartUploadAsync(key, id, etags, CancellationToken.None);
        Assert.Equal(bytes, await s3.GetObjectAsync(key, CancellationToken.None));
    }

    [Fact]
    public async Task An_abandoned_multipart_upload_leaves_no_object()
    {
        using var s3 = Client();
        var key = $"client-{Guid.NewGuid():N}/aborted.bin";
        var id = await s3.CreateMultipartUploadAsync(key, CancellationToken.None);
        await s3.UploadPartAsync(key, id, 1, new byte[100], CancellationToken.None);
        // s3rver does not offer AbortMultipartUpload (405): the client says so instead of failing.
        Assert.False(await s3.AbortMultipartUploadAsync(key, id, CancellationToken.None));
        Assert.Null(await s3.HeadObjectAsync(key, CancellationToken.None));
    }

    /// <summary>
    /// s3rver does not check signatures, so the signing is checked against AWS's own worked examples
    /// (S3 API reference, "Signature Calculations for the Authorization Header: Transferring Payload
    /// in a Single Chunk": GET Bucket Lifecycle and GET Bucket, examplebucket, 2013-05-24).
    /// </summary>
    [Theory]
    [InlineData("lifecycle", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")]
    [InlineData("max-keys=2&prefix=J", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")]
    public void Requests_are_signed_as_in_the_aws_signature_v4_examples(string query, string signature)
    {
        var authorization = S3Client.Authorization("GET", "examplebucket.s3.amazonaws.com", "/", query,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "20130524T000000Z", "us-east-1",
            "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        Assert.Equal($"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}", authorization);
    }
}

/// <summary>Upload state in a real PostgreSQL: the lock between processes.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresUploadStateTests(PostgresServer server)
{
    [Fact]
    public async Task An_upload_lock_is_held_by_one_process_and_released_when_its_holder_dies()
    {
        var db = server.CreateDatabase("lock");
        // Two state objects, two connection pools: as two depot replicas are.
        await using var one = await PostgresUploadState.OpenAsync(db, CancellationToken.None);
        await using var two = await PostgresUploadState.OpenAsync(db, CancellationToken.None);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var held = await one.TryLockAsync(id, CancellationToken.None);
        Assert.NotNull(held);
        Assert.Null(await two.TryLockAsync(id, CancellationToken.None));
        await using var other = await two.TryLockAsync("0123456789abcdef0123456789abcdef", CancellationToken.None);
        Assert.NotNull(other); // another upload's lock is another lock
        await held!.DisposeAsync();
        var taken = await two.TryLockAsync(id, CancellationToken.None);
        Assert.NotNull(taken);
        // The holder dies: its connection ends (here: terminated by the server, as when a replica is SIGKILLed and its socket closes).
        var name = db.Split(';').Single(p => p.StartsWith("Database=", StringComparison.Ordinal))["Database=".Length..];
        server.Psql(name, "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        await using var after = await one.TryLockAsync(id, CancellationToken.None);
        Assert.NotNull(after);
        await taken!.DisposeAsync(); // its connection is gone: releasing is a no-op, not an error
    }
}
