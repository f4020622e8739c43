namespace Recorder.Config;

/// <summary>Prometheus metrics for node_exporter's textfile collector (<c>metrics:</c> in the fleet file).</summary>
public sealed record MetricsSettings
{
    /// <summary>The file name node_exporter's textfile collector reads: it only reads <c>*.prom</c>.</summary>
    public const string TextfileExtension = ".prom";

    /// <summary><c>metrics.textfile</c>: write the metrics to this file (replaced atomically each interval). Null (the default): off.</summary>
    public string? Textfile { get; init; }

    /// <summary><c>metrics.interval</c>: how often the textfile is rewritten. 15 s (Prometheus' default scrape interval); 1s..1h.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(15);
}
