using System.IO.Pipelines;
using Microsoft.Extensions.Logging;

namespace Recorder.Ingest;

/// <summary>
/// Reads one FIFO declared for a topic. The FIFO is created when missing. Each writer that opens it
/// is one session (MCAP, JSON lines or Annex B video); when the writer goes away the FIFO is reopened for the next
/// (an MCAP writer's stream ends its session at its footer already, so the next stream is a session of its own).
/// A dedicated thread polls with a timeout, so a FIFO nobody ever opens never blocks shutdown.
/// </summary>
public sealed class FifoIngest : ITopicInput
{
    private readonly TopicInputOptions _fifo;
    private readonly IngestContext _context;
    private readonly IngestOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _sessions;
    private int _disposed;

    public FifoIngest(TopicInputOptions fifo, IngestContext context)
    {
        _fifo = fifo;
        _context = context;
        _options = context.Options;
        _logger = context.Logger;
        _thread = new Thread(Run) { Name = "fifo " + fifo.Topic, IsBackground = true };
    }

    public TopicInputOptions Options => _fifo;

    public long Sessions => Interlocked.Read(ref _sessions);

    /// <summary>Why the input is not running, when it is not.</summary>
    public string? RefusedBecause { get; private set; }

    public ProducerStats? Current { get; private set; }

    /// <summary>Creates the FIFO and starts reading. Returns false (with <see cref="RefusedBecause"/>) when the input cannot run.</summary>
    public bool Start()
    {
        RefusedBecause = NativeFifo.Ensure(_fifo.Path, UnixSockets.OwnerAndGroup);
        if (RefusedBecause is not null)
        {
            IngestLog.FifoRefused(_logger, _fifo.Path, RefusedBecause);
            return false;
        }
        IngestLog.FifoOpened(_logger, _fifo.Path, _fifo.Topic, _fifo.Format);
        _thread.Start();
        return true;
    }

    private void Run()
    {
        var pollMs = (int)_options.FifoPollInterval.TotalMilliseconds;
        var fd = Open();
        try
        {
            while (fd >= 0 && !_stop.IsCancellationRequested)
            {
                NativeFifo.TryGrowPipe(fd, 1024 * 1024);
                var writerLeft = ReadOneWriter(fd, pollMs);
                if (_stop.IsCancellationRequested) break;
                if (writerLeft)
                {
                    // The next reader opens before this one closes, so the FIFO never has no reader. The
                    // kernel frees a FIFO's buffer when its last reader and writer are gone: a writer that
                    // opened and wrote after this EOF (while the session was still finishing) would lose
                    // everything it wrote if this end closed first. Its bytes wait for the next reader instead.
                    var next = Open();
                    NativeFifo.Close(fd);
                    fd = next;
                }
                else
                {
                    // Refused (or a poll error): this end closes first, so a writer still writing gets EPIPE.
                    NativeFifo.Close(fd);
                    fd = Open();
                }
            }
        }
        finally
        {
            if (fd >= 0) NativeFifo.Close(fd);
        }
    }

    /// <summary>Opens the FIFO's read end without waiting for a writer; -1 (with <see cref="RefusedBecause"/>) when it cannot.</summary>
    private int Open()
    {
        var fd = NativeFifo.OpenNonBlocking(_fifo.Path);
        if (fd < 0)
        {
            RefusedBecause = $"cannot open {_fifo.Path} (errno {NativeFifo.LastError})";
            IngestLog.FifoRefused(_logger, _fifo.Path, RefusedBecause);
        }
        return fd;
    }

