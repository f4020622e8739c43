using System.Text;
using Tmds.DBus.Protocol;

namespace Recorder.Offload;

/// <summary>The Wi-Fi networks the machine is associated with right now, by SSID.</summary>
public interface IWifiState
{
    /// <summary>The SSIDs of the active, activated Wi-Fi connections. Throws when the source is unavailable.</summary>
    Task<IReadOnlyList<string>> ActiveSsidsAsync(CancellationToken cancellationToken);
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
/// internet reports LIMITED.
/// </summary>
public sealed class NetworkManagerWifi : IWifiState, IDisposable
{
    private const string Service = "org.freedesktop.NetworkManager";
    private const string RootPath = "/org/freedesktop/NetworkManager";
    private const string ActiveInterface = "org.freedesktop.NetworkManager.Connection.Active";
    private const string AccessPointInterface = "org.freedesktop.NetworkManager.AccessPoint";
    private const uint Activated = 2;

    private readonly string? _address;
    private DBusConnection? _connection;

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
            _connection?.Dispose();
            _connection = null;
            throw;
        }
    }

    private async Task<DBusConnection> ConnectAsync()
    {
        if (_connection is not null) return _connection;
        var address = _address ?? DBusAddress.System ?? throw new DBusConnectionException("no system bus address");
        var connection = new DBusConnection(address);
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        _connection = connection;
        return connection;
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

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }
}
