using System.Globalization;
using Recorder.Storage;

namespace Recorder.Offload.Tests;

/// <summary>
/// Sidecar video streams (NAME.TOPICSLUG.h264/.h265) against the real depot: they travel with
/// their recording like its .vidx, resume, and leave the disk only with the whole recording.
/// </summary>
[Collection("depot")]
public sealed class StreamUploadTests : IDisposable
{
    private const string Name = "rt-0042_20261127T031500Z_0003";
    private readonly string _recordings = Directory.CreateTempSubdirectory("recorder-rec-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("recorder-state-").FullName;

    public void Dispose()
    {
        Directory.Delete(_recordings, recursive: true);
        Directory.Delete(_state, recursive: true);
    }

    /// <summary>NAME.mcap, NAME.vidx, NAME.camera_front.h264 and NAME.camera_rear.h265.</summary>
    private (string Mcap, string Vidx, string Front, string Rear) Recording(long frontSize = 500_000, long rearSize = 300_000, bool rearActive = false)
    {
        var mcap = Samples.Recording(_recordings, Name, 40_000, 2_000_000_000, mark: true);
        var vidx = Path.ChangeExtension(mcap, ".vidx");
        var index = new byte[4096];
        new Random(3).NextBytes(index);
        File.WriteAllBytes(vidx, index);
        var front = Samples.Stream(mcap, "camera_front", "h264", frontSize, seed: 11);
        var rear = Samples.Stream(mcap, "camera_rear", "h265", rearSize, seed: 12, active: rearActive);
        return (mcap, vidx, front, rear);
    }

    private static void AssertStoredBytes(DepotProcess depot, params string[] paths)
    {
        var verified = depot.Verified();
        foreach (var path in paths)
        {
            var name = Path.GetFileName(path);
            Assert.True(verified.TryGetValue(name, out var stored), $"{name} was not verified by the depot");
            Assert.Equal(Samples.Sha256(path), stored.Sha256);
            Assert.True(File.ReadAllBytes(stored.Path).AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{name} differs on the depot");
        }
    }

    [Fact]
    public void A_stream_file_belongs_to_its_finished_MCAP_and_takes_its_times()
    {
        var (mcap, _, front, rear) = Recording();
        var file = RecordingCatalog.Describe(_recordings, front)!;
        Assert.Equal(RecordingFileKind.Stream, file.Kind);
        Assert.Equal(Name + ".mcap", file.Recording);
        Assert.Equal(RecordingCatalog.KeyOf(_recordings, mcap), file.GroupKey);
        var owner = RecordingCatalog.Describe(_recordings, mcap)!;
        Assert.Equal((owner.StartNs, owner.EndNs, owner.Marks), (file.StartNs, file.EndNs, file.Marks));
        Assert.Equal(2_000_000_000UL, file.StartNs);
        Assert.Equal(RecordingFileKind.Stream, RecordingCatalog.Describe(_recordings, rear)!.Kind);
        Assert.Equal("stream", RecordingLayout.KindName(RecordingFileKind.Stream));

        // A topic slug may hold dots: the longest NAME with an .mcap wins.
        var dotted = Samples.Stream(mcap, "lidar.v2_front", "h264", 100);
        Assert.Equal(mcap, RecordingCatalog.McapOfStream(dotted));
        var (companions, active) = RecordingCatalog.Companions(mcap);
        Assert.False(active);
        Assert.Equal(4, companions.Count); // .vidx and three streams
        Samples.Stream(mcap, "camera_side", "h264", 100, active: true);
        Assert.True(RecordingCatalog.Companions(mcap).Active);
    }

    [Fact]
    public async Task A_recording_with_its_index_and_two_streams_uploads_all_four_verified_byte_for_byte()
    {
        using var depot = DepotProcess.Start();
        var (mcap, vidx, front, rear) = Recording();
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state));
        service.Start();
        var queued = service.Status().Files;
        Assert.Equal(4, queued.Count);
        Assert.Equal(2, queued.Count(f => f.Kind == "stream"));
        service.Now();
        await Samples.WaitFor(() => service.Status().Verified == 4, TimeSpan.FromSeconds(30), () => $"four verified files: {FaultInjectionTests.Describe(service.Status())}");

        AssertStoredBytes(depot, mcap, vidx, front, rear);
        // The recording's files in order: the .mcap, its .vidx, then its streams.
        Assert.Equal([Name + ".mcap", Name + ".vidx", Name + ".camera_front.h264", Name + ".camera_rear.h265"],
            depot.Events("create").Select(e => e["metadata"]!["filename"]!.GetValue<string>()));
        foreach (var path in new[] { front, rear })
        {
            var metadata = depot.Events("create").Single(e => e["metadata"]!["filename"]!.GetValue<string>() == Path.GetFileName(path))["metadata"]!;
            Assert.Equal("stream", metadata["kind"]!.GetValue<string>());
            Assert.Equal(Name + ".mcap", metadata["recording"]!.GetValue<string>());
            Assert.Equal("2000000000", metadata["start_time"]!.GetValue<string>());
            Assert.Equal(new FileInfo(path).Length.ToString(CultureInfo.InvariantCulture), metadata["size"]!.GetValue<string>());
            Assert.Equal(Samples.Sha256(path), metadata["sha256"]!.GetValue<string>());
        }
        var status = service.Status();
        Assert.Equal(["mcap", "stream", "stream", "vidx"], status.Files.Select(f => f.Kind).Order(StringComparer.Ordinal));
        Assert.All(status.Files, f => Assert.Equal("verified", f.State));
        Assert.True(File.Exists(front) && File.Exists(rear)); // no delete_after_upload
    }

