using System.Net;

namespace Recorder.Depot.Tests;

/// <summary>
/// The tus endpoint against a real HTTP client, in-process on a fake clock: the protocol,
/// verification and the lying clients. The same suite runs on every storage backend: the local
/// directory (<see cref="TusProtocolTests"/>) and S3 + PostgreSQL (<see cref="TusProtocolOnS3Tests"/>).
/// </summary>
public abstract class TusProtocolSuite : IAsyncLifetime
{
    private TestDepot _depot = null!;
    private const string Name = "dev-a_20261127T080000Z_0001.mcap";
    private const string StoredName = "dev-a/2026-11-27/" + Name;

    /// <summary>S3 + PostgreSQL, or null for the local directory.</summary>
    protected abstract SharedStorage? Shared { get; }

    public async Task InitializeAsync() => _depot = await TestDepot.StartAsync(shared: Shared);

    public async Task DisposeAsync() => await _depot.DisposeAsync();

    [Fact]
    public async Task Options_advertises_tus_1_0_its_extensions_and_sha256_verification()
    {
        using var client = _depot.Client(_depot.TokenA);
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, _depot.Endpoint));
        Assert.Equal(204, (int)response.StatusCode);
        Assert.Equal("1.0.0", Tus.Header(response, "Tus-Version"));
        Assert.Equal("creation,termination,expiration", Tus.Header(response, "Tus-Extension"));
        Assert.Equal("sha256", Tus.Header(response, "X-Ingest-Verify"));
        Assert.Equal((1L << 40).ToString(System.Globalization.CultureInfo.InvariantCulture), Tus.Header(response, "Tus-Max-Size"));
    }

    [Fact]
    public async Task A_file_sent_in_pieces_is_verified_and_stored_in_the_vehicle_layout_byte_identical()
    {
        var sample = Sample.Random(Name, 300_000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        Assert.StartsWith(_depot.Endpoint.AbsolutePath, upload.AbsolutePath, StringComparison.Ordinal);
        long offset = 0;
        foreach (var piece in new[] { 1, 65_535, 100_000, 134_464 })
        {
            using var patch = await Tus.Patch(client, upload, offset, sample.Bytes.AsMemory((int)offset, piece));
            Assert.Equal(204, (int)patch.StatusCode);
            offset += piece;
            Assert.Equal(offset, Tus.Offset(patch));
            if (offset < sample.Bytes.Length)
            {
                Assert.Null(Tus.Header(patch, "X-Ingest-Sha256"));
                Assert.NotNull(Tus.Header(patch, "Upload-Expires"));
                Assert.DoesNotContain("dev-a/2026-11-27/" + Name, _depot.StoredFiles()); // not visible before verification
            }
            else
            {
                Assert.Equal(sample.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
            }
        }
        using var head = await Tus.Head(client, upload);
        Assert.Equal(200, (int)head.StatusCode);
        Assert.Equal(sample.Sha256, Tus.Header(head, "X-Ingest-Sha256"));
        Assert.Equal(sample.Bytes.Length, Tus.Offset(head));
        Assert.Equal("no-store", head.Headers.CacheControl!.ToString());
        Assert.Equal(sample.Bytes, await _depot.ReadStoredAsync(StoredName));
        Assert.DoesNotContain(_depot.StoredFiles(), f => f.EndsWith(".part", StringComparison.Ordinal));
        var metrics = await client.GetStringAsync(new Uri(_depot.App.Url, "/metrics"));
        Assert.Contains("recorder_depot_uploads_verified_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("recorder_depot_bytes_received_total 300000\n", metrics, StringComparison.Ordinal);
        Assert.Contains("recorder_depot_device_bytes_received_total{device=\"dev-a\"} 300000\n", metrics, StringComparison.Ordinal);
        Assert.Contains("recorder_depot_device_last_seen_seconds{device=\"dev-a\"} 1795766400\n", metrics, StringComparison.Ordinal);
        Assert.Contains("recorder_depot_uploads_in_progress 0\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Companions_land_beside_their_recording()
    {
        using var client = _depot.Client(_depot.TokenA);
        foreach (var name in new[] { Name, "dev-a_20261127T080000Z_0001.vidx", "dev-a_20261127T080000Z_0001.camera_front.h264" })
        {
            var sample = Sample.Random(name, 1000, recording: Name);
            var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
            using var patch = await Tus.Patch(client, upload, 0, sample.Bytes);
            Assert.Equal(sample.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
        }
        Assert.Equal(
            [Path.Combine("dev-a", "2026-11-27", "dev-a_20261127T080000Z_0001.camera_front.h264"), Path.Combine("dev-a", "2026-11-27", "dev-a_20261127T080000Z_0001.mcap"), Path.Combine("dev-a", "2026-11-27", "dev-a_20261127T080000Z_0001.vidx")],
            _depot.StoredFiles().Where(f => !f.StartsWith(".uploads", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_wrong_sha256_gets_460_and_nothing_is_kept()
    {
        var sample = Sample.Random(Name, 50_000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample, sha256: new string('0', 64));
        using (var first = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 20_000))) Assert.Equal(204, (int)first.StatusCode);
        using var last = await Tus.Patch(client, upload, 20_000, sample.Bytes.AsMemory(20_000));
        Assert.Equal(460, (int)last.StatusCode);
        Assert.Null(Tus.Header(last, "X-Ingest-Sha256"));
        using var head = await Tus.Head(client, upload);
        Assert.Equal(404, (int)head.StatusCode);
        Assert.Empty(_depot.StoredFiles());
        Assert.Contains(_depot.Log.Lines, l => l.Contains("refused 460 PATCH", StringComparison.Ordinal) && l.Contains("device dev-a", StringComparison.Ordinal) && l.Contains(sample.Sha256, StringComparison.Ordinal));
        Assert.Contains("recorder_depot_uploads_failed_total 1\n", await client.GetStringAsync(new Uri(_depot.App.Url, "/metrics")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metadata_naming_another_device_gets_403_and_nothing_is_stored()
    {
        var sample = Sample.Random("dev-b_20261127T080000Z_0001.mcap", 1000, device: "dev-b");
        using var client = _depot.Client(_depot.TokenA);
        using var response = await Tus.Create(client, _depot.Endpoint, sample.Bytes.Length, sample.Metadata());
        Assert.Equal(403, (int)response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Empty(_depot.StoredFiles());
        Assert.Contains(_depot.Log.Lines, l => l.Contains("refused 403 POST", StringComparison.Ordinal) && l.Contains("device dev-a", StringComparison.Ordinal) && l.Contains("dev-b", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_device_cannot_see_continue_or_end_an_upload()
    {
        var sample = Sample.Random(Name, 1000);
        using var owner = _depot.Client(_depot.TokenA);
        using var other = _depot.Client(_depot.TokenB);
        var upload = await Tus.CreateOk(owner, _depot.Endpoint, sample);
        using (var head = await Tus.Head(other, upload)) Assert.Equal(403, (int)head.StatusCode);
        using (var patch = await Tus.Patch(other, upload, 0, sample.Bytes)) Assert.Equal(403, (int)patch.StatusCode);
        using (var delete = await other.SendAsync(Tus.Request(HttpMethod.Delete, upload))) Assert.Equal(403, (int)delete.StatusCode);
        using var mine = await Tus.Head(owner, upload);
        Assert.Equal(0, Tus.Offset(mine));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("rdt_not-a-token")]
    public async Task Without_a_known_token_every_request_gets_401(string? token)
    {
        using var client = _depot.Client(token);
        using var options = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, _depot.Endpoint));
        Assert.Equal(401, (int)options.StatusCode);
        var sample = Sample.Random(Name, 10);
        using var create = await Tus.Create(client, _depot.Endpoint, 10, sample.Metadata());
        Assert.Equal(401, (int)create.StatusCode);
        Assert.Empty(_depot.StoredFiles());
        Assert.Contains(_depot.Log.Lines, l => l.Contains("refused 401 POST", StringComparison.Ordinal) && l.Contains("(unauthenticated)", StringComparison.Ordinal));
        Assert.DoesNotContain(_depot.Log.Lines, l => token is not null && l.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_upload_offset_gets_409_and_changes_nothing()
    {
        var sample = Sample.Random(Name, 10_000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (var first = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 4000))) Assert.Equal(204, (int)first.StatusCode);
        using (var stale = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 4000))) Assert.Equal(409, (int)stale.StatusCode);
        using (var ahead = await Tus.Patch(client, upload, 5000, sample.Bytes.AsMemory(5000))) Assert.Equal(409, (int)ahead.StatusCode);
        using (var head = await Tus.Head(client, upload)) Assert.Equal(4000, Tus.Offset(head));
        using var rest = await Tus.Patch(client, upload, 4000, sample.Bytes.AsMemory(4000));
        Assert.Equal(sample.Sha256, Tus.Header(rest, "X-Ingest-Sha256"));
        Assert.Contains(_depot.Log.Lines, l => l.Contains("refused 409 PATCH", StringComparison.Ordinal) && l.Contains("Upload-Offset 0 is not the upload's offset 4000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_overlapping_patch_gets_423_and_bytes_never_interleave()
    {
        var sample = Sample.Random(Name, 200_000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var slow = Tus.Request(HttpMethod.Patch, upload);
        slow.Headers.Add("Upload-Offset", "0");
        slow.Content = new HeldContent(sample.Bytes, 100_000, hold.Task);
        var first = client.SendAsync(slow);
        // Wait until the first PATCH has handed its first half to the store (it holds the lock while it waits for the rest).
        while (true)
        {
            var metrics = await client.GetStringAsync(new Uri(_depot.App.Url, "/metrics"));
            if (metrics.Contains("recorder_depot_bytes_received_total 100000\n", StringComparison.Ordinal)) break;
            Assert.False(first.IsCompleted, "the first PATCH ended early");
            await Task.Delay(10); // a real request on a real server: poll its progress
        }
        var other = Sample.Random(Name, 200_000, seed: 99);
        using (var second = await Tus.Patch(client, upload, 100_000, other.Bytes.AsMemory(100_000))) Assert.Equal(423, (int)second.StatusCode);
        using (var delete = await client.SendAsync(Tus.Request(HttpMethod.Delete, upload))) Assert.Equal(423, (int)delete.StatusCode);
        hold.SetResult();
        using var done = await first;
        Assert.Equal(204, (int)done.StatusCode);
        Assert.Equal(sample.Sha256, Tus.Header(done, "X-Ingest-Sha256"));
        Assert.Equal(sample.Bytes, await _depot.ReadStoredAsync(StoredName));
        Assert.Contains(_depot.Log.Lines, l => l.Contains("refused 423 PATCH", StringComparison.Ordinal) && l.Contains("device dev-a", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_body_past_the_upload_length_gets_413_and_keeps_nothing_of_it()
    {
        var sample = Sample.Random(Name, 1000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (var patch = await Tus.Patch(client, upload, 0, new byte[1500])) Assert.Equal(413, (int)patch.StatusCode);
        using (var head = await Tus.Head(client, upload)) Assert.Equal(0, Tus.Offset(head));
        using var ok = await Tus.Patch(client, upload, 0, sample.Bytes);
        Assert.Equal(sample.Sha256, Tus.Header(ok, "X-Ingest-Sha256"));
    }

    [Fact]
    public async Task A_repeated_final_patch_answers_the_verification_again()
    {
        var sample = Sample.Random(Name, 1000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (var patch = await Tus.Patch(client, upload, 0, sample.Bytes)) Assert.Equal(204, (int)patch.StatusCode);
        using var again = await Tus.Patch(client, upload, 1000, Array.Empty<byte>());
        Assert.Equal(204, (int)again.StatusCode);
        Assert.Equal(sample.Sha256, Tus.Header(again, "X-Ingest-Sha256"));
    }

    [Fact]
    public async Task An_abandoned_upload_expires_after_expire_after_on_the_clock()
    {
        await using var depot = await TestDepot.StartAsync(NoTimedSweep, Shared); // this test runs the sweeps itself
        var _depot = depot;
        var sample = Sample.Random(Name, 10_000);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (var patch = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 5000)))
            Assert.Equal(_depot.Time.GetUtcNow().AddDays(7).UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture), Tus.Header(patch, "Upload-Expires"));
        _depot.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await _depot.Handler.SweepAsync(CancellationToken.None));
        using (var head = await Tus.Head(client, upload)) Assert.Equal(5000, Tus.Offset(head));
        _depot.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await _depot.Handler.SweepAsync(CancellationToken.None));
        using (var gone = await Tus.Head(client, upload)) Assert.Equal(404, (int)gone.StatusCode);
        Assert.Empty(_depot.StoredFiles());
    }

    [Fact]
    public async Task The_sweep_runs_every_sweep_interval_on_the_clock()
    {
        var sample = Sample.Random(Name, 100);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        _depot.Time.Advance(TimeSpan.FromDays(7) + TimeSpan.FromHours(1));
        // The timer fired on the fake clock; the sweep itself does real file I/O on the pool: wait for it.
        for (var i = 0; i < 500 && _depot.StoredFiles().Count > 0; i++) await Task.Delay(10);
        Assert.Empty(_depot.StoredFiles());
        Assert.Contains("recorder_depot_uploads_expired_total 1\n", await client.GetStringAsync(new Uri(_depot.App.Url, "/metrics")), StringComparison.Ordinal);
    }

    private static Config.DepotSettings NoTimedSweep(Config.DepotSettings s) => s with { Uploads = s.Uploads with { SweepInterval = Config.DepotConfigLoader.MaxSweepInterval } };

    [Fact]
    public async Task An_expired_upload_not_yet_swept_is_gone_with_410()
    {
        await using var depot = await TestDepot.StartAsync(NoTimedSweep, Shared);
        var _depot = depot;
        var sample = Sample.Random(Name, 100);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        _depot.Time.Advance(TimeSpan.FromDays(8));
        using (var patch = await Tus.Patch(client, upload, 0, sample.Bytes)) Assert.Equal(410, (int)patch.StatusCode);
        Assert.Empty(_depot.StoredFiles());
    }

    [Fact]
    public async Task Delete_terminates_an_upload_in_progress_but_never_a_verified_file()
    {
        var sample = Sample.Random(Name, 1000);
        using var client = _depot.Client(_depot.TokenA);
        var partial = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (await Tus.Patch(client, partial, 0, sample.Bytes.AsMemory(0, 10)))
        {
        }
        using (var delete = await client.SendAsync(Tus.Request(HttpMethod.Delete, partial))) Assert.Equal(204, (int)delete.StatusCode);
        using (var head = await Tus.Head(client, partial)) Assert.Equal(404, (int)head.StatusCode);
        Assert.Empty(_depot.StoredFiles());

        var complete = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (await Tus.Patch(client, complete, 0, sample.Bytes))
        {
        }
        using (var delete = await client.SendAsync(Tus.Request(HttpMethod.Delete, complete))) Assert.Equal(204, (int)delete.StatusCode);
        Assert.Equal([Path.Combine("dev-a", "2026-11-27", Name)], _depot.StoredFiles());
    }

    [Theory]
    [InlineData(null, 412)]
    [InlineData("0.2.2", 412)]
    public async Task A_request_without_tus_1_0_gets_412_with_the_version(string? version, int status)
    {
        using var client = _depot.Client(_depot.TokenA);
        using var request = new HttpRequestMessage(HttpMethod.Post, _depot.Endpoint);
        if (version is not null) request.Headers.Add("Tus-Resumable", version);
        request.Headers.Add("Upload-Length", "10");
        using var response = await client.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("1.0.0", Tus.Header(response, "Tus-Version"));
    }

    [Theory]
    [InlineData("filename", "../../etc/passwd", 400)]
    [InlineData("filename", "notes.txt", 400)]
    [InlineData("sha256", "abc", 400)]
    [InlineData("size", "5", 400)]
    [InlineData("kind", "vidx", 400)]
    [InlineData("recording", "other_20261127T080000Z_0001.mcap", 400)]
    public async Task Bad_metadata_gets_a_clear_4xx_and_stores_nothing(string key, string value, int status)
    {
        var sample = Sample.Random(Name, 10);
        var metadata = sample.Metadata().Select(m => m.Key == key ? new KeyValuePair<string, string>(key, value) : m).ToList();
        using var client = _depot.Client(_depot.TokenA);
        using var response = await Tus.Create(client, _depot.Endpoint, 10, metadata);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(key, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_depot.StoredFiles());
    }

    [Fact]
    public async Task A_restarted_depot_resumes_an_upload_mid_part_and_verifies_it()
    {
        // 12 MiB: on S3 (5 MiB parts) the pieces end inside part 1, inside part 2 (after part 1 was
        // uploaded) and at the end; the restart drops every hash and buffer held in memory.
        var sample = Sample.Random(Name, 12 << 20, seed: 7);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using (var first = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 3 << 20))) Assert.Equal(3 << 20, Tus.Offset(first));
        using (var second = await Tus.Patch(client, upload, 3 << 20, sample.Bytes.AsMemory(3 << 20, 4 << 20))) Assert.Equal(7 << 20, Tus.Offset(second));
        Assert.DoesNotContain(StoredName, _depot.StoredFiles());
        await _depot.RestartAsync();
        using (var head = await Tus.Head(client, upload)) Assert.Equal(7 << 20, Tus.Offset(head));
        using var last = await Tus.Patch(client, upload, 7 << 20, sample.Bytes.AsMemory(7 << 20));
        Assert.Equal(204, (int)last.StatusCode);
        Assert.Equal(sample.Sha256, Tus.Header(last, "X-Ingest-Sha256"));
        Assert.Equal(sample.Bytes, await _depot.ReadStoredAsync(StoredName));
        Assert.Equal([StoredName], _depot.StoredFiles().Where(f => !f.EndsWith(".json", StringComparison.Ordinal) && !f.EndsWith(".state", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_empty_file_is_verified_and_stored()
    {
        var sample = Sample.Random(Name, 0);
        using var client = _depot.Client(_depot.TokenA);
        var upload = await Tus.CreateOk(client, _depot.Endpoint, sample);
        using var patch = await Tus.Patch(client, upload, 0, Array.Empty<byte>());
        Assert.Equal(sample.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
        Assert.Equal(Array.Empty<byte>(), await _depot.ReadStoredAsync(StoredName));
    }

    [Fact]
    public async Task Healthz_answers_ok()
    {
        using var client = _depot.Client(null);
        Assert.Equal("{\"status\":\"ok\"}", await client.GetStringAsync(new Uri(_depot.App.Url, "/healthz")));
    }

    /// <summary>A PATCH body that sends its first part, then waits before sending the rest.</summary>
    private sealed class HeldContent : HttpContent
    {
        private readonly byte[] _bytes;
        private readonly int _first;
        private readonly Task _release;

        public HeldContent(byte[] bytes, int first, Task release)
        {
            _bytes = bytes;
            _first = first;
            _release = release;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/offset+octet-stream");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_bytes.AsMemory(0, _first));
            await stream.FlushAsync();
            await _release;
            await stream.WriteAsync(_bytes.AsMemory(_first));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}

/// <summary>The suite on the local directory (the embedded default).</summary>
public sealed class TusProtocolTests : TusProtocolSuite
{
    protected override SharedStorage? Shared => null;
}

/// <summary>The suite on S3 (s3rver) with upload state in PostgreSQL.</summary>
[Collection(SharedStorageCollection.Name)]
public sealed class TusProtocolOnS3Tests(Fixtures.S3Server s3, Fixtures.PostgresServer postgres) : TusProtocolSuite
{
    protected override SharedStorage? Shared { get; } = new(s3, postgres);
}