    /// <summary>
    /// Reads until the current writers go away (true) or the stream is refused, poll fails or shutdown
    /// (false), feeding its sessions.
    /// </summary>
    private bool ReadOneWriter(int fd, int pollMs)
    {
        Pipe? pipe = null;
        Task? sessions = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var events = NativeFifo.WaitReadable(fd, pollMs);
                if (events < 0)
                {
                    if (NativeFifo.LastError == NativeFifo.EIntr) continue;
                    return false;
                }
                // Nothing came within the poll interval. With a session open, a read tells whether its
                // writers are gone: an end opened after a writer had come and gone (see Run) gets no
                // POLLHUP for it, only the read's 0.
                if (events == 0 && pipe is null) continue;
                if (pipe is null)
                {
                    pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024, useSynchronizationContext: false));
                    sessions = RunSessions(pipe.Reader);
                }
                var memory = pipe.Writer.GetMemory(64 * 1024);
                var n = NativeFifo.ReadInto(fd, memory.Span);
                if (n > 0)
                {
                    pipe.Writer.Advance((int)n);
                    // Backpressure: wait while the session (and the queue behind it) is behind.
                    var flush = pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                    if (flush.IsCompleted) return false; // the session refused the stream
                    continue;
                }
                if (n < 0 && NativeFifo.LastError is NativeFifo.EAgain or NativeFifo.EIntr) continue;
                return n == 0; // 0: the writers closed their ends (EOF); reopen for the next one
            }
            return false;
        }
        finally
        {
            if (pipe is not null)
            {
                pipe.Writer.Complete();
                sessions?.GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>
    /// Runs sessions over the FIFO's bytes until they end. A session that ends at its stream's own end
    /// (an MCAP footer and magic) while bytes follow is followed by another over those bytes: a next
    /// writer's stream, from the same writer or one that opened before this one's EOF was read (the
    /// kernel then shows no boundary between them).
    /// </summary>
    private Task RunSessions(PipeReader stream) => Task.Run(async () =>
    {
        try
        {
            while (true)
            {
                var stats = StartSession();
                var reader = new SessionReader(stream);
                await ProducerSessions.RunAsync(() => TopicInputs.RunSessionAsync(_fifo, _context, stats, reader, _stop.Token), _context, stats).ConfigureAwait(false);
                reader.Complete(); // a no-op when the session completed it
                if (stats.RefusedBecause is not null || _stop.IsCancellationRequested || !await AnotherStreamFollowsAsync(stream).ConfigureAwait(false)) break;
            }
        }
        finally
        {
            // However the sessions ended, the FIFO's reader stops feeding them.
            await stream.CompleteAsync().ConfigureAwait(false);
        }
    });

    /// <summary>Waits for bytes after a session's end: true when there are some, false at EOF or shutdown.</summary>
    private async Task<bool> AnotherStreamFollowsAsync(PipeReader stream)
    {
        try
        {
            var result = await stream.ReadAsync(_stop.Token).ConfigureAwait(false);
            stream.AdvanceTo(result.Buffer.Start); // consumes nothing: the bytes are the next session's
            return !result.Buffer.IsEmpty;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private ProducerStats StartSession()
    {
        var number = Interlocked.Increment(ref _sessions);
        var stats = new ProducerStats { Source = $"fifo:{_fifo.Path}#{number}" };
        Current = stats;
        return stats;
    }

    /// <summary>
    /// One session's view of the FIFO's bytes. Completing it ends that session only: the bytes it did
    /// not consume stay for the next. A read it left without AdvanceTo is handed back whole (by the
    /// PipeReader contract it consumed none of it).
    /// </summary>
    private sealed class SessionReader(PipeReader stream) : PipeReader
    {
        private ReadResult? _unadvanced;
        private bool _completed;

        public override bool TryRead(out ReadResult result)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            if (!stream.TryRead(out result)) return false;
            _unadvanced = result;
            return true;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            var read = stream.ReadAsync(cancellationToken);
            if (read.IsCompletedSuccessfully)
            {
                var result = read.Result;
                _unadvanced = result;
                return new ValueTask<ReadResult>(result);
            }
            return Remember(read);
        }

        private async ValueTask<ReadResult> Remember(ValueTask<ReadResult> read)
        {
            var result = await read.ConfigureAwait(false);
            _unadvanced = result;
            return result;
        }

        public override void AdvanceTo(SequencePosition consumed)
        {
            _unadvanced = null;
            stream.AdvanceTo(consumed);
        }

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            _unadvanced = null;
            stream.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => stream.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            if (_completed) return;
            _completed = true;
            if (_unadvanced is { } result) stream.AdvanceTo(result.Buffer.Start);
            _unadvanced = null;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        if (_thread.IsAlive) _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
