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

/// <summary>What the proxy does to one PATCH request of a <see cref="FaultSchedule"/>.</summary>
public enum RequestFaultKind
{
    /// <summary>Forward the head and <see cref="RequestFault.At"/> of the body, then close both sides.</summary>
    Cut,

    /// <summary>Forward the head and <see cref="RequestFault.At"/> of the body, then hold the rest back for the schedule's stall duration.</summary>
    Stall,

    /// <summary>Answer 503 itself (Connection: close) without forwarding anything of the request.</summary>
    Error503,
}

/// <summary>One fault: its kind and where in the body it strikes, as a fraction of the body (0 ≤ At &lt; 1).</summary>
public readonly record struct RequestFault(RequestFaultKind Kind, double At);

/// <summary>
/// A deterministic fault schedule: the n-th PATCH request through the proxy (1-based, in the order
/// the proxy sees their heads) gets the fault <c>Faults[n]</c>, or none. The kinds are shuffled and
/// the strike points drawn from a seeded random source once, when the schedule is built, so the same
/// seed gives the same faults however the uploads interleave; only which file a fault hits depends
/// on timing. Faults are spaced <paramref name="Spacing"/> PATCHes apart, so each upload recovers
/// (HEAD, resume) before the next fault.
/// </summary>
public sealed record FaultSchedule(IReadOnlyDictionary<long, RequestFault> Faults, TimeSpan StallDuration, int Spacing)
{
    public static FaultSchedule Build(int seed, int cuts, int stalls, int errors503, int spacing, TimeSpan stallDuration)
    {
        var random = new Random(seed);
        var kinds = Enumerable.Repeat(RequestFaultKind.Cut, cuts)
            .Concat(Enumerable.Repeat(RequestFaultKind.Stall, stalls))
            .Concat(Enumerable.Repeat(RequestFaultKind.Error503, errors503))
            .ToArray();
        random.Shuffle(kinds);
        var faults = new Dictionary<long, RequestFault>();
        for (var i = 0; i < kinds.Length; i++) faults[(long)(i + 1) * spacing] = new RequestFault(kinds[i], random.NextDouble() * 0.98);
        return new FaultSchedule(faults, stallDuration, spacing);
    }

    public int Count(RequestFaultKind kind) => Faults.Values.Count(f => f.Kind == kind);

