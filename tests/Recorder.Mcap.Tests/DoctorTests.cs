using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Recorder.Mcap.Tests;

public class DoctorTests
{
    private const McapDiagnosticSeverity Error = McapDiagnosticSeverity.Error;
    private const McapDiagnosticSeverity Warning = McapDiagnosticSeverity.Warning;

    // ------------------------------------------------------------------ valid files

    public static IEnumerable<object[]> ConformanceFiles() => ConformanceTests.AllFiles();

    [Theory]
    [MemberData(nameof(ConformanceFiles))]
    public void Conformance_file_has_no_errors(string file)
    {
        using var stream = File.OpenRead(Path.Combine(RepoPaths.Conformance, "data", file));
        var report = McapDoctor.Check(stream);
        Assert.False(report.HasErrors, string.Join("\n", report.Diagnostics));
        Assert.False(report.IsTruncated);
    }

    [Fact]
    public void Conformance_messages_out_of_log_time_order_are_warnings_and_errors_when_strict()
    {
        var path = Path.Combine(RepoPaths.Conformance, "data", "TenMessages", "TenMessages-ch-chx-mx-rch-rsh-st-sum.mcap");
        var bytes = File.ReadAllBytes(path);

        var report = Check(bytes);
        Assert.Equal(10UL, report.Messages);
        Assert.Equal(2, report.Diagnostics.Count(d => d.Severity == Warning && d.Message.Contains("below the previous message's log_time")));
        Assert.False(report.HasErrors);

        var strict = Check(bytes, new McapDoctorOptions { StrictMessageOrder = true });
        Assert.Equal(2, strict.ErrorCount);
        Assert.Contains(strict.Diagnostics, d => d.Severity == Error && d.Message.Contains("has log_time 1, below the previous message's log_time 2"));
        Assert.Contains(strict.Diagnostics, d => d.Severity == Error && d.Message.Contains("has log_time 4, below the previous message's log_time 5"));
    }

    public static IEnumerable<object[]> Compressions() =>
        [[McapCompression.None], [McapCompression.Lz4], [McapCompression.Zstd]];

    [Theory]
    [MemberData(nameof(Compressions))]
    public void Writer_output_with_many_chunks_channels_attachments_and_metadata_has_no_diagnostics(McapCompression compression)
    {
        var bytes = Sample.Write(new McapWriterOptions { Compression = compression, ChunkSize = 2048 });

        var report = Check(bytes);

        Assert.Empty(report.Diagnostics);
        Assert.Equal(Sample.MessageCount, report.Messages);
        Assert.True(report.Chunks >= 15, $"only {report.Chunks} chunks");
        Assert.Equal(3, report.Schemas);
        Assert.Equal(5, report.Channels);
        Assert.Equal(2, report.Attachments);
        Assert.Equal(2, report.Metadata);
        Assert.Equal(bytes.Length, report.FileLength);
        Assert.Equal(-1, report.TruncatedAt);
    }

    [Fact]
    public void Writer_output_that_really_compresses_has_no_diagnostics()
    {
        // Switch compression between chunks, as recovery does, so lz4, zstd and stored chunks share a file.
        var output = new MemoryStream();
        using (var writer = new McapWriter(output, new McapWriterOptions { ChunkSize = 8192 }, leaveOpen: true))
        {
            var channel = writer.AddChannel("/compressible", "raw");
            var payload = new byte[700];
            for (var i = 0; i < 300; i++)
            {
                writer.ChunkCompression = (McapCompression)(i / 20 % 3);
                payload.AsSpan().Fill((byte)(i % 7));
                writer.WriteMessage(channel, (uint)i, (ulong)i * 10, (ulong)i * 10, payload);
                if (i % 20 == 19) writer.Flush();
            }
        }
        var bytes = output.ToArray();
        Assert.Contains("lz4", Encoding.ASCII.GetString(bytes));
        Assert.Contains("zstd", Encoding.ASCII.GetString(bytes));

        Assert.Empty(Check(bytes).Diagnostics);
    }

    [Fact]
    public void Unchunked_writer_output_has_no_diagnostics()
    {
        var report = Check(Sample.Write(new McapWriterOptions { UseChunks = false }));
        Assert.Empty(report.Diagnostics);
        Assert.Equal(Sample.MessageCount, report.Messages);
        Assert.Equal(0, report.Chunks);
    }

    [Fact]
    public void Recovered_truncated_file_passes_the_doctor()
    {
        var bytes = Sample.Write(new McapWriterOptions { Compression = McapCompression.Zstd, ChunkSize = 4096 });
        var cut = bytes[..(bytes.Length * 2 / 3)];
        Assert.True(Check(cut).IsTruncated);

        var recovered = new MemoryStream();
        McapRecovery.Recover(new MemoryStream(cut), recovered);

        Assert.Empty(Check(recovered.ToArray()).Diagnostics);
    }

    // ------------------------------------------------------------------ broken files: CRCs

