using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Index = Recorder.Video.FrameIndex;

namespace Recorder.Video.Tests.FrameIndex;

/// <summary>The .vidx file: writer, reader, torn tails, corruption and versions.</summary>
public class FrameIndexFileTests
{
    /// <summary>
    /// A realistic index: two interleaved tracks (container H.264 with a resolution change, sidecar
    /// H.265 starting mid-GOP), 60 frames. Returns the bytes and the entries as the indexer made them.
    /// </summary>
    internal static (byte[] File, List<FrameIndexEntry> Entries) Realistic()
    {
        var output = new MemoryStream();
        var entries = new List<FrameIndexEntry>();
        using (var writer = new FrameIndexWriter(output, "rec_2026-08-04T10-00-00.mcap", leaveOpen: true))
        {
            var indexer = new FrameIndexer(writer);
            for (var i = 0; i < 60; i++)
            {
                var t = 1_000_000_000UL + (ulong)i * 33_333_333;
                FrameIndexEntry e;
                if (i % 2 == 0)
                {
                    var key = i % 20 == 0 ? KeyframeKind.Idr : KeyframeKind.None;
                    var (w, h) = key == KeyframeKind.None ? (0u, 0u) : i < 40 ? (640u, 480u) : (1280u, 720u);
                    e = indexer.Next("/cam/front", VideoCodec.H264, FrameStore.Container, null, t, t + 5, key, (uint)(100 + i), w, h)
                        with { Offset = 4096UL * (ulong)(i / 10), OffsetInChunk = (uint)(i % 10) * 300 };
                }
                else
                {
                    var key = i % 14 == 5 ? KeyframeKind.Cra : i == 31 ? KeyframeKind.Idr : KeyframeKind.None;
                    e = indexer.Next("/cam/rear", VideoCodec.H265, FrameStore.Sidecar, "rear.h265", t, t, key, (uint)(50 + i),
                        key != KeyframeKind.None ? 320u : 0, key != KeyframeKind.None ? 240u : 0) with { Offset = (ulong)i * 1000 };
                }
                indexer.Append(e);
                entries.Add(e);
            }
        }
        return (output.ToArray(), entries);
    }

    /// <summary>Record boundaries after the magic: the offsets at which each record ends.</summary>
    private static List<int> RecordEnds(byte[] file)
    {
        var ends = new List<int>();
        var p = 8;
        while (p < file.Length)
        {
            p += 9 + (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(p + 1));
            ends.Add(p);
        }
        Assert.Equal(file.Length, p);
        return ends;
    }

    [Fact]
    public void Round_trip_keeps_every_entry_and_the_latest_track_info()
    {
        var (file, entries) = Realistic();
        var index = Index.Parse(file);
        Assert.Null(index.StopReason);
        Assert.Equal(file.Length, index.ValidBytes);
        Assert.Equal("rec_2026-08-04T10-00-00.mcap", index.RecordingFile);
        Assert.Equal((Index.MajorVersion, Index.MinorVersion), (index.FileMajorVersion, index.FileMinorVersion));
        Assert.Equal(entries, index.Frames);

        Assert.Equal(2, index.Tracks.Count);
        Assert.Equal(new VideoTrackInfo(1, "/cam/front", VideoCodec.H264, FrameStore.Container, 1280, 720, null), index.Tracks[1]);
        Assert.Equal(new VideoTrackInfo(2, "/cam/rear", VideoCodec.H265, FrameStore.Sidecar, 320, 240, "rear.h265"), index.Tracks[2]);
    }

