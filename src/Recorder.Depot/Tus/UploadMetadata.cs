using System.Text;

namespace Recorder.Depot.Tus;

/// <summary>
/// <c>Upload-Metadata</c> (tus creation): comma-separated <c>key base64(value)</c> pairs, a key
/// alone meaning an empty value. Keys are unique, printable ASCII without spaces or commas.
/// </summary>
public static class UploadMetadata
{
    /// <summary>Parses <paramref name="header"/>; false with <paramref name="error"/> for anything malformed.</summary>
    public static bool TryParse(string? header, out Dictionary<string, string> values, out string error)
    {
        values = new Dictionary<string, string>(StringComparer.Ordinal);
        error = "";
        if (string.IsNullOrWhiteSpace(header)) return true;
        foreach (var raw in header.Split(','))
        {
            var pair = raw.Trim();
            var space = pair.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? pair : pair[..space];
            if (key.Length == 0 || key.Any(c => c < 0x21 || c > 0x7e))
            {
                error = "Upload-Metadata has an empty or invalid key";
                return false;
            }
            var value = "";
            if (space >= 0)
            {
                try
                {
                    value = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Convert.FromBase64String(pair[(space + 1)..].Trim()));
                }
                catch (Exception e) when (e is FormatException or DecoderFallbackException)
                {
                    error = $"Upload-Metadata value of '{key}' is not base64 of UTF-8 text";
                    return false;
                }
            }
            if (!values.TryAdd(key, value))
            {
                error = $"Upload-Metadata has '{key}' twice";
                return false;
            }
        }
        return true;
    }
}