    [Fact]
    public void Flipped_byte_in_a_chunk_is_a_chunk_crc_error()
    {
        var bytes = Sample.Write();
        var chunk = Mcap.Records(bytes).First(r => r.Opcode == McapOpcode.Chunk);
        bytes[chunk.End - 1] ^= 0x40; // the last payload byte of the chunk's last message
        Mcap.SealCrcs(bytes);

        var report = Check(bytes);

        AssertOnly(report, Error, $"Chunk at offset {chunk.Offset}: uncompressed_crc is", chunk.Offset);
    }

    [Fact]
    public void Wrong_data_section_crc_is_an_error()
    {
        var bytes = Sample.Write();
        var dataEnd = Mcap.Records(bytes).Single(r => r.Opcode == McapOpcode.DataEnd);
        bytes[dataEnd.Offset + 9] ^= 1;

        AssertOnly(Check(bytes), Error, $"DataEnd at offset {dataEnd.Offset}: data_section_crc is", dataEnd.Offset);
    }

    [Fact]
    public void Wrong_summary_crc_is_an_error()
    {
        var bytes = Sample.Write();
        var footer = Mcap.Records(bytes).Single(r => r.Opcode == McapOpcode.Footer);
        bytes[footer.Offset + 9 + 16] ^= 1;

        AssertOnly(Check(bytes), Error, $"Footer at offset {footer.Offset}: summary_crc is", footer.Offset);
    }

    [Fact]
    public void Wrong_attachment_crc_is_an_error()
    {
        var bytes = Sample.Write();
        var attachment = Mcap.Records(bytes).First(r => r.Opcode == McapOpcode.Attachment);
        bytes[attachment.End - 1] ^= 1; // the crc is the last field
        Mcap.SealCrcs(bytes);

        AssertOnly(Check(bytes), Error, $"Attachment 'calibration.yaml' at offset {attachment.Offset}: crc is", attachment.Offset);
    }

    // ------------------------------------------------------------------ broken files: indexes and summary

    [Fact]
    public void Statistics_with_wrong_message_count_is_an_error()
    {
        var bytes = Sample.Write();
        var statistics = Mcap.Records(bytes).Single(r => r.Opcode == McapOpcode.Statistics);
        Mcap.PatchU64(bytes, statistics.Offset + 9, Sample.MessageCount + 1);
        Mcap.SealCrcs(bytes);

        AssertOnly(Check(bytes), Error,
            $"Statistics.message_count is {Sample.MessageCount + 1} but the file holds {Sample.MessageCount} messages", statistics.Offset);
    }