    [Fact]
    public void Indexer_numbers_frames_and_gops_per_track_and_keeps_the_last_resolution()
    {
        var (_, entries) = Realistic();
        var front = entries.Where(e => e.TrackId == 1).ToList();
        var rear = entries.Where(e => e.TrackId == 2).ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (ulong)i), front.Select(e => e.FrameNumber));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (ulong)i), rear.Select(e => e.FrameNumber));
        // front: keyframe every 10th of its frames; GOP 1 from the first.
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (uint)(i / 10 + 1)), front.Select(e => e.Gop));
        Assert.All(front.Take(20), e => Assert.Equal((640u, 480u), (e.Width, e.Height)));
        Assert.All(front.Skip(20), e => Assert.Equal((1280u, 720u), (e.Width, e.Height)));
        // rear: frames 1 and 3 (file frames) come before its first keyframe (i = 5): GOP 0, resolution unknown.
        Assert.Equal([0u, 0u], rear.Take(2).Select(e => e.Gop));
        Assert.Equal((0u, 0u), (rear[0].Width, rear[0].Height));
        Assert.Equal(1u, rear[2].Gop);
        Assert.Equal(KeyframeKind.Cra, rear[2].Keyframe);
    }

    [Fact]
    public void Track_records_precede_a_new_track_and_each_resolution_change_only()
    {
        var (file, _) = Realistic();
        var types = new List<byte>();
        var p = 8;
        while (p < file.Length)
        {
            types.Add(file[p]);
            p += 9 + (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(p + 1));
        }
        Assert.Equal(1, types[0]);            // header
        Assert.Equal(2, types[1]);            // track 1 at 640x480
        Assert.Equal(3, types[2]);
        Assert.Equal(2, types[3]);            // track 2, resolution unknown
        // track 1 at 640x480, track 2: unknown, then 320x240, track 1 then 1280x720.
        Assert.Equal(4, types.Count(t => t == 2));
        Assert.Equal(60, types.Count(t => t == 3));
    }

    [Fact]
    public void A_torn_tail_at_every_byte_loses_only_the_torn_record()
    {
        var (file, entries) = Realistic();
        var ends = RecordEnds(file);
        var headerEnd = ends[0];
        for (var length = 0; length <= file.Length; length++)
        {
            var index = Index.Parse(file.AsSpan(0, length));
            var lastWhole = ends.LastOrDefault(e => e <= length);
            var expectedValid = length < headerEnd ? 0 : lastWhole;
            Assert.Equal(expectedValid, index.ValidBytes);
            // Every frame whose record is whole is there, intact, in order.
            var expected = FramesWithin(file, ends, entries, expectedValid);
            Assert.Equal(expected, index.Frames);
            if (length == file.Length || (length == expectedValid && length >= headerEnd))
            {
                Assert.Null(index.StopReason);
            }
            else
            {
                Assert.NotNull(index.StopReason);
                Assert.Equal(FrameIndexStopKind.Torn, index.StopReason!.Kind);
                Assert.Equal(length < 8 ? 0 : Math.Max(expectedValid, 8), index.StopReason.Offset);
            }
            Assert.Equal(length >= headerEnd ? "rec_2026-08-04T10-00-00.mcap" : null, index.RecordingFile);
        }
    }

    /// <summary>The entries whose frame records end at or before <paramref name="validBytes"/>.</summary>
    private static List<FrameIndexEntry> FramesWithin(byte[] file, List<int> ends, List<FrameIndexEntry> entries, int validBytes)
    {
        var frames = 0;
        var start = 8;
        foreach (var end in ends)
        {
            if (end > validBytes) break;
            if (file[start] == 3) frames++;
            start = end;
        }
        return entries.Take(frames).ToList();
    }

    [Fact]
    public void Every_single_bit_flip_after_the_magic_stops_the_reader_at_the_damaged_record()
    {
        var (file, entries) = Realistic();
        var ends = RecordEnds(file);
        var starts = new List<int> { 8 };
        starts.AddRange(ends.Take(ends.Count - 1));
        for (var i = 8; i < file.Length; i++)
        {
            var record = starts.FindLastIndex(s => s <= i);
            var recordStart = starts[record];
            var inLengthField = i >= recordStart + 1 && i < recordStart + 5;
            for (var bit = 0; bit < 8; bit++)
            {
                var damaged = (byte[])file.Clone();
                damaged[i] ^= (byte)(1 << bit);
                var index = Index.Parse(damaged);
                Assert.NotNull(index.StopReason);
                Assert.Equal(recordStart, index.StopReason!.Offset);
                Assert.Equal(record == 0 ? 0 : recordStart, index.ValidBytes);
                Assert.Equal(FramesWithin(file, ends, entries, recordStart), index.Frames);
                if (!inLengthField) Assert.Equal(FrameIndexStopKind.CrcMismatch, index.StopReason.Kind);
                // A longer length reads as torn (it runs past the end) or implausible; a shorter one as a CRC mismatch.
                else Assert.Contains(index.StopReason.Kind, new[] { FrameIndexStopKind.CrcMismatch, FrameIndexStopKind.Torn, FrameIndexStopKind.Malformed });
            }
        }
    }

    [Fact]
    public void A_damaged_magic_is_not_a_frame_index()
    {
        var (file, _) = Realistic();
        for (var i = 0; i < 8; i++)
        {
            var damaged = (byte[])file.Clone();
            damaged[i] ^= 0x20;
            Assert.Equal(FrameIndexErrorKind.NotAFrameIndex, Assert.Throws<FrameIndexException>(() => Index.Parse(damaged)).Kind);
        }
        Assert.Equal(FrameIndexErrorKind.NotAFrameIndex,
            Assert.Throws<FrameIndexException>(() => Index.Parse("\x89MCAP0\r\n"u8)).Kind);
    }

    [Fact]
    public void An_empty_file_is_a_torn_index_with_nothing_in_it()
    {
        var index = Index.Parse([]);
        Assert.Equal(FrameIndexStopKind.Torn, index.StopReason!.Kind);
        Assert.Equal(0, index.ValidBytes);
        Assert.Null(index.RecordingFile);
        Assert.Empty(index.Frames);
    }

    private static byte[] Record(byte type, ReadOnlySpan<byte> payload)
    {
        var record = new byte[9 + payload.Length];
        record[0] = type;
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(record.AsSpan(5));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(5 + payload.Length), Crc32.HashToUInt32(record.AsSpan(0, 5 + payload.Length)));
        return record;
    }

    private static byte[] HeaderPayload(ushort major, ushort minor, string name, int extra = 0)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var p = new byte[6 + nameBytes.Length + extra];
        BinaryPrimitives.WriteUInt16LittleEndian(p, major);
        BinaryPrimitives.WriteUInt16LittleEndian(p.AsSpan(2), minor);
        BinaryPrimitives.WriteUInt16LittleEndian(p.AsSpan(4), (ushort)nameBytes.Length);
        nameBytes.CopyTo(p, 6);
        return p;
    }

    private static readonly byte[] Magic = [0x89, (byte)'V', (byte)'I', (byte)'D', (byte)'X', 0x0D, 0x0A, 0x1A];

    [Fact]
    public void An_unknown_major_version_is_refused_with_a_clear_error()
    {
        var file = Magic.Concat(Record(1, HeaderPayload(2, 0, "x.mcap"))).ToArray();
        var e = Assert.Throws<FrameIndexException>(() => Index.Parse(file));
        Assert.Equal(FrameIndexErrorKind.UnsupportedVersion, e.Kind);
        Assert.Contains("2.0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_newer_minor_version_reads_skipping_unknown_records_and_trailing_fields()
    {
        var (file, entries) = Realistic();
        var ends = RecordEnds(file);
        var newer = new List<byte>(Magic);
        newer.AddRange(Record(1, HeaderPayload(1, 7, "rec.mcap", extra: 3)));
        newer.AddRange(Record(0x7F, [1, 2, 3, 4]));           // a record type from the future
        var start = ends[0];
        foreach (var end in ends.Skip(1))
        {
            var type = file[start];
            var payload = file.AsSpan(start + 5, end - start - 9).ToArray();
            newer.AddRange(Record(type, payload.Concat(new byte[] { 0xAA, 0xBB }).ToArray())); // appended fields
            start = end;
        }
        var index = Index.Parse(newer.ToArray());
        Assert.Null(index.StopReason);
        Assert.Equal((1, 7), (index.FileMajorVersion, index.FileMinorVersion));
        Assert.Equal("rec.mcap", index.RecordingFile);
        Assert.Equal(entries, index.Frames);
    }

    [Fact]
    public void A_well_formed_record_that_breaks_the_rules_stops_the_reader()
    {
        var frameWithoutTrack = new byte[47];
        BinaryPrimitives.WriteUInt16LittleEndian(frameWithoutTrack, 9);
        var file = Magic.Concat(Record(1, HeaderPayload(1, 0, "x.mcap"))).Concat(Record(3, frameWithoutTrack)).ToArray();
        var index = Index.Parse(file);
        Assert.Equal(FrameIndexStopKind.Malformed, index.StopReason!.Kind);
        Assert.Contains("track 9", index.StopReason.Message, StringComparison.Ordinal);
        Assert.Equal(8 + 9 + 6 + 6, index.ValidBytes);

        var shortFrame = Magic.Concat(Record(1, HeaderPayload(1, 0, "x.mcap"))).Concat(Record(3, new byte[10])).ToArray();
        Assert.Equal(FrameIndexStopKind.Malformed, Index.Parse(shortFrame).StopReason!.Kind);

        var noHeader = Magic.Concat(Record(3, frameWithoutTrack)).ToArray();
        Assert.Equal(FrameIndexStopKind.Malformed, Index.Parse(noHeader).StopReason!.Kind);
        Assert.Equal(0, Index.Parse(noHeader).ValidBytes);
    }

    [Fact]
    public void Writing_a_frame_allocates_nothing()
    {
        using var writer = new FrameIndexWriter(Stream.Null, "x.mcap");
        var indexer = new FrameIndexer(writer);
        void Run(int n)
        {
            for (var i = 0; i < n; i++)
            {
                var e = indexer.Next(i % 2 == 0 ? "/a" : "/b", VideoCodec.H264, FrameStore.Container, null, (ulong)i, (ulong)i,
                    i % 30 == 0 ? KeyframeKind.Idr : KeyframeKind.None, 1000, i % 30 == 0 ? 640u : 0, i % 30 == 0 ? 480u : 0)
                    with { Offset = (ulong)i * 10, OffsetInChunk = 5 };
                indexer.Append(e);
            }
            writer.Flush();
        }
        Run(1000); // warm up: tracks created, buffers sized
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(20_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Flush_hands_every_record_to_the_stream_and_a_file_reads_back()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vidx-{Guid.NewGuid():N}.vidx");
        try
        {
            using (var writer = new FrameIndexWriter(new FileStream(path, FileMode.CreateNew), "x.mcap"))
            {
                var indexer = new FrameIndexer(writer);
                indexer.Append(indexer.Next("/a", VideoCodec.H264, FrameStore.Container, null, 1, 1, KeyframeKind.Idr, 10, 16, 16));
                writer.Flush(toDisk: true);
                Assert.Equal(writer.BytesWritten, new FileInfo(path).Length);
                var live = Index.ReadFile(path); // readable while the writer is open
                Assert.Single(live.Frames);
                Assert.Null(live.StopReason);
            }
            Assert.Equal("x.mcap", Index.ReadFile(path).RecordingFile);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_topic_cannot_change_codec_within_a_file()
    {
        var indexer = new FrameIndexer(new FrameIndexWriter(Stream.Null, "x.mcap"));
        indexer.Next("/a", VideoCodec.H264, FrameStore.Container, null, 1, 1, KeyframeKind.Idr, 10, 0, 0);
        Assert.Throws<InvalidOperationException>(() => indexer.Next("/a", VideoCodec.H265, FrameStore.Container, null, 2, 2, KeyframeKind.Idr, 10, 0, 0));
    }

    [Fact]
    public void The_index_of_X_mcap_is_X_vidx()
    {
        Assert.Equal(Path.Combine("/data", "rec_1.vidx"), Index.PathFor(Path.Combine("/data", "rec_1.mcap")));
    }
}
