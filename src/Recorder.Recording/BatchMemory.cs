using System.Runtime.InteropServices;

namespace Recorder.Recording;

/// <summary>
/// The memory every <see cref="MessageBatch"/> is built in: one slab owned by the
/// <see cref="BatchQueue"/> and sized by its capacity (ingest.queue), so the queue's byte bound is
/// also the bound on what batches occupy. The slab is reserved as address space only; the kernel
/// gives it pages as blocks are first used, so memory follows the deepest the queue has been, and
/// never exceeds the capacity. Freed blocks are reused (most recently freed first, so the same
/// few pages stay hot); nothing goes through the GC or ArrayPool, so there is no garbage to wait
/// for and no hidden second copy of the queue.
/// <para>The slab is carved into 128 KiB superblocks; each in-use superblock serves one block size
/// (8, 32 or 128 KiB). A superblock whose blocks are all free goes back to the common stock and
/// may serve another size next. A message larger than the largest block gets a mapping of its own
/// (counted against the queue by its size and unmapped as soon as the writer is done with it), and
/// so does a block requested while the slab is exhausted (a transient overshoot by batches still
/// being filled, counted in <see cref="OverflowBlocks"/>).</para>
/// </summary>
public sealed unsafe partial class BatchMemory
{
    public const int SmallBlock = 8 * 1024;
    public const int MediumBlock = 32 * 1024;
    public const int LargeBlock = 128 * 1024;
    private const int SuperBlock = LargeBlock;
    private static readonly int[] Sizes = [SmallBlock, MediumBlock, LargeBlock];

    private readonly object _lock = new();
    private readonly byte* _slab;
    private readonly nuint _slabBytes;
    private readonly Super[] _supers;
    private int _untouched; // superblocks [_untouched, count) have never been used: no pages yet
    private readonly Stack<int> _empty = new(); // used before, now entirely free: pages present unless trimmed
    private readonly List<int>[] _partial = [new(), new(), new()]; // per size class: superblocks with a free block

    private long _slabInUse;
    private long _separateInUse;
    private long _residentSlab;
    // Separate mappings given back recently, kept for the next message of a similar size (a stream
    // of large messages then touches no new pages); they count as resident.
    private readonly List<Block> _spare = new();
    private long _spareBytes;

    private struct Super
    {
        public sbyte Class; // -1: not assigned
        public byte Free;
        public bool Trimmed;
        public int PartialIndex; // position in _partial[Class], -1 when not there
        public ushort FreeMask; // up to 16 blocks per superblock
    }

    /// <param name="capacityBytes">The most the slab holds: the queue's capacity, rounded up to 128 KiB.</param>
    public BatchMemory(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        var supers = (int)Math.Min((capacityBytes + SuperBlock - 1) / SuperBlock, int.MaxValue / 2);
        _supers = new Super[supers];
        _slabBytes = (nuint)supers * SuperBlock;
        _slab = Map(_slabBytes);
        CapacityBytes = (long)_slabBytes;
    }

    ~BatchMemory()
    {
        if (_slab != null) Unmap(_slab, _slabBytes);
    }

    /// <summary>Bytes the slab may occupy at most.</summary>
    public long CapacityBytes { get; }

    /// <summary>Slab bytes in blocks that are rented out now.</summary>
    public long SlabBytesInUse
    {
        get { lock (_lock) return _slabInUse; }
    }

    /// <summary>Bytes in separate mappings rented out now (oversize messages, overflow blocks).</summary>
    public long SeparateBytesInUse
    {
        get { lock (_lock) return _separateInUse; }
    }

    /// <summary>Bytes in separate mappings kept for reuse.</summary>
    public long SpareBytes
    {
        get { lock (_lock) return _spareBytes; }
    }

    /// <summary>Slab bytes that have been touched and not trimmed since: the most RSS the slab can account for.</summary>
    public long ResidentSlabBytes
    {
        get { lock (_lock) return _residentSlab; }
    }

    /// <summary>Blocks handed out from separate mappings because the slab was exhausted.</summary>
    public long OverflowBlocks { get; private set; }

