using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Recorder.Mcap;

namespace Recorder.Depot.Export;

/// <summary>
/// <c>GET /api/export?device=&amp;start=&amp;end=&amp;topic=…</c>: streams the merged MCAP as it is
/// made. The request is checked and every selected file opened before the status line, so a bad
/// request (400) or an unreadable recording (500, naming it) costs nothing else; after that the body
/// flows through a bounded pipe, and a client that goes away stops the merge.
/// </summary>
public sealed class ExportEndpoint(string storageRoot, ILogger logger)
{
    public const string Path = "/api/export";

    /// <summary>Bytes the merge may run ahead of the client before it waits.</summary>
    private const long PipeAhead = 1 << 20;

    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET, HEAD";
            await Error(context, StatusCodes.Status405MethodNotAllowed, "export is GET").ConfigureAwait(false);
            return;
        }
        var query = context.Request.Query;
        if (query.ContainsKey("around"))
        {
            await Error(context, StatusCodes.Status501NotImplemented, "around=EVENT_ID needs the catalog, which this depot does not have yet").ConfigureAwait(false);
            return;
        }
        var topics = query["topic"].Where(t => t is not null).Select(t => t!).ToList();
        if (!ExportRequest.TryParse(query["device"], query["start"], query["end"], topics, out var request, out var why))
        {
            await Error(context, StatusCodes.Status400BadRequest, why).ConfigureAwait(false);
            return;
        }

        McapMerger merger;
        var files = ExportSelection.LocalFiles(storageRoot, request);
        try
        {
            merger = DepotExport.Open(storageRoot, request, files);
        }
        catch (Exception e) when (e is McapException or IOException or UnauthorizedAccessException)
        {
            ExportLog.Refused(logger, request.Device, e.Message);
            await Error(context, StatusCodes.Status500InternalServerError, e.Message).ConfigureAwait(false);
            return;
        }

        using (merger)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"{request.FileName}\"";
            context.Response.Headers["X-Recorder-Export-Sources"] = files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (HttpMethods.IsHead(context.Request.Method)) return;

            var aborted = context.RequestAborted;
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: PipeAhead, resumeWriterThreshold: PipeAhead / 2, useSynchronizationContext: false));
            var producer = Task.Run(() =>
            {
                try
                {
                    var result = merger.WriteTo(new PipeWriterStream(pipe.Writer, aborted));
                    ExportLog.Exported(logger, request.Device, files.Count, (long)result.Messages, result.Bytes, result.ChunksCopied, result.ChunksRewritten);
                    pipe.Writer.Complete();
                }
                catch (Exception e)
                {
                    pipe.Writer.Complete(e);
                }
            }, CancellationToken.None);
            try
            {
                await pipe.Reader.CopyToAsync(context.Response.Body, aborted).ConfigureAwait(false);
                await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The client went away, or the merge failed mid-stream (the body then ends without the MCAP footer, which readers detect).
                await pipe.Reader.CompleteAsync(e).ConfigureAwait(false);
                ExportLog.Cut(logger, request.Device, e.Message);
                context.Abort();
            }
            await producer.ConfigureAwait(false);
        }
    }

    private static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new ApiError(message), ExportJson.Default.ApiError));
    }

    /// <summary>The merger's synchronous output into the pipe: waits while the client is behind, stops when it is gone.</summary>
    private sealed class PipeWriterStream(PipeWriter writer, CancellationToken aborted) : Stream
    {
        private long _written;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            writer.Write(buffer);
            _written += buffer.Length;
            var result = writer.FlushAsync(aborted).AsTask().GetAwaiter().GetResult();
            if (result.IsCompleted || result.IsCanceled) throw new OperationCanceledException("the export's client went away");
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _written;
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>An API error answer: <c>{"error": "…"}</c>.</summary>
public sealed record ApiError(string Error);