    [Fact]
    public async Task An_interrupted_upload_of_a_large_stream_resumes_the_same_upload_from_the_depots_offset()
    {
        using var depot = DepotProcess.Start();
        var (mcap, vidx, front, rear) = Recording(frontSize: 3_000_000, rearSize: 20_000);
        var size = new FileInfo(front).Length;
        var options = Samples.Options(_recordings, depot.Url, _state) with { Bandwidth = 2_000_000, ChunkSize = 8 << 20 };
        long firstSent;
        await using (var first = new OffloadService(options))
        {
            first.Start();
            first.Now();
            // The .mcap and .vidx are ~45 KB: past a million bytes the stream is in its one PATCH.
            await Samples.WaitFor(() => first.BytesSent > 1_100_000, TimeSpan.FromSeconds(30), () => "a million bytes of the stream");
            firstSent = first.BytesSent;
        } // stopped in the middle of the stream's PATCH
        Assert.DoesNotContain(Path.GetFileName(front), depot.Verified().Keys);
        Assert.Contains(Path.GetFileName(mcap), depot.Verified().Keys);
        using (var journal = OffloadJournal.Open(Path.Combine(_state, "offload.journal"), out _))
        {
            var entry = journal.Entries[RecordingCatalog.KeyOf(_recordings, front)];
            Assert.Equal(RecordingFileKind.Stream, entry.Kind);
            Assert.NotNull(entry.Url);
        }

        await using var second = new OffloadService(options with { Bandwidth = 0 });
        second.Start();
        second.Now();
        await Samples.WaitFor(() => second.Status().Verified == 4, TimeSpan.FromSeconds(30), () => $"verification: {FaultInjectionTests.Describe(second.Status())}");
        Assert.Equal(1, depot.Creates(Path.GetFileName(front))); // the same upload, not a new one
        Assert.Equal(1, depot.Creates(Path.GetFileName(mcap)));
        AssertStoredBytes(depot, mcap, vidx, front, rear);
        var rearSize = new FileInfo(rear).Length;
        Assert.True(second.BytesSent <= size - 900_000 + rearSize, $"the second run sent {second.BytesSent} of {size} + {rearSize} bytes (the first sent {firstSent})");
    }

    [Fact]
    public async Task With_delete_after_upload_the_recording_leaves_only_after_all_four_files_are_verified_and_its_mcap_goes_last()
    {
        using var depot = DepotProcess.Start();
        var (mcap, vidx, front, rear) = Recording();
        var all = new[] { mcap, vidx, front, rear };
        var originals = all.ToDictionary(p => Path.GetFileName(p), File.ReadAllBytes, StringComparer.Ordinal);
        var deleted = new List<string>();
        var violations = new List<string>();
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with { DeleteAfterUpload = true });
        service.Deleting += (path, sha) =>
        {
            // Every file of the recording is verified by the depot before the first one goes.
            var verified = depot.Verified();
            lock (deleted)
            {
                foreach (var name in originals.Keys)
                    if (!verified.TryGetValue(name, out var v) || !File.ReadAllBytes(v.Path).AsSpan().SequenceEqual(originals[name]))
                        violations.Add($"{Path.GetFileName(path)} deleted while {name} was not verified");
                if (sha != Samples.Sha256(path)) violations.Add($"{Path.GetFileName(path)} deleted with hash {sha}");
                deleted.Add(Path.GetFileName(path));
            }
        };
        service.Start();
        service.Now();
        // The store removes each file, then tells the service, which journals the deletion (durably)
        // and only then counts it: a test that waits for the files to vanish can look between the
        // last File.Delete and that count. Deleted == 4 is the last step of the recording leaving.
        await Samples.WaitFor(() => service.Status().Deleted == 4, TimeSpan.FromSeconds(30), () => $"the recording to leave: {FaultInjectionTests.Describe(service.Status())}");

