namespace Recorder.Mcap.Internal;

/// <summary>
/// CRC-32 (IEEE, as <see cref="System.IO.Hashing.Crc32"/>) of a concatenation from the CRCs of its
/// parts, after zlib's crc32_combine: lets a CRC that covers bytes already hashed for another CRC
/// skip hashing them again. O(log n) in the second part's length.
/// </summary>
internal static class Crc32Combine
{
    private const uint Poly = 0xEDB88320;
    private static readonly uint[] PowersOfTwo = BuildTable(); // x^(2^k) mod p(x)

    private static uint[] BuildTable()
    {
        var table = new uint[32];
        var p = 1u << 30; // x^1
        table[0] = p;
        for (var n = 1; n < 32; n++) table[n] = p = MultModP(p, p);
        return table;
    }

    private static uint MultModP(uint a, uint b)
    {
        var m = 1u << 31;
        var p = 0u;
        while (true)
        {
            if ((a & m) != 0)
            {
                p ^= b;
                if ((a & (m - 1)) == 0) break;
            }
            m >>= 1;
            b = (b & 1) != 0 ? (b >> 1) ^ Poly : b >> 1;
        }
        return p;
    }

    /// <summary>x^(n * 2^k) mod p(x).</summary>
    private static uint X2nModP(long n, int k)
    {
        var p = 1u << 31; // x^0
        while (n != 0)
        {
            if ((n & 1) != 0) p = MultModP(PowersOfTwo[k & 31], p);
            n >>= 1;
            k++;
        }
        return p;
    }

    /// <summary>The CRC of A followed by B, from crc(A), crc(B) and B's length.</summary>
    public static uint Combine(uint crcA, uint crcB, long lengthB) =>
        lengthB == 0 ? crcA : MultModP(X2nModP(lengthB, 3), crcA) ^ crcB;
}
