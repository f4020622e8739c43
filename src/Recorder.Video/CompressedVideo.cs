namespace Recorder.Video;

/// <summary>
/// foxglove.CompressedVideo (protobuf): timestamp (google.protobuf.Timestamp, 1), frame_id (2),
/// data (3), format (4). Encoded and decoded by hand, without allocation; the schema is embedded
/// in every file as a FileDescriptorSet (with google/protobuf/timestamp.proto).
/// </summary>
public static class CompressedVideo
{
    public const string SchemaName = "foxglove.CompressedVideo";
    public const string SchemaEncoding = "protobuf";
    public const string MessageEncoding = "protobuf";

    /// <summary>The serialized FileDescriptorSet for the MCAP Schema record.</summary>
    public static ReadOnlySpan<byte> FileDescriptorSet => throw new NotImplementedException();

    /// <summary>An upper bound of the encoded size.</summary>
    public static int MaxEncodedLength(int frameIdLength, int dataLength) => throw new NotImplementedException();

    /// <summary>Encodes a message whose data is <paramref name="prefix"/> followed by <paramref name="accessUnit"/> (prefix: prepended parameter sets). Returns the length written.</summary>
    public static int Encode(Span<byte> destination, ulong timestampNs, ReadOnlySpan<byte> frameIdUtf8, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> accessUnit, VideoCodec codec) => throw new NotImplementedException();

    /// <summary>Finds the fields of an encoded message (unknown fields skipped). False when it is not valid protobuf of this shape.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, out ulong timestampNs, out ReadOnlySpan<byte> frameId, out ReadOnlySpan<byte> data, out ReadOnlySpan<byte> format) => throw new NotImplementedException();
}
