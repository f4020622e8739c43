using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Recorder.Recording;

/// <summary>Per-topic numbers for one file, written at close as the `recorder.topic_stats` metadata record.</summary>
internal sealed class TopicStats
{
    public ulong Messages;
    public ulong Bytes;
    public int MinSize = int.MaxValue;
    public int MaxSize;
    public ulong FirstTime;
    public ulong LastTime;
    public ulong MaxGap;
    public ulong Drops;
    /// <summary>Messages ingest refused (lines that are not JSON), counted in the file open at the time.</summary>
    public ulong Refused;
    public ulong Late;

    public void Reset()
    {
        Messages = Bytes = FirstTime = LastTime = MaxGap = Drops = Refused = Late = 0;
        MinSize = int.MaxValue;
        MaxSize = 0;
    }

    public void Add(ulong logTime, int size)
    {
        if (Messages == 0) FirstTime = logTime;
        else if (logTime - LastTime > MaxGap) MaxGap = logTime - LastTime;
        LastTime = logTime;
        Messages++;
        Bytes += (ulong)size;
        if (size < MinSize) MinSize = size;
        if (size > MaxSize) MaxSize = size;
    }

    public double MeanRateHz => Messages > 1 && LastTime > FirstTime ? (Messages - 1) / ((LastTime - FirstTime) / 1e9) : 0;

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("messages", Messages);
            w.WriteNumber("bytes", Bytes);
            w.WriteNumber("mean_rate_hz", Math.Round(MeanRateHz, 3));
            w.WriteNumber("min_size", Messages == 0 ? 0 : MinSize);
            w.WriteNumber("max_size", MaxSize);
            w.WriteNumber("max_gap_ns", MaxGap);
            w.WriteNumber("drops", Drops);
            w.WriteNumber("refused", Refused);
            w.WriteNumber("late", Late);
            w.WriteNumber("first_log_time", FirstTime);
            w.WriteNumber("last_log_time", LastTime);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static string Format(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
