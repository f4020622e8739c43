using BenchmarkDotNet.Running;

namespace Recorder.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["offload-cuts", ..]) OffloadCuts.Run(args[1..]).GetAwaiter().GetResult();
        else if (args is ["depot-upload", ..]) DepotUploadBenchmark.Run(args[1..]).GetAwaiter().GetResult();
        else if (args is ["export", ..]) ExportBenchmark.Run(args[1..]);
        else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
