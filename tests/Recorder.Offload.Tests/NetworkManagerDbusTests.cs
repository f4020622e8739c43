namespace Recorder.Offload.Tests;

/// <summary>
/// Presence mode <c>networkmanager</c> against NetworkManager's real D-Bus API, served by
/// python3-dbusmock's template on a private bus (<see cref="PrivateNetworkManager"/>), with the real
/// depot behind: switching the active SSID moves the offload stage in and out of range.
/// </summary>
[Collection("depot")]
public sealed class NetworkManagerDbusTests : IDisposable
{
    private readonly string _recordings = Directory.CreateTempSubdirectory("recorder-rec-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("recorder-state-").FullName;

    public void Dispose()
    {
        Directory.Delete(_recordings, recursive: true);
        Directory.Delete(_state, recursive: true);
    }

    [Fact]
    public async Task Switching_the_active_SSID_over_real_DBus_moves_offload_in_and_out_of_range()
    {
        using var nm = PrivateNetworkManager.Start();
        nm.AddWifi("CoffeeShop", "DepotNet");
        var cafe = nm.Activate(0, "ac_cafe");
        using var depot = DepotProcess.Start();
        var path = Samples.Recording(_recordings, "wifi", 200_000, 1);
        using var wifi = new NetworkManagerWifi(nm.Address);
        var transitions = new List<bool>();
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with
        {
            Presence = PresenceMode.NetworkManager,
            Ssids = ["DepotNet"],
            // The backstop timer never fires within the test: only NetworkManager's PropertiesChanged
            // signals wake the probe, so a missed signal would show as a timeout below.
            ProbeInterval = TimeSpan.FromHours(1),
            EnterAfter = 1,
            LeaveAfter = 1,
        }, wifi: wifi);
        service.PresenceChanged += inRange => { lock (transitions) transitions.Add(inRange); };
        service.Start();

        // The first probe, at start: associated, but not with a depot SSID.
        await Samples.WaitFor(() => service.Status().LastProbeError?.Contains("CoffeeShop", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(10),
            () => $"a probe on CoffeeShop: {FaultInjectionTests.Describe(service.Status())}");
        Assert.False(service.Status().InRange);
        Assert.Empty(depot.Events("create"));

        // Roam to the depot's network: NetworkManager announces it, the probe confirms, the file goes up.
        nm.Deactivate(cafe);
        var depotNet = nm.Activate(1, "ac_depot");
        await Samples.WaitFor(() => service.Status().Verified == 1, TimeSpan.FromSeconds(20),
            () => $"the upload on DepotNet: {FaultInjectionTests.Describe(service.Status())}");
        Assert.True(service.Status().InRange);
        Assert.Equal(Samples.Sha256(path), depot.Verified()["wifi.mcap"].Sha256);

        // Back to the café: out of range again.
        nm.Deactivate(depotNet);
        nm.Activate(0, "ac_cafe2");
        await Samples.WaitFor(() => !service.Status().InRange, TimeSpan.FromSeconds(10),
            () => $"leaving range: {FaultInjectionTests.Describe(service.Status())}");
        await Samples.WaitFor(() => service.Status().LastProbeError?.Contains("CoffeeShop", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(10),
            () => $"a probe on CoffeeShop again: {FaultInjectionTests.Describe(service.Status())}");
        Assert.Equal("out_of_range", service.Status().State);
        lock (transitions) Assert.Equal([true, false], transitions);
    }
}
