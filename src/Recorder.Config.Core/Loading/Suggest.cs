namespace Recorder.Config.Loading;

/// <summary>"Did you mean" for misspelt keys and values.</summary>
internal static class Suggest
{
    /// <summary>
    /// The candidate closest to <paramref name="input"/>, or null when none is close. In order:
    /// the same word ignoring case, '_' and '-' (<c>maxAge</c> → <c>max_age</c>); a candidate the
    /// input starts with followed by '_' (<c>chunk_size</c> → <c>chunk</c>); the smallest edit
    /// distance (with transpositions) within a third of the word, at least 1, at most 3.
    /// </summary>
    public static string? Closest(string input, IEnumerable<string> candidates)
    {
        var normalized = Normalize(input);
        string? best = null;
        var bestDistance = int.MaxValue;
        string? prefix = null;
        foreach (var candidate in candidates)
        {
            if (Normalize(candidate) == normalized) return candidate;
            if (prefix is null && input.StartsWith(candidate + "_", StringComparison.Ordinal)) prefix = candidate;
            var distance = Distance(input, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        if (prefix is not null) return prefix;
        var limit = Math.Clamp(input.Length / 3, 1, 3);
        return bestDistance <= limit ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }

    private static string Normalize(string s) => s.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
}
