using System.Diagnostics.CodeAnalysis;

namespace Recorder.Mcap;

/// <summary>What went wrong. Recovery branches on <see cref="Truncated"/> versus everything else.</summary>
public enum McapErrorKind
{
    /// <summary>The input ended inside a record (or before the magic). More bytes would have helped.</summary>
    Truncated,
    /// <summary>The leading or trailing magic is wrong: not an MCAP stream.</summary>
    BadMagic,
    /// <summary>A record's fields do not fit its length, or a value is out of range.</summary>
    InvalidRecord,
    /// <summary>A string field is not valid UTF-8.</summary>
    InvalidUtf8,
    /// <summary>A stored CRC does not match the bytes it covers.</summary>
    CrcMismatch,
    /// <summary>A record is longer than the configured maximum.</summary>
    RecordTooLarge,
    /// <summary>A chunk uses a compression this library does not know.</summary>
    UnsupportedCompression,
    /// <summary>A compressed chunk did not decompress to its declared size.</summary>
    DecompressionFailed,
    /// <summary>A record refers to a schema or channel that was not declared.</summary>
    UnknownReference,
    /// <summary>The API was used out of order (writing after Finish, an unregistered channel, ...).</summary>
    InvalidOperation,
    /// <summary>The writer's output failed earlier; the writer is in its terminal Failed state.</summary>
    WriterFailed,
    /// <summary>A file has no summary or chunk indexes, and the operation reads only through them (the merger).</summary>
    NotIndexed,
}

/// <summary>The one exception type of Recorder.Mcap: a kind, and where in the input it happened.</summary>
public sealed class McapException : Exception
{
    public McapException(McapErrorKind kind, string message, long offset = -1, McapOpcode? opcode = null, Exception? inner = null)
        : base(Describe(kind, message, offset, opcode), inner)
    {
        Kind = kind;
        Offset = offset;
        Opcode = opcode;
        Reason = message;
    }

    public McapErrorKind Kind { get; }

    /// <summary>Absolute byte offset in the input of the record (or byte) at fault; -1 when not known.</summary>
    public long Offset { get; }

    /// <summary>The opcode of the record at fault, when there is one.</summary>
    public McapOpcode? Opcode { get; }

    /// <summary>The message without the kind/offset decoration.</summary>
    public string Reason { get; }

    /// <summary>True when the input simply stopped: everything before <see cref="Offset"/> is intact.</summary>
    public bool IsTruncation => Kind == McapErrorKind.Truncated;

    private static string Describe(McapErrorKind kind, string message, long offset, McapOpcode? opcode)
    {
        var where = offset >= 0 ? $" at offset {offset}" : "";
        var what = opcode is { } op ? $" in {op} record" : "";
        return $"{kind}{what}{where}: {message}";
    }
}

/// <summary>Throws kept out of hot methods so those stay small enough to inline.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void Throw(McapErrorKind kind, string message, long offset = -1, McapOpcode? opcode = null, Exception? inner = null)
        => throw new McapException(kind, message, offset, opcode, inner);

    [DoesNotReturn]
    public static T Throw<T>(McapErrorKind kind, string message, long offset = -1, McapOpcode? opcode = null)
        => throw new McapException(kind, message, offset, opcode);

    [DoesNotReturn]
    public static void FieldOverrun(McapOpcode opcode, long offset, string field)
        => throw new McapException(McapErrorKind.InvalidRecord, $"field '{field}' runs past the end of the record", offset, opcode);

    [DoesNotReturn]
    public static void UnknownChannel(ushort channelId)
        => throw new McapException(McapErrorKind.InvalidOperation, $"channel {channelId} was not added to this writer");

    [DoesNotReturn]
    public static void NotOpen(string state)
        => throw new McapException(state == "Failed" ? McapErrorKind.WriterFailed : McapErrorKind.InvalidOperation,
            $"the writer is {state}");
}
