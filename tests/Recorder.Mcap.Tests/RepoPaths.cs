namespace Recorder.Mcap.Tests;

/// <summary>Locates the repository and the shared conformance suite, which tests read in place.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>../shared/mcap-conformance from the repository root, or $MCAP_CONFORMANCE_DIR.</summary>
    public static string Conformance { get; } =
        Environment.GetEnvironmentVariable("MCAP_CONFORMANCE_DIR") is { Length: > 0 } dir
            ? dir
            : Path.GetFullPath(Path.Combine(Root, "..", "shared", "mcap-conformance"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Recorder.sln"))) return dir.FullName;
        throw new InvalidOperationException("Recorder.sln not found above " + AppContext.BaseDirectory);
    }
}
