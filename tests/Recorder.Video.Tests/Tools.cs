using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Recorder.Video.Tests;

/// <summary>
/// Runs the oracles: ffmpeg/ffprobe (apt-get install ffmpeg; .ci/setup installs it) and protoc from
/// the Grpc.Tools package. A missing tool fails the test with a message saying how to get it: these
/// tests are the only check of the video code against a real decoder, so they never skip.
/// </summary>
internal static class Tools
{
    public static string Ffmpeg { get; } = Find("ffmpeg");
    public static string Ffprobe { get; } = Find("ffprobe");

    public static string Protoc
    {
        get
        {
            var dir = typeof(Tools).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "GrpcToolsDir")?.Value;
            var path = dir is null ? "" : Path.Combine(dir, "tools", "linux_x64", "protoc");
            if (!File.Exists(path)) throw new InvalidOperationException($"protoc not found at '{path}': restore the test project (Grpc.Tools ships it).");
            return path;
        }
    }

    /// <summary>Runs a tool; throws with its stderr when it exits non-zero. Returns (stdout, stderr).</summary>
    public static (string Stdout, string Stderr) Run(string tool, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = RunUnchecked(tool, arguments);
        if (exitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(tool)} {string.Join(' ', arguments)} exited with {exitCode}: {stderr}");
        return (stdout, stderr);
    }

    public static (int ExitCode, string Stdout, string Stderr) RunUnchecked(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stderrTask = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = stderrTask.GetAwaiter().GetResult();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr);
    }

    private static string Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            $"{name} is not installed: the video tests use ffmpeg/ffprobe as their oracle. Install it with `apt-get install ffmpeg` (.ci/setup does).");
    }
}

/// <summary>One packet as <c>ffprobe -show_packets</c> reports it.</summary>
internal readonly record struct ProbePacket(long Pos, int Size, bool Key);

internal static class Ffprobe
{
    public static string Format(VideoCodec codec) => codec == VideoCodec.H265 ? "hevc" : "h264";

    /// <summary>The packets of a raw stream. -of compact=p=0 prints key=value pairs, whatever ffprobe's own field order.</summary>
    public static List<ProbePacket> Packets(string path, VideoCodec codec)
    {
        var (stdout, _) = Tools.Run(Tools.Ffprobe, "-v", "error", "-f", Format(codec), "-show_packets",
            "-show_entries", "packet=pos,size,flags", "-of", "compact=p=0", path);
        var packets = new List<ProbePacket>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = Fields(line);
            packets.Add(new ProbePacket(long.Parse(fields["pos"]), int.Parse(fields["size"]), fields["flags"].Contains('K')));
        }
        return packets;
    }

    /// <summary>Packet positions of the frames ffmpeg decodes as pict_type=B.</summary>
    public static HashSet<long> BFramePositions(string path, VideoCodec codec)
    {
        var (stdout, _) = Tools.Run(Tools.Ffprobe, "-v", "error", "-f", Format(codec), "-show_frames",
            "-show_entries", "frame=pict_type,pkt_pos", "-of", "compact=p=0", path);
        var positions = new HashSet<long>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = Fields(line);
            if (fields["pict_type"] == "B") positions.Add(long.Parse(fields["pkt_pos"]));
        }
        return positions;
    }

    public static (int Width, int Height) Resolution(string path, VideoCodec codec)
    {
        var (stdout, _) = Tools.Run(Tools.Ffprobe, "-v", "error", "-f", Format(codec), "-show_streams",
            "-show_entries", "stream=width,height", "-of", "compact=p=0", path);
        var fields = Fields(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0]);
        return (int.Parse(fields["width"]), int.Parse(fields["height"]));
    }

    /// <summary>Decodes a raw stream with ffmpeg: the frames decoded and whatever ffmpeg reported at -v error.</summary>
    public static (int Frames, string Errors) Decode(string path, VideoCodec codec)
    {
        var (_, stdout, stderr) = Tools.RunUnchecked(Tools.Ffmpeg, "-v", "error", "-f", Format(codec), "-i", path, "-f", "framecrc", "-");
        var frames = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => !l.StartsWith('#'));
        return (frames, stderr.Trim());
    }

    private static Dictionary<string, string> Fields(string line)
    {
        var fields = new Dictionary<string, string>();
        foreach (var pair in line.Trim().Split('|'))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0) fields[pair[..equals]] = pair[(equals + 1)..];
        }
        return fields;
    }
}

/// <summary>
/// The test clips of shared/notes/video.md section 6, shortened to 4 s (120 frames, 4 GOPs of 30),
/// generated with the real ffmpeg once per test run into a temporary directory.
/// </summary>
internal sealed record Clip(string Name, VideoCodec Codec, string Path)
{
    public byte[] Bytes => File.ReadAllBytes(Path);
    public override string ToString() => Name;
}

