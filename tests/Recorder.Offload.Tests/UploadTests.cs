using System.Net;

namespace Recorder.Offload.Tests;

/// <summary>The service against the real depot (@tus/server + @tus/file-store), no faults: the protocol paths.</summary>
[Collection("depot")]
public sealed class UploadTests : IDisposable
{
    private readonly string _recordings = Directory.CreateTempSubdirectory("recorder-rec-").FullName;

    public void Dispose() => Directory.Delete(_recordings, recursive: true);

    [Fact]
    public async Task A_file_is_uploaded_with_its_metadata_verified_and_then_deleted()
    {
        using var depot = DepotProcess.Start();
        var path = Samples.Recording(_recordings, "dev-1_20261127T100000Z_0001", 300_000, 1_000_000_000, mark: true);
        var vidx = Path.ChangeExtension(path, ".vidx");
        await File.WriteAllBytesAsync(vidx, new byte[4096]);
        var sha = Samples.Sha256(path);
        var deleted = new List<string>();
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url) with { DeleteAfterUpload = true });
        service.Deleting += (p, s) => { lock (deleted) deleted.Add(Path.GetFileName(p)); };
        service.Start();
        service.Now();
        await Samples.WaitFor(() => !File.Exists(path) && !File.Exists(vidx), TimeSpan.FromSeconds(30), () => $"the upload: {depot.Stderr}");

        var create = depot.Events("create").Single(e => e["metadata"]!["kind"]!.GetValue<string>() == "mcap")["metadata"]!;
        Assert.Equal("dev-1_20261127T100000Z_0001.mcap", create["filename"]!.GetValue<string>());
        Assert.Equal(sha, create["sha256"]!.GetValue<string>());
        Assert.Equal(new FileInfo(depot.Verified()["dev-1_20261127T100000Z_0001.mcap"].Path).Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
            create["size"]!.GetValue<string>());
        Assert.Equal("dev-1", create["device_id"]!.GetValue<string>());
        Assert.Equal("1000000000", create["start_time"]!.GetValue<string>());
        Assert.True(ulong.Parse(create["end_time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > 1_000_000_000);
        Assert.Equal("dev-1_20261127T100000Z_0001.mcap", create["recording"]!.GetValue<string>());
        var sidecar = depot.Events("create").Single(e => e["metadata"]!["kind"]!.GetValue<string>() == "vidx")["metadata"]!;
        Assert.Equal("dev-1_20261127T100000Z_0001.vidx", sidecar["filename"]!.GetValue<string>());
        Assert.Equal("dev-1_20261127T100000Z_0001.mcap", sidecar["recording"]!.GetValue<string>());
        Assert.Equal(sha, depot.Verified()["dev-1_20261127T100000Z_0001.mcap"].Sha256);
        Assert.Equal(["dev-1_20261127T100000Z_0001.mcap", "dev-1_20261127T100000Z_0001.vidx"], deleted.Order(StringComparer.Ordinal));
        // The session ends just after its last deletion: the state goes back to waiting then.
        await Samples.WaitFor(() => service.Status().State == "waiting", TimeSpan.FromSeconds(10), () => $"state {service.Status().State}");
        Assert.Equal(2, service.Status().Deleted);
    }

    [Fact]
    public async Task Without_delete_after_upload_verified_files_stay_and_are_not_uploaded_again()
    {
        using var depot = DepotProcess.Start();
        var path = Samples.Recording(_recordings, "keep", 50_000, 5);
        var state = Directory.CreateTempSubdirectory("recorder-state-").FullName;
        await using (var service = new OffloadService(Samples.Options(_recordings, depot.Url, state)))
        {
            service.Start();
            service.Now();
            await Samples.WaitFor(() => service.Status().Verified == 1, TimeSpan.FromSeconds(30), () => "verification");
        }
        Assert.True(File.Exists(path));
        await using (var again = new OffloadService(Samples.Options(_recordings, depot.Url, state)))
        {
            again.Start();
            again.Now();
            await Task.Delay(500); // a real depot process: a wrong second upload gets real time to show up
            Assert.Equal(1, again.Status().Verified);
        }
        Assert.Equal(1, depot.Creates("keep.mcap"));
        Directory.Delete(state, recursive: true);
    }

    [Fact]
    public async Task Recordings_with_marks_go_first_then_the_oldest()
    {
        using var depot = DepotProcess.Start();
        Samples.Recording(_recordings, "c-newest", 10_000, 3_000_000_000);
        Samples.Recording(_recordings, "a-oldest", 10_000, 1_000_000_000);
        Samples.Recording(_recordings, "d-marked-new", 10_000, 4_000_000_000, mark: true);
        Samples.Recording(_recordings, "b-middle", 10_000, 2_000_000_000);
        Samples.Recording(_recordings, "e-marked-old", 10_000, 1_500_000_000, mark: true);
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url));
        service.Start();
        service.Now();
        await Samples.WaitFor(() => depot.Events("verified").Count == 5, TimeSpan.FromSeconds(30), () => "five uploads");
        Assert.Equal(["e-marked-old.mcap", "d-marked-new.mcap", "a-oldest.mcap", "b-middle.mcap", "c-newest.mcap"],
            depot.Events("create").Select(e => e["metadata"]!["filename"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_upload_the_depot_lost_starts_over_on_404()
    {
        using var depot = DepotProcess.Start();
        var path = Samples.Recording(_recordings, "lost", 400_000, 7);
        var options = Samples.Options(_recordings, depot.Url) with { Bandwidth = 400_000, ChunkSize = 100_000 };
        var state = Directory.CreateTempSubdirectory("recorder-state-").FullName;
        await using (var first = new OffloadService(options with { StateDirectory = state }))
        {
            first.Start();
            first.Now();
            await Samples.WaitFor(() => first.Status().Files.Any(f => f.Offset >= 100_000), TimeSpan.FromSeconds(30), () => "some progress");
        }
        // The depot loses the upload (expired, wiped): HEAD answers 404 and the client creates a new one.
        var id = depot.Events("create").Single()["id"]!.GetValue<string>();
        File.Delete(Path.Combine(depot.Directory, id));
        File.Delete(Path.Combine(depot.Directory, id + ".json"));
        await using var second = new OffloadService(options with { StateDirectory = state, Bandwidth = 0 });
        second.Start();
        second.Now();
        await Samples.WaitFor(() => second.Status().Verified == 1, TimeSpan.FromSeconds(30), () => "verification after 404");
        Assert.Equal(2, depot.Creates("lost.mcap"));
        Assert.Equal(Samples.Sha256(path), depot.Verified()["lost.mcap"].Sha256);
        Directory.Delete(state, recursive: true);
    }

    [Fact]
    public async Task A_Location_on_another_host_is_refused_and_nothing_is_deleted()
    {
        using var depot = DepotProcess.Start(lie: "location");
        var path = Samples.Recording(_recordings, "elsewhere", 20_000, 9);
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url) with { DeleteAfterUpload = true });
        service.Start();
        service.Now();
        await Samples.WaitFor(() => service.Status().Failed == 1, TimeSpan.FromSeconds(30), () => "the refusal");
        var status = service.Status();
        Assert.Contains("127.0.0.2", status.Files.Single().Error, StringComparison.Ordinal);
        Assert.Contains("refused", status.LastError, StringComparison.Ordinal);
        Assert.True(File.Exists(path));
        Assert.Empty(depot.Events("verified"));
    }

    [Fact]
    public async Task Wrong_credentials_fail_the_probe_and_nothing_is_uploaded()
    {
        using var depot = DepotProcess.Start();
        Samples.Recording(_recordings, "secret", 20_000, 9);
        var badToken = Path.Combine(_recordings, "..", Path.GetRandomFileName());
        await File.WriteAllTextAsync(badToken, "wrong-token");
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url) with { TokenFile = badToken, Presence = PresenceMode.Probe });
        service.Start();
        await Samples.WaitFor(() => service.Status().LastProbeError is not null, TimeSpan.FromSeconds(10), () => "a probe");
        var status = service.Status();
        Assert.False(status.InRange);
        Assert.Contains("401", status.LastProbeError, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", status.LastProbeError, StringComparison.Ordinal);
        Assert.Empty(depot.Events("create"));
        File.Delete(badToken);
    }

    [Fact]
    public void Plain_http_needs_insecure_and_credentials_stay_out_of_the_url()
    {
        var options = Samples.Options(_recordings, new Uri("http://127.0.0.1:1/files"));
        Assert.Throws<ArgumentException>(() => new DepotConnection(options with { Insecure = false }));
        Assert.Throws<ArgumentException>(() => new DepotConnection(options with { Endpoint = new Uri("https://user:pw@127.0.0.1:1/files") }));
        using var client = new TusClient(new HttpClientHandler(), new Uri("https://depot.example:8443/files"), () => null, TimeSpan.FromSeconds(1));
        Assert.Equal(new Uri("https://depot.example:8443/files/abc"), client.ResolveLocation(new Uri("/files/abc", UriKind.Relative)));
        Assert.Equal(TusErrorKind.ForeignLocation, Assert.Throws<TusException>(() => client.ResolveLocation(new Uri("http://depot.example:8443/files/abc"))).Kind);
        Assert.Equal(TusErrorKind.ForeignLocation, Assert.Throws<TusException>(() => client.ResolveLocation(new Uri("https://evil.example:8443/files/abc"))).Kind);
        Assert.Equal(TusErrorKind.ForeignLocation, Assert.Throws<TusException>(() => client.ResolveLocation(new Uri("https://depot.example:9443/files/abc"))).Kind);
        Assert.Equal("filename YS5tY2Fw,size MTA=", TusClient.EncodeMetadata([new("filename", "a.mcap"), new("size", "10")]));
        Assert.True(new TusException(TusErrorKind.Status, "x", HttpStatusCode.Conflict).IsRetryable);
        Assert.True(new TusException(TusErrorKind.Status, "x", (HttpStatusCode)423).IsRetryable);
        Assert.True(new TusException(TusErrorKind.Status, "x", HttpStatusCode.BadGateway).IsRetryable);
        Assert.False(new TusException(TusErrorKind.Status, "x", HttpStatusCode.RequestEntityTooLarge).IsRetryable);
        Assert.True(new TusException(TusErrorKind.Status, "x", HttpStatusCode.Gone).IsGone);
    }
}

[CollectionDefinition("depot")]
public sealed class DepotCollection;
