using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Recorder.Depot.Tests.Fixtures;

/// <summary>
/// A private PostgreSQL cluster (Debian's `postgresql`, /usr/lib/postgresql/N/bin) in a temp directory,
/// on a private 127.0.0.1 port, trust auth for user `test`. PostgreSQL refuses to run as root, so as root
/// it runs as the `postgres` user through setpriv, exec'd in place: the PID held here is the postmaster's
/// (runuser would leave a wrapper that ignores SIGINT). Use as an xunit class/collection fixture; each
/// test gets a fresh database from <see cref="CreateDatabase"/>.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly Process _postmaster;
    private readonly string _root;
    private int _databases;

    public int Port { get; }

    /// <summary>A connection string (Npgsql keywords) for database <c>postgres</c>.</summary>
    public string AdminConnectionString => ConnectionString("postgres");

    public PostgresServer()
    {
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres); run .ci/setup (Debian package postgresql)");
        _root = Directory.CreateTempSubdirectory("recorder-pg-").FullName;
        var asRoot = Environment.UserName == "root";
        if (asRoot) Chown(_root);
        var data = Path.Combine(_root, "data");
        Run(Command(bin, "initdb", asRoot, "-D", data, "--auth=trust", "-U", "test", "--locale=C.UTF-8", "-E", "UTF8", "--no-sync"));
        Port = FreePort();
        var start = Command(bin, "postgres", asRoot, "-D", data, "-k", _root, "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200");
        start.RedirectStandardError = true;
        start.RedirectStandardOutput = true;
        _postmaster = Process.Start(start)!;
        _postmaster.OutputDataReceived += (_, _) => { };
        _postmaster.ErrorDataReceived += (_, _) => { };
        _postmaster.BeginOutputReadLine();
        _postmaster.BeginErrorReadLine();
        // pg_isready is the documented readiness probe; polled because the server has no ready notification for us.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var ready = new ProcessStartInfo(Path.Combine(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "test", "-q"]);
            using (var p = Process.Start(ready)!) { p.WaitForExit(); if (p.ExitCode == 0) break; }
            if (_postmaster.HasExited) throw new InvalidOperationException($"postgres exited with {_postmaster.ExitCode}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("postgres did not become ready in 60 s");
            Thread.Sleep(50);
        }
    }

    /// <summary>Creates a new, empty database and returns its connection string.</summary>
    public string CreateDatabase(string prefix = "t")
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}";
        Psql("postgres", $"CREATE DATABASE {name}");
        return ConnectionString(name);
    }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=test;Database={database};Pooling=true";

    /// <summary>Runs SQL through psql (no client library needed by the fixture itself).</summary>
    public string Psql(string database, string sql)
    {
        var bin = FindBin()!;
        var info = new ProcessStartInfo(Path.Combine(bin, "psql"), ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "test", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"psql failed ({p.ExitCode}): {stderr}");
        return stdout.Result;
    }

    public void Dispose()
    {
        try
        {
            if (!_postmaster.HasExited)
            {
                // SIGINT is PostgreSQL's fast shutdown.
                using (var kill = Process.Start("kill", ["-INT", _postmaster.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
                if (!_postmaster.WaitForExit(TimeSpan.FromSeconds(20))) _postmaster.Kill();
            }
        }
        finally
        {
            _postmaster.Dispose();
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string? FindBin() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "postgres"))).OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault()
            : null;

    private static ProcessStartInfo Command(string bin, string tool, bool asRoot, params string[] args)
    {
        var info = asRoot ? new ProcessStartInfo("setpriv") : new ProcessStartInfo(Path.Combine(bin, tool));
        if (asRoot)
        {
            foreach (var a in new[] { "--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(bin, tool) }) info.ArgumentList.Add(a);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        info.UseShellExecute = false;
        return info;
    }

    private static void Run(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{info.FileName} {string.Join(' ', info.ArgumentList)} failed ({p.ExitCode}): {stdout.Result}\n{stderr}");
    }

    // mktemp-style directories are 0700 root: postgres could not enter it.
    private static void Chown(string path)
    {
        using var p = Process.Start("chown", ["postgres:postgres", path])!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"chown postgres {path} failed");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One PostgreSQL server shared by every test class in the collection (starting one costs ~1 s).</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
