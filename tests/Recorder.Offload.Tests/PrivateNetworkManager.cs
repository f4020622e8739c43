using System.Diagnostics;
using System.Globalization;

namespace Recorder.Offload.Tests;

/// <summary>
/// NetworkManager on a private D-Bus, for real: a <c>dbus-daemon</c> of our own on a socket in a
/// temporary directory, and python3-dbusmock's <c>networkmanager</c> template serving
/// <c>org.freedesktop.NetworkManager</c> on it as the system bus (DBUS_SYSTEM_BUS_ADDRESS points at
/// it in the child's environment only). The test drives it with <c>gdbus call</c> on dbusmock's
/// <c>org.freedesktop.DBus.Mock</c> interface, as an administrator would with nmcli. Needs
/// <c>dbus-daemon</c>, <c>gdbus</c> (libglib2.0-bin) and <c>python3-dbusmock</c>, installed by .ci/setup.
/// </summary>
public sealed class PrivateNetworkManager : IDisposable
{
    public const string Device = "/org/freedesktop/NetworkManager/Devices/mock_wlan0";
    private const string Python = "/usr/bin/python3"; // Debian's: python3-dbusmock is installed for it, another python3 may come first on PATH
    private readonly string _dir;
    private readonly Process _bus;
    private readonly Process? _mock;

    public string Address { get; }

    private PrivateNetworkManager()
    {
        _dir = Directory.CreateTempSubdirectory("recorder-dbus-").FullName;
        var info = new ProcessStartInfo("dbus-daemon") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--session", "--nofork", $"--address=unix:path={_dir}/bus", "--print-address=1" }) info.ArgumentList.Add(a);
        _bus = Process.Start(info) ?? throw new InvalidOperationException("dbus-daemon did not start");
        try
        {
            // The daemon prints its address once it listens.
            var line = _bus.StandardOutput.ReadLineAsync();
            if (!line.Wait(TimeSpan.FromSeconds(10)) || line.Result is not { Length: > 0 } address)
                throw new InvalidOperationException($"dbus-daemon printed no address: {_bus.StandardError.ReadToEnd()}");
            Address = address.Trim();
            var mock = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-m", "dbusmock", "--template", "networkmanager" }) mock.ArgumentList.Add(a);
            mock.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = Address;
            _mock = Process.Start(mock) ?? throw new InvalidOperationException("python3 -m dbusmock did not start");
            _mock.OutputDataReceived += (_, _) => { };
            _mock.ErrorDataReceived += (_, _) => { };
            _mock.BeginOutputReadLine();
            _mock.BeginErrorReadLine();
            // Blocks (bounded) until the name is owned on the bus: no sleep.
            Gdbus(["wait", "--system", "--timeout", "60", "org.freedesktop.NetworkManager"]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Starts the bus and the template; a clear error when the tools are missing (.ci/setup installs them).</summary>
    public static PrivateNetworkManager Start()
    {
        foreach (var tool in new[] { "/usr/bin/dbus-daemon", "/usr/bin/gdbus" })
            if (!File.Exists(tool)) throw new InvalidOperationException($"{tool} is missing: run .ci/setup (apt: dbus-daemon, libglib2.0-bin)");
        var (code, _, _) = Recorder.Mcap.Tests.NodeInterop.Run(Python, ["-c", "import dbusmock"], Path.GetTempPath(), TimeSpan.FromSeconds(30));
        if (code != 0) throw new InvalidOperationException("python3-dbusmock is missing: run .ci/setup (apt: python3-dbusmock)");
        return new PrivateNetworkManager();
    }

    /// <summary>Calls <c>org.freedesktop.DBus.Mock.METHOD</c> on the template; returns gdbus's printed result.</summary>
    public string Mock(string method, params string[] args) =>
        Gdbus(["call", "--system", "-d", "org.freedesktop.NetworkManager", "-o", "/org/freedesktop", "-m", "org.freedesktop.DBus.Mock." + method, .. args]);

    /// <summary>A Wi-Fi device wlan0 with one access point and one saved connection per SSID (the AP first: the template needs it).</summary>
    public void AddWifi(params string[] ssids)
    {
        Mock("AddWiFiDevice", "mock_wlan0", "wlan0", "100");
        for (var i = 0; i < ssids.Length; i++)
        {
            Mock("AddAccessPoint", Device, $"ap{i}", ssids[i], $"00:11:22:33:44:{i:D2}", "2", "2412", "54000", "80", "256");
            Mock("AddWiFiConnection", Device, $"con{i}", ssids[i], "wpa-psk");
        }
    }

    /// <summary>Associates with SSID number <paramref name="index"/> of <see cref="AddWifi"/> as active connection <paramref name="name"/> (state 2, activated).</summary>
    public string Activate(int index, string name)
    {
        Mock("AddActiveConnection", $"['{Device}']", $"/org/freedesktop/NetworkManager/Settings/con{index}",
            $"/org/freedesktop/NetworkManager/AccessPoint/ap{index}", name, "2");
        return "/org/freedesktop/NetworkManager/ActiveConnection/" + name;
    }

    public void Deactivate(string activeConnection) => Mock("RemoveActiveConnection", Device, activeConnection);

    private string Gdbus(string[] args)
    {
        var info = new ProcessStartInfo("gdbus") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = Address;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("gdbus did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill();
            throw new TimeoutException($"gdbus {string.Join(' ', args)} did not finish");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"gdbus {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}"));
        return stdout.Result;
    }

    public void Dispose()
    {
        foreach (var p in new[] { _mock, _bus })
        {
            if (p is null) continue;
            try
            {
                if (!p.HasExited)
                {
                    p.Kill();
                    p.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
