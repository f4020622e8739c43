using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Recorder.Offload.Tests;

/// <summary>What the proxy does to connections: each fault is drawn per connection from a seeded random source.</summary>
public sealed record FaultPlan(
    double CutProbability = 0,
    long MaxCutOffset = 4 << 20,
    double StallProbability = 0,
    TimeSpan StallDuration = default,
    double Error503Probability = 0,
    int MaxFaults = int.MaxValue)
{
    public static FaultPlan None { get; } = new();
}

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of the depot that breaks things: it cuts connections at a
/// random byte offset of the client's stream, stalls them, answers a connection's first request
/// with a 503 itself, or goes down altogether (connections refused) and comes back on the same
/// port. It counts the bytes the client sent through it, so tests can bound what resumption costs.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private readonly int _upstreamPort;
    private readonly Random _random;
    private readonly object _lock = new();
    private readonly List<Socket> _live = new();
    private Socket? _listener;
    private CancellationTokenSource _stop = new();
    private long _bytesFromClient;
    private int _faults;

    public FaultProxy(int upstreamPort, FaultPlan plan, int seed = 42)
    {
        _upstreamPort = upstreamPort;
        Plan = plan;
        _random = new Random(seed);
        Port = Listen(0);
    }

    public FaultPlan Plan { get; set; }
    public int Port { get; }
    public long BytesFromClient => Interlocked.Read(ref _bytesFromClient);
    public int Connections;
    public int Cuts;
    public int Stalls;
    public int Injected503;
    public bool IsDown => _listener is null;

    /// <summary>The same URL, through the proxy.</summary>
    public Uri Through(Uri depot) => new UriBuilder(depot) { Port = Port }.Uri;

    private int Listen(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        // A modest receive window bounds what a cut connection can have swallowed.
        listener.ReceiveBufferSize = 128 * 1024;
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(64);
        _listener = listener;
        var token = _stop.Token;
        _ = Task.Run(() => AcceptLoop(listener, token));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>Goes away: the listener closes (connections refused) and every live connection is cut.</summary>
    public void Down()
    {
        lock (_lock)
        {
            _stop.Cancel();
            _listener?.Dispose();
            _listener = null;
            foreach (var s in _live) s.Dispose();
            _live.Clear();
        }
    }

    /// <summary>Comes back on the same port.</summary>
    public void Up()
    {
        lock (_lock)
        {
            if (_listener is not null) return;
            _stop.Dispose();
            _stop = new CancellationTokenSource();
            Listen(Port);
        }
    }

    private async Task AcceptLoop(Socket listener, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            Interlocked.Increment(ref Connections);
            _ = Task.Run(() => Serve(client, token));
        }
    }

    private (bool Inject503, long CutAt, long StallAt) Draw()
    {
        lock (_lock)
        {
            var plan = Plan;
            if (_faults >= plan.MaxFaults) return (false, long.MaxValue, long.MaxValue);
            var inject = _random.NextDouble() < plan.Error503Probability;
            var cut = !inject && _random.NextDouble() < plan.CutProbability ? _random.NextInt64(1, plan.MaxCutOffset) : long.MaxValue;
            var stall = !inject && _random.NextDouble() < plan.StallProbability ? _random.NextInt64(0, plan.MaxCutOffset) : long.MaxValue;
            if (inject || cut != long.MaxValue || stall != long.MaxValue) _faults++;
            return (inject, cut, stall);
        }
    }

    private async Task Serve(Socket client, CancellationToken token)
    {
        if (!Track(client, token)) return;
        var (inject, cutAt, stallAt) = Draw();
        if (inject)
        {
            await Answer503(client, token);
            return;
        }
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (!Track(upstream, token))
        {
            Close(client);
            return;
        }
        try
        {
            await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _upstreamPort), token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Close(client, upstream);
            return;
        }
        var up = Pump(client, upstream, cutAt, stallAt, token);
        var down = Pump(upstream, client, long.MaxValue, long.MaxValue, token, countClient: false);
        await Task.WhenAny(up, down);
        Close(client, upstream);
        await Task.WhenAll(up, down);
    }

    private async Task Pump(Socket from, Socket to, long cutAt, long stallAt, CancellationToken token, bool countClient = true)
    {
        var buffer = new byte[64 * 1024];
        long forwarded = 0;
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, token);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                if (countClient) Interlocked.Add(ref _bytesFromClient, n);
                var send = n;
                if (forwarded + n >= stallAt)
                {
                    Interlocked.Increment(ref Stalls);
                    stallAt = long.MaxValue;
                    await Task.Delay(Plan.StallDuration, token);
                }
                if (forwarded + n >= cutAt) send = (int)(cutAt - forwarded);
                if (send > 0) await to.SendAsync(buffer.AsMemory(0, send), token);
                forwarded += send;
                if (forwarded >= cutAt)
                {
                    Interlocked.Increment(ref Cuts);
                    return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private async Task Answer503(Socket client, CancellationToken token)
    {
        var buffer = new byte[16 * 1024];
        var head = new StringBuilder();
        try
        {
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await client.ReceiveAsync(buffer, token);
                if (n == 0) break;
                Interlocked.Add(ref _bytesFromClient, n);
                head.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
            Interlocked.Increment(ref Injected503);
            await client.SendAsync("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\nConnection: close\r\n\r\nunavailable\n"u8.ToArray(), token);
            client.Shutdown(SocketShutdown.Send);
            await Task.Delay(50, token);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        Close(client);
    }

    /// <summary>Registers a live socket, unless the proxy went down meanwhile (then it is closed at once).</summary>
    private bool Track(Socket s, CancellationToken token)
    {
        lock (_lock)
        {
            if (token.IsCancellationRequested)
            {
                s.Dispose();
                return false;
            }
            _live.Add(s);
            return true;
        }
    }

    private void Close(params Socket[] sockets)
    {
        lock (_lock)
            foreach (var s in sockets)
            {
                _live.Remove(s);
                s.Dispose();
            }
    }

    public void Dispose() => Down();
}
