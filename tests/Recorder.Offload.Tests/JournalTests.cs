using System.Security.Cryptography;
using Recorder.Storage;

namespace Recorder.Offload.Tests;

/// <summary>The offload journal: round trips, compaction, and torn tails at every offset.</summary>
public sealed class JournalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("recorder-journal-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string JournalPath => Path.Combine(_dir, "offload.journal");

    private static byte[] Hash(string text) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));

    private static QueuedRecord Queued(string key, long size = 1000) =>
        new(key, size, 1_700_000_000_000_000_000, Hash(key), KindOf(key), "r.mcap", 10, 20, key.Contains("mark", StringComparison.Ordinal));

    private static RecordingFileKind KindOf(string key) =>
        key.EndsWith(".vidx", StringComparison.Ordinal) ? RecordingFileKind.Vidx
        : key.EndsWith(".h264", StringComparison.Ordinal) || key.EndsWith(".h265", StringComparison.Ordinal) ? RecordingFileKind.Stream
        : RecordingFileKind.Mcap;

    /// <summary>A realistic history: files queued, created, progressing, verified, deleted, dropped, forgotten.</summary>
    private static List<JournalRecord> History() =>
    [
        Queued("dev/a.mcap"),
        new CreatedRecord("dev/a.mcap", "http://127.0.0.1:1/files/aaa", 0),
        new OffsetRecord("dev/a.mcap", 400),
        Queued("dev/b-mark.mcap", 5000),
        new OffsetRecord("dev/a.mcap", 1000),
        new VerifiedRecord("dev/a.mcap", Hash("dev/a.mcap")),
        new CreatedRecord("dev/b-mark.mcap", "http://127.0.0.1:1/files/bbb", 1_800_000_000_000),
        Queued("dev/a.vidx", 64),
        new CreatedRecord("dev/a.vidx", "http://127.0.0.1:1/files/ccc", 0),
        new DroppedRecord("dev/a.vidx", "404"),
        new CreatedRecord("dev/a.vidx", "http://127.0.0.1:1/files/ddd", 0),
        new VerifiedRecord("dev/a.vidx", Hash("dev/a.vidx")),
        new DeletedRecord("dev/a.vidx"),
        Queued("dev/gone.mcap"),
        new ForgottenRecord("dev/gone.mcap"),
        new OffsetRecord("dev/b-mark.mcap", 2500),
        Queued("dev/c.camera_front.h264", 9000),
        new CreatedRecord("dev/c.camera_front.h264", "http://127.0.0.1:1/files/eee", 0),
        new OffsetRecord("dev/c.camera_front.h264", 4500),
        Queued("dev/c.camera_rear.h265", 7000),
        new CreatedRecord("dev/c.camera_rear.h265", "http://127.0.0.1:1/files/fff", 0),
        new VerifiedRecord("dev/c.camera_rear.h265", Hash("dev/c.camera_rear.h265")),
        Queued("dev/c.mcap", 77),
        new VerifiedRecord("dev/c.mcap", Hash("dev/c.mcap")),
        Queued("dev/d.mcap", 300),
        new CreatedRecord("dev/d.mcap", "http://127.0.0.1:1/files/ggg", 0),
        new UploadedRecord("dev/d.mcap", Hash("dev/d.mcap")),
    ];

    /// <summary>The records of <see cref="History"/> a version 1 writer could have written (no stream kind, no <c>uploaded</c>).</summary>
    private static List<JournalRecord> Version1History() =>
        History().Where(r => !r.Key.EndsWith(".h264", StringComparison.Ordinal) && !r.Key.EndsWith(".h265", StringComparison.Ordinal)
            && !r.Key.StartsWith("dev/d.", StringComparison.Ordinal)).ToList();

    /// <summary>A journal as a version 1 recorder wrote it: the same framing under a version 1 header.</summary>
    private static byte[] Version1Journal(IEnumerable<JournalRecord> records)
    {
        var bytes = new List<byte>();
        var header = new byte[OffloadJournal.HeaderSize];
        "RECOFFJ\n"u8.CopyTo(header);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), System.IO.Hashing.Crc32.HashToUInt32(header.AsSpan(0, 12)));
        bytes.AddRange(header);
        foreach (var r in records) bytes.AddRange(OffloadJournal.Encode(r));
        return bytes.ToArray();
    }

    private static uint VersionOf(string path) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(File.ReadAllBytes(path).AsSpan(8));

    private static Dictionary<string, JournalEntry> Replay(IEnumerable<JournalRecord> records, string dir)
    {
        var path = Path.Combine(dir, "replay-" + Guid.NewGuid().ToString("N") + ".journal");
        using var journal = OffloadJournal.Open(path, out _);
        foreach (var r in records) journal.Append(r, durable: false);
        return journal.Entries.ToDictionary();
    }

    private static void AssertSame(IReadOnlyDictionary<string, JournalEntry> expected, IReadOnlyDictionary<string, JournalEntry> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, e) in expected)
        {
            var a = actual[key];
            Assert.Equal(e with { Sha256 = [] }, a with { Sha256 = [] });
            Assert.Equal(e.Sha256, a.Sha256);
        }
    }

    [Fact]
    public void Every_record_type_survives_a_reopen()
    {
        using (var journal = OffloadJournal.Open(JournalPath, out var created))
        {
            Assert.True(created.Created);
            foreach (var r in History()) journal.Append(r, durable: true);
        }
        using var reopened = OffloadJournal.Open(JournalPath, out var info);
        Assert.Equal(History().Count, info.Records);
        Assert.Equal(0, info.DiscardedBytes);
        var e = reopened.Entries;
        Assert.Equal(["dev/a.mcap", "dev/b-mark.mcap", "dev/c.camera_front.h264", "dev/c.camera_rear.h265", "dev/c.mcap", "dev/d.mcap"], e.Keys.Order(StringComparer.Ordinal));
        // Uploaded to a depot that does not verify: complete, but never verified.
        Assert.True(e["dev/d.mcap"].UploadedUnverified);
        Assert.False(e["dev/d.mcap"].Verified);
        Assert.Equal(300, e["dev/d.mcap"].Offset);
        Assert.Equal(RecordingFileKind.Stream, e["dev/c.camera_front.h264"].Kind);
        Assert.Equal(4500, e["dev/c.camera_front.h264"].Offset);
        Assert.True(e["dev/c.camera_rear.h265"].Verified);
        Assert.True(e["dev/a.mcap"].Verified);
        Assert.Equal(1000, e["dev/a.mcap"].Offset);
        Assert.Equal("http://127.0.0.1:1/files/bbb", e["dev/b-mark.mcap"].Url);
        Assert.Equal(2500, e["dev/b-mark.mcap"].Offset);
        Assert.Equal(1_800_000_000_000, e["dev/b-mark.mcap"].ExpiresUnixMs);
        Assert.True(e["dev/b-mark.mcap"].Marks);
        Assert.False(e["dev/b-mark.mcap"].Verified);
        Assert.Equal(Hash("dev/b-mark.mcap"), e["dev/b-mark.mcap"].Sha256);
    }

    [Fact]
    public void Truncation_at_every_offset_keeps_every_whole_record_and_loses_no_confirmed_upload()
    {
        var history = History();
        using (var journal = OffloadJournal.Open(JournalPath, out _))
            foreach (var r in history) journal.Append(r, durable: true);
        var full = File.ReadAllBytes(JournalPath);

        // Where each record ends: a cut at or after that point must keep it.
        var ends = new List<int>();
        var at = OffloadJournal.HeaderSize;
        foreach (var r in history)
        {
            at += OffloadJournal.Encode(r).Length;
            ends.Add(at);
        }
        Assert.Equal(full.Length, at);

        var torn = Path.Combine(_dir, "torn.journal");
        for (var cut = 0; cut <= full.Length; cut++)
        {
            File.WriteAllBytes(torn, full.AsSpan(0, cut).ToArray());
            using var journal = OffloadJournal.Open(torn, out var info);
            var whole = ends.Count(end => end <= cut);
            var expected = Replay(history.Take(whole), _dir);
            AssertSame(expected, journal.Entries);
            Assert.Equal(cut < OffloadJournal.HeaderSize ? 0 : whole, info.Records);
            // The torn tail is cut off on disk, so the next append lands on a record boundary.
            var boundary = whole == 0 ? OffloadJournal.HeaderSize : ends[whole - 1];
            Assert.Equal(boundary, new FileInfo(torn).Length);
            // Every upload verified in the kept prefix is still verified.
            foreach (var v in history.Take(whole).OfType<VerifiedRecord>())
                if (expected.ContainsKey(v.Key)) Assert.True(journal.Entries[v.Key].Verified, $"cut {cut}: {v.Key} lost its verification");
            journal.Append(new OffsetRecord("dev/b-mark.mcap", 4000), durable: false);
        }
    }

    [Fact]
    public void A_record_appended_after_a_torn_tail_is_read_back()
    {
        using (var journal = OffloadJournal.Open(JournalPath, out _))
            foreach (var r in History()) journal.Append(r, durable: true);
        var full = File.ReadAllBytes(JournalPath);
        File.WriteAllBytes(JournalPath, full.AsSpan(0, full.Length - 3).ToArray());
        using (var journal = OffloadJournal.Open(JournalPath, out var info))
        {
            Assert.True(info.DiscardedBytes > 0);
            // The torn record is the last one: dev/d.mcap's "uploaded".
            Assert.False(journal.Entries["dev/d.mcap"].UploadedUnverified);
            journal.Append(new UploadedRecord("dev/d.mcap", Hash("dev/d.mcap")), durable: true);
        }
        using var again = OffloadJournal.Open(JournalPath, out var second);
        Assert.Equal(0, second.DiscardedBytes);
        Assert.True(again.Entries["dev/d.mcap"].UploadedUnverified);
    }

    [Fact]
    public void A_flipped_bit_ends_the_journal_at_the_damaged_record()
    {
        using (var journal = OffloadJournal.Open(JournalPath, out _))
            foreach (var r in History()) journal.Append(r, durable: true);
        var bytes = File.ReadAllBytes(JournalPath);
        var second = OffloadJournal.HeaderSize + OffloadJournal.Encode(History()[0]).Length;
        bytes[second + 6] ^= 0x10;
        File.WriteAllBytes(JournalPath, bytes);
        using var reopened = OffloadJournal.Open(JournalPath, out var info);
        Assert.Equal(1, info.Records);
        Assert.Null(reopened.Entries["dev/a.mcap"].Url);
    }

    [Fact]
    public void Compaction_keeps_the_state_and_shrinks_the_file()
    {
        using (var journal = OffloadJournal.Open(JournalPath, out _))
        {
            foreach (var r in History()) journal.Append(r, durable: false);
            for (var i = 0; i < 2000; i++) journal.Append(new OffsetRecord("dev/b-mark.mcap", 2500 + i), durable: false);
            var before = journal.Entries;
            var length = journal.Length;
            journal.Compact();
            Assert.True(journal.Length < length / 10, $"{journal.Length} vs {length}");
            AssertSame(before, journal.Entries);
            journal.Append(new VerifiedRecord("dev/b-mark.mcap", Hash("dev/b-mark.mcap")), durable: true);
        }
        using var reopened = OffloadJournal.Open(JournalPath, out var info);
        Assert.Equal(0, info.DiscardedBytes);
        Assert.True(reopened.Entries["dev/b-mark.mcap"].Verified);
        Assert.True(reopened.Entries["dev/a.mcap"].Verified);
        Assert.False(File.Exists(JournalPath + ".tmp"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(OffloadJournal.Version + 1)]
    public void A_journal_of_another_version_or_not_a_journal_is_refused(int version)
    {
        using (OffloadJournal.Open(JournalPath, out _))
        {
        }
        var bytes = File.ReadAllBytes(JournalPath);
        bytes[8] = (byte)version;
        var crc = System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(0, 12));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), crc);
        File.WriteAllBytes(JournalPath, bytes);
        var e = Assert.Throws<OffloadJournalException>(() => OffloadJournal.Open(JournalPath, out _));
        Assert.Contains($"version {version}", e.Message, StringComparison.Ordinal);

        File.WriteAllText(JournalPath, "hello, this is not a journal");
        Assert.Throws<OffloadJournalException>(() => OffloadJournal.Open(JournalPath, out _));
    }

    [Fact]
    public void A_version_1_journal_is_read_and_rewritten_as_the_current_version_before_anything_is_appended()
    {
        var history = Version1History();
        File.WriteAllBytes(JournalPath, Version1Journal(history));
        using (var journal = OffloadJournal.Open(JournalPath, out var info))
        {
            Assert.Equal(1, info.UpgradedFrom);
            Assert.Equal(history.Count, info.Records);
            Assert.Equal(0, info.DiscardedBytes);
            AssertSame(Replay(history, _dir), journal.Entries);
            Assert.Equal((uint)OffloadJournal.Version, VersionOf(JournalPath));
            Assert.False(File.Exists(JournalPath + ".tmp"));
            journal.Append(Queued("dev/c.camera_front.h264", 9000), durable: true);
        }
        using var reopened = OffloadJournal.Open(JournalPath, out var again);
        Assert.Equal(0, again.UpgradedFrom);
        Assert.Equal(0, again.DiscardedBytes);
        Assert.True(reopened.Entries["dev/a.mcap"].Verified);
        Assert.Equal(RecordingFileKind.Stream, reopened.Entries["dev/c.camera_front.h264"].Kind);
    }

    [Fact]
    public void A_torn_version_1_journal_keeps_every_whole_record_through_the_upgrade()
    {
        var history = Version1History();
        var full = Version1Journal(history);
        var ends = new List<int>();
        var at = OffloadJournal.HeaderSize;
        foreach (var r in history)
        {
            at += OffloadJournal.Encode(r).Length;
            ends.Add(at);
        }
        for (var cut = OffloadJournal.HeaderSize; cut <= full.Length; cut++)
        {
            File.WriteAllBytes(JournalPath, full.AsSpan(0, cut).ToArray());
            using var journal = OffloadJournal.Open(JournalPath, out var info);
            var whole = ends.Count(end => end <= cut);
            var expected = Replay(history.Take(whole), _dir);
            AssertSame(expected, journal.Entries);
            Assert.Equal(whole, info.Records);
            Assert.Equal(1, info.UpgradedFrom);
            Assert.Equal((uint)OffloadJournal.Version, VersionOf(JournalPath));
            foreach (var v in history.Take(whole).OfType<VerifiedRecord>())
                if (expected.ContainsKey(v.Key)) Assert.True(journal.Entries[v.Key].Verified, $"cut {cut}: {v.Key} lost its verification");
        }
    }

    [Fact]
    public void A_record_of_an_unknown_file_kind_ends_the_replay_like_damage()
    {
        using (var journal = OffloadJournal.Open(JournalPath, out _))
        {
            journal.Append(Queued("dev/a.mcap"), durable: true);
            journal.Append(Queued("dev/a.camera_front.h264"), durable: true);
        }
        // Rewrite the second record's kind byte to 9 with a valid CRC: a well-framed record this version cannot mean.
        var bytes = File.ReadAllBytes(JournalPath);
        var second = OffloadJournal.HeaderSize + OffloadJournal.Encode(Queued("dev/a.mcap")).Length;
        var key = System.Text.Encoding.UTF8.GetByteCount("dev/a.camera_front.h264");
        var kindAt = second + 4 + 1 + 2 + key + 8 + 8 + 32;
        Assert.Equal((byte)RecordingFileKind.Stream, bytes[kindAt]);
        bytes[kindAt] = 9;
        var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(second));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(second + 4 + length), System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(second, 4 + length)));
        File.WriteAllBytes(JournalPath, bytes);
        using var reopened = OffloadJournal.Open(JournalPath, out var info);
        Assert.Equal(1, info.Records);
        Assert.Equal(["dev/a.mcap"], reopened.Entries.Keys);
        Assert.Throws<ArgumentException>(() => OffloadJournal.Encode(Queued("dev/x.mcap") with { Kind = (RecordingFileKind)9 }));
    }
}
