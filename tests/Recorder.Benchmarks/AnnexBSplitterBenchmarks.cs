using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Recorder.Video;

namespace Recorder.Benchmarks;

/// <summary>
/// Splitting a 64 MiB H.264 Annex B stream into access units (start-code scan, AU boundaries and
/// keyframe/B-slice classification), against <see cref="Span{T}.CopyTo"/> of the same buffer as
/// the baseline. The stream is a real x264 clip (1280x720, 20 Mbit/s) tiled to 64 MiB; ffmpeg must
/// be installed (.ci/setup installs it). <see cref="PushBytes"/> is the segment size the stream is
/// pushed in: one push of everything (AUs are handed out as slices of it), or 64 KiB socket-sized
/// reads (every AU that straddles a push is copied once into the splitter's buffer).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerMessageConfig))]
public class AnnexBSplitterBenchmarks
{
    private const int StreamBytes = 64 << 20;
    private byte[] _stream = [];
    private byte[] _copy = [];
    private long _units;
    private readonly AccessUnitHandler _count;

    public AnnexBSplitterBenchmarks() => _count = (_, in info) => _units += info.Length;

    [Params(64 * 1024, StreamBytes)]
    public int PushBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var clip = Path.Combine(Path.GetTempPath(), $"recorder-bench-{Environment.ProcessId}.h264");
        try
        {
            var start = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true };
            foreach (var argument in (string[])["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "10",
                         "-pix_fmt", "yuv420p", "-c:v", "libx264", "-b:v", "20M", "-g", "30", "-bf", "0", "-f", "h264", clip])
                start.ArgumentList.Add(argument);
            using var ffmpeg = Process.Start(start) ?? throw new InvalidOperationException("could not start ffmpeg");
            var errors = ffmpeg.StandardError.ReadToEnd();
            ffmpeg.WaitForExit();
            if (ffmpeg.ExitCode != 0) throw new InvalidOperationException("ffmpeg failed: " + errors);
            var bytes = File.ReadAllBytes(clip);
            // Tile whole clips: every copy starts with SPS/PPS and an IDR, so the tiled stream is valid.
            _stream = new byte[StreamBytes / bytes.Length * bytes.Length];
            for (var offset = 0; offset < _stream.Length; offset += bytes.Length) bytes.CopyTo(_stream, offset);
        }
        finally
        {
            File.Delete(clip);
        }
        _copy = new byte[_stream.Length];
        if (Split() != _stream.Length) throw new InvalidOperationException("the access units do not tile the stream");
    }

    [Benchmark(Baseline = true)]
    public int Memcpy()
    {
        _stream.AsSpan().CopyTo(_copy);
        return _copy[^1];
    }

    [Benchmark]
    public long Split()
    {
        _units = 0;
        var splitter = new AnnexBSplitter(VideoCodec.H264);
        for (var offset = 0; offset < _stream.Length; offset += PushBytes)
            splitter.Push(_stream.AsSpan(offset, Math.Min(PushBytes, _stream.Length - offset)), (ulong)offset, _count);
        splitter.Complete(_count);
        return _units;
    }
}
