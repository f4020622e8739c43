namespace Recorder.Depot;

public static class Program
{
    public static int Main(string[] args)
    {
        Catalog.SqliteNativeLibrary.Install();
        return DepotCommandLine.Run(args, Console.Out, Console.Error);
    }
}
