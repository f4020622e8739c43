using System.Buffers.Binary;
using System.Text;

namespace Recorder.Depot.Catalog;

/// <summary>
/// Numeric fields of protobuf messages, read with the message's own schema: the MCAP Schema's
/// FileDescriptorSet (schema encoding <c>protobuf</c>, schema name the message's full name). A
/// small wire-format decoder driven by the descriptors, no generated code and no reflection (the
/// depot is native AOT). It reads singular scalar fields, through nested messages
/// (<c>accel.x</c>); repeated fields, maps, strings, bytes, bools and enums are not numeric
/// values here. An absent field is its default (0) in proto3 unless it is declared
/// <c>optional</c>; otherwise, or when a message on its path is absent, it is a null.
/// </summary>
public sealed class ProtobufFields
{
    // FieldDescriptorProto.Type values that are numbers.
    private const int TypeDouble = 1, TypeFloat = 2, TypeInt64 = 3, TypeUint64 = 4, TypeInt32 = 5, TypeFixed64 = 6, TypeFixed32 = 7,
        TypeMessage = 11, TypeUint32 = 13, TypeSfixed32 = 15, TypeSfixed64 = 16, TypeSint32 = 17, TypeSint64 = 18;
    private const int LabelRepeated = 3;

    internal sealed record FieldDescriptor(string Name, int Number, int Label, int Type, string? TypeName, bool Proto3Optional);

    internal sealed record MessageDescriptor(string FullName, bool Proto3, List<FieldDescriptor> Fields);

    private readonly Dictionary<string, MessageDescriptor> _messages = new(StringComparer.Ordinal);
    private readonly MessageDescriptor _root;

    /// <summary>Reads <paramref name="fileDescriptorSet"/> and finds <paramref name="messageName"/> in it; a bad set or an unknown name is an <see cref="InvalidDataException"/>.</summary>
    public ProtobufFields(ReadOnlySpan<byte> fileDescriptorSet, string messageName)
    {
        var reader = new WireReader(fileDescriptorSet);
        while (reader.Next(out var number, out var wire))
            if (number == 1 && wire == 2) ReadFile(reader.Bytes());
            else reader.Skip(wire);
        var name = messageName.TrimStart('.');
        _root = _messages.GetValueOrDefault(name) ?? throw new InvalidDataException($"the FileDescriptorSet has no message '{name}'");
    }

    /// <summary>Up to <paramref name="limit"/> numeric field paths, in declaration order, depth first through nested messages.</summary>
    public List<string> NumericPaths(int limit)
    {
        var paths = new List<string>();
        Walk(_root, "", 0);
        return paths;

        void Walk(MessageDescriptor message, string prefix, int depth)
        {
            foreach (var field in message.Fields)
            {
                if (paths.Count >= limit) return;
                if (field.Label == LabelRepeated) continue;
                if (IsNumber(field.Type)) paths.Add(prefix + field.Name);
                else if (field.Type == TypeMessage && depth < 8 && Resolve(field) is { } nested) Walk(nested, prefix + field.Name + ".", depth + 1);
            }
        }
    }

    /// <summary>A reader for <paramref name="paths"/>: each message decoded once for all of them.</summary>
    public PathSet Compile(IReadOnlyList<string> paths)
    {
        var root = new Node(_root);
        for (var i = 0; i < paths.Count; i++)
        {
            var node = root;
            var parts = paths[i].Split('.');
            for (var p = 0; p < parts.Length; p++)
            {
                var field = node.Message.Fields.FirstOrDefault(f => f.Name == parts[p] && f.Label != LabelRepeated);
                if (field is null) break; // an unknown path: every value is null
                if (p == parts.Length - 1)
                {
                    if (IsNumber(field.Type)) node.Leaves.Add((field, i));
                    break;
                }
                if (field.Type != TypeMessage || Resolve(field) is not { } nested) break;
                if (!node.Children.TryGetValue(field.Number, out var child)) node.Children[field.Number] = child = new Node(nested);
                node = child;
            }
        }
        return new PathSet(root, paths.Count);
    }

    private MessageDescriptor? Resolve(FieldDescriptor field) => field.TypeName is { } t ? _messages.GetValueOrDefault(t.TrimStart('.')) : null;

    private static bool IsNumber(int type) => type is TypeDouble or TypeFloat or TypeInt64 or TypeUint64 or TypeInt32 or TypeFixed64 or TypeFixed32
        or TypeUint32 or TypeSfixed32 or TypeSfixed64 or TypeSint32 or TypeSint64;

    internal sealed class Node(MessageDescriptor message)
    {
        public MessageDescriptor Message { get; } = message;
        public List<(FieldDescriptor Field, int Index)> Leaves { get; } = [];
        public Dictionary<int, Node> Children { get; } = [];
    }

    /// <summary>Compiled paths: <see cref="Read"/> fills one value (or null) per path from one message.</summary>
    public sealed class PathSet
    {
        private readonly Node _root;

        internal PathSet(Node root, int count)
        {
            _root = root;
            Count = count;
        }

        public int Count { get; }

        /// <summary>Decodes <paramref name="message"/> into <paramref name="values"/> (one per path); a malformed message is an <see cref="InvalidDataException"/>.</summary>
        public void Read(ReadOnlySpan<byte> message, double?[] values)
        {
            Array.Clear(values);
            ReadNode(_root, message, values);
        }

