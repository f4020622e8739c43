using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Recorder.Benchmarks;

/// <summary>
/// Per-message views of a case's result. BenchmarkDotNet's Mean and Allocated are per invocation,
/// and one invocation handles <see cref="Payload.MessageCount"/> messages, a number that depends on
/// the MessageSize parameter (so it cannot be a compile-time OperationsPerInvoke). These columns
/// read MessageSize from the case's parameters and divide by that count.
/// </summary>
public sealed class PerMessageColumn : IColumn
{
    private enum Kind
    {
        Messages,
        TimePerMessage,
        MessagesPerSecond,
        MegabytesPerSecond,
        AllocatedPerMessage,
    }

    public static readonly IColumn Messages = new PerMessageColumn(Kind.Messages, "Msgs/op",
        "Messages per invocation: 64 MiB / MessageSize; BenchmarkDotNet's Mean and Allocated are for this many");
    public static readonly IColumn TimePerMessage = new PerMessageColumn(Kind.TimePerMessage, "ns/msg",
        "Mean time per message: Mean / Msgs/op");
    public static readonly IColumn MessagesPerSecond = new PerMessageColumn(Kind.MessagesPerSecond, "Msg/s",
        "Messages per second: 1e9 / ns/msg");
    public static readonly IColumn MegabytesPerSecond = new PerMessageColumn(Kind.MegabytesPerSecond, "MB/s",
        "Payload megabytes (1e6 bytes) per second: MessageSize * Msg/s / 1e6");
    public static readonly IColumn AllocatedPerMessage = new PerMessageColumn(Kind.AllocatedPerMessage, "B/msg",
        "Managed bytes allocated per message, including the per-invocation setup spread over the batch: Allocated / Msgs/op (target 0)");

    public static readonly IColumn[] All = [Messages, TimePerMessage, MessagesPerSecond, MegabytesPerSecond, AllocatedPerMessage];

    private readonly Kind _kind;

    private PerMessageColumn(Kind kind, string name, string legend)
    {
        _kind = kind;
        ColumnName = name;
        Legend = legend;
    }

    public string Id => nameof(PerMessageColumn) + "." + _kind;
    public string ColumnName { get; }
    public string Legend { get; }
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => (int)_kind;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => MessageSizeOf(c) is not null);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (MessageSizeOf(benchmarkCase) is not { } size) return "-";
        var messages = Payload.MessageCount(size);
        if (_kind == Kind.Messages) return messages.ToString("N0", CultureInfo.InvariantCulture);

        var report = summary[benchmarkCase];
        if (report is null) return "NA";
        if (_kind == Kind.AllocatedPerMessage)
        {
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase);
            return allocated is { } bytes ? (bytes / (double)messages).ToString("0.###", CultureInfo.InvariantCulture) : "NA";
        }

        if (report.ResultStatistics is not { } statistics || statistics.Mean <= 0) return "NA";
        var nanosecondsPerMessage = statistics.Mean / messages;
        var messagesPerSecond = 1e9 / nanosecondsPerMessage;
        return _kind switch
        {
            Kind.TimePerMessage => nanosecondsPerMessage.ToString("N2", CultureInfo.InvariantCulture),
            Kind.MessagesPerSecond => messagesPerSecond.ToString("N0", CultureInfo.InvariantCulture),
            _ => (size * messagesPerSecond / 1e6).ToString("N1", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The case's MessageSize parameter, or null for a benchmark without one.</summary>
    private static int? MessageSizeOf(BenchmarkCase benchmarkCase)
    {
        foreach (var parameter in benchmarkCase.Parameters.Items)
            if (parameter.Name == Payload.MessageSizeParameter && parameter.Value is int size && size > 0)
                return size;
        return null;
    }

    public override string ToString() => ColumnName;
}
