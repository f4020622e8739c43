using System.Reflection;
using System.Runtime.InteropServices;

namespace Recorder.Depot.Catalog;

/// <summary>
/// Where the SQLite engine comes from. The publish output carries <c>libe_sqlite3.so</c> beside the
/// binary (a checkout, a tarball); the .deb ships the binary alone and depends on Debian's
/// <c>libsqlite3-0</c>, which gets the distribution's security updates. <c>e_sqlite3</c> is SQLite
/// under another name, so when it is not beside the binary the system library stands in.
/// </summary>
internal static class SqliteNativeLibrary
{
    private const string BundledName = "e_sqlite3";
    private static readonly string[] SystemNames = ["libsqlite3.so.0", "libsqlite3.so"];
    private static int _installed;

    /// <summary>Installs the resolver; call before the first SQLite connection (idempotent).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(SQLitePCL.SQLite3Provider_e_sqlite3).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != BundledName) return IntPtr.Zero;
        var beside = Path.Combine(AppContext.BaseDirectory, "lib" + BundledName + ".so");
        if (File.Exists(beside) && NativeLibrary.TryLoad(beside, out var bundled)) return bundled;
        foreach (var system in SystemNames)
            if (NativeLibrary.TryLoad(system, out var handle)) return handle;
        return IntPtr.Zero; // the default probing then reports what is missing
    }
}