    /// <summary>Messages that got a mapping of their own.</summary>
    public long OversizeBlocks { get; private set; }

    /// <summary>The block size used for an entry of <paramref name="bytes"/>: 8, 32 or 128 KiB, or the page-rounded size for a larger one.</summary>
    public static int BlockSizeFor(int bytes) =>
        bytes <= SmallBlock ? SmallBlock : bytes <= MediumBlock ? MediumBlock : bytes <= LargeBlock ? LargeBlock : RoundToPage(bytes);

    private static int RoundToPage(int bytes) => checked((bytes + 4095) & ~4095);

    /// <summary>A block of at least <paramref name="bytes"/> (see <see cref="BlockSizeFor"/>).</summary>
    public Block Rent(int bytes)
    {
        var size = BlockSizeFor(bytes);
        var cls = Array.IndexOf(Sizes, size);
        lock (_lock)
        {
            if (cls < 0)
            {
                OversizeBlocks++;
                return RentSeparate(size);
            }
            var list = _partial[cls];
            int index;
            if (list.Count > 0)
            {
                index = list[^1];
            }
            else if (TakeSuper(out index))
            {
                ref var fresh = ref _supers[index];
                fresh.Class = (sbyte)cls;
                fresh.Free = (byte)(SuperBlock / size);
                fresh.FreeMask = (ushort)((1 << fresh.Free) - 1);
                fresh.PartialIndex = list.Count;
                list.Add(index);
            }
            else
            {
                OverflowBlocks++;
                return RentSeparate(size);
            }
            ref var super = ref _supers[index];
            var slot = System.Numerics.BitOperations.TrailingZeroCount(super.FreeMask);
            super.FreeMask &= (ushort)~(1 << slot);
            super.Free--;
            if (super.Free == 0) RemovePartial(cls, index);
            _slabInUse += size;
            return new Block((nint)(_slab + (nint)index * SuperBlock + (nint)slot * size), size, BlockKind.Slab);
        }
    }

    private bool TakeSuper(out int index)
    {
        // New pages for the slab: spare mappings go first, so the whole stays within the capacity.
        while (_spareBytes > 0 && _residentSlab + _separateInUse + _spareBytes + SuperBlock > CapacityBytes && DropSpare()) { }
        if (_empty.Count > 0)
        {
            index = _empty.Pop();
            if (_supers[index].Trimmed)
            {
                _supers[index].Trimmed = false;
                _residentSlab += SuperBlock;
            }
            return true;
        }
        if (_untouched < _supers.Length)
        {
            index = _untouched++;
            _supers[index] = new Super { Class = -1, PartialIndex = -1 };
            _residentSlab += SuperBlock;
            return true;
        }
        index = -1;
        return false;
    }

    private Block RentSeparate(int size)
    {
        // The smallest spare mapping that fits and wastes at most a quarter.
        var best = -1;
        for (var i = 0; i < _spare.Count; i++)
            if (_spare[i].Size >= size && (long)_spare[i].Size * 4 <= (long)size * 5 && (best < 0 || _spare[i].Size < _spare[best].Size)) best = i;
        if (best >= 0)
        {
            var reused = _spare[best];
            _spare.RemoveAt(best);
            _spareBytes -= reused.Size;
            _separateInUse += reused.Size;
            return reused;
        }
        // Keep what the slab holds plus the separate mappings within the capacity: give back spare
        // mappings, then the pages of superblocks nobody uses (their contents are dead), before mapping more.
        while (_residentSlab + _separateInUse + _spareBytes + size > CapacityBytes && (DropSpare() || TrimOne())) { }
        _separateInUse += size;
        return new Block((nint)Map((nuint)size, populate: true), size, BlockKind.Separate);
    }

    private bool DropSpare()
    {
        if (_spare.Count == 0) return false;
        var oldest = _spare[0];
        _spare.RemoveAt(0);
        _spareBytes -= oldest.Size;
        Unmap((byte*)oldest.Address, (nuint)oldest.Size);
        return true;
    }

