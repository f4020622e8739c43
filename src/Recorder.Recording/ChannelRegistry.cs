using System.Security.Cryptography;
using Recorder.Mcap;

namespace Recorder.Recording;

/// <summary>
/// The recording's global schemas and channels. Producers' per-connection ids map onto these;
/// identical definitions from different producers, or from a producer that reconnects, share one
/// id. Lookups from the writer thread are lock-free reads of an append-only array.
/// </summary>
public sealed class ChannelRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<string, ushort> _schemaIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ushort> _channelIds = new(StringComparer.Ordinal);
    private Schema?[] _schemas = new Schema?[16];
    private Channel?[] _channels = new Channel?[16];
    private int _schemaCount;
    private int _channelCount;

    /// <summary>The id of an identical schema, or a new one. Returns false when all 65535 ids are used.</summary>
    public bool TryGetOrAddSchema(string name, string encoding, ReadOnlySpan<byte> data, out ushort id)
    {
        var key = $"{name}\0{encoding}\0{Convert.ToHexString(SHA256.HashData(data))}";
        lock (_lock)
        {
            if (_schemaIds.TryGetValue(key, out id)) return true;
            if (_schemaCount == ushort.MaxValue) return false;
            id = (ushort)(++_schemaCount);
            var schemas = _schemas;
            if (id >= schemas.Length) Array.Resize(ref schemas, Math.Min(schemas.Length * 2, ushort.MaxValue + 1));
            schemas[id] = new Schema(id, name, encoding, data.ToArray());
            _schemas = schemas;
            _schemaIds.Add(key, id);
            return true;
        }
    }

    /// <summary>The id of an identical channel (topic, encoding, schema, metadata), or a new one.</summary>
    public bool TryGetOrAddChannel(string topic, string messageEncoding, ushort schemaId, IReadOnlyDictionary<string, string> metadata, out ushort id)
    {
        var key = string.Join('\0', [topic, messageEncoding, schemaId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            .. metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value)]);
        lock (_lock)
        {
            if (_channelIds.TryGetValue(key, out id)) return true;
            if (_channelCount == ushort.MaxValue) return false;
            id = (ushort)(++_channelCount);
            var channels = _channels;
            if (id >= channels.Length) Array.Resize(ref channels, Math.Min(channels.Length * 2, ushort.MaxValue + 1));
            channels[id] = new Channel(id, schemaId, topic, messageEncoding, new Dictionary<string, string>(metadata));
            _channels = channels;
            _channelIds.Add(key, id);
            return true;
        }
    }

    public Channel? Channel(ushort id)
    {
        var channels = Volatile.Read(ref _channels);
        return id < channels.Length ? channels[id] : null;
    }

    public Schema? Schema(ushort id)
    {
        var schemas = Volatile.Read(ref _schemas);
        return id < schemas.Length ? schemas[id] : null;
    }

    public int ChannelCount => Volatile.Read(ref _channelCount);

    private RawVideoInput?[] _rawVideo = new RawVideoInput?[16];

    /// <summary>
    /// Declares that the queue carries raw Annex B access units for this channel (a video FIFO or
    /// socket input), which the writer turns into CompressedVideo messages or sidecar stream bytes
    /// plus VideoFrameRef messages. Set before the first message is queued.
    /// </summary>
    public void MarkRawVideo(ushort channelId, RawVideoInput input)
    {
        lock (_lock)
        {
            var marks = _rawVideo;
            if (channelId >= marks.Length) Array.Resize(ref marks, Math.Max(channelId + 1, marks.Length * 2));
            marks[channelId] = input;
            Volatile.Write(ref _rawVideo, marks);
        }
    }

    /// <summary>The raw video input behind a channel, or null for a channel whose messages are written as they are.</summary>
    public RawVideoInput? RawVideo(ushort channelId)
    {
        var marks = Volatile.Read(ref _rawVideo);
        return channelId < marks.Length ? marks[channelId] : null;
    }
}

/// <summary>A channel fed with raw access units: its codec and where the frames are stored.</summary>
public sealed record RawVideoInput(Recorder.Video.VideoCodec Codec, Recorder.Video.FrameStore Store)
{
    /// <summary>The stream file's extension (what ffmpeg and VLC expect for raw Annex B).</summary>
    public string StreamExtension => Codec == Recorder.Video.VideoCodec.H265 ? RecordingLayout.H265Extension : RecordingLayout.H264Extension;
}
