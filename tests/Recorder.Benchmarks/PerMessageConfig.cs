using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Recorder.Benchmarks;

/// <summary>
/// The suite's config: a short default job sized for a 2-core machine, the minimum next to the
/// mean (the least noisy estimate when the machine is busy), and the per-message columns.
/// <para>
/// The job is marked as the default, so BenchmarkDotNet uses it only when the command line names
/// no job: <c>--job Dry</c>, <c>--job Medium</c> and the like replace it, while <c>--iterationCount</c>
/// and friends adjust it.
/// </para>
/// </summary>
public sealed class PerMessageConfig : ManualConfig
{
    public const int WarmupCount = 2;
    public const int IterationCount = 5;

    public PerMessageConfig()
    {
        AddJob(Job.Default
            .WithWarmupCount(WarmupCount)
            .WithIterationCount(IterationCount)
            .WithId("Short")
            .AsDefault());
        AddColumn(StatisticColumn.Min);
        AddColumn(PerMessageColumn.All);
    }
}
