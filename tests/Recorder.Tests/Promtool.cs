using System.Diagnostics;
using System.Globalization;

namespace Recorder.Tests;

/// <summary>
/// Prometheus' own parser and linter: `promtool check metrics` (Debian package prometheus,
/// installed by .ci/setup) reads the text format on stdin and reports syntax errors and naming
/// problems. A missing promtool fails the test: the check is the point.
/// </summary>
internal static class Promtool
{
    public static void AssertValid(string text, string what)
    {
        var info = new ProcessStartInfo("promtool")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("check");
        info.ArgumentList.Add("metrics");
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("promtool is not installed (Debian package prometheus; .ci/setup installs it): " + e.Message, e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(text);
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromMinutes(1))) process.Kill();
            var output = (stdout.Result + stderr.Result).Trim();
            Assert.True(process.ExitCode == 0 && output.Length == 0, $"promtool check metrics on {what}: exit {process.ExitCode}\n{output}\n---\n{text}");
        }
    }

    /// <summary>The value of one sample (<c>name</c> or <c>name{label="value"}</c>) in text that promtool accepted; null when absent.</summary>
    public static double? Sample(string text, string series)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(series + " ", StringComparison.Ordinal)) continue;
            return double.Parse(line[(series.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return null;
    }
}