    /// <summary>
    /// Spare separate mappings kept at most: enough for a stream of large messages to ping-pong
    /// between the producer and the writer without faulting in fresh pages for each, while the
    /// queue is full too (so they are a small allowance beside the capacity, not inside it).
    /// </summary>
    private long SpareLimit => Math.Min(CapacityBytes / 16, 8L << 20);

    private bool TrimOne()
    {
        foreach (var index in _empty)
        {
            ref var super = ref _supers[index];
            if (super.Trimmed) continue;
            Advise(_slab + (nint)index * SuperBlock, SuperBlock);
            super.Trimmed = true;
            _residentSlab -= SuperBlock;
            return true;
        }
        return false;
    }

    public void Return(Block block)
    {
        if (block.Address == 0) return;
        lock (_lock)
        {
            if (block.Kind == BlockKind.Separate)
            {
                _separateInUse -= block.Size;
                if (block.Size > LargeBlock && block.Size <= SpareLimit)
                {
                    _spare.Add(block);
                    _spareBytes += block.Size;
                    while (_spareBytes > SpareLimit && DropSpare()) { }
                    return;
                }
                Unmap((byte*)block.Address, (nuint)block.Size);
                return;
            }
            var offset = (nint)((byte*)block.Address - _slab);
            var index = (int)(offset / SuperBlock);
            ref var super = ref _supers[index];
            var cls = super.Class;
            var size = Sizes[cls];
            var slot = (int)(offset % SuperBlock) / size;
            super.FreeMask |= (ushort)(1 << slot);
            super.Free++;
            _slabInUse -= size;
            if (super.Free == 1 && SuperBlock / size > 1) AddPartial(cls, index);
            if (super.Free == SuperBlock / size)
            {
                if (super.PartialIndex >= 0) RemovePartial(cls, index);
                super.Class = -1;
                _empty.Push(index);
            }
        }
    }

    private void AddPartial(int cls, int index)
    {
        _supers[index].PartialIndex = _partial[cls].Count;
        _partial[cls].Add(index);
    }

    private void RemovePartial(int cls, int index)
    {
        var list = _partial[cls];
        var at = _supers[index].PartialIndex;
        var last = list[^1];
        list[at] = last;
        _supers[last].PartialIndex = at;
        list.RemoveAt(list.Count - 1);
        _supers[index].PartialIndex = -1;
    }

    // ---- the OS: anonymous mappings, so pages exist only once touched and go back at once ----

    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000, MapPopulate = 0x8000, MadvDontNeed = 4;

    /// <param name="populate">Fault every page in with the one call (a block about to be filled whole), rather than one trap per page.</param>
    private static byte* Map(nuint bytes, bool populate = false)
    {
        if (!OperatingSystem.IsLinux()) return (byte*)NativeMemory.Alloc(bytes);
        var p = MMap(null, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous | (populate ? MapPopulate : MapNoReserve), -1, 0);
        if (p == (void*)-1) throw new OutOfMemoryException($"mmap of {bytes} bytes for the queue failed (errno {Marshal.GetLastPInvokeError()})");
        return (byte*)p;
    }

    private static void Unmap(byte* p, nuint bytes)
    {
        if (!OperatingSystem.IsLinux()) NativeMemory.Free(p);
        else MUnmap(p, bytes);
    }

    private static void Advise(byte* p, nuint bytes)
    {
        if (OperatingSystem.IsLinux()) MAdvise(p, bytes, MadvDontNeed);
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int MUnmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(void* address, nuint length, int advice);
}

public enum BlockKind : byte
{
    Slab,
    /// <summary>A mapping of its own: an oversize message, or a block while the slab was exhausted.</summary>
    Separate,
}

/// <summary>A block of batch memory: native, so it costs the GC nothing.</summary>
public readonly unsafe struct Block(nint address, int size, BlockKind kind)
{
    public nint Address { get; } = address;
    public int Size { get; } = size;
    public BlockKind Kind { get; } = kind;
    public Span<byte> Span => new((void*)Address, Size);
}