    [Fact]
    public void Statistics_with_wrong_channel_message_count_is_an_error()
    {
        var bytes = Sample.Write();
        var statistics = Mcap.Records(bytes).Single(r => r.Opcode == McapOpcode.Statistics);
        // channel_message_counts follows 8+2+4*4+8+8 bytes of fields and its own u32 length: the first entry is channel 1.
        var firstCount = statistics.Offset + 9 + 42 + 4 + 2;
        var actual = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)firstCount));
        Mcap.PatchU64(bytes, firstCount, actual + 5);
        Mcap.SealCrcs(bytes);

        AssertOnly(Check(bytes), Error, $"Statistics.channel_message_counts[1] is {actual + 5} but channel 1 has {actual} messages", statistics.Offset);
    }

    [Fact]
    public void MessageIndex_pointing_at_the_wrong_offset_is_an_error()
    {
        var bytes = Sample.Write();
        var records = Mcap.Records(bytes);
        var chunk = records.First(r => r.Opcode == McapOpcode.Chunk);
        var index = records.First(r => r.Opcode == McapOpcode.MessageIndex);
        var entryOffset = index.Offset + 9 + 2 + 4 + 8; // first entry: log_time, then offset
        var pointsAt = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)entryOffset));
        Mcap.PatchU64(bytes, entryOffset, pointsAt + 1);
        Mcap.SealCrcs(bytes);

        var report = Check(bytes);

        AssertHas(report, Error, $"MessageIndex at offset {index.Offset} (channel 1) entry 0 points at chunk offset {pointsAt + 1}, where no Message record starts in the Chunk at offset {chunk.Offset}", index.Offset);
        AssertHas(report, Error, $"MessageIndex at offset {index.Offset} for channel 1 indexes", index.Offset);
        Assert.Equal(2, report.ErrorCount);
    }

    [Fact]
    public void Missing_ChunkIndex_is_an_error()
    {
        var bytes = Sample.Write(new McapWriterOptions { Compression = McapCompression.None, ChunkSize = 4096, EnableSummaryOffsets = false });
        var records = Mcap.Records(bytes);
        var lastIndex = records.Last(r => r.Opcode == McapOpcode.ChunkIndex);
        var unindexedChunk = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)(lastIndex.Offset + 9 + 16)));
        bytes = Mcap.Splice(bytes, lastIndex.Offset, lastIndex.Length, []);
        Mcap.SealCrcs(bytes);

        AssertOnly(Check(bytes), Error, $"Chunk at offset {unindexedChunk} has no ChunkIndex in the summary", unindexedChunk);
    }

    [Fact]
    public void ChunkIndex_whose_fields_differ_from_its_chunk_is_an_error()
    {
        var bytes = Sample.Write();
        var index = Mcap.Records(bytes).First(r => r.Opcode == McapOpcode.ChunkIndex);
        var chunkOffset = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)(index.Offset + 9 + 16)));
        Mcap.PatchU64(bytes, index.Offset + 9, 1); // message_start_time
        Mcap.PatchU64(bytes, index.End - 8, 7); // uncompressed_size
        Mcap.SealCrcs(bytes);

        var report = Check(bytes);

        AssertHas(report, Error, $"ChunkIndex at offset {index.Offset}: message_start_time is 1 but the Chunk at offset {chunkOffset} says", index.Offset);
        AssertHas(report, Error, $"ChunkIndex at offset {index.Offset}: uncompressed_size is 7 but the Chunk at offset {chunkOffset} says", index.Offset);
        Assert.Equal(2, report.ErrorCount);
    }

    [Fact]
    public void SummaryOffset_with_wrong_length_is_an_error()
    {
        var bytes = Sample.Write();
        var summaryOffset = Mcap.Records(bytes).First(r => r.Opcode == McapOpcode.SummaryOffset && bytes[r.Offset + 9] == (byte)McapOpcode.ChunkIndex);
        var lengthField = summaryOffset.Offset + 9 + 1 + 8;
        var length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)lengthField));
        Mcap.PatchU64(bytes, lengthField, length - 1);
        Mcap.SealCrcs(bytes);

        AssertOnly(Check(bytes), Error,
            $"SummaryOffset at offset {summaryOffset.Offset} for the ChunkIndex group: group_length is {length - 1} but the group is {length} bytes long",
            summaryOffset.Offset);
    }

    [Fact]
    public void Footer_with_wrong_summary_start_is_an_error()
    {
        var bytes = Sample.Write();
        var records = Mcap.Records(bytes);
        var footer = records.Single(r => r.Opcode == McapOpcode.Footer);
        var summaryStart = records.Single(r => r.Opcode == McapOpcode.DataEnd).End;
        Mcap.PatchU64(bytes, footer.Offset + 9, (ulong)summaryStart + 1);
        Mcap.SealCrcs(bytes);

        AssertOnly(Check(bytes), Error, $"Footer.summary_start is {summaryStart + 1} but the summary section starts at offset {summaryStart}", footer.Offset);
    }

    [Fact]
    public void AttachmentIndex_and_MetadataIndex_that_disagree_with_their_records_are_errors()
    {
        var bytes = Sample.Write();
        var records = Mcap.Records(bytes);
        var attachmentIndex = records.First(r => r.Opcode == McapOpcode.AttachmentIndex);
        var metadataIndex = records.First(r => r.Opcode == McapOpcode.MetadataIndex);
        var attachmentOffset = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)(attachmentIndex.Offset + 9)));
        var metadataOffset = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)(metadataIndex.Offset + 9)));
        Mcap.PatchU64(bytes, attachmentIndex.Offset + 9 + 32, 99); // data_size
        Mcap.PatchU64(bytes, metadataIndex.Offset + 9, metadataOffset + 3);
        Mcap.SealCrcs(bytes);

        var report = Check(bytes);

        AssertHas(report, Error, $"AttachmentIndex at offset {attachmentIndex.Offset}: data_size is 99 but the Attachment at offset {attachmentOffset} holds", attachmentIndex.Offset);
        AssertHas(report, Error, $"MetadataIndex at offset {metadataIndex.Offset} points at offset {metadataOffset + 3}, where no Metadata record starts", metadataIndex.Offset);
        AssertHas(report, Error, $"Metadata at offset {metadataOffset} has no MetadataIndex in the summary", (long)metadataOffset);
        Assert.Equal(3, report.ErrorCount);
    }

    [Fact]
    public void Summary_not_grouped_by_opcode_is_an_error()
    {
        var f = new RawMcap();
        var schema = f.Add(w => McapRecordSerializer.WriteSchema(w, Raw.Schema1));
        var channel = f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Channel1));
        long secondSchemaRun = 0;
        var bytes = f.Finish(s =>
        {
            s.Add(w => McapRecordSerializer.WriteSchema(w, Raw.Schema1));
            s.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Channel1));
            secondSchemaRun = s.Add(w => McapRecordSerializer.WriteSchema(w, Raw.Schema1 with { Id = 2 }));
        });

        var report = Check(bytes);

        AssertHas(report, Error, $"The summary is not grouped by opcode: the Schema records at offset {secondSchemaRun} are separated from the Schema group", secondSchemaRun);
    }

    [Fact]
    public void Second_Statistics_record_is_an_error()
    {
        var f = new RawMcap();
        long second = 0;
        var statistics = new Statistics(0, 0, 0, 0, 0, 0, 0, 0, new Dictionary<ushort, ulong>());
        var bytes = f.Finish(s =>
        {
            s.Add(w => McapRecordSerializer.WriteStatistics(w, statistics));
            second = s.Add(w => McapRecordSerializer.WriteStatistics(w, statistics));
        });

        var report = Check(bytes);

        AssertHas(report, Error, $"Statistics at offset {second} is a second Statistics record", second);
    }

    [Fact]
    public void Channel_after_Statistics_with_channel_message_counts_is_an_error()
    {
        var f = new RawMcap();
        f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1));
        f.Add(w => McapRecordSerializer.WriteMessage(w, 1, 0, 5, 5, [1]));
        long statisticsAt = 0, channelAt = 0;
        var bytes = f.Finish(s =>
        {
            statisticsAt = s.Add(w => McapRecordSerializer.WriteStatistics(w,
                new Statistics(1, 0, 1, 0, 0, 0, 5, 5, new Dictionary<ushort, ulong> { [1] = 1 })));
            channelAt = s.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1));
        });

        AssertOnly(Check(bytes), Error,
            $"Channel 1 in the summary at offset {channelAt} comes after the Statistics record at offset {statisticsAt}", channelAt);
    }

    // ------------------------------------------------------------------ broken files: chunks and MessageIndex runs

    [Fact]
    public void Attachment_inside_a_chunk_is_an_error()
    {
        var f = new RawMcap();
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1);
        var message = records.WrittenCount;
        McapRecordSerializer.WriteMessage(records, 1, 0, 10, 10, [1, 2, 3]);
        var attachment = records.WrittenCount;
        McapRecordSerializer.WriteAttachment(records, new Attachment(1, 1, "inside", "text/plain", new byte[] { 9 }), computeCrc: true);
        var chunk = f.Chunk(records.WrittenSpan);
        f.Add(w => McapRecordSerializer.WriteMessageIndex(w, 1, [10UL], [(ulong)message]));

        AssertOnly(Check(f.Finish()), Error,
            $"Attachment record at chunk offset {attachment} in the Chunk at offset {chunk} is not allowed in a chunk", chunk);
    }

    [Fact]
    public void Empty_MessageIndex_is_a_warning()
    {
        var f = new RawMcap();
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1);
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1 with { Id = 2, Topic = "/quiet" });
        var message = records.WrittenCount;
        McapRecordSerializer.WriteMessage(records, 1, 0, 10, 10, [1, 2, 3]);
        f.Chunk(records.WrittenSpan);
        f.Add(w => McapRecordSerializer.WriteMessageIndex(w, 1, [10UL], [(ulong)message]));
        var empty = f.Add(w => McapRecordSerializer.WriteMessageIndex(w, 2, [], []));

        AssertOnly(Check(f.Finish()), Warning, $"MessageIndex at offset {empty} for channel 2 is empty", empty);
    }

    [Fact]
    public void Channel_with_messages_but_no_MessageIndex_in_an_indexed_chunk_is_an_error()
    {
        var f = new RawMcap();
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1);
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1 with { Id = 2, Topic = "/other" });
        var first = records.WrittenCount;
        McapRecordSerializer.WriteMessage(records, 1, 0, 10, 10, [1]);
        McapRecordSerializer.WriteMessage(records, 2, 0, 11, 11, [2]);
        var chunk = f.Chunk(records.WrittenSpan);
        f.Add(w => McapRecordSerializer.WriteMessageIndex(w, 1, [10UL], [(ulong)first]));

        AssertOnly(Check(f.Finish()), Error, $"Chunk at offset {chunk} holds 1 messages on channel 2 but no MessageIndex for channel 2 follows it", chunk);
    }

    [Fact]
    public void MessageIndex_that_does_not_follow_a_chunk_is_an_error()
    {
        var f = new RawMcap();
        f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1));
        var index = f.Add(w => McapRecordSerializer.WriteMessageIndex(w, 1, [10UL], [0UL]));

        AssertHas(Check(f.Finish()), Error, $"MessageIndex at offset {index} does not directly follow a Chunk", index);
    }

    [Fact]
    public void Chunk_without_messages_is_a_warning_and_nonzero_times_make_it_an_error()
    {
        var f = new RawMcap();
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1);
        var chunk = f.Chunk(records.WrittenSpan, startTime: 3, endTime: 4);

        var report = Check(f.Finish());

        AssertHas(report, Warning, $"Chunk at offset {chunk} holds no messages", chunk);
        AssertHas(report, Error, $"Chunk at offset {chunk} holds no messages, so message_start_time and message_end_time must be 0, but they are 3 and 4", chunk);
        Assert.Equal(2, report.Diagnostics.Count);
    }

    [Fact]
    public void Chunk_times_that_differ_from_its_messages_are_errors()
    {
        var f = new RawMcap();
        var records = new ArrayBufferWriter<byte>();
        McapRecordSerializer.WriteChannel(records, Raw.Schemaless1);
        McapRecordSerializer.WriteMessage(records, 1, 0, 10, 10, [1]);
        var chunk = f.Chunk(records.WrittenSpan, startTime: 9, endTime: 10);

        var report = Check(f.Finish());

        AssertHas(report, Error, $"Chunk at offset {chunk}: message_start_time is 9 but its earliest message has log_time 10", chunk);
        AssertHas(report, Warning, $"Chunk at offset {chunk} has no MessageIndex records", chunk);
        Assert.Equal(1, report.ErrorCount);
    }

    [Fact]
    public void Chunk_that_does_not_decompress_is_an_error_and_the_pass_continues()
    {
        var bytes = Sample.Write(new McapWriterOptions { Compression = McapCompression.Zstd, ChunkSize = 4096, ForceCompression = true });
        var records = Mcap.Records(bytes);
        var chunks = records.Where(r => r.Opcode == McapOpcode.Chunk).ToList();
        var bad = chunks[1];
        for (var i = bad.End - 40; i < bad.End; i++) bytes[i] = 0x5A; // wreck the tail of the zstd frame
        Mcap.SealCrcs(bytes);

        var report = Check(bytes);

        AssertHas(report, Error, $"Chunk at offset {bad.Offset} does not decompress", bad.Offset);
        AssertHas(report, Warning, "Statistics message, schema and channel counts were not compared: 1 chunks could not be read completely", records.Single(r => r.Opcode == McapOpcode.Statistics).Offset);
        Assert.Equal(1, report.ErrorCount);
        Assert.Equal(chunks.Count, report.Chunks);
    }

    [Fact]
    public void Messages_with_decreasing_log_time_are_a_warning_and_an_error_when_strict()
    {
        var output = new MemoryStream();
        using (var writer = new McapWriter(output, new McapWriterOptions(), leaveOpen: true))
        {
            var channel = writer.AddChannel("/t", "raw");
            writer.WriteMessage(channel, 0, 10, 10, [1]);
            writer.WriteMessage(channel, 1, 20, 20, [2]);
            writer.WriteMessage(channel, 2, 15, 15, [3]);
        }
        var bytes = output.ToArray();
        var chunk = Mcap.Records(bytes).Single(r => r.Opcode == McapOpcode.Chunk);

        AssertOnly(Check(bytes), Warning, "has log_time 15, below the previous message's log_time 20", chunk.Offset);
        AssertOnly(Check(bytes, new McapDoctorOptions { StrictMessageOrder = true }), Error, "has log_time 15, below the previous message's log_time 20", chunk.Offset);
    }

    // ------------------------------------------------------------------ broken files: schemas, channels, records

    [Fact]
    public void Conflicting_channel_redefinition_is_an_error_and_an_identical_one_a_warning()
    {
        var f = new RawMcap();
        var first = f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1));
        var identical = f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1));
        var conflicting = f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1 with { Topic = "/elsewhere" }));

        var report = Check(f.Finish());

        AssertHas(report, Warning, $"Channel 1 at offset {identical} repeats the identical Channel 1 at offset {first}", identical);
        AssertHas(report, Error, $"Channel 1 at offset {conflicting} conflicts with Channel 1 at offset {first}: topic '/elsewhere' instead of '/a'", conflicting);
        Assert.Equal(2, report.Diagnostics.Count);
    }

    [Fact]
    public void Schema_with_id_0_or_empty_encoding_with_data_is_an_error()
    {
        var f = new RawMcap();
        var zero = f.Add(w => McapRecordSerializer.WriteSchema(w, Raw.Schema1 with { Id = 0 }));
        var noEncoding = f.Add(w => McapRecordSerializer.WriteSchema(w, new Schema(5, "x", "", new byte[] { 1 })));

        var report = Check(f.Finish());

        AssertHas(report, Error, $"Schema at offset {zero} has id 0, which is reserved", zero);
        AssertHas(report, Error, $"Schema 5 at offset {noEncoding} has an empty encoding but 1 bytes of data", noEncoding);
        Assert.Equal(2, report.ErrorCount);
    }

    [Fact]
    public void Channel_on_an_unknown_schema_and_message_on_an_unknown_channel_are_errors()
    {
        var f = new RawMcap();
        var channel = f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Channel1));
        var message = f.Add(w => McapRecordSerializer.WriteMessage(w, 7, 0, 1, 1, [1]));

        var report = Check(f.Finish());

        AssertHas(report, Error, $"Channel 1 at offset {channel} refers to schema 1, which no earlier Schema record defines", channel);
        AssertHas(report, Error, $"Message at offset {message} is on channel 7, which no earlier Channel record defines", message);
        Assert.Equal(2, report.ErrorCount);
    }

    [Fact]
    public void Summary_channel_absent_from_the_data_section_is_an_error()
    {
        var f = new RawMcap();
        long copy = 0;
        var bytes = f.Finish(s => copy = s.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1)));

        AssertOnly(Check(bytes), Error, $"Channel 1 in the summary at offset {copy} is not defined in the data section", copy);
    }

    [Fact]
    public void String_that_is_not_utf8_is_an_error_and_the_pass_continues()
    {
        var f = new RawMcap();
        var channel = f.Add(w => McapRecordSerializer.WriteChannel(w, Raw.Schemaless1 with { Topic = "/ab" }));
        var bytes = f.Finish();
        var topic = Encoding.ASCII.GetBytes("/ab");
        var at = bytes.AsSpan((int)channel).IndexOf(topic) + (int)channel;
        bytes[at + 1] = 0xC3; // a lead byte followed by an ASCII byte
        Mcap.SealCrcs(bytes);

        var report = Check(bytes);

        AssertOnly(report, Error, $"Channel record at offset {channel} does not parse: field 'topic' is not valid UTF-8", channel);
    }

    [Fact]
    public void Unknown_opcode_is_a_warning()
    {
        var f = new RawMcap();
        var privateRecord = f.AddRaw([0x80, 2, 0, 0, 0, 0, 0, 0, 0, 0xAB, 0xCD]);

        AssertOnly(Check(f.Finish()), Warning, $"Unknown opcode 0x80 at offset {privateRecord} was skipped", privateRecord);
    }

    // ------------------------------------------------------------------ broken files: framing

    [Fact]
    public void Truncated_file_reports_the_offset_of_the_cut_record()
    {
        var bytes = Sample.Write();
        var secondChunk = Mcap.Records(bytes).Where(r => r.Opcode == McapOpcode.Chunk).ElementAt(1);
        var cut = bytes[..(int)(secondChunk.Offset + secondChunk.Length / 2)];

        var report = Check(cut);

        AssertOnly(report, Error, $"File truncated in the Chunk record at offset {secondChunk.Offset}", secondChunk.Offset);
        Assert.Equal(secondChunk.Offset, report.TruncatedAt);
    }

    [Fact]
    public void Truncation_at_every_offset_reports_where_the_file_stops_being_whole()
    {
        var bytes = Sample.Write(new McapWriterOptions { Compression = McapCompression.None, ChunkSize = 512 }, messages: 12);
        var records = Mcap.Records(bytes);
        var footerEnd = records[^1].End;
        for (var length = 0; length < bytes.Length; length++)
        {
            var report = Check(bytes[..length]);
            long expected;
            if (length < 8) expected = 0;
            else if (length >= footerEnd) expected = footerEnd;
            else if (length == 8 || records.Any(r => r.End == length)) expected = length;
            else expected = records.Single(r => r.Offset < length && length < r.End).Offset;

            Assert.True(expected == report.TruncatedAt, $"cut at {length}: expected {expected}, got {report.TruncatedAt}\n{string.Join("\n", report.Diagnostics)}");
            Assert.True(report.HasErrors, $"cut at {length}");
            Assert.DoesNotContain(report.Diagnostics, d => d.Message.Contains("Internal doctor error"));
        }
        Assert.False(Check(bytes).IsTruncated);
    }

    [Fact]
    public void File_that_ends_after_a_whole_record_lacks_DataEnd_and_Footer()
    {
        var bytes = Sample.Write();
        var firstChunk = Mcap.Records(bytes).First(r => r.Opcode == McapOpcode.Chunk);

        var report = Check(bytes[..(int)firstChunk.End]);

        AssertHas(report, Error, $"The file ends at offset {firstChunk.End}, after a whole record but without a Footer", -1);
        AssertHas(report, Error, "The file has no DataEnd record", -1);
        Assert.Equal(firstChunk.End, report.TruncatedAt);
    }

    [Fact]
    public void Zero_filled_tail_stops_the_pass_with_an_error()
    {
        var bytes = Sample.Write();
        var footer = Mcap.Records(bytes).Single(r => r.Opcode == McapOpcode.Footer);
        var zeroed = bytes[..(int)footer.Offset].Concat(new byte[100]).ToArray();

        var report = Check(zeroed);

        AssertHas(report, Error, $"Invalid opcode 0x00 at offset {footer.Offset}", footer.Offset);
        Assert.Equal(1, report.ErrorCount);
    }

    [Fact]
    public void Bad_magic_and_trailing_garbage_are_errors()
    {
        var bytes = Sample.Write();
        var notMcap = (byte[])bytes.Clone();
        notMcap[1] = (byte)'X';
        AssertOnly(Check(notMcap), Error, "Not an MCAP file", 0);

        var garbage = bytes.Concat(new byte[] { 1, 2, 3 }).ToArray();
        AssertOnly(Check(garbage), Error, $"3 bytes follow the trailing magic at offset {bytes.Length - 8}", bytes.Length);

        AssertOnly(Check([]), Error, "The file is empty", 0);
    }

    [Fact]
    public void Random_corruption_never_throws_and_is_always_found()
    {
        var original = Sample.Write(new McapWriterOptions { Compression = McapCompression.Lz4, ChunkSize = 2048 }, messages: 120);
        var options = new McapDoctorOptions { MaxUncompressedChunkSize = 16 * 1024 * 1024, MaxRecordSize = 16 * 1024 * 1024 };
        for (var seed = 0; seed < 400; seed++)
        {
            var random = new Random(seed);
            var bytes = (byte[])original.Clone();
            var mutations = random.Next(1, 4);
            for (var m = 0; m < mutations; m++)
            {
                if (random.Next(10) == 0) bytes = bytes[..random.Next(bytes.Length)];
                else if (bytes.Length > 0) bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
            }

            McapDoctorReport report;
            try
            {
                report = Check(bytes, options);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}: Check threw {e}");
            }
            Assert.DoesNotContain(report.Diagnostics, d => d.Message.Contains("Internal doctor error"));
            // Every byte is covered by a CRC, a magic or the framing, so every change must be found.
            Assert.True(report.HasErrors || bytes.AsSpan().SequenceEqual(original), $"seed {seed}: corruption went unnoticed\n{string.Join("\n", report.Diagnostics)}");
        }
    }

    [Fact]
    public void Repeated_findings_are_capped_and_counted()
    {
        var output = new MemoryStream();
        using (var writer = new McapWriter(output, new McapWriterOptions(), leaveOpen: true))
        {
            var channel = writer.AddChannel("/t", "raw");
            for (var i = 0; i < 30; i++) writer.WriteMessage(channel, 0, (ulong)(100 - i), 0, [1]);
        }

        var report = Check(output.ToArray(), new McapDoctorOptions { MaxReportsPerCheck = 5 });

        Assert.Equal(5, report.Diagnostics.Count(d => d.Message.StartsWith("Message at", StringComparison.Ordinal)));
        AssertHas(report, Warning, "24 more findings of messages with a log_time below the previous message's were not reported", -1);
    }

    // ------------------------------------------------------------------ helpers

    private static McapDoctorReport Check(byte[] bytes, McapDoctorOptions? options = null) =>
        McapDoctor.Check(new MemoryStream(bytes, writable: false), options);

    private static void AssertHas(McapDoctorReport report, McapDiagnosticSeverity severity, string fragment, long offset)
    {
        if (!report.Diagnostics.Any(d => d.Severity == severity && d.Offset == offset && d.Message.Contains(fragment, StringComparison.Ordinal)))
            Assert.Fail($"expected {severity} at offset {offset} containing \"{fragment}\"; got:\n{string.Join("\n", report.Diagnostics)}");
    }

    /// <summary>The file has exactly one finding, and it is this one.</summary>
    private static void AssertOnly(McapDoctorReport report, McapDiagnosticSeverity severity, string fragment, long offset)
    {
        AssertHas(report, severity, fragment, offset);
        Assert.True(report.Diagnostics.Count == 1, $"expected only that finding; got:\n{string.Join("\n", report.Diagnostics)}");
    }

    private static class Raw
    {
        public static readonly Schema Schema1 = new(1, "pkg/Thing", "ros2msg", Encoding.UTF8.GetBytes("int32 x"));
        public static readonly Channel Channel1 = new(1, 1, "/a", "cdr", Channel.NoMetadata);
        public static readonly Channel Schemaless1 = new(1, 0, "/a", "json", Channel.NoMetadata);
    }

    /// <summary>A writer-made file with several schemas, channels, chunks, attachments and metadata.</summary>
    private static class Sample
    {
        public const ulong MessageCount = 400;

        public static byte[] Write(McapWriterOptions? options = null, int messages = (int)MessageCount)
        {
            var output = new MemoryStream();
            using (var writer = new McapWriter(output, options ?? new McapWriterOptions { Compression = McapCompression.None, ChunkSize = 4096 }, leaveOpen: true))
            {
                var imu = writer.AddSchema("sensor_msgs/Imu", "ros2msg", Encoding.UTF8.GetBytes("float64 x"));
                var gps = writer.AddSchema("sensor_msgs/NavSatFix", "ros2msg", Encoding.UTF8.GetBytes("float64 lat"));
                writer.AddSchema("unused/Never", "ros2msg", Encoding.UTF8.GetBytes("bool b"));
                ushort[] channels =
                [
                    writer.AddChannel("/imu", "cdr", imu),
                    writer.AddChannel("/gps", "cdr", gps, new Dictionary<string, string> { ["frame"] = "map" }),
                    writer.AddChannel("/log", "json"),
                    writer.AddChannel("/imu2", "cdr", imu),
                ];
                writer.AddChannel("/unused", "json");

                var payload = new byte[90];
                for (var i = 0; i < messages; i++)
                {
                    payload.AsSpan().Fill((byte)i);
                    writer.WriteMessage(channels[i % channels.Length], (uint)i, 1_000 + (ulong)i * 10, 1_000 + (ulong)i * 10, payload.AsSpan(0, 40 + i % 50));
                    if (i == messages / 3)
                    {
                        writer.WriteAttachment(new Attachment(5, 6, "calibration.yaml", "application/yaml", Encoding.UTF8.GetBytes("k: 1")));
                        writer.WriteMetadata(new Metadata("device", new Dictionary<string, string> { ["serial"] = "42" }));
                    }
                    if (i == messages / 2) writer.Flush();
                }
                writer.WriteAttachment(new Attachment(7, 8, "notes.txt", "text/plain", Encoding.UTF8.GetBytes("end")));
                writer.WriteMetadata(new Metadata("operator", new Dictionary<string, string> { ["name"] = "ada" }));
            }
            return output.ToArray();
        }
    }
}

