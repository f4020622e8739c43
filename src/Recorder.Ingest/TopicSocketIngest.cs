using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Recorder.Ingest;

/// <summary>
/// A Unix stream socket of one topic's own (<c>topics[].socket</c>), for writers that cannot speak
/// MCAP but can connect to a socket: <c>ffmpeg ... -f h264 unix:PATH</c>. One writer at a time, as
/// on a FIFO: a second connection while one is active is refused (logged) and closed, so two
/// cameras can never interleave into one elementary stream.
/// </summary>
public sealed class TopicSocketIngest : ITopicInput
{
    private readonly TopicInputOptions _input;
    private readonly IngestContext _context;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private Task _session = Task.CompletedTask;
    private long _sessions;

    public TopicSocketIngest(TopicInputOptions input, IngestContext context)
    {
        _input = input;
        _context = context;
        _logger = context.Logger;
    }

    public TopicInputOptions Options => _input;
    public long Sessions => Interlocked.Read(ref _sessions);
    public string? RefusedBecause { get; private set; }
    public ProducerStats? Current { get; private set; }

    /// <summary>Connections refused because another writer was active.</summary>
    public long RefusedBusy { get; private set; }

    public bool Start()
    {
        try
        {
            _listener = UnixSockets.Listen(_input.Path, _context.Options.SocketMode, backlog: 16);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            RefusedBecause = $"cannot listen on {_input.Path}: {e.Message}";
            IngestLog.FifoRefused(_logger, _input.Path, RefusedBecause);
            return false;
        }
        IngestLog.TopicSocketListening(_logger, _input.Path, _input.Topic, _input.Format);
        _acceptLoop = Task.Run(AcceptLoop);
        return true;
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
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || (e is SocketException && _stop.IsCancellationRequested))
            {
                break;
            }
            if (!_session.IsCompleted)
            {
                RefusedBusy++;
                IngestLog.TopicSocketBusy(_logger, _input.Path, _input.Topic, $"{Current?.Source} is still writing");
                connection.Dispose();
                continue;
            }
            var number = Interlocked.Increment(ref _sessions);
            _session = Serve(connection, $"socket:{_input.Path}#{number}");
        }
    }

    private async Task Serve(Socket connection, string source)
    {
        var stats = new ProducerStats { Source = source };
        Current = stats;
        // An MCAP session logs this itself at its first byte (a probe that sends nothing is no event).
        if (_input.Format != TopicInputFormat.Mcap) IngestLog.ProducerConnected(_logger, source);
        await ProducerSessions.RunAsync(async () =>
        {
            await using var stream = new NetworkStream(connection, ownsSocket: true);
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024));
            await TopicInputs.RunSessionAsync(_input, _context, stats, reader, _stop.Token).ConfigureAwait(false);
        }, _context, stats).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener?.Dispose();
        try
        {
            _acceptLoop?.Wait(TimeSpan.FromSeconds(10));
            _session.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Logged by the session.
        }
        if (File.Exists(_input.Path)) File.Delete(_input.Path);
        _stop.Dispose();
    }
}
