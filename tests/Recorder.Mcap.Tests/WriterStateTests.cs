namespace Recorder.Mcap.Tests;

public class WriterStateTests
{
    /// <summary>A stream that fails after a number of bytes, like a full disk.</summary>
    private sealed class FailingStream(int failAfter) : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Length + count > failAfter) throw new IOException("No space left on device");
            base.Write(buffer, offset, count);
        }
    }

    [Fact]
    public void After_an_io_failure_every_call_fails_with_writer_failed()
    {
        var stream = new FailingStream(failAfter: 4096);
        var writer = new McapWriter(stream, new McapWriterOptions { ChunkSize = 1024, Compression = McapCompression.None }, leaveOpen: true);
        var ch = writer.AddChannel("/a", "raw");
        var first = Assert.Throws<McapException>(() =>
        {
            for (uint i = 0; i < 1000; i++) writer.WriteMessage(ch, i, i, i, new byte[100]);
        });
        Assert.Equal(McapErrorKind.WriterFailed, first.Kind);
        Assert.IsType<IOException>(first.InnerException);

        Assert.Equal(McapErrorKind.WriterFailed, Assert.Throws<McapException>(() => writer.WriteMessage(ch, 0, 0, 0, [1])).Kind);
        Assert.Equal(McapErrorKind.WriterFailed, Assert.Throws<McapException>(() => writer.Flush()).Kind);
        Assert.Equal(McapErrorKind.WriterFailed, Assert.Throws<McapException>(() => writer.Finish()).Kind);
        Assert.Equal(McapWriterState.Failed, writer.State);
        writer.Dispose(); // releasing a failed writer does not throw
    }

    [Fact]
    public void What_a_failed_writer_left_on_disk_recovers()
    {
        var stream = new FailingStream(failAfter: 20_000);
        var writer = new McapWriter(stream, new McapWriterOptions { ChunkSize = 1024, Compression = McapCompression.None }, leaveOpen: true);
        var ch = writer.AddChannel("/a", "raw");
        Assert.Throws<McapException>(() =>
        {
            for (uint i = 0; i < 1000; i++) writer.WriteMessage(ch, i, i, i, new byte[100]);
        });
        var result = McapRecovery.Recover(new MemoryStream(stream.ToArray()), new MemoryStream());
        Assert.True(result.Messages > 50, $"recovered {result.Messages}");
        Assert.Equal(3, result.ExitCode);
    }

    [Fact]
    public void Finish_then_write_is_an_invalid_operation()
    {
        var writer = new McapWriter(new MemoryStream());
        var ch = writer.AddChannel("/a", "raw");
        writer.Finish();
        Assert.Equal(McapWriterState.Finished, writer.State);
        Assert.Equal(McapErrorKind.InvalidOperation, Assert.Throws<McapException>(() => writer.WriteMessage(ch, 0, 0, 0, [])).Kind);
    }

    [Fact]
    public void Abort_leaves_whole_records_without_summary_or_footer()
    {
        var stream = new MemoryStream();
        var writer = new McapWriter(stream, new McapWriterOptions { Compression = McapCompression.None }, leaveOpen: true);
        var ch = writer.AddChannel("/a", "raw");
        writer.WriteMessage(ch, 0, 1, 1, [1]);
        writer.Flush();
        writer.WriteMessage(ch, 1, 2, 2, [2]);
        writer.Abort();
        Assert.Equal(McapWriterState.Aborted, writer.State);
        var bytes = stream.ToArray();
        // The stream ends at a record boundary: the reader sees an end without a footer, not a torn record.
        var records = McapStreamReader.ReadRecords(new MemoryStream(bytes)).Select(r => r.Opcode).ToList();
        Assert.DoesNotContain(McapOpcode.Footer, records);
        Assert.Equal(1, records.Count(o => o == McapOpcode.Message));
    }

    [Fact]
    public void Unknown_channel_and_conflicting_definitions_are_refused()
    {
        using var writer = new McapWriter(new MemoryStream());
        Assert.Equal(McapErrorKind.InvalidOperation, Assert.Throws<McapException>(() => writer.WriteMessage(9, 0, 0, 0, [])).Kind);
        Assert.Equal(McapErrorKind.UnknownReference,
            Assert.Throws<McapException>(() => writer.AddChannel(new Channel(1, 5, "/x", "json", Channel.NoMetadata))).Kind);
        writer.AddSchema(new Schema(1, "a", "jsonschema", new byte[] { 1 }));
        writer.AddSchema(new Schema(1, "a", "jsonschema", new byte[] { 1 })); // identical: fine
        Assert.Throws<McapException>(() => writer.AddSchema(new Schema(1, "a", "jsonschema", new byte[] { 2 })));
        Assert.Throws<McapException>(() => writer.AddSchema(new Schema(0, "zero", "jsonschema", new byte[] { 2 })));
    }

    [Fact]
    public void Writing_messages_allocates_nothing_in_steady_state()
    {
        foreach (var compression in new[] { McapCompression.None, McapCompression.Lz4, McapCompression.Zstd })
        {
            var sink = new MemoryStream(64 << 20);
            using var writer = new McapWriter(sink, new McapWriterOptions { Compression = compression }, leaveOpen: true);
            var ch = writer.AddChannel("/imu", "raw");
            var payload = new byte[100];
            // Warm up: grow buffers and cut a few chunks.
            for (uint i = 0; i < 50_000; i++) writer.WriteMessage(ch, i, i, i, payload);
            sink.Position = 0;
            const int count = 200_000;
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (uint i = 0; i < count; i++) writer.WriteMessage(ch, i, i, i, payload);
            var perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)count;
            // Per-chunk bookkeeping (one ChunkIndex per ~40k messages) amortises far below one byte per message.
            Assert.True(perMessage < 0.5, $"{compression}: {perMessage:0.000} bytes allocated per message");
        }
    }
}
