using Recorder.Storage;

namespace Recorder.Offload.Tests;

/// <summary>
/// A depot that does not verify: stock @tus/server (tests/interop/depot.mjs --standard) advertises no
/// <c>X-Ingest-Verify: sha256</c> in its OPTIONS answer. Each file goes up once, is reported as
/// "uploaded, unverified", and never leaves the disk on that basis (proto/offload_depot.md).
/// </summary>
[Collection("depot")]
public sealed class UnverifiedDepotTests : IDisposable
{
    private readonly string _recordings = Directory.CreateTempSubdirectory("recorder-rec-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("recorder-state-").FullName;

    public void Dispose()
    {
        Directory.Delete(_recordings, recursive: true);
        Directory.Delete(_state, recursive: true);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task Whether_the_depot_verifies_is_read_from_its_OPTIONS_answer(bool standard, bool verifies)
    {
        using var depot = DepotProcess.Start(standard: standard);
        using var handler = new SocketsHttpHandler();
        using var client = new TusClient(handler, depot.Url, () => DepotProcess.Token, TimeSpan.FromSeconds(5));
        var info = await client.OptionsAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(verifies, info.Verifies);
        Assert.True(info.Supports("creation"));
    }

    [Fact]
    public async Task A_depot_that_does_not_verify_gets_each_file_once_and_nothing_is_deleted_after_upload()
    {
        using var depot = DepotProcess.Start(standard: true);
        var paths = new[]
        {
            Samples.Recording(_recordings, "dev-1_20261127T100000Z_0001", 300_000, 1_000_000_000, seed: 1),
            Samples.Recording(_recordings, "dev-1_20261127T100100Z_0002", 120_000, 2_000_000_000, seed: 2),
        };
        var originals = paths.Select(File.ReadAllBytes).ToList();
        var deletions = 0;
        var options = Samples.Options(_recordings, depot.Url, _state) with { DeleteAfterUpload = true };
        await using (var service = new OffloadService(options))
        {
            service.Deleting += (_, _) => Interlocked.Increment(ref deletions);
            service.Start();
            service.Now();
            await Samples.WaitFor(() => service.Status().UploadedUnverified == 2, TimeSpan.FromSeconds(30),
                () => $"two unverified uploads: {FaultInjectionTests.Describe(service.Status())} {depot.Stderr}");
            // The manual session ends when nothing is left to do: nothing is retried, nothing parked.
            await Samples.WaitFor(() => !service.Status().Session, TimeSpan.FromSeconds(10), () => "the end of the session");
            var status = service.Status();
            Assert.Equal(0, status.Verified);
            Assert.Equal(0, status.Failed);
            Assert.Equal(0, status.Pending);
            Assert.False(status.DepotVerifies);
            Assert.Equal(paths.Sum(p => new FileInfo(p).Length), status.BytesUploadedUnverified);
            Assert.All(status.Files, f => Assert.Equal(OffloadService.UploadedUnverifiedState, f.State));
            Assert.All(paths, p => Assert.False(service.IsVerified(p), $"{p} counts as verified"));
        }
        // A restart and a new session upload nothing again: the journal remembers "uploaded, unverified".
        await using (var again = new OffloadService(options))
        {
            again.Deleting += (_, _) => Interlocked.Increment(ref deletions);
            again.Start();
            Assert.Equal(2, again.Status().UploadedUnverified);
            again.Now();
            await Samples.WaitFor(() => !again.Status().Session, TimeSpan.FromSeconds(10), () => "the end of the second session");
            Assert.Equal(2, again.Status().UploadedUnverified);
        }
        foreach (var path in paths) Assert.Equal(1, depot.Creates(Path.GetFileName(path)));
        Assert.Equal(2, depot.Events("finish").Count);
        Assert.Equal(0, deletions);
        for (var i = 0; i < paths.Length; i++)
            Assert.True(File.ReadAllBytes(paths[i]).AsSpan().SequenceEqual(originals[i]), $"{paths[i]} changed or vanished");
        using var journal = OffloadJournal.Open(Path.Combine(_state, "offload.journal"), out _);
        Assert.All(journal.Entries.Values, e => Assert.True(e.UploadedUnverified && !e.Verified, e.Key));
    }

    [Fact]
    public async Task Disk_pressure_never_deletes_a_file_the_depot_did_not_verify()
    {
        using var depot = DepotProcess.Start(standard: true);
        var first = Samples.Recording(_recordings, "dev-1_20261127T100000Z_0001", 200_000, 1_000_000_000, seed: 1);
        // Always under pressure: the store (whose ledger the service is) would delete every offloaded recording at once.
        var store = new RecordingStore(_recordings, freeBytes: () => 0);
        var pressure = new RetentionPolicy(MaxBytes: 0, MinFreeBytes: long.MaxValue, DeleteOldest: false);
        var options = Samples.Options(_recordings, depot.Url, _state);
        var deletions = 0;
        string second;
        await using (var service = new OffloadService(options, store: store))
        {
            service.Deleting += (_, _) => Interlocked.Increment(ref deletions);
            service.Start();
            service.Now();
            await Samples.WaitFor(() => service.Status().UploadedUnverified == 1, TimeSpan.FromSeconds(30), () => FaultInjectionTests.Describe(service.Status()));
            // The file counts as uploaded before its worker ends and the dispatcher closes the session:
            // a second file found in that gap goes up in this session at once and is never seen pending.
            await Samples.WaitFor(() => !service.Status().Session, TimeSpan.FromSeconds(10), () => $"the end of the session: {FaultInjectionTests.Describe(service.Status())}");
            store.Scan();
            Assert.Equal([first], store.Recordings);
            Assert.False(store.MakeRoom(pressure, 0), "room was made");
            second = Samples.Recording(_recordings, "dev-1_20261127T100100Z_0002", 50_000, 2_000_000_000, seed: 2);
            service.NotifyFinished(second);
            await Samples.WaitFor(() => service.Status().Pending == 1, TimeSpan.FromSeconds(10), () => FaultInjectionTests.Describe(service.Status()));
            service.Now();
            await Samples.WaitFor(() => service.Status().UploadedUnverified == 2, TimeSpan.FromSeconds(30), () => FaultInjectionTests.Describe(service.Status()));
            store.Add(second);
            Assert.False(store.MakeRoom(pressure, 0), "room was made");
        }
        Assert.Equal(0, deletions);
        Assert.True(File.Exists(first));
        Assert.True(File.Exists(second));
        Assert.Equal(1, depot.Creates(Path.GetFileName(first)));
    }
}