/// <summary>Reads and patches the top-level layout of MCAP bytes for building deliberately broken files.</summary>
internal static class Mcap
{
    public readonly record struct RecordSpan(McapOpcode Opcode, long Offset, long Length)
    {
        public long End => Offset + Length;
    }

    /// <summary>The top-level records from the header through the footer.</summary>
    public static List<RecordSpan> Records(byte[] file)
    {
        var records = new List<RecordSpan>();
        var position = 8L;
        while (position + 9 <= file.Length)
        {
            var opcode = (McapOpcode)file[position];
            var length = 9 + (long)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan((int)position + 1));
            records.Add(new RecordSpan(opcode, position, length));
            position += length;
            if (opcode == McapOpcode.Footer) break;
        }
        return records;
    }

    public static void PatchU64(byte[] file, long at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan((int)at), value);

    public static byte[] Splice(byte[] file, long at, long remove, byte[] insert) =>
        [.. file.AsSpan(0, (int)at), .. insert, .. file.AsSpan((int)(at + remove))];

    /// <summary>Recomputes the data-section and summary CRCs after a patch, so only the intended fault remains.</summary>
    public static void SealCrcs(byte[] file)
    {
        var records = Records(file);
        var dataEnd = records.First(r => r.Opcode == McapOpcode.DataEnd);
        var footer = records.First(r => r.Opcode == McapOpcode.Footer);
        var dataCrcAt = (int)dataEnd.Offset + 9;
        if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(dataCrcAt)) != 0)
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(dataCrcAt), Crc32.HashToUInt32(file.AsSpan(0, (int)dataEnd.Offset)));
        var summaryCrcAt = (int)footer.Offset + 9 + 16;
        if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(summaryCrcAt)) != 0)
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(summaryCrcAt),
                Crc32.HashToUInt32(file.AsSpan((int)dataEnd.End, summaryCrcAt - (int)dataEnd.End)));
    }
}

