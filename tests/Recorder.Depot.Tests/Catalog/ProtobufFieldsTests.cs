using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Recorder.Depot.Catalog;

namespace Recorder.Depot.Tests.Catalog;

/// <summary>The depot's protobuf decoder against messages and descriptors encoded by Google.Protobuf itself.</summary>
public sealed class ProtobufFieldsTests
{
    [Fact]
    public void Well_known_types_decode_through_their_own_file_descriptor_set()
    {
        // google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2; } as Google.Protobuf describes and encodes it.
        var set = new FileDescriptorSet();
        set.File.Add(FileDescriptorProto.Parser.ParseFrom(Duration.Descriptor.File.SerializedData));
        var fields = new ProtobufFields(set.ToByteArray(), "google.protobuf.Duration");
        Assert.Equal(new[] { "seconds", "nanos" }, fields.NumericPaths(8));
        var paths = fields.Compile(["seconds", "nanos", "nope"]);
        var values = new double?[3];
        paths.Read(new Duration { Seconds = -12, Nanos = -500 }.ToByteArray(), values);
        Assert.Equal(new double?[] { -12, -500, null }, values);
        // proto3: an absent scalar is its default, 0.
        paths.Read(new Duration { Seconds = 7 }.ToByteArray(), values);
        Assert.Equal(new double?[] { 7, 0, null }, values);
        Assert.Throws<InvalidDataException>(() => paths.Read([0x08, 0xFF], values)); // a varint cut short
        Assert.Throws<InvalidDataException>(() => new ProtobufFields(set.ToByteArray(), "google.protobuf.Nope"));
    }

    [Fact]
    public void Nested_messages_are_followed_and_an_absent_one_gives_nulls()
    {
        // A message of our own in proto2, where an absent scalar is a null.
        var file = new FileDescriptorProto { Name = "t.proto", Package = "p", Syntax = "proto2" };
        var inner = new DescriptorProto { Name = "Inner" };
        inner.Field.Add(new FieldDescriptorProto { Name = "v", Number = 1, Type = FieldDescriptorProto.Types.Type.Sint32, Label = FieldDescriptorProto.Types.Label.Optional });
        var outer = new DescriptorProto { Name = "Outer" };
        outer.Field.Add(new FieldDescriptorProto { Name = "inner", Number = 5, Type = FieldDescriptorProto.Types.Type.Message, TypeName = ".p.Inner", Label = FieldDescriptorProto.Types.Label.Optional });
        outer.Field.Add(new FieldDescriptorProto { Name = "f", Number = 6, Type = FieldDescriptorProto.Types.Type.Float, Label = FieldDescriptorProto.Types.Label.Optional });
        file.MessageType.Add(inner);
        file.MessageType.Add(outer);
        var set = new FileDescriptorSet();
        set.File.Add(file);
        var fields = new ProtobufFields(set.ToByteArray(), ".p.Outer");
        Assert.Equal(new[] { "inner.v", "f" }, fields.NumericPaths(8));
        var paths = fields.Compile(["inner.v", "f"]);
        var values = new double?[2];

        using var innerBytes = new MemoryStream();
        var io = new CodedOutputStream(innerBytes);
        io.WriteTag(1, WireFormat.WireType.Varint);
        io.WriteSInt32(-3);
        io.Flush();
        using var outerBytes = new MemoryStream();
        var o = new CodedOutputStream(outerBytes);
        o.WriteTag(9, WireFormat.WireType.LengthDelimited); // an unknown field is skipped
        o.WriteString("skip me");
        o.WriteTag(5, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(innerBytes.ToArray()));
        o.Flush();
        paths.Read(outerBytes.ToArray(), values);
        Assert.Equal(new double?[] { -3, null }, values); // proto2: f absent is a null
        paths.Read([], values);
        Assert.Equal(new double?[] { null, null }, values); // inner absent: its fields are nulls
    }
}
