using System.Security.Cryptography;
using System.Text;
using Recorder.Storage;

namespace Recorder.Depot.Identity;

/// <summary>
/// Per-device bearer tokens. A token is 32 random bytes (base64url, prefixed <c>rdt_</c>), shown
/// once by <c>recorder-depot token add</c>; the tokens file keeps only <c>DEVICE_ID SHA256HEX</c>
/// lines. Tokens are random, not passwords, so a plain SHA-256 is enough: a stolen file gives no
/// token back. The file is read again when it changes, so tokens added while the depot runs work
/// at once.
/// </summary>
public sealed class TokenStore
{
    private const string Prefix = "rdt_";
    private readonly string _path;
    private readonly Lock _lock = new();
    private Dictionary<string, string> _deviceByHash = new(StringComparer.Ordinal);
    private (DateTime Mtime, long Length) _loaded = (DateTime.MinValue, -1);

    public TokenStore(string path) => _path = path;

    /// <summary>The device the token belongs to, or null for an unknown token.</summary>
    public string? DeviceOf(string token)
    {
        var hash = Hash(token);
        Dictionary<string, string> map;
        lock (_lock)
        {
            Refresh();
            map = _deviceByHash;
        }
        return map.TryGetValue(hash, out var device) ? device : null;
    }

    /// <summary>Creates a token for <paramref name="deviceId"/>, stores its hash and returns it (the only time it is seen).</summary>
    public string Add(string deviceId)
    {
        if (!RecordingLayout.IsSafeName(deviceId)) throw new ArgumentException($"'{deviceId}' is not a valid device id (letters, digits, '.', '_', '-'; not starting with '.' or '-')", nameof(deviceId));
        var token = Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        lock (_lock)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            var existing = File.Exists(_path) ? File.ReadAllText(_path) : "";
            if (existing.Length > 0 && !existing.EndsWith('\n')) existing += "\n";
            var bytes = Encoding.UTF8.GetBytes(existing + deviceId + " " + Hash(token) + "\n");
            DurableFile.WriteAllBytes(_path, bytes);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return token;
    }

    /// <summary>Removes every token of <paramref name="deviceId"/>; returns how many there were.</summary>
    public int Remove(string deviceId)
    {
        lock (_lock)
        {
            if (!File.Exists(_path)) return 0;
            var lines = File.ReadAllLines(_path);
            var kept = lines.Where(l => l.Split(' ', 2)[0] != deviceId).ToList();
            DurableFile.WriteAllBytes(_path, Encoding.UTF8.GetBytes(string.Concat(kept.Select(l => l + "\n"))));
            return lines.Length - kept.Count;
        }
    }

    /// <summary>The devices that have tokens, each with how many.</summary>
    public IReadOnlyList<(string Device, int Tokens)> List()
    {
        lock (_lock)
        {
            Refresh();
            return _deviceByHash.Values.GroupBy(d => d, StringComparer.Ordinal).Select(g => (g.Key, g.Count())).OrderBy(d => d.Key, StringComparer.Ordinal).ToList();
        }
    }

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private void Refresh()
    {
        var info = new FileInfo(_path);
        var stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1L);
        if (stamp == _loaded) return;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (info.Exists)
        {
            foreach (var line in File.ReadAllLines(_path))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[1].Length == 64) map[parts[1]] = parts[0];
            }
        }
        _deviceByHash = map;
        _loaded = stamp;
    }
}
