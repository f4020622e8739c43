using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Recorder.Ingest;

/// <summary>
/// Accepts producers on a Unix domain socket; each connection is one <see cref="McapProducerSession"/>.
/// The socket file is owner+group only. A stale socket file from an earlier run is replaced.
/// </summary>
public sealed class UnixSocketIngest : IAsyncDisposable
{
    private readonly IngestContext _context;
    private readonly IngestOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _sessions = new();
    private readonly object _lock = new();
    private readonly List<ProducerStats> _active = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _connections;
    private long _refused;

    public UnixSocketIngest(IngestContext context)
    {
        _context = context;
        _options = context.Options;
        _logger = context.Logger;
    }

    public long Connections => Interlocked.Read(ref _connections);
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Attachments, metadata and reserved channels kept or refused, by every session of the stage.</summary>
    public IngestCounters Counters => _options.Counters;

    public IReadOnlyList<ProducerStats> ActiveProducers
    {
        get { lock (_lock) return _active.ToArray(); }
    }

    public void Start()
    {
        var path = _options.SocketPath ?? throw new InvalidOperationException("no ingest socket configured");
        // A deep backlog: after a restart every producer reconnects at once.
        _listener = UnixSockets.Listen(path, _options.SocketMode, backlog: 1024);
        IngestLog.Listening(_logger, path);
        _acceptLoop = Task.Run(AcceptLoop);
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener!.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            var number = Interlocked.Increment(ref _connections);
            var task = Serve(connection, $"socket#{number}");
            lock (_lock)
            {
                _sessions.RemoveAll(t => t.IsCompleted);
                _sessions.Add(task);
            }
        }
    }

    private async Task Serve(Socket connection, string source)
    {
        var stats = new ProducerStats { Source = source };
        lock (_lock) _active.Add(stats);
        // "connected" is logged by the session at its first byte: a probe that sends nothing is no event.
        try
        {
            await ProducerSessions.RunAsync(async () =>
            {
                await using var stream = new NetworkStream(connection, ownsSocket: true);
                var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024));
                var session = new McapProducerSession(_context, stats);
                await session.RunAsync(reader, _stop.Token).ConfigureAwait(false);
            }, _context, stats).ConfigureAwait(false);
            if (stats.RefusedBecause is not null) Interlocked.Increment(ref _refused);
        }
        finally
        {
            lock (_lock) _active.Remove(stats);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Dispose();
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        Task[] sessions;
        lock (_lock) sessions = _sessions.ToArray();
        await Task.WhenAll(sessions).ConfigureAwait(false);
        if (_options.SocketPath is { } path && File.Exists(path)) File.Delete(path);
        _stop.Dispose();
    }
}