internal static class Clips
{
    public const int Frames = 120;
    private const string Seconds = "4";
    private static readonly string Directory = CreateDirectory();
    private static readonly Dictionary<string, Lazy<Clip>> ByName = new()
    {
        ["h264_nob"] = H264("h264_nob", "640x480", "-bf", "0"),
        ["h264_bf"] = H264("h264_bf", "640x480", "-bf", "2"),
        ["h264_aud"] = H264("h264_aud", "640x480", "-bf", "0", "-x264-params", "aud=1"),
        ["h264_opengop"] = H264("h264_opengop", "640x480", "-bf", "2", "-x264-params", "open-gop=1"),
        ["h265_cra"] = H265("h265_cra", "640x480", "keyint=30:min-keyint=30:bframes=0"),
        ["h265_idr"] = H265("h265_idr", "640x480", "keyint=30:min-keyint=30:bframes=0:open-gop=0"),
        ["h265_bf"] = H265("h265_bf", "640x480", "keyint=30:min-keyint=30:bframes=3"),
        // Odd sizes need cropping (x264 wants interlaced heights divisible by 4) in the SPS; the others reach the rarer SPS syntax.
        ["h264_642x362"] = H264("h264_642x362", "642x362", "-bf", "0"),
        ["h264_320x240"] = H264("h264_320x240", "320x240", "-bf", "0"),
        ["h264_1920x1080"] = H264("h264_1920x1080", "1920x1080", "-bf", "0"),
        ["h264_642x362_422"] = H264("h264_642x362_422", "642x362", "-bf", "0", "-pix_fmt", "yuv422p"),
        ["h264_642x364_interlaced"] = H264("h264_642x364_interlaced", "642x364", "-bf", "0", "-flags", "+ildct+ilme"),
        ["h264_642x362_cqm"] = H264("h264_642x362_cqm", "642x362", "-bf", "0", "-x264-params", "cqm=jvt"),
        ["h265_642x362"] = H265("h265_642x362", "642x362", "keyint=30:min-keyint=30:bframes=0"),
        ["h265_320x240"] = H265("h265_320x240", "320x240", "keyint=30:min-keyint=30:bframes=0"),
        ["h265_1920x1080"] = H265("h265_1920x1080", "1920x1080", "keyint=30:min-keyint=30:bframes=0"),
        ["h265_642x362_422"] = H265("h265_642x362_422", "642x362", "keyint=30:min-keyint=30:bframes=0", "-pix_fmt", "yuv422p"),
    };

    public static Clip Get(string name) => ByName[name].Value;

    private static Lazy<Clip> H264(string name, string size, params string[] options) =>
        new(() => Generate(name, VideoCodec.H264, size, ["-c:v", "libx264", "-g", "30", .. options, "-f", "h264"]));

    private static Lazy<Clip> H265(string name, string size, string x265Params, params string[] options) =>
        new(() => Generate(name, VideoCodec.H265, size, ["-c:v", "libx265", "-x265-params", x265Params + ":log-level=error", .. options, "-f", "hevc"]));

    private static Clip Generate(string name, VideoCodec codec, string size, string[] encode)
    {
        var path = System.IO.Path.Combine(Directory, name + (codec == VideoCodec.H265 ? ".h265" : ".h264"));
        // Large clips are cut to a few frames: they test SPS parsing, not splitting.
        var seconds = size == "1920x1080" ? "0.2" : Seconds;
        // yuv420p unless the clip asks otherwise: testsrc is rgb24, which would pick 4:4:4 profiles.
        var pixelFormat = encode.Contains("-pix_fmt") ? [] : new[] { "-pix_fmt", "yuv420p" };
        Tools.Run(Tools.Ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc=size={size}:rate=30", "-t", seconds, .. pixelFormat, .. encode, path]);
        return new Clip(name, codec, path);
    }

    private static string CreateDirectory()
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "recorder-video-tests-" + Environment.ProcessId);
        System.IO.Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        };
        return dir;
    }

    public static string TempPath(string name) => System.IO.Path.Combine(Directory, name);
}

/// <summary>Runs the splitter over a whole buffer pushed in segments of the given sizes, collecting the AUs.</summary>
internal static class Split
{
    public sealed record Unit(AccessUnitInfo Info, byte[] Bytes);

    public static List<Unit> All(ReadOnlySpan<byte> stream, VideoCodec codec, Func<int> nextSegmentSize, int maxAccessUnitBytes = 64 << 20, List<long>? segmentStarts = null)
    {
        var units = new List<Unit>();
        var splitter = new AnnexBSplitter(codec, maxAccessUnitBytes);
        AccessUnitHandler handler = (au, in info) => units.Add(new Unit(info, au.ToArray()));
        var offset = 0;
        ulong segment = 0;
        while (offset < stream.Length)
        {
            var size = Math.Min(Math.Max(1, nextSegmentSize()), stream.Length - offset);
            segmentStarts?.Add(offset);
            splitter.Push(stream.Slice(offset, size), segment++, handler);
            offset += size;
        }
        splitter.Complete(handler);
        return units;
    }

    public static List<Unit> Whole(ReadOnlySpan<byte> stream, VideoCodec codec) => All(stream, codec, () => int.MaxValue);

    public static List<Unit> OneByte(ReadOnlySpan<byte> stream, VideoCodec codec) => All(stream, codec, () => 1);

    public static List<Unit> Random(ReadOnlySpan<byte> stream, VideoCodec codec, int seed, int maxSegment = 4096)
    {
        var random = new Random(seed);
        return All(stream, codec, () => random.Next(1, maxSegment + 1));
    }

    public static string Describe(AccessUnitInfo info) =>
        $"{info.StreamOffset}+{info.Length} {info.Keyframe} ps={info.HasParameterSets} b={info.HasBSlices}";

    public static string Hex(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes) text.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        return text.ToString();
    }
}
