namespace Recorder.Config.Tests;

/// <summary>Locates the repository, whose config/ examples the tests load.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Config(string name) => Path.Combine(Root, "config", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Recorder.sln"))) return dir.FullName;
        throw new InvalidOperationException("Recorder.sln not found above " + AppContext.BaseDirectory);
    }
}
