using Recorder.Cli;
using static Recorder.Tests.RecorderCli;

namespace Recorder.Tests;

/// <summary>`recorder help TOPIC` and `recorder VERB --help`: the manual the package ships.</summary>
public sealed class HelpTests
{
    [Theory]
    [InlineData(new[] { "help", "reload" }, "kill -HUP")]
    [InlineData(new[] { "help", "service" }, "journalctl -u recorder")]
    [InlineData(new[] { "help", "files" }, "/etc/recorder/device.yaml")]
    [InlineData(new[] { "help", "watchdog" }, "WATCHDOG=1")]
    [InlineData(new[] { "help", "environment" }, "RECORDER_TEST_HOOKS")]
    [InlineData(new[] { "run", "--help" }, "--device F")]
    [InlineData(new[] { "config", "check", "--help" }, "--effective")]
    [InlineData(new[] { "status", "-h" }, "recorder group")]
    [InlineData(new[] { "help" }, "Topics: recorder help service")]
    [InlineData(new[] { "info", "--help" }, "info FILE [--json]")]
    public void Each_help_page_prints_on_stdout_and_exits_zero(string[] args, string expected)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Contains(expected, output.Replace("`recorder` group", "recorder group", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void Help_for_an_unknown_topic_is_a_usage_error()
    {
        var (code, _, err) = Run("help", "nope");
        Assert.Equal(2, code);
        Assert.StartsWith("recorder: no help for 'nope'", err);
    }
}
