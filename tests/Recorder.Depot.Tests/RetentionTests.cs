using Recorder.Depot.Config;
using Recorder.Depot.Operations;
using Microsoft.Extensions.DependencyInjection;

namespace Recorder.Depot.Tests;

/// <summary>storage.keep_for: verified recordings are removed by arrival time on the depot's (fake) clock, as whole groups.</summary>
public sealed class RetentionTests
{
    private const string First = "dev-a_20261127T080000Z_0001";
    private const string Second = "dev-a_20261127T090000Z_0002";

    // The sweeps are run by the tests themselves, never by the timer.
    private static DepotSettings KeepFor(DepotSettings s, TimeSpan? keepFor) => s with
    {
        Storage = s.Storage with { KeepFor = keepFor },
        Uploads = s.Uploads with { SweepInterval = DepotConfigLoader.MaxSweepInterval },
    };

    [Fact]
    public async Task A_recording_group_is_removed_once_its_newest_file_arrived_keep_for_ago()
    {
        await using var depot = await TestDepot.StartAsync(s => KeepFor(s, TimeSpan.FromDays(30)));
        var retention = depot.App.Services.GetRequiredService<RecordingRetention>();
        using var client = depot.Client(depot.TokenA);
        // Day 0: the first recording's .mcap; day 10: its .vidx (a late companion) and the second recording.
        await Upload(client, depot, Sample.Random(First + ".mcap", 5000, seed: 1));
        depot.Time.Advance(TimeSpan.FromDays(10));
        await Upload(client, depot, Sample.Random(First + ".vidx", 300, seed: 2, recording: First + ".mcap"));
        await Upload(client, depot, Sample.Random(Second + ".mcap", 4000, seed: 3));
        depot.Time.Advance(TimeSpan.FromDays(15));
        await Upload(client, depot, Sample.Random(Second + ".cam_front.h264", 7000, seed: 4, recording: Second + ".mcap"));
        var day = Path.Combine(depot.Storage, "dev-a", "2026-11-27");
        Assert.Equal(4, Directory.EnumerateFiles(day).Count());

        // Day 30: the first .mcap is 30 days old, but its .vidx only 20: the group stays whole.
        depot.Time.Advance(TimeSpan.FromDays(5));
        Assert.Equal(0, await retention.SweepAsync(CancellationToken.None));
        Assert.Equal(4, Directory.EnumerateFiles(day).Count());

        // Day 40, one second short of the .vidx's 30 days: still there; at 30 days: the first group goes.
        depot.Time.Advance(TimeSpan.FromDays(10) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await retention.SweepAsync(CancellationToken.None));
        depot.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await retention.SweepAsync(CancellationToken.None));
        Assert.Equal([Second + ".cam_front.h264", Second + ".mcap"], Directory.EnumerateFiles(day).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains(depot.Log.Lines, l => l.Contains($"retention: removed recording dev-a/2026-11-27/{First} (2 files)", StringComparison.Ordinal));

        // Day 55: the second group's stream is 30 days old; the day directory goes with its last file.
        depot.Time.Advance(TimeSpan.FromDays(15));
        Assert.Equal(1, await retention.SweepAsync(CancellationToken.None));
        Assert.False(Directory.Exists(day));
        var metrics = await client.GetStringAsync(new Uri(depot.App.Url, "/metrics"));
        Assert.Contains("recorder_depot_retention_recordings_removed_total 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("recorder_depot_retention_files_removed_total 4\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Uploads_in_progress_are_not_retentions_business()
    {
        await using var depot = await TestDepot.StartAsync(s => KeepFor(s, TimeSpan.FromHours(1)));
        var retention = depot.App.Services.GetRequiredService<RecordingRetention>();
        using var client = depot.Client(depot.TokenA);
        var sample = Sample.Random(First + ".mcap", 5000);
        var upload = await Tus.CreateOk(client, depot.Endpoint, sample);
        using (var patch = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 2000))) Assert.Equal(204, (int)patch.StatusCode);
        depot.Time.Advance(TimeSpan.FromDays(2));
        Assert.Equal(0, await retention.SweepAsync(CancellationToken.None));
        using (var head = await Tus.Head(client, upload)) Assert.Equal(2000, Tus.Offset(head));
    }

    [Fact]
    public async Task Forever_is_the_default_and_keeps_everything()
    {
        Assert.Null(new DepotSettings().Storage.KeepFor);
        await using var depot = await TestDepot.StartAsync(s => KeepFor(s, null));
        var retention = depot.App.Services.GetRequiredService<RecordingRetention>();
        using var client = depot.Client(depot.TokenA);
        await Upload(client, depot, Sample.Random(First + ".mcap", 1000));
        depot.Time.Advance(TimeSpan.FromDays(3650));
        Assert.Equal(0, await retention.SweepAsync(CancellationToken.None));
        Assert.True(File.Exists(Path.Combine(depot.Storage, "dev-a", "2026-11-27", First + ".mcap")));
    }

    [Theory]
    [InlineData("storage: { keep_for: forever }\n", null)]
    [InlineData("storage: { keep_for: 2160h }\n", 2160.0)]
    public void Keep_for_is_a_duration_or_forever(string yaml, double? hours)
    {
        var result = DepotConfigLoader.LoadFromText(yaml, "depot.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(hours, result.Settings!.Storage.KeepFor?.TotalHours);
    }

    [Theory]
    [InlineData("storage: { keep_for: 0s }\n", "depot.yaml:1:22: storage.keep_for must be more than 0, or forever")]
    [InlineData("storage: { keep_for: always }\n", "depot.yaml:1:22: storage.keep_for: expected a duration like 500ms, 1s or 10m, got 'always'")]
    public void A_bad_keep_for_is_an_error_where_it_stands(string yaml, string error)
    {
        var result = DepotConfigLoader.LoadFromText(yaml, "depot.yaml");
        Assert.Equal(error, Assert.Single(result.Errors).ToString());
    }

    private static async Task Upload(HttpClient client, TestDepot depot, Sample sample)
    {
        var upload = await Tus.CreateOk(client, depot.Endpoint, sample);
        using var patch = await Tus.Patch(client, upload, 0, sample.Bytes);
        Assert.Equal(sample.Sha256, Tus.Header(patch, "X-Ingest-Sha256"));
    }
}
