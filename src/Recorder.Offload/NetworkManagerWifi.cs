using System.Text;
using Tmds.DBus.Protocol;

namespace Recorder.Offload;

/// <summary>The Wi-Fi networks the machine is associated with right now, by SSID.</summary>
public interface IWifiState
{
    /// <summary>The SSIDs of the active, activated Wi-Fi connections. Throws when the source is unavailable.</summary>
    Task<IReadOnlyList<string>> ActiveSsidsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Raised (on any thread) when the source announces that the answer may have changed, so the
    /// caller asks again at once instead of at its next interval. Only a hint: it may be raised
    /// when nothing relevant changed, and a source without notifications never raises it.
    /// </summary>
    event Action? Changed;
}

/// <summary>Matching the active SSIDs against <c>offload.ssids</c>: exact, case-sensitive (SSIDs are bytes; non-UTF-8 ones never match).</summary>
public static class SsidMatch
{
    public static bool Any(IEnumerable<string> active, IReadOnlyList<string> configured)
    {
        ArgumentNullException.ThrowIfNull(active);
        ArgumentNullException.ThrowIfNull(configured);
        foreach (var ssid in active)
            foreach (var wanted in configured)
                if (string.Equals(ssid, wanted, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>An AccessPoint's <c>Ssid</c> (<c>ay</c>) as text; null when it is not valid UTF-8 or empty (hidden).</summary>
    public static string? Decode(ReadOnlySpan<byte> ssid)
    {
        if (ssid.IsEmpty) return null;
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ssid);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}

/// <summary>
/// NetworkManager over the system D-Bus (Tmds.DBus.Protocol, AOT-safe, hand-written calls):
/// <c>ActiveConnections</c> of <c>/org/freedesktop/NetworkManager</c>, each connection's
/// <c>Type</c> (<c>802-11-wireless</c>), <c>State</c> (2 = activated) and <c>SpecificObject</c>
/// (the AccessPoint), and the AccessPoint's <c>Ssid</c>. Connects lazily and again after the bus
/// or NetworkManager restarts. Connectivity is deliberately not consulted: a depot LAN without
/// internet reports LIMITED. NetworkManager's <c>PropertiesChanged</c> on its root object
/// (<c>ActiveConnections</c>, <c>PrimaryConnection</c>, <c>State</c>) raises <see cref="Changed"/>
/// once the first call has connected.
/// </summary>
public sealed class NetworkManagerWifi : IWifiState, IDisposable
{
    private const string Service = "org.freedesktop.NetworkManager";
    private const string RootPath = "/org/freedesktop/NetworkManager";
    private const string ActiveInterface = "org.freedesktop.NetworkManager.Connection.Active";
    private const string AccessPointInterface = "org.freedesktop.NetworkManager.AccessPoint";
    private const uint Activated = 2;

    private readonly string? _address;
    private readonly object _lock = new();
    private DBusConnection? _connection;
    private IDisposable? _watch;

    public event Action? Changed;

    /// <param name="address">A D-Bus address; null is the system bus.</param>
    public NetworkManagerWifi(string? address = null) => _address = address;

    public async Task<IReadOnlyList<string>> ActiveSsidsAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync().ConfigureAwait(false);
        try
        {
            var ssids = new List<string>();
            var active = await GetAsync(connection, RootPath, Service, "ActiveConnections").ConfigureAwait(false);
            for (var i = 0; i < active.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var path = active.GetItem(i).GetObjectPathAsString();
                var type = (await GetAsync(connection, path, ActiveInterface, "Type").ConfigureAwait(false)).GetString();
                if (type != "802-11-wireless") continue;
                var state = (await GetAsync(connection, path, ActiveInterface, "State").ConfigureAwait(false)).GetUInt32();
                if (state != Activated) continue;
                var ap = (await GetAsync(connection, path, ActiveInterface, "SpecificObject").ConfigureAwait(false)).GetObjectPathAsString();
                if (ap is "/" or "") continue;
                var bytes = (await GetAsync(connection, ap, AccessPointInterface, "Ssid").ConfigureAwait(false)).GetArray<byte>();
                if (SsidMatch.Decode(bytes) is { } ssid) ssids.Add(ssid);
            }
            return ssids;
        }
        catch (Exception e) when (e is DBusConnectionException or ObjectDisposedException)
        {
            // The bus or NetworkManager went away: reconnect on the next call.
            Disconnect(connection);
            throw;
        }
    }

    private async Task<DBusConnection> ConnectAsync()
    {
        lock (_lock)
            if (_connection is not null) return _connection;
        var address = _address ?? DBusAddress.System ?? throw new DBusConnectionException("no system bus address");
        var connection = new DBusConnection(address);
        IDisposable watch;
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            // Any sender: a spoofed signal only costs one extra look; the answer always comes from NetworkManager's properties.
            watch = await connection.WatchSignalAsync(sender: null, path: RootPath, @interface: "org.freedesktop.DBus.Properties", signal: "PropertiesChanged",
                handler: static n => { if (!n.IsCompletion) ((NetworkManagerWifi)n.State!).Changed?.Invoke(); },
                flags: ObserverFlags.None, emitOnCapturedContext: false, state: this).ConfigureAwait(false);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        lock (_lock)
        {
            _connection = connection;
            _watch = watch;
        }
        return connection;
    }

    private void Disconnect(DBusConnection? which = null)
    {
        lock (_lock)
        {
            if (which is not null && !ReferenceEquals(which, _connection)) return;
            _watch?.Dispose();
            _watch = null;
            _connection?.Dispose();
            _connection = null;
        }
    }

    private static Task<VariantValue> GetAsync(DBusConnection connection, string path, string @interface, string property) =>
        connection.CallMethodAsync(CreateGet(connection, path, @interface, property), static (Message message, object? _) => message.GetBodyReader().ReadVariantValue(), null);

    private static MessageBuffer CreateGet(DBusConnection connection, string path, string @interface, string property)
    {
        using var writer = connection.GetMessageWriter();
        writer.WriteMethodCallHeader(destination: Service, path: path, @interface: "org.freedesktop.DBus.Properties", member: "Get", signature: "ss");
        writer.WriteString(@interface);
        writer.WriteString(property);
        return writer.CreateMessage();
    }

    public void Dispose() => Disconnect();
}
