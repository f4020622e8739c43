using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Recorder.Recording;

namespace Recorder.Ingest;

/// <summary>
/// Reads one FIFO declared for a topic. The FIFO is created when missing. Each writer that opens it
/// is one session (MCAP, JSON lines or Annex B video); when the writer goes away the FIFO is reopened for the next.
/// A dedicated thread polls with a timeout, so a FIFO nobody ever opens never blocks shutdown.
/// </summary>
public sealed class FifoIngest : ITopicInput
{
    private readonly TopicInputOptions _fifo;
    private readonly IngestOptions _options;
    private readonly BatchQueue _queue;
    private readonly ChannelRegistry _registry;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _sessions;

    public FifoIngest(TopicInputOptions fifo, IngestOptions options, BatchQueue queue, ChannelRegistry registry, ILogger logger)
    {
        _fifo = fifo;
        _options = options;
        _queue = queue;
        _registry = registry;
        _logger = logger;
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
        while (!_stop.IsCancellationRequested)
        {
            var fd = NativeFifo.OpenNonBlocking(_fifo.Path);
            if (fd < 0)
            {
                RefusedBecause = $"cannot open {_fifo.Path} (errno {NativeFifo.LastError})";
                IngestLog.FifoRefused(_logger, _fifo.Path, RefusedBecause);
                return;
            }
            try
            {
                NativeFifo.TryGrowPipe(fd, 1024 * 1024);
                ReadOneWriter(fd, pollMs);
            }
            finally
            {
                NativeFifo.Close(fd);
            }
        }
    }

    /// <summary>Reads until the current writer goes away (or shutdown), feeding one session.</summary>
    private void ReadOneWriter(int fd, int pollMs)
    {
        Pipe? pipe = null;
        Task? session = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var events = NativeFifo.WaitReadable(fd, pollMs);
                if (events == 0) continue;
                if (events < 0)
                {
                    if (NativeFifo.LastError == NativeFifo.EIntr) continue;
                    return;
                }
                if (pipe is null)
                {
                    pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024, useSynchronizationContext: false));
                    session = StartSession(pipe.Reader);
                }
                var memory = pipe.Writer.GetMemory(64 * 1024);
                var n = NativeFifo.ReadInto(fd, memory.Span);
                if (n > 0)
                {
                    pipe.Writer.Advance((int)n);
                    // Backpressure: wait while the session (and the queue behind it) is behind.
                    var flush = pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                    if (flush.IsCompleted) return; // the session refused the stream
                    continue;
                }
                if (n < 0 && NativeFifo.LastError is NativeFifo.EAgain or NativeFifo.EIntr) continue;
                return; // 0: the writer closed its end (EOF); reopen for the next one
            }
        }
        finally
        {
            if (pipe is not null)
            {
                pipe.Writer.Complete();
                session?.GetAwaiter().GetResult();
            }
        }
    }

    private Task StartSession(PipeReader reader)
    {
        var number = Interlocked.Increment(ref _sessions);
        var stats = new ProducerStats { Source = $"fifo:{_fifo.Path}#{number}" };
        Current = stats;
        return Task.Run(async () =>
        {
            await ProducerSessions.RunAsync(() => TopicInputs.RunSessionAsync(_fifo, _options, _queue, _registry, stats, _logger, reader, _stop.Token), _queue, stats, _logger).ConfigureAwait(false);
            // However the session ended, the FIFO's reader stops feeding it (a no-op when the session completed it).
            await reader.CompleteAsync().ConfigureAwait(false);
        });
    }

    public void Dispose()
    {
        _stop.Cancel();
        if (_thread.IsAlive) _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