        private static void ReadNode(Node node, ReadOnlySpan<byte> data, double?[] values)
        {
            // Present message: its absent scalars take proto3's default unless declared optional.
            foreach (var (field, index) in node.Leaves)
                values[index] = node.Message.Proto3 && !field.Proto3Optional ? 0 : null;
            var reader = new WireReader(data);
            while (reader.Next(out var number, out var wire))
            {
                if (node.Children.TryGetValue(number, out var child) && wire == 2)
                {
                    ReadNode(child, reader.Bytes(), values); // a repeated occurrence of a message merges: the last value of each scalar wins
                    continue;
                }
                var matched = false;
                foreach (var (field, index) in node.Leaves)
                {
                    if (field.Number != number) continue;
                    values[index] = reader.Number(field.Type, wire);
                    matched = true;
                    break;
                }
                if (!matched) reader.Skip(wire);
            }
        }
    }

    private void ReadFile(ReadOnlySpan<byte> file)
    {
        var package = "";
        var proto3 = false;
        var reader = new WireReader(file);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 2 && wire == 2) package = Encoding.UTF8.GetString(reader.Bytes());
            else if (number == 12 && wire == 2) proto3 = Encoding.UTF8.GetString(reader.Bytes()) == "proto3";
            else reader.Skip(wire);
        }
        reader = new WireReader(file);
        while (reader.Next(out var number, out var wire))
            if (number == 4 && wire == 2) ReadMessage(reader.Bytes(), package, proto3);
            else reader.Skip(wire);
    }

    private void ReadMessage(ReadOnlySpan<byte> message, string scope, bool proto3)
    {
        var name = "";
        var fields = new List<FieldDescriptor>();
        var reader = new WireReader(message);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 2) name = Encoding.UTF8.GetString(reader.Bytes());
            else if (number == 2 && wire == 2) fields.Add(ReadField(reader.Bytes()));
            else reader.Skip(wire);
        }
        var fullName = scope.Length == 0 ? name : scope + "." + name;
        _messages[fullName] = new MessageDescriptor(fullName, proto3, fields);
        reader = new WireReader(message);
        while (reader.Next(out var number, out var wire))
            if (number == 3 && wire == 2) ReadMessage(reader.Bytes(), fullName, proto3);
            else reader.Skip(wire);
    }

    private static FieldDescriptor ReadField(ReadOnlySpan<byte> field)
    {
        string name = "", typeName = "";
        int number = 0, label = 1, type = 0;
        var optional = false;
        var reader = new WireReader(field);
        while (reader.Next(out var n, out var wire))
        {
            switch (n, wire)
            {
                case (1, 2): name = Encoding.UTF8.GetString(reader.Bytes()); break;
                case (3, 0): number = (int)reader.Varint(); break;
                case (4, 0): label = (int)reader.Varint(); break;
                case (5, 0): type = (int)reader.Varint(); break;
                case (6, 2): typeName = Encoding.UTF8.GetString(reader.Bytes()); break;
                case (17, 0): optional = reader.Varint() != 0; break;
                default: reader.Skip(wire); break;
            }
        }
        return new FieldDescriptor(name, number, label, type, typeName.Length > 0 ? typeName : null, optional);
    }

    /// <summary>The protobuf wire format, read forward; anything malformed is an <see cref="InvalidDataException"/>.</summary>
    private ref struct WireReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public bool Next(out int number, out int wire)
        {
            number = wire = 0;
            if (_at >= _data.Length) return false;
            var tag = Varint();
            number = (int)(tag >> 3);
            wire = (int)(tag & 7);
            if (number == 0) throw new InvalidDataException("protobuf field number 0");
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_at >= _data.Length) throw new InvalidDataException("protobuf varint cut short");
                var b = _data[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw new InvalidDataException("protobuf varint longer than 10 bytes");
        }

        public ReadOnlySpan<byte> Bytes()
        {
            var length = Varint();
            if (length > (ulong)(_data.Length - _at)) throw new InvalidDataException("protobuf length-delimited field runs past its message");
            var bytes = _data.Slice(_at, (int)length);
            _at += (int)length;
            return bytes;
        }

        private ReadOnlySpan<byte> Fixed(int size)
        {
            if (_data.Length - _at < size) throw new InvalidDataException("protobuf fixed-size field cut short");
            var bytes = _data.Slice(_at, size);
            _at += size;
            return bytes;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Fixed(8); break;
                case 2: Bytes(); break;
                case 5: Fixed(4); break;
                default: throw new InvalidDataException($"protobuf wire type {wire} (groups are not read)");
            }
        }

        /// <summary>A scalar of <paramref name="type"/>; a wire type that does not fit the declared type is a null (the field is skipped).</summary>
        public double? Number(int type, int wire)
        {
            switch (type)
            {
                case TypeDouble when wire == 1: return BinaryPrimitives.ReadDoubleLittleEndian(Fixed(8));
                case TypeFloat when wire == 5: return BinaryPrimitives.ReadSingleLittleEndian(Fixed(4));
                case TypeFixed64 when wire == 1: return BinaryPrimitives.ReadUInt64LittleEndian(Fixed(8));
                case TypeSfixed64 when wire == 1: return BinaryPrimitives.ReadInt64LittleEndian(Fixed(8));
                case TypeFixed32 when wire == 5: return BinaryPrimitives.ReadUInt32LittleEndian(Fixed(4));
                case TypeSfixed32 when wire == 5: return BinaryPrimitives.ReadInt32LittleEndian(Fixed(4));
                case TypeInt64 when wire == 0: return (long)Varint();
                case TypeUint64 when wire == 0: return Varint();
                case TypeInt32 when wire == 0: return (int)Varint();
                case TypeUint32 when wire == 0: return (uint)Varint();
                case TypeSint32 when wire == 0: { var v = (uint)Varint(); return (int)(v >> 1) ^ -(int)(v & 1); }
                case TypeSint64 when wire == 0: { var v = Varint(); return (long)(v >> 1) ^ -(long)(v & 1); }
                default: Skip(wire); return null;
            }
        }
    }
}
