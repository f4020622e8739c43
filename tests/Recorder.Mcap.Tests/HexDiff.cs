using System.Buffers.Binary;
using System.Text;

namespace Recorder.Mcap.Tests;

/// <summary>Splits two MCAP byte strings at record boundaries and shows the records side by side.</summary>
public static class HexDiff
{
    public static string ByRecord(byte[] expected, byte[] actual)
    {
        var a = Split(expected);
        var b = Split(actual);
        var sb = new StringBuilder();
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            var x = i < a.Count ? a[i] : "";
            var y = i < b.Count ? b[i] : "";
            sb.Append(x == y ? "  " : "! ").Append("expected ").AppendLine(x);
            if (x != y) sb.Append("  actual   ").AppendLine(y);
        }
        return sb.ToString();
    }

    private static List<string> Split(byte[] bytes)
    {
        var parts = new List<string>();
        var position = 0;
        if (bytes.Length >= 8) { parts.Add("magic " + Convert.ToHexString(bytes, 0, 8)); position = 8; }
        while (position + 9 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(position + 1));
            var end = (int)Math.Min((ulong)bytes.Length, (ulong)position + 9 + length);
            parts.Add($"@{position} op={bytes[position]:X2} len={length} {Convert.ToHexString(bytes, position + 9, end - position - 9)}");
            var opcode = bytes[position];
            position = end;
            if (opcode == 0x02) break; // Footer: the trailing magic follows
        }
        if (position < bytes.Length) parts.Add("tail " + Convert.ToHexString(bytes, position, bytes.Length - position));
        return parts;
    }
}
