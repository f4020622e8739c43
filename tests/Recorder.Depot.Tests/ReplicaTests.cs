using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Recorder.Depot.Tests.Fixtures;
using Recorder.Offload;

namespace Recorder.Depot.Tests;

/// <summary>
/// Two recorder-depot processes on S3 + PostgreSQL behind one address (a round-robin TCP proxy):
/// any replica continues any upload, and when one is SIGKILLed mid-PATCH the other carries on.
/// </summary>
[Collection(SharedStorageCollection.Name)]
public sealed class ReplicaTests(S3Server s3, PostgresServer postgres)
{
    private const string Name = "dev-a_20261127T080000Z_0001.mcap";

    [Fact]
    public async Task An_upload_alternating_between_two_replicas_continues_on_the_survivor_when_one_is_killed_mid_patch()
    {
        var shared = new SharedStorage(s3, postgres);
        var root = Directory.CreateTempSubdirectory("recorder-depot-replicas-").FullName;
        var s3Settings = shared.S3Settings();
        var storage = string.Create(CultureInfo.InvariantCulture,
            $", s3: {{ endpoint: \"{s3Settings.Endpoint}\", bucket: {s3Settings.Bucket}, region: {s3Settings.Region}, access_key: {s3Settings.AccessKey}, secret_key: {s3Settings.SecretKey}, prefix: {s3Settings.Prefix}, part_size: 5MiB }}");
        var state = $"state: {{ postgres: \"{postgres.CreateDatabase("replicas")}\" }}";
        DepotProcess[] replicas = [];
        try
        {
            replicas = [DepotProcess.Start(root, 0, storage, state, "depot"), DepotProcess.Start(root, 0, storage, state, "depot2")];
            var token = DepotProcess.AddToken(root, "dev-a");
            using var proxy = new RoundRobinProxy(replicas.Select(r => r.Url.Port).ToArray());

            var bytes = new byte[23 << 20]; // 4 full 5 MiB parts and a short last one
            new Random(11).NextBytes(bytes);
            var file = Path.Combine(root, Name);
            await File.WriteAllBytesAsync(file, bytes);
            var sample = new Sample(Name, bytes, "dev-a", Name);

            // A new connection per request, so the proxy sends each request to the next replica.
            using var tus = new TusClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }, new Uri($"http://127.0.0.1:{proxy.Port}/files/"),
                () => token, TimeSpan.FromSeconds(30), disposeHandler: true);
            var upload = (await tus.CreateAsync(bytes.Length, sample.Metadata(), CancellationToken.None)).Url;
            const int chunk = 3 << 20; // PATCHes end inside parts: the next replica reads the incomplete part back
            long offset = 0;
            string? verified = null;
            var killed = -1;
            long killedAt = 0;
            var failures = 0;
            while (verified is null)
            {
                var count = Math.Min(chunk, bytes.Length - offset);
                var start = offset;
                var connection = proxy.Forwarded + 1; // this request's connection: a new one per request
                long sent = 0;
                try
                {
                    var result = await tus.PatchAsync(upload, file, offset, count, block =>
                    {
                        sent += block;
                        // Mid-upload and mid-PATCH (a MiB into this request's body): SIGKILL the replica serving it.
                        if (killed < 0 && start >= 9 << 20 && sent >= 1 << 20)
                        {
                            // The bytes may still sit in the kernel's buffers while the proxy picks a replica: wait for its choice.
                            Assert.True(proxy.WaitForForwarded(connection, TimeSpan.FromSeconds(60)), "the proxy did not forward the PATCH");
                            killed = proxy.BackendOf(connection);
                            killedAt = start;
                            replicas[killed].Kill();
                        }
                    }, CancellationToken.None);
                    Assert.True(result.Offset > offset, $"PATCH at {offset} made no progress");
                    offset = result.Offset;
                    verified = result.VerifiedSha256;
                }
                catch (TusException e)
                {
                    // The killed replica's request is cut; the survivor may answer 423 for a moment,
                    // until PostgreSQL has ended the dead replica's session (and its lock).
                    Assert.True(++failures <= 20, $"too many failed PATCHes; last: {e.Message}");
                    if (e.Status == HttpStatusCode.Locked) await Task.Delay(50); // real processes: PostgreSQL notices the closed socket on its own schedule
                    offset = (await tus.HeadAsync(upload, CancellationToken.None)).Offset;
                }
            }

