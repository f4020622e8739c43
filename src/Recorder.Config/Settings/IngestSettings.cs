using System.Text.RegularExpressions;

namespace Recorder.Config;

/// <summary>The producer-facing side: the ingest socket, its queue and topic selection (<c>ingest:</c> in the fleet file).</summary>
public sealed record IngestSettings
{
    /// <summary>The default of <see cref="Socket"/>: <c>./run/ingest.sock</c>, relative to the working directory.</summary>
    public const string DefaultSocket = "./run/ingest.sock";

    private IReadOnlyList<string> _include = [".*"];
    private IReadOnlyList<string> _exclude = [];
    private TopicSelector? _selector;

    /// <summary><c>ingest.socket</c>: the Unix socket producers connect to. The control socket sits beside it unless set.</summary>
    public string Socket { get; init; } = DefaultSocket;

    /// <summary><c>ingest.queue</c>: bytes of messages buffered between the producers and the file writer. 256 MiB; at least 1 MiB.</summary>
    public long QueueBytes { get; init; } = 256L << 20;

    /// <summary><c>ingest.timestamps</c>: where log_time comes from; <c>receive</c> (the default) or <c>producer</c>.</summary>
    public TimestampMode Timestamps { get; init; } = TimestampMode.Receive;

    /// <summary><c>ingest.reorder_window</c>: how long producer timestamps are held back to put them in order. 100 ms; at most 1 min.</summary>
    public TimeSpan ReorderWindow { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// <c>ingest.max_attachment_bytes</c>: the largest Attachment record a producer may send; a larger
    /// one is refused and counted (the producer's messages go on). 16 MiB; 0 refuses every attachment.
    /// </summary>
    public long MaxAttachmentBytes { get; init; } = 16L << 20;

    /// <summary><c>ingest.include</c>: regular expressions; a socket topic is recorded if one of them matches the whole topic name. <c>[".*"]</c> by default.</summary>
    public IReadOnlyList<string> Include
    {
        get => _include;
        init
        {
            _include = value;
            _selector = null;
        }
    }

    /// <summary><c>ingest.exclude</c>: regular expressions; a socket topic is not recorded if one of them matches the whole topic name. Empty by default.</summary>
    public IReadOnlyList<string> Exclude
    {
        get => _exclude;
        init
        {
            _exclude = value;
            _selector = null;
        }
    }

    /// <summary>
    /// Whether a topic arriving on the ingest socket is recorded: some <see cref="Include"/> pattern
    /// matches and no <see cref="Exclude"/> pattern matches. Patterns are .NET regular expressions
    /// matched against the <b>whole</b> topic name (as if written <c>^(?:pattern)$</c>), so
    /// <c>/camera/.*</c> selects <c>/camera/front</c> while <c>camera</c> selects nothing but
    /// <c>camera</c>. Matching is case-sensitive and culture-invariant. Topics with a FIFO are
    /// declared explicitly and not subject to this selection. The patterns are compiled on first
    /// use; invalid patterns throw <see cref="ArgumentException"/> here (a loaded configuration has none).
    /// </summary>
    public bool Selects(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var selector = _selector ??= new TopicSelector(_include, _exclude);
        return selector.Selects(topic);
    }

    /// <summary>Compiles one pattern with the full-match semantics of <see cref="Selects"/>; throws <see cref="ArgumentException"/> if it is invalid.</summary>
    public static Regex CompilePattern(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        // Parse the pattern on its own first, so that one such as "a)|(b" cannot escape the anchors.
        _ = new Regex(pattern, RegexOptions.CultureInvariant);
        return new Regex(@"\A(?:" + pattern + @")\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    private sealed class TopicSelector(IReadOnlyList<string> include, IReadOnlyList<string> exclude)
    {
        private readonly Regex[] _include = include.Select(CompilePattern).ToArray();
        private readonly Regex[] _exclude = exclude.Select(CompilePattern).ToArray();

        public bool Selects(string topic)
        {
            var included = false;
            foreach (var regex in _include)
                if (regex.IsMatch(topic)) { included = true; break; }
            if (!included) return false;
            foreach (var regex in _exclude)
                if (regex.IsMatch(topic)) return false;
            return true;
        }
    }
}