        Assert.All(all, p => Assert.False(File.Exists(p), $"{p} is still on disk"));
        lock (deleted)
        {
            Assert.Empty(violations);
            Assert.Equal(4, deleted.Count);
            Assert.Equal(Name + ".mcap", deleted[^1]);
        }
        using var journal = OffloadJournal.Open(Path.Combine(_state, "offload.journal"), out _);
        Assert.Empty(journal.Entries);
    }

    [Fact]
    public async Task A_recording_stays_whole_on_disk_while_one_of_its_streams_is_still_active()
    {
        using var depot = DepotProcess.Start();
        var (mcap, vidx, front, rearActive) = Recording(rearActive: true);
        var deleted = new List<string>();
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with { DeleteAfterUpload = true });
        service.Deleting += (path, _) => { lock (deleted) deleted.Add(Path.GetFileName(path)); };
        service.Start();
        service.Now();
        await Samples.WaitFor(() => service.Status() is { Verified: 3, State: "waiting" }, TimeSpan.FromSeconds(30),
            () => $"three verified files and the session over: {FaultInjectionTests.Describe(service.Status())}");
        Assert.Empty(deleted);
        Assert.True(File.Exists(mcap) && File.Exists(vidx) && File.Exists(front));
        Assert.DoesNotContain(depot.Events("create"), e => e["metadata"]!["filename"]!.GetValue<string>().Contains("camera_rear", StringComparison.Ordinal));

        // The stream is final now: it travels, then the whole recording leaves.
        var rear = rearActive[..^RecordingLayout.ActiveSuffix.Length];
        File.Move(rearActive, rear);
        var rearBytes = File.ReadAllBytes(rear);
        service.NotifyFinished(mcap);
        await Samples.WaitFor(() => service.Status().Pending == 1, TimeSpan.FromSeconds(10), () => "the rescan to find the stream");
        service.Now();
        await Samples.WaitFor(() => !File.Exists(mcap) && !File.Exists(rear), TimeSpan.FromSeconds(30), () => $"the recording to leave: {FaultInjectionTests.Describe(service.Status())}");
        Assert.True(File.ReadAllBytes(depot.Verified()[Path.GetFileName(rear)].Path).AsSpan().SequenceEqual(rearBytes));
        Assert.Equal(4, deleted.Count);
        Assert.Equal(Name + ".mcap", deleted[^1]);
        Assert.False(File.Exists(vidx) || File.Exists(front));
    }

    [Fact]
    public async Task Streams_of_a_recording_still_open_are_not_uploaded_until_its_MCAP_is_finished()
    {
        using var depot = DepotProcess.Start();
        var dir = Path.Combine(_recordings, "dev-1", "2026-11-27");
        // Open: .mcap.active and .h264.active.
        var done = Samples.Recording(_recordings, "done", 20_000, 1_000_000_000);
        var openActive = Samples.Recording(_recordings, "open", 20_000, 2_000_000_000) + RecordingLayout.ActiveSuffix;
        File.Move(openActive[..^RecordingLayout.ActiveSuffix.Length], openActive);
        Samples.Stream(openActive[..^RecordingLayout.ActiveSuffix.Length], "camera_front", "h264", 50_000, active: true);
        // Unfinished: the .mcap has no trailing magic yet, its stream is already named final.
        var unfinished = Samples.Recording(_recordings, "unfinished", 20_000, 3_000_000_000);
        var complete = File.ReadAllBytes(unfinished);
        File.WriteAllBytes(unfinished, complete.AsSpan(0, complete.Length - 100).ToArray());
        var unfinishedStream = Samples.Stream(unfinished, "camera_front", "h264", 50_000);
        // No .mcap at all (yet).
        var orphan = Path.Combine(dir, "nomcap.camera_front.h264");
        await File.WriteAllBytesAsync(orphan, new byte[1000]);

        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state));
        service.Start();
        Assert.Equal([RecordingCatalog.KeyOf(_recordings, done)], service.Status().Files.Select(f => f.File));
        service.Now();
        await Samples.WaitFor(() => service.Status() is { Verified: 1, State: "waiting" }, TimeSpan.FromSeconds(30),
            () => $"the finished recording and the session over: {FaultInjectionTests.Describe(service.Status())}");
        Assert.Equal(["done.mcap"], depot.Events("create").Select(e => e["metadata"]!["filename"]!.GetValue<string>()));

        // The MCAP gets its trailing magic: now it and its stream go.
        File.WriteAllBytes(unfinished, complete);
        service.NotifyFinished(unfinished);
        await Samples.WaitFor(() => service.Status().Pending == 2, TimeSpan.FromSeconds(10), () => "the rescan to find the finished recording");
        service.Now();
        await Samples.WaitFor(() => service.Status().Verified == 3, TimeSpan.FromSeconds(30), () => $"the finished recording's files: {FaultInjectionTests.Describe(service.Status())}");
        AssertStoredBytes(depot, unfinished, unfinishedStream);
        Assert.Equal(3, depot.Events("create").Count);
        Assert.True(File.Exists(orphan));
    }
}