    /// <summary>The ordinal of the last faulted PATCH: the run must see at least this many PATCHes for every fault to strike.</summary>
    public long LastOrdinal => Faults.Count == 0 ? 0 : Faults.Keys.Max();
}

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of the depot that breaks things: it cuts connections at a
/// random byte offset of the client's stream, stalls them, answers a connection's first request
/// with a 503 itself, or goes down altogether (connections refused) and comes back on the same
/// port. It counts the bytes the client sent through it, so tests can bound what resumption costs.
/// With a <see cref="FaultSchedule"/> it follows the HTTP/1.1 requests on each connection instead
/// and applies the schedule's fault to the n-th PATCH; nothing is left to chance.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private readonly int _upstreamPort;
    private readonly Random _random;
    private readonly FaultSchedule? _schedule;
    private long _patches;
    private long _faultedBodyBytes;
    private string? _error;
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

    /// <summary>A proxy that applies <paramref name="schedule"/> to the PATCH requests and leaves every other request alone.</summary>
    public FaultProxy(int upstreamPort, FaultSchedule schedule) : this(upstreamPort, FaultPlan.None) => _schedule = schedule;

    /// <summary>A request the proxy could not follow (schedule mode); null when all went well.</summary>
    public string? Error => Volatile.Read(ref _error);

    /// <summary>PATCH requests seen (schedule mode).</summary>
    public long Patches => Interlocked.Read(ref _patches);

    /// <summary>The sum of the Content-Length of the PATCH requests a fault struck (schedule mode).</summary>
    public long FaultedBodyBytes => Interlocked.Read(ref _faultedBodyBytes);

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
        var up = _schedule is null ? Pump(client, upstream, cutAt, stallAt, token) : PumpRequests(client, upstream, _schedule, token);
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
                    await Task.Delay(Plan.StallDuration, token); // the fault injected is a real network stall
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

    /// <summary>
    /// Client to depot in schedule mode: reads each request head (up to the blank line), finds its
    /// method and Content-Length, and forwards head and body, striking the scheduled fault of the
    /// n-th PATCH. HttpClient does not pipeline, so a new head means the previous exchange is over.
    /// </summary>
    private async Task PumpRequests(Socket from, Socket to, FaultSchedule schedule, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        var head = new List<byte>(1024);
        long bodyLeft = 0, bodyForwarded = 0, strikeAt = 0;
        RequestFault? fault = null;
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
                Interlocked.Add(ref _bytesFromClient, n);
                var at = 0;
                while (at < n)
                {
                    if (bodyLeft > 0)
                    {
                        var take = (int)Math.Min(bodyLeft, n - at);
                        if (fault is { } f && bodyForwarded + take > strikeAt)
                        {
                            var before = (int)(strikeAt - bodyForwarded);
                            if (before > 0) await to.SendAsync(buffer.AsMemory(at, before), token);
                            at += before;
                            bodyForwarded += before;
                            bodyLeft -= before;
                            fault = null;
                            if (f.Kind == RequestFaultKind.Cut)
                            {
                                Interlocked.Increment(ref Cuts);
                                return; // Serve closes both sides
                            }
                            Interlocked.Increment(ref Stalls);
                            await Task.Delay(schedule.StallDuration, token); // the fault injected is a real network stall
                            continue;
                        }
                        await to.SendAsync(buffer.AsMemory(at, take), token);
                        at += take;
                        bodyForwarded += take;
                        bodyLeft -= take;
                        continue;
                    }
                    head.Add(buffer[at++]);
                    if (!EndsWithBlankLine(head)) continue;
                    var (method, length) = ParseHead(head);
                    fault = null;
                    if (method == "PATCH")
                    {
                        var ordinal = Interlocked.Increment(ref _patches);
                        if (schedule.Faults.TryGetValue(ordinal, out var scheduled))
                        {
                            fault = scheduled;
                            Interlocked.Add(ref _faultedBodyBytes, length);
                        }
                    }
                    if (fault is { Kind: RequestFaultKind.Error503 })
                    {
                        Interlocked.Increment(ref Injected503);
                        // Nothing of this request reaches the depot.
                        await from.SendAsync("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\nConnection: close\r\n\r\nunavailable\n"u8.ToArray(), token);
                        from.Shutdown(SocketShutdown.Send);
                        // Read (and drop) what the client still sends until it closes: closing with unread
                        // bytes would reset the connection and could destroy the 503 before the client reads it.
                        int drained;
                        while ((drained = await from.ReceiveAsync(buffer, token)) > 0) Interlocked.Add(ref _bytesFromClient, drained);
                        return;
                    }
                    await to.SendAsync(head.ToArray(), token);
                    head.Clear();
                    bodyLeft = length;
                    bodyForwarded = 0;
                    strikeAt = fault is { } g ? Math.Min((long)(g.At * length), Math.Max(length - 1, 0)) : long.MaxValue;
                    if (length == 0 && fault is { Kind: RequestFaultKind.Cut })
                    {
                        Interlocked.Increment(ref Cuts);
                        return;
                    }
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            Interlocked.CompareExchange(ref _error, e.Message, null);
        }
    }

    private static bool EndsWithBlankLine(List<byte> head) =>
        head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n';

    private static (string Method, long ContentLength) ParseHead(List<byte> head)
    {
        var text = Encoding.Latin1.GetString(head.ToArray());
        var method = text[..text.IndexOf(' ', StringComparison.Ordinal)];
        long length = 0;
        foreach (var line in text.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                length = long.Parse(line.AsSpan("Content-Length:".Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            else if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException("the proxy follows Content-Length bodies only; the client sent a chunked one");
        }
        return (method, length);
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
            await Task.Delay(50, token); // real sockets: the client reads the 503 before the connection closes
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
