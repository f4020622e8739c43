namespace Recorder.Mcap;

/// <summary>Record opcodes defined by the MCAP specification. 0x80–0xFF are reserved for private records.</summary>
public enum McapOpcode : byte
{
    Invalid = 0x00,
    Header = 0x01,
    Footer = 0x02,
    Schema = 0x03,
    Channel = 0x04,
    Message = 0x05,
    Chunk = 0x06,
    MessageIndex = 0x07,
    ChunkIndex = 0x08,
    Attachment = 0x09,
    AttachmentIndex = 0x0A,
    Statistics = 0x0B,
    Metadata = 0x0C,
    MetadataIndex = 0x0D,
    SummaryOffset = 0x0E,
    DataEnd = 0x0F,
}

/// <summary>Chunk compression formats named by the MCAP registry.</summary>
public enum McapCompression
{
    /// <summary>Stored as is (<c>""</c> on the wire).</summary>
    None,
    /// <summary>LZ4 frame format (magic 04 22 4D 18), not raw blocks.</summary>
    Lz4,
    /// <summary>A standard Zstandard frame.</summary>
    Zstd,
}

/// <summary>Fixed sizes and byte patterns of the format.</summary>
public static class McapConstants
{
    /// <summary>The 8 bytes at both ends of every file: <c>\x89MCAP0\r\n</c>.</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A];

    public const int MagicLength = 8;

    /// <summary>opcode (u8) + content length (u64).</summary>
    public const int RecordPrefixLength = 9;

    /// <summary>channel_id u16, sequence u32, log_time u64, publish_time u64.</summary>
    public const int MessageHeaderLength = 22;

    /// <summary>Footer content: summary_start u64, summary_offset_start u64, summary_crc u32.</summary>
    public const int FooterContentLength = 20;

    /// <summary>A whole Footer record plus the trailing magic: what an indexed reader reads first.</summary>
    public const int FooterAndMagicLength = RecordPrefixLength + FooterContentLength + MagicLength;

    public const string CompressionNone = "";
    public const string CompressionLz4 = "lz4";
    public const string CompressionZstd = "zstd";

    /// <summary>The wire name of a compression.</summary>
    public static string CompressionName(McapCompression compression) => compression switch
    {
        McapCompression.Lz4 => CompressionLz4,
        McapCompression.Zstd => CompressionZstd,
        _ => CompressionNone,
    };

    /// <summary>Parses a wire compression name; false for names this library cannot decode.</summary>
    public static bool TryParseCompression(string name, out McapCompression compression)
    {
        switch (name)
        {
            case CompressionNone: compression = McapCompression.None; return true;
            case CompressionLz4: compression = McapCompression.Lz4; return true;
            case CompressionZstd: compression = McapCompression.Zstd; return true;
            default: compression = McapCompression.None; return false;
        }
    }

    /// <summary>True for opcodes 0x01–0x0F, the ones the current specification defines.</summary>
    public static bool IsKnown(McapOpcode opcode) => opcode is >= McapOpcode.Header and <= McapOpcode.DataEnd;
}
