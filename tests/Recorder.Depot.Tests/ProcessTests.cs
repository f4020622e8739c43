using System.Globalization;
using System.Text.Json;
using Recorder.Mcap.Tests;

namespace Recorder.Depot.Tests;

/// <summary>The depot as a real process, with real clients: tus-js-client, and a restart in the middle of an upload.</summary>
[Collection("depot-process")]
public sealed class ProcessTests
{
    private const string Name = "dev-a_20261127T080000Z_0001.mcap";

    [Fact]
    public async Task Tus_js_client_uploads_a_file_that_the_depot_verifies()
    {
        await using var depot = await TestDepot.StartAsync();
        var sample = Sample.Random(Name, 250_000, seed: 7);
        var file = Path.Combine(depot.Root, Name);
        await File.WriteAllBytesAsync(file, sample.Bytes);
        var metadata = JsonSerializer.Serialize(sample.Metadata().ToDictionary(m => m.Key, m => m.Value));
        var (code, output, error) = NodeInterop.Run("node", ["tus-upload.mjs", depot.Endpoint.ToString(), depot.TokenA, file, metadata, "100000"],
            NodeInterop.Directory, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, output + error);
        var result = JsonDocument.Parse(output).RootElement;
        Assert.Equal(sample.Sha256, result.GetProperty("sha256").GetString());
        Assert.Equal(sample.Bytes, await File.ReadAllBytesAsync(Path.Combine(depot.Storage, "dev-a", "2026-11-27", Name)));
        Assert.Contains(depot.Log.Lines, l => l.Contains("verified upload", StringComparison.Ordinal) && l.Contains("device dev-a", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tus_js_client_with_a_wrong_sha256_is_refused_with_460_and_nothing_is_kept()
    {
        await using var depot = await TestDepot.StartAsync();
        var sample = Sample.Random(Name, 50_000, seed: 8);
        var file = Path.Combine(depot.Root, Name);
        await File.WriteAllBytesAsync(file, sample.Bytes);
        var metadata = JsonSerializer.Serialize(sample.Metadata(sha256: new string('a', 64)).ToDictionary(m => m.Key, m => m.Value));
        var (code, output, error) = NodeInterop.Run("node", ["tus-upload.mjs", depot.Endpoint.ToString(), depot.TokenA, file, metadata],
            NodeInterop.Directory, TimeSpan.FromMinutes(2));
        Assert.True(code == 1, output + error);
        Assert.Equal(460, JsonDocument.Parse(output).RootElement.GetProperty("status").GetInt32());
        Assert.Empty(depot.StoredFiles());
    }

    [Fact]
    public async Task A_depot_killed_mid_upload_resumes_from_its_stored_bytes_and_verifies_after_restart()
    {
        var root = Directory.CreateTempSubdirectory("recorder-depot-proc-").FullName;
        try
        {
            var sample = Sample.Random(Name, 3_000_000, seed: 3);
            Uri upload;
            int port;
            using (var first = DepotProcess.Start(root))
            {
                port = first.Url.Port;
                var token = DepotProcess.AddToken(root, "dev-a");
                File.WriteAllText(Path.Combine(root, "token"), token);
                using var client = new HttpClient();
                client.DefaultRequestHeaders.Authorization = new("Bearer", token);
                upload = await Tus.CreateOk(client, first.Endpoint, sample);
                using (var patch = await Tus.Patch(client, upload, 0, sample.Bytes.AsMemory(0, 1_000_000))) Assert.Equal(204, (int)patch.StatusCode);
                // A second PATCH is in flight (half its bytes sent, the rest held back) when the depot dies.
                var hold = new TaskCompletionSource();
                using var request = Tus.Request(HttpMethod.Patch, upload);
                request.Headers.Add("Upload-Offset", "1000000");
                request.Content = new HeldContent(sample.Bytes.AsMemory(1_000_000), 1_000_000, hold.Task);
                var inFlight = client.SendAsync(request);
                while (true)
                {
                    using var head = await Tus.Head(client, upload);
                    if (Tus.Offset(head) >= 1_900_000) break;
                    await Task.Delay(10); // a real process receiving real bytes: poll its progress
                }
                first.Kill();
                hold.SetResult(); // the rest of the body now meets a dead connection
                await Assert.ThrowsAnyAsync<Exception>(() => inFlight.WaitAsync(TimeSpan.FromMinutes(1)));
            }
            Assert.False(File.Exists(Path.Combine(root, "store", "dev-a", "2026-11-27", Name)));
            using var second = DepotProcess.Start(root, port);
            using var again = new HttpClient();
            again.DefaultRequestHeaders.Authorization = new("Bearer", File.ReadAllText(Path.Combine(root, "token")));
            long offset;
            using (var head = await Tus.Head(again, upload))
            {
                Assert.Equal(200, (int)head.StatusCode);
                offset = Tus.Offset(head);
            }
            Assert.InRange(offset, 1_900_000, 2_000_000); // every byte the dead depot had stored is still there
            using var rest = await Tus.Patch(again, upload, offset, sample.Bytes.AsMemory((int)offset));
            Assert.Equal(204, (int)rest.StatusCode);
            Assert.Equal(sample.Sha256, Tus.Header(rest, "X-Ingest-Sha256"));
            Assert.Equal(sample.Bytes, await File.ReadAllBytesAsync(Path.Combine(root, "store", "dev-a", "2026-11-27", Name)));
            Assert.Contains($"hashed the {offset.ToString(CultureInfo.InvariantCulture)} stored bytes again", second.Output, StringComparison.Ordinal);
            Assert.Equal(0, second.Stop());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A PATCH body that sends its first part, then waits before sending the rest.</summary>
    internal sealed class HeldContent : HttpContent
    {
        private readonly ReadOnlyMemory<byte> _bytes;
        private readonly int _first;
        private readonly Task _release;

        public HeldContent(ReadOnlyMemory<byte> bytes, int first, Task release)
        {
            _bytes = bytes;
            _first = first;
            _release = release;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/offset+octet-stream");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(_bytes[.._first]);
            await stream.FlushAsync();
            await _release;
            await stream.WriteAsync(_bytes[_first..]);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}
