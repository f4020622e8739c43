using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Recorder.Depot.Catalog;
using Recorder.Storage;
using Recorder.Video;

namespace Recorder.Depot.Web;

/// <summary>
/// A PNG of each video topic's first keyframe, made with the ffmpeg CLI when a recording is
/// cataloged (off the upload path, on the indexer's worker) and cached under
/// <c>&lt;state_dir&gt;/thumbnails</c>. The keyframe's Annex B bytes come through the <c>.vidx</c>
/// (<see cref="FrameReader"/>), so nothing else of the recording is read. Without ffmpeg on PATH
/// there are no thumbnails, and the page says so.
/// </summary>
/// <param name="useFfmpeg">Look for ffmpeg on PATH (false: a depot without it, as the tests show the page then).</param>
public sealed partial class Thumbnails(string storageRoot, string cacheDir, ILogger<Thumbnails> logger, bool useFfmpeg = true)
{
    /// <summary>The ffmpeg executable found on PATH, or null.</summary>
    public string? Ffmpeg { get; } = useFfmpeg ? FindOnPath("ffmpeg") : null;

    /// <summary>The cached PNG of a recording's video topic (it may not exist).</summary>
    public string PathFor(string groupKey, string topic) =>
        Path.Combine(cacheDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(groupKey + "\n" + topic)))[..32] + ".png");

    /// <summary>Makes the missing thumbnails of a cataloged recording; a failure is logged and costs nothing else.</summary>
    public void MakeFor(RecordingEntry entry)
    {
        if (entry.Status != RecordingStatus.Ok || entry.Video.Count == 0 || Ffmpeg is null) return;
        foreach (var video in entry.Video) Make(entry.GroupKey, video.Topic);
    }

    /// <summary>The thumbnail of one topic: made now when missing (a recording cataloged before the depot had ffmpeg); null when it cannot be.</summary>
    public string? Make(string groupKey, string topic)
    {
        var target = PathFor(groupKey, topic);
        if (File.Exists(target)) return target;
        if (Ffmpeg is null) return null;
        try
        {
            var parts = groupKey.Split('/');
            if (parts.Length != 3 || !parts.All(RecordingLayout.IsSafeName)) return null;
            var mcap = Path.Combine(storageRoot, parts[0], parts[1], parts[2]);
            var vidx = FrameIndex.PathFor(mcap);
            if (!File.Exists(mcap) || !File.Exists(vidx)) return null;
            var index = FrameIndex.ReadFile(vidx);
            if (index.FindTrack(topic) is not { } track) return null;
            var first = index.FramesOf(track.TrackId).FirstOrDefault(f => f.IsKeyframe);
            if (!first.IsKeyframe) return null;
            using var reader = new FrameReader(mcap, index);
            var annexB = reader.ReadFrame(first).ToArray();
            var png = Decode(annexB, track.Codec == VideoCodec.H265 ? "hevc" : "h264");
            if (png is null) return null;
            Directory.CreateDirectory(cacheDir);
            var temporary = target + ".tmp";
            File.WriteAllBytes(temporary, png);
            File.Move(temporary, target, overwrite: true);
            return target;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FrameIndexException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            ThumbnailFailed(logger, groupKey, topic, e.Message);
            return null;
        }
    }

    /// <summary>One access unit through <c>ffmpeg -f h264 -i - -frames:v 1</c> to PNG bytes, or null when ffmpeg refuses it.</summary>
    private byte[]? Decode(byte[] annexB, string format)
    {
        var info = new ProcessStartInfo(Ffmpeg!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-v", "error", "-f", format, "-i", "-", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-" }) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start");
        var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            process.StandardInput.BaseStream.Write(annexB);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // ffmpeg exited before reading everything: its exit code and stderr say why.
        }
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            ThumbnailFailed(logger, "(ffmpeg)", format, "ffmpeg did not finish in 30 s");
            return null;
        }
        copy.Wait();
        if (process.ExitCode != 0 || output.Length == 0)
        {
            ThumbnailFailed(logger, "(ffmpeg)", format, $"exit {process.ExitCode}: {errors.Result.Trim()}");
            return null;
        }
        return output.ToArray();
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    [LoggerMessage(60, LogLevel.Warning, "no thumbnail for {Group} {Topic}: {Reason}")]
    private static partial void ThumbnailFailed(ILogger logger, string group, string topic, string reason);
}
