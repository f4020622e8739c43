using Google.Protobuf;
using Google.Protobuf.Reflection;
using ProtoCompressedVideo = Foxglove.CompressedVideo;
using ProtoKeyframeKind = global::Recorder.KeyframeKind;
using ProtoVideoFrameRef = global::Recorder.VideoFrameRef;

namespace Recorder.Video.Tests;

/// <summary>
/// The hand-written encoders against protoc and Google.Protobuf: the embedded FileDescriptorSets
/// are byte for byte what protoc writes for proto/, and messages round-trip through classes protoc
/// generated from the same files.
/// </summary>
public class ProtobufTests
{
    [Theory]
    [InlineData("foxglove/CompressedVideo.proto")]
    [InlineData("video_frame_ref.proto")]
    public void Embedded_descriptor_set_is_what_protoc_writes_for_the_proto_file(string proto)
    {
        var output = Clips.TempPath(proto.Replace('/', '_') + ".pb");
        var protoDir = Path.Combine(RepoRoot(), "proto");
        var include = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Tools.Protoc)))!, "build", "native", "include");
        Tools.Run(Tools.Protoc, "-I", protoDir, "-I", include, "--include_imports", "--descriptor_set_out=" + output, Path.Combine(protoDir, proto));
        var ours = proto.StartsWith("foxglove", StringComparison.Ordinal) ? CompressedVideo.FileDescriptorSet.ToArray() : VideoFrameRef.FileDescriptorSet.ToArray();
        Assert.Equal(File.ReadAllBytes(output), ours);
    }

    [Fact]
    public void Compressed_video_descriptor_declares_the_timestamp_import_and_the_foxglove_fields()
    {
        var set = FileDescriptorSet.Parser.ParseFrom(CompressedVideo.FileDescriptorSet.ToArray());
        Assert.Equal(["google/protobuf/timestamp.proto", "foxglove/CompressedVideo.proto"], set.File.Select(f => f.Name));
        var file = set.File[1];
        Assert.Equal("foxglove", file.Package);
        Assert.Equal(["google/protobuf/timestamp.proto"], file.Dependency);
        var message = Assert.Single(file.MessageType);
        Assert.Equal(CompressedVideo.SchemaName, file.Package + "." + message.Name);
        Assert.Equal(
            [("timestamp", 1, FieldDescriptorProto.Types.Type.Message), ("frame_id", 2, FieldDescriptorProto.Types.Type.String),
             ("data", 3, FieldDescriptorProto.Types.Type.Bytes), ("format", 4, FieldDescriptorProto.Types.Type.String)],
            message.Field.Select(f => (f.Name, f.Number, f.Type)));
        Assert.Equal(".google.protobuf.Timestamp", message.Field[0].TypeName);
        // Links: the dependency resolves, as it must for Foxglove to decode the messages.
        var built = FileDescriptor.BuildFromByteStrings(set.File.Select(f => f.ToByteString()));
        Assert.Equal("google.protobuf.Timestamp", built[1].MessageTypes[0].Fields[1].MessageType.FullName);
    }

    [Fact]
    public void Video_frame_ref_descriptor_has_the_documented_fields()
    {
        var set = FileDescriptorSet.Parser.ParseFrom(VideoFrameRef.FileDescriptorSet.ToArray());
        var file = Assert.Single(set.File);
        Assert.Equal(VideoFrameRef.SchemaName, file.Package + "." + file.MessageType[0].Name);
        Assert.Equal(
            ["frame_number", "log_time_ns", "publish_time_ns", "keyframe", "keyframe_kind", "stream_offset", "size", "stream_file", "format", "width", "height"],
            file.MessageType[0].Field.Select(f => f.Name));
        Assert.Equal(Enumerable.Range(1, 11), file.MessageType[0].Field.Select(f => f.Number));
        Assert.Equal(
            Enum.GetValues<KeyframeKind>().Select(k => (int)k),
            file.EnumType[0].Value.Select(v => v.Number));
        FileDescriptor.BuildFromByteStrings(set.File.Select(f => f.ToByteString()));
    }

    [Theory]
    [InlineData(0UL, "", VideoCodec.H264)]
    [InlineData(1_700_000_000_123_456_789UL, "camera_front", VideoCodec.H265)]
    [InlineData(999_999_999UL, "x", VideoCodec.H264)]
    [InlineData(5_000_000_000UL, "cam", VideoCodec.H265)]
    public void Compressed_video_round_trips_through_protoc_generated_code(ulong timestampNs, string frameId, VideoCodec codec)
    {
        byte[] prefix = [0, 0, 0, 1, 0x67, 1, 2];
        byte[] accessUnit = [0, 0, 1, 0x65, 0x88, 0, 0, 3, 1];
        var frameIdUtf8 = System.Text.Encoding.UTF8.GetBytes(frameId);
        var buffer = new byte[CompressedVideo.MaxEncodedLength(frameIdUtf8.Length, prefix.Length + accessUnit.Length)];
        var length = CompressedVideo.Encode(buffer, timestampNs, frameIdUtf8, prefix, accessUnit, codec);

        var parsed = ProtoCompressedVideo.Parser.ParseFrom(buffer, 0, length);
        Assert.Equal((long)(timestampNs / 1_000_000_000), parsed.Timestamp.Seconds);
        Assert.Equal((int)(timestampNs % 1_000_000_000), parsed.Timestamp.Nanos);
        Assert.Equal(frameId, parsed.FrameId);
        Assert.Equal([.. prefix, .. accessUnit], parsed.Data.ToByteArray());
        Assert.Equal(codec.Name(), parsed.Format);
        // Canonical: Google.Protobuf writes the same bytes for the same message.
        Assert.Equal(parsed.ToByteArray(), buffer.AsSpan(0, length).ToArray());

        Assert.True(CompressedVideo.TryDecode(parsed.ToByteArray(), out var ns, out var decodedFrameId, out var data, out var format));
        Assert.Equal(timestampNs, ns);
        Assert.Equal(frameIdUtf8, decodedFrameId.ToArray());
        Assert.Equal(parsed.Data.ToByteArray(), data.ToArray());
        Assert.Equal(codec.Name(), System.Text.Encoding.UTF8.GetString(format));
    }

    [Fact]
    public void Compressed_video_decode_skips_unknown_fields_and_refuses_malformed_messages()
    {
        var message = new ProtoCompressedVideo { Timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 3, Nanos = 4 }, Format = "h264" };
        var bytes = message.ToByteArray();
        byte[] withUnknown = [.. bytes, 0x28, 0x96, 0x01, 0x35, 1, 2, 3, 4, 0x3A, 2, 9, 9];
        Assert.True(CompressedVideo.TryDecode(withUnknown, out var ns, out _, out _, out var format));
        Assert.Equal(3_000_000_004UL, ns);
        Assert.Equal("h264"u8.ToArray(), format.ToArray());

        // Every cut inside a field is refused; a cut between fields (after the 6-byte timestamp) is a valid message.
        var timestampField = 6;
        for (var cut = 1; cut < bytes.Length; cut++)
            Assert.Equal(cut == timestampField, CompressedVideo.TryDecode(bytes.AsSpan(0, cut), out _, out _, out _, out _));
        var negative = new ProtoCompressedVideo { Timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = -1 } }.ToByteArray();
        Assert.False(CompressedVideo.TryDecode(negative, out _, out _, out _, out _));
        Assert.False(CompressedVideo.TryDecode([0x0B], out _, out _, out _, out _)); // a group: not proto3
    }

    [Fact]
    public void Encoding_into_a_too_small_buffer_is_refused()
    {
        var buffer = new byte[10];
        Assert.Throws<ArgumentException>(() => CompressedVideo.Encode(buffer, 1, [], [], new byte[20], VideoCodec.H264));
        Assert.Throws<ArgumentException>(() => VideoFrameRef.Encode(buffer, new VideoFrameRefFields(), "a"u8));
    }

    public static TheoryData<ulong, KeyframeKind, VideoCodec, uint, uint> FrameRefs => new()
    {
        { 0, KeyframeKind.None, VideoCodec.H264, 0, 0 },
        { 1, KeyframeKind.Idr, VideoCodec.H265, 1920, 1080 },
        { ulong.MaxValue, KeyframeKind.RecoveryPoint, VideoCodec.H264, 642, 362 },
        { 42, KeyframeKind.Cra, VideoCodec.H265, uint.MaxValue, 1 },
        { 43, KeyframeKind.Bla, VideoCodec.H265, 1, uint.MaxValue },
    };

    [Theory]
    [MemberData(nameof(FrameRefs))]
    public void Video_frame_ref_round_trips_through_protoc_generated_code(ulong big, KeyframeKind kind, VideoCodec codec, uint width, uint height)
    {
        var fields = new VideoFrameRefFields(big, big / 2, big / 3, kind, big / 5, (uint)(big % 100_000), codec, width, height);
        var streamFile = "cam0.000001.h264"u8;
        var buffer = new byte[VideoFrameRef.MaxEncodedLength(streamFile.Length)];
        var length = VideoFrameRef.Encode(buffer, fields, streamFile);

        var parsed = ProtoVideoFrameRef.Parser.ParseFrom(buffer, 0, length);
        Assert.Equal(fields.FrameNumber, parsed.FrameNumber);
        Assert.Equal(fields.LogTimeNs, parsed.LogTimeNs);
        Assert.Equal(fields.PublishTimeNs, parsed.PublishTimeNs);
        Assert.Equal(kind != KeyframeKind.None, parsed.Keyframe);
        Assert.Equal((ProtoKeyframeKind)(int)kind, parsed.KeyframeKind);
        Assert.Equal(fields.StreamOffset, parsed.StreamOffset);
        Assert.Equal(fields.Size, parsed.Size);
        Assert.Equal("cam0.000001.h264", parsed.StreamFile);
        Assert.Equal(codec.Name(), parsed.Format);
        Assert.Equal((width, height), (parsed.Width, parsed.Height));
        Assert.Equal(parsed.ToByteArray(), buffer.AsSpan(0, length).ToArray());

        Assert.True(VideoFrameRef.TryDecode(parsed.ToByteArray(), out var decoded, out var decodedFile));
        Assert.Equal(fields, decoded);
        Assert.Equal(streamFile.ToArray(), decodedFile.ToArray());
    }

    [Fact]
    public void Video_frame_ref_decode_refuses_unknown_formats_and_kinds_and_truncation()
    {
        var good = new ProtoVideoFrameRef { FrameNumber = 1, Format = "h264", KeyframeKind = ProtoKeyframeKind.Idr, Keyframe = true }.ToByteArray();
        Assert.True(VideoFrameRef.TryDecode(good, out _, out _));
        Assert.False(VideoFrameRef.TryDecode(new ProtoVideoFrameRef { Format = "vp9" }.ToByteArray(), out _, out _));
        Assert.False(VideoFrameRef.TryDecode(new ProtoVideoFrameRef { Format = "h264", KeyframeKind = (ProtoKeyframeKind)9 }.ToByteArray(), out _, out _));
        for (var cut = 1; cut < good.Length; cut++)
            Assert.False(VideoFrameRef.TryDecode(good.AsSpan(0, cut), out _, out _), $"cut at {cut}");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Recorder.sln"))) return dir.FullName;
        throw new InvalidOperationException("Recorder.sln not found above " + AppContext.BaseDirectory);
    }
}
