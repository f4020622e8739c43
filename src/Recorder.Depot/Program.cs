namespace Recorder.Depot;

public static class Program
{
    public static int Main(string[] args) => DepotCommandLine.Run(args, Console.Out, Console.Error);
}