            Assert.Equal(sample.Sha256, verified);
            Assert.True(killed >= 0, "no replica was killed: the round is empty");
            var survivor = 1 - killed;
            Assert.True(proxy.ConnectionsTo[killed] > 0 && proxy.ConnectionsTo[survivor] > 0, "the requests did not alternate between the replicas");
            Assert.True(proxy.ConnectionsAfterKill(survivor) > 0, "the survivor served nothing after the kill");
            Assert.True(failures >= 1, "the kill cut no request");
            using (var head = await new HttpClient().SendAsync(HeadRequest(upload, token))) Assert.Equal(sample.Sha256, head.Headers.GetValues("X-Ingest-Sha256").Single());

            using var client = shared.Client();
            var keys = new List<string>();
            await foreach (var (key, _) in client.ListAsync(s3Settings.Prefix, CancellationToken.None)) keys.Add(key[s3Settings.Prefix.Length..]);
            var stored = Assert.Single(keys); // the verified file only: no incomplete part left behind
            Assert.EndsWith("/" + Name, stored, StringComparison.Ordinal);
            Assert.Equal(bytes, await client.GetObjectAsync(s3Settings.Prefix + stored, CancellationToken.None));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replicas: {bytes.Length} B verified through 2 replicas, replica {killed} SIGKILLed in the PATCH at {killedAt}, {failures} failed requests, connections {proxy.ConnectionsTo[0]}/{proxy.ConnectionsTo[1]}"));
        }
        finally
        {
            foreach (var r in replicas) r.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    private static HttpRequestMessage HeadRequest(Uri upload, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Head, upload);
        request.Headers.Add("Tus-Resumable", "1.0.0");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return request;
    }
}

/// <summary>
/// A TCP proxy on 127.0.0.1 that sends each new connection to the next backend in turn, skipping
/// one that refuses (a dead replica), as a plain L4 load balancer does.
/// </summary>
public sealed class RoundRobinProxy : IDisposable
{
    private readonly int[] _ports;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly int[] _connections;
    private readonly int[] _afterKill;
    private int _next;
    private readonly Task _accepting;

    public RoundRobinProxy(int[] ports)
    {
        _ports = ports;
        _connections = new int[ports.Length];
        _afterKill = new int[ports.Length];
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections forwarded to each backend.</summary>
    public IReadOnlyList<int> ConnectionsTo => _connections;

    private readonly List<int> _backendOf = [];

    /// <summary>Connections forwarded so far (to any backend).</summary>
    public int Forwarded
    {
        get { lock (_backendOf) return _backendOf.Count; }
    }

    /// <summary>The backend the <paramref name="connection"/>-th forwarded connection (1-based) went to.</summary>
    public int BackendOf(int connection)
    {
        lock (_backendOf) return _backendOf[connection - 1];
    }

    /// <summary>Waits until <paramref name="count"/> connections have been forwarded.</summary>
    public bool WaitForForwarded(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_backendOf)
        {
            while (_backendOf.Count < count)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_backendOf, left)) return _backendOf.Count >= count;
            }
            return true;
        }
    }

    private bool _anyRefused;

    /// <summary>Connections forwarded to <paramref name="backend"/> after some backend first refused a connection.</summary>
    public int ConnectionsAfterKill(int backend) => Volatile.Read(ref _afterKill[backend]);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_pumps) _pumps.Add(ForwardAsync(client));
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        using (client)
        {
            TcpClient? backend = null;
            var chosen = -1;
            for (var tries = 0; tries < _ports.Length && backend is null; tries++)
            {
                var index = (int)((uint)Interlocked.Increment(ref _next) % (uint)_ports.Length);
                var candidate = new TcpClient();
                try
                {
                    await candidate.ConnectAsync(IPAddress.Loopback, _ports[index], _stop.Token);
                    backend = candidate;
                    chosen = index;
                }
                catch (SocketException)
                {
                    candidate.Dispose();
                    _anyRefused = true;
                }
            }
            if (backend is null) return;
            using (backend)
            {
                Interlocked.Increment(ref _connections[chosen]);
                lock (_backendOf)
                {
                    _backendOf.Add(chosen);
                    Monitor.PulseAll(_backendOf);
                }
                if (_anyRefused) Interlocked.Increment(ref _afterKill[chosen]);
                var a = client.GetStream();
                var b = backend.GetStream();
                var up = Pump(a, b);
                var down = Pump(b, a);
                await Task.WhenAny(up, down);
                // One side ended: end both (a cut stays a cut).
                client.Client.Close();
                backend.Client.Close();
                await Task.WhenAll(up, down);
            }
        }
    }

    private async Task Pump(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[81920];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _stop.Token);
                if (n == 0) return;
                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        Task[] pumps;
        lock (_pumps) pumps = [.. _pumps];
        try
        {
            Task.WaitAll([_accepting, .. pumps], TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }
}