/// <summary>
/// Builds an MCAP file record by record with correct section CRCs, so a test can put any record anywhere.
/// Chunks are stored uncompressed with their CRC; the summary, when given, gets no SummaryOffsets.
/// </summary>
internal sealed class RawMcap
{
    private readonly ArrayBufferWriter<byte> _bytes = new();

    public RawMcap()
    {
        _bytes.Write(McapConstants.Magic);
        McapRecordSerializer.WriteHeader(_bytes, new Header("", "doctor-tests"));
    }

    public long Position => _bytes.WrittenCount;

    /// <summary>Appends whatever <paramref name="write"/> writes and returns its offset.</summary>
    public long Add(Func<IBufferWriter<byte>, int> write)
    {
        var at = Position;
        write(_bytes);
        return at;
    }

    public long AddRaw(byte[] bytes)
    {
        var at = Position;
        _bytes.Write(bytes);
        return at;
    }

    /// <summary>A Chunk holding <paramref name="records"/>; its times default to the min and max log_time of its messages.</summary>
    public long Chunk(ReadOnlySpan<byte> records, ulong? startTime = null, ulong? endTime = null)
    {
        ulong min = ulong.MaxValue, max = 0;
        for (var position = 0; position + 9 <= records.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(records[(position + 1)..]);
            if ((McapOpcode)records[position] == McapOpcode.Message)
            {
                var logTime = BinaryPrimitives.ReadUInt64LittleEndian(records[(position + 9 + 6)..]);
                min = Math.Min(min, logTime);
                max = Math.Max(max, logTime);
            }
            position += 9 + length;
        }
        if (min == ulong.MaxValue) min = 0;
        var at = Position;
        McapRecordSerializer.WriteChunkHeader(_bytes, startTime ?? min, endTime ?? max, (ulong)records.Length, Crc32.HashToUInt32(records), "", records.Length);
        _bytes.Write(records);
        return at;
    }

    /// <summary>Writes DataEnd, the summary records <paramref name="summary"/> adds, the Footer and the magic.</summary>
    public byte[] Finish(Action<RawMcap>? summary = null)
    {
        McapRecordSerializer.WriteDataEnd(_bytes, new DataEnd(Crc32.HashToUInt32(_bytes.WrittenSpan)));
        var summaryStart = Position;
        summary?.Invoke(this);
        var footerAt = Position;
        McapRecordSerializer.WriteFooter(_bytes, new Footer(footerAt == summaryStart ? 0 : (ulong)summaryStart, 0, 0));
        var crc = Crc32.HashToUInt32(_bytes.WrittenSpan[(int)summaryStart..(int)(footerAt + 25)]);
        _bytes.Write(McapConstants.Magic);
        var bytes = _bytes.WrittenSpan.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)footerAt + 25), crc);
        return bytes;
    }
}
