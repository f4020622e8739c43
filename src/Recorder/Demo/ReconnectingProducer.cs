using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;

namespace Recorder.Demo;

/// <summary>
/// A producer's MCAP stream into the ingest socket that survives a daemon restart (an upgrade, a
/// crash): when a write fails the connection is dropped with a clear cause ("daemon went away;
/// reconnecting"), and the next messages try to connect again, at once and then no more often
/// than a doubling backoff (<see cref="InitialBackoff"/> to <see cref="MaxBackoff"/>, measured on
/// the <see cref="TimeProvider"/>). A new connection is a new stream: magic, Header, then every
/// schema and channel declared so far, under the same ids. Messages that could not be handed to any
/// connection are not buffered: they are counted (<see cref="Lost"/>) and reported at the reconnect.
/// <para>Messages are written one record at a time and flushed (no chunks), so what the daemon has
/// received is what it records; a message the old daemon had received but not yet written is lost
/// with it, and the producer cannot know (see "Producers across a daemon restart" in the README).</para>
/// </summary>
public sealed partial class ReconnectingProducer : IDisposable
{
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly string _socketPath;
    private readonly string _library;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<Schema> _schemas = new();
    private readonly List<Channel> _channels = new();
    private Socket? _socket;
    private NetworkStream? _stream;
    private McapWriter? _writer;
    private TimeSpan _backoff = TimeSpan.Zero;
    private long _nextAttempt;
    private long _lostAt;
    private ulong _lostSinceLoss;

    private ReconnectingProducer(string socketPath, string library, TimeProvider time, ILogger logger)
    {
        _socketPath = socketPath;
        _library = library;
        _time = time;
        _logger = logger;
    }

    /// <summary>Messages handed to a connection.</summary>
    public ulong Sent { get; private set; }

    /// <summary>Messages written while no daemon could be reached: not sent, counted.</summary>
    public ulong Lost { get; private set; }

    public int Reconnects { get; private set; }

    public bool IsConnected => _writer is not null;

    /// <summary>
    /// The first connection: retries <paramref name="attempts"/> times, <see cref="InitialBackoff"/>
    /// apart (a daemon that is still starting), then throws the last <see cref="SocketException"/>.
    /// </summary>
    public static async Task<ReconnectingProducer> ConnectAsync(string socketPath, string library, ILogger logger, CancellationToken cancellationToken,
        int attempts = 50, TimeProvider? time = null)
    {
        var producer = new ReconnectingProducer(socketPath, library, time ?? TimeProvider.System, logger);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                producer.Open();
                return producer;
            }
            catch (SocketException) when (attempt < attempts)
            {
                await Task.Delay(InitialBackoff, producer._time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public ushort AddSchema(string name, string encoding, byte[] data)
    {
        var schema = new Schema((ushort)(_schemas.Count + 1), name, encoding, data);
        _schemas.Add(schema);
        Declare(w => w.AddSchema(schema));
        return schema.Id;
    }

    public ushort AddChannel(string topic, string messageEncoding, ushort schemaId = 0, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var channel = new Channel((ushort)(_channels.Count + 1), schemaId, topic, messageEncoding, metadata ?? Channel.NoMetadata);
        _channels.Add(channel);
        Declare(w => w.AddChannel(channel));
        return channel.Id;
    }

    private void Declare(Action<McapWriter> declare)
    {
        if (_writer is null) return; // declared on the next connection
        try
        {
            declare(_writer);
        }
        catch (Exception e) when (IsConnectionLoss(e))
        {
            Drop(e);
        }
    }

    /// <summary>Writes and flushes one message. False when no daemon could be reached: the message is counted in <see cref="Lost"/>.</summary>
    public bool Send(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        // Twice at most: a connection found dead by this write is replaced at once (the daemon may be back already).
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (_writer is null && !TryReconnect()) break;
            try
            {
                _writer!.WriteMessage(channelId, sequence, logTime, publishTime, data);
                _writer.Flush();
                Sent++;
                return true;
            }
            catch (Exception e) when (IsConnectionLoss(e))
            {
                Drop(e);
            }
        }
        Lost++;
        _lostSinceLoss++;
        return false;
    }

    /// <summary>Ends the stream properly (DataEnd, footer) when connected. The counts stay readable.</summary>
    public void Finish()
    {
        if (_writer is null) return;
        try
        {
            _writer.Finish();
        }
        catch (Exception e) when (IsConnectionLoss(e))
        {
            Drop(e);
        }
        Close();
    }

    private static bool IsConnectionLoss(Exception e) => e is IOException or SocketException or McapException or ObjectDisposedException;

    private void Open()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // A Unix socket connects at once or fails at once (ENOENT, ECONNREFUSED): no timeout needed.
            socket.Connect(new UnixDomainSocketEndPoint(_socketPath));
            var stream = new NetworkStream(socket, ownsSocket: true);
            var writer = new McapWriter(stream, new McapWriterOptions
            {
                Library = _library,
                UseChunks = false, // record by record: the daemon sees each message when it is flushed
                EnableSummary = false,
                OutputBufferSize = 4096,
            }, leaveOpen: true);
            foreach (var schema in _schemas) writer.AddSchema(schema);
            foreach (var channel in _channels) writer.AddChannel(channel);
            (_socket, _stream, _writer) = (socket, stream, writer);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private bool TryReconnect()
    {
        if (_time.GetTimestamp() < _nextAttempt) return false;
        try
        {
            Open();
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // Not there yet: wait longer before the next try (never more than MaxBackoff).
            _backoff = _backoff == TimeSpan.Zero ? InitialBackoff : TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks));
            _nextAttempt = _time.GetTimestamp() + (long)(_backoff.TotalSeconds * _time.TimestampFrequency);
            return false;
        }
        Reconnects++;
        Reconnected(_logger, _socketPath, _lostSinceLoss, _time.GetElapsedTime(_lostAt).TotalSeconds);
        _backoff = TimeSpan.Zero;
        _nextAttempt = 0;
        return true;
    }

    /// <summary>The connection is gone: say why, and start counting what cannot be sent.</summary>
    private void Drop(Exception cause)
    {
        WentAway(_logger, _socketPath, cause.InnerException?.Message ?? cause.Message);
        Close();
        _lostAt = _time.GetTimestamp();
        _lostSinceLoss = 0;
    }

    private void Close()
    {
        try
        {
            _writer?.Abort();
        }
        catch (Exception e) when (IsConnectionLoss(e))
        {
            // Already gone.
        }
        _writer?.Dispose();
        _stream?.Dispose();
        _socket?.Dispose();
        (_writer, _stream, _socket) = (null, null, null);
    }

    public void Dispose() => Close();

    [LoggerMessage(600, LogLevel.Warning, "The daemon went away ({Cause}); reconnecting to {Path}, counting the messages that cannot be sent")]
    private static partial void WentAway(ILogger logger, string path, string cause);

    [LoggerMessage(601, LogLevel.Warning, "Reconnected to {Path}: {Lost} messages were not sent while the daemon was away ({Seconds:0.0} s)")]
    private static partial void Reconnected(ILogger logger, string path, ulong lost, double seconds);
}
