using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Recorder.Offload.Tests;

/// <summary>Restarts mid-upload, depots that lie, the depot going away and coming back, mTLS, NetworkManager presence.</summary>
[Collection("depot")]
public sealed class ResilienceTests : IDisposable
{
    private readonly string _recordings = Directory.CreateTempSubdirectory("recorder-rec-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("recorder-state-").FullName;

    public void Dispose()
    {
        Directory.Delete(_recordings, recursive: true);
        Directory.Delete(_state, recursive: true);
    }

    [Fact]
    public async Task A_restart_mid_upload_resumes_the_same_upload_from_the_depots_offset()
    {
        using var depot = DepotProcess.Start();
        var path = Samples.Recording(_recordings, "big", 3_000_000, 1);
        var size = new FileInfo(path).Length;
        var options = Samples.Options(_recordings, depot.Url, _state) with { Bandwidth = 2_000_000, ChunkSize = 8 << 20 };
        long firstSent;
        await using (var first = new OffloadService(options))
        {
            first.Start();
            first.Now();
            await Samples.WaitFor(() => first.BytesSent > 1_000_000, TimeSpan.FromSeconds(30), () => "a million bytes");
            firstSent = first.BytesSent;
        } // stopped in the middle of the one PATCH
        Assert.Empty(depot.Events("verified"));

        await using var second = new OffloadService(options with { Bandwidth = 0 });
        second.Start();
        second.Now();
        await Samples.WaitFor(() => second.Status().Verified == 1, TimeSpan.FromSeconds(30), () => "verification");
        Assert.Equal(1, depot.Creates("big.mcap")); // the same upload, not a new one
        Assert.Equal(Samples.Sha256(path), depot.Verified()["big.mcap"].Sha256);
        Assert.True(second.BytesSent <= size - 900_000, $"the second run sent {second.BytesSent} of {size} bytes (the first sent {firstSent})");
        Assert.True(firstSent + second.BytesSent < 1.1 * size, $"{firstSent} + {second.BytesSent} for {size}");
    }

    [Theory]
    [InlineData("hash")]
    [InlineData("offset")]
    public async Task A_depot_that_lies_never_causes_a_local_delete(string lie)
    {
        using var depot = DepotProcess.Start(lie: lie);
        var path = Samples.Recording(_recordings, "precious", 600_000, 1);
        var before = File.ReadAllBytes(path);
        var deletions = 0;
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with { DeleteAfterUpload = true, ChunkSize = 200_000 });
        service.Deleting += (_, _) => Interlocked.Increment(ref deletions);
        service.Start();
        service.Now();
        await Samples.WaitFor(() => service.Status().Failed == 1, TimeSpan.FromSeconds(30), () => $"the file to be parked: {FaultInjectionTests.Describe(service.Status())}");
        var status = service.Status();
        Assert.Equal(0, deletions);
        Assert.Equal(0, status.Verified);
        Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(before));
        Assert.Contains(lie == "hash" ? "differs from ours" : "depot", status.Files.Single().Error, StringComparison.Ordinal);
        // The journal agrees after a restart: nothing verified.
        await service.DisposeAsync();
        using var journal = OffloadJournal.Open(Path.Combine(_state, "offload.journal"), out _);
        Assert.DoesNotContain(journal.Entries.Values, e => e.Verified);
    }

    [Fact]
    public async Task A_final_answer_lost_while_the_depot_is_still_verifying_is_waited_for_not_uploaded_again()
    {
        // The depot's hash check takes 4 s; the client gives up on the final PATCH's answer after 3 s of
        // silence. HEAD then shows the upload complete and not yet verified (@tus/server unlocks before
        // its finish hook): the recorder asks again instead of starting a new upload.
        using var depot = DepotProcess.Start(verifyDelayMs: 4000);
        var path = Samples.Recording(_recordings, "slow", 100_000, 1);
        var deletions = 0;
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with
        {
            InactivityTimeout = TimeSpan.FromSeconds(3),
            DeleteAfterUpload = true,
        });
        service.Deleting += (_, _) => Interlocked.Increment(ref deletions);
        service.Start();
        service.Now();
        await Samples.WaitFor(() => !File.Exists(path), TimeSpan.FromSeconds(30), () => $"the verified delete: {FaultInjectionTests.Describe(service.Status())}");
        Assert.Equal(1, service.FailedPatches); // the final PATCH, whose answer came too late
        Assert.Equal(1, depot.Creates("slow.mcap"));
        Assert.Single(depot.Events("verified"));
        Assert.Equal(1, deletions);
    }

    [Fact]
    public async Task When_the_depot_goes_away_and_comes_back_offload_stops_and_starts_with_the_hysteresis()
    {
        using var depot = DepotProcess.Start();
        using var proxy = new FaultProxy(depot.Port, FaultPlan.None);
        var options = Samples.Options(_recordings, proxy.Through(depot.Url), _state) with
        {
            Presence = PresenceMode.Probe,
            EnterAfter = 3,
            LeaveAfter = 2,
            ProbeInterval = TimeSpan.FromMilliseconds(150),
            Bandwidth = 1_000_000,
            ChunkSize = 64 * 1024,
        };
        Samples.Recording(_recordings, "long", 4_000_000, 1);
        var transitions = new List<(bool InRange, int Successes, int Failures)>();
        await using var service = new OffloadService(options);
        service.PresenceChanged += inRange => { lock (transitions) transitions.Add((inRange, 0, 0)); };
        service.Start();
        await Samples.WaitFor(() => service.Status().State == "uploading", TimeSpan.FromSeconds(10), () => "uploading");
        // It took k = 3 probes to enter.
        Assert.True(service.Status().ProbeSuccesses >= 3);

        proxy.Down();
        await Samples.WaitFor(() => !service.Status().InRange, TimeSpan.FromSeconds(10), () => "leaving range");
        var left = service.Status();
        await Task.Delay(200); // real sockets to a real depot: requests cancelled as the range was left are gone by now
        var sentWhenLeft = service.BytesSent;
        Assert.Equal("out_of_range", left.State);
        Assert.True(left.ProbeFailures >= 1, "left range without a failure");
        await Task.Delay(600); // real probes to a real depot through a real proxy: real time for a wrong byte to go out
        Assert.True(sentWhenLeft == service.BytesSent, $"{sentWhenLeft} then {service.BytesSent}: {FaultInjectionTests.Describe(service.Status())} {string.Join(",", transitions)}"); // nothing goes out while out of range
        Assert.False(service.Status().InRange);

        proxy.Up();
        var up = System.Diagnostics.Stopwatch.StartNew();
        await Samples.WaitFor(() => service.Status().InRange, TimeSpan.FromSeconds(10), () => "entering range again");
        // k = 3 successes 150 ms apart: not before the second interval after the first success.
        Assert.True(up.Elapsed >= TimeSpan.FromMilliseconds(250), $"back in range after {up.Elapsed.TotalMilliseconds} ms");
        await Samples.WaitFor(() => service.Status().Verified == 1, TimeSpan.FromSeconds(30), () => "the upload to finish");
        Assert.Equal(1, depot.Creates("long.mcap"));
        lock (transitions) Assert.True(transitions.Select(t => t.InRange).SequenceEqual([true, false, true]), string.Join(",", transitions));
    }

    [Fact]
    public async Task Mutual_TLS_with_a_pinned_test_CA_and_a_device_certificate_uploads_and_identifies_the_device()
    {
        var pki = Directory.CreateTempSubdirectory("recorder-pki-").FullName;
        try
        {
            var (caPem, serverCert, serverKey, deviceCert, deviceKey) = Pki(pki);
            using var depot = DepotProcess.Start(token: false, tls: ["--tls-cert", serverCert, "--tls-key", serverKey, "--tls-ca", caPem]);
            Assert.Equal("https", depot.Url.Scheme);
            var path = Samples.Recording(_recordings, "secure", 100_000, 1);
            var options = Samples.Options(_recordings, depot.Url, _state) with
            {
                Insecure = false,
                TokenFile = null,
                CaFile = caPem,
                ClientCertificateFile = deviceCert,
                ClientKeyFile = deviceKey,
                Presence = PresenceMode.Probe,
            };
            await using (var service = new OffloadService(options))
            {
                service.Start();
                await Samples.WaitFor(() => service.Status().Verified == 1, TimeSpan.FromSeconds(30), () => $"mTLS upload: {FaultInjectionTests.Describe(service.Status())}");
            }
            Assert.Equal("robot-0042", depot.Events("create").Single()["peer"]!.GetValue<string>());
            Assert.Equal(Samples.Sha256(path), depot.Verified()["secure.mcap"].Sha256);

            // Without the device certificate the depot refuses the handshake: never in range.
            Samples.Recording(_recordings, "second", 10_000, 2);
            await using (var anonymous = new OffloadService(options with { ClientCertificateFile = null, ClientKeyFile = null, StateDirectory = Path.Combine(_state, "b") }))
            {
                anonymous.Start();
                await Samples.WaitFor(() => anonymous.Status().LastProbeError is not null, TimeSpan.FromSeconds(10), () => "a failed probe");
                Assert.False(anonymous.Status().InRange);
            }
            // A depot certificate from another CA is not trusted, even though the device cert is good.
            var otherCa = Path.Combine(pki, "other-ca.pem");
            using (var other = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                var req = new CertificateRequest("CN=other CA", other, HashAlgorithmName.SHA256);
                req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
                using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
                File.WriteAllText(otherCa, cert.ExportCertificatePem());
            }
            await using (var mistrusting = new OffloadService(options with { CaFile = otherCa, StateDirectory = Path.Combine(_state, "c") }))
            {
                mistrusting.Start();
                await Samples.WaitFor(() => mistrusting.Status().LastProbeError is not null, TimeSpan.FromSeconds(10), () => "a failed probe");
                Assert.False(mistrusting.Status().InRange);
            }
            Assert.Single(depot.Events("create"));
        }
        finally
        {
            Directory.Delete(pki, recursive: true);
        }
    }

    /// <summary>A test CA, a depot certificate for 127.0.0.1 and a device certificate (CN=robot-0042, O=fleet-a), all P-256.</summary>
    private static (string Ca, string ServerCert, string ServerKey, string DeviceCert, string DeviceKey) Pki(string dir)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Recorder test depot CA, O=fleet-a", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        (string, string) Issue(string subject, bool server, string name)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
            if (server)
            {
                var san = new SubjectAlternativeNameBuilder();
                san.AddIpAddress(System.Net.IPAddress.Loopback);
                san.AddDnsName("localhost");
                request.CertificateExtensions.Add(san.Build());
            }
            var serial = RandomNumberGenerator.GetBytes(12);
            using var cert = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), serial);
            var certPath = Path.Combine(dir, name + ".crt");
            var keyPath = Path.Combine(dir, name + ".key");
            File.WriteAllText(certPath, cert.ExportCertificatePem());
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
            return (certPath, keyPath);
        }

        var caPath = Path.Combine(dir, "ca.pem");
        File.WriteAllText(caPath, ca.ExportCertificatePem());
        var (serverCert, serverKey) = Issue("CN=127.0.0.1, O=depot", server: true, "depot");
        var (deviceCert, deviceKey) = Issue("CN=robot-0042, O=fleet-a", server: false, "device");
        return (caPath, serverCert, serverKey, deviceCert, deviceKey);
    }

    private sealed class FakeWifi : IWifiState
    {
        public volatile string[] Ssids = [];
        public volatile bool Unavailable;

        public event Action? Changed;

        public void Announce() => Changed?.Invoke();

        public Task<IReadOnlyList<string>> ActiveSsidsAsync(CancellationToken cancellationToken) =>
            Unavailable ? throw new InvalidOperationException("no bus") : Task.FromResult<IReadOnlyList<string>>(Ssids);
    }

    [Fact]
    public async Task NetworkManager_presence_needs_a_depot_SSID_and_then_the_probe()
    {
        // No NetworkManager on the test machine: the SSID source is a fake; the probe is real.
        using var depot = DepotProcess.Start();
        Samples.Recording(_recordings, "wifi", 10_000, 1);
        var wifi = new FakeWifi { Ssids = ["CoffeeShop"] };
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with
        {
            Presence = PresenceMode.NetworkManager,
            Ssids = ["depot-a", "depot-b"],
            ProbeInterval = TimeSpan.FromMilliseconds(100),
        }, wifi: wifi);
        service.Start();
        await Samples.WaitFor(() => service.Status().ProbeFailures >= 3, TimeSpan.FromSeconds(10), () => "probes");
        Assert.False(service.Status().InRange);
        Assert.Contains("CoffeeShop", service.Status().LastProbeError, StringComparison.Ordinal);
        Assert.Empty(depot.Events("create"));

        wifi.Unavailable = true;
        await Samples.WaitFor(() => service.Status().LastProbeError?.Contains("NetworkManager unavailable", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(10), () => "NM unavailable");
        Assert.False(service.Status().InRange);

        wifi.Unavailable = false;
        wifi.Ssids = ["depot-b"];
        await Samples.WaitFor(() => service.Status().Verified == 1, TimeSpan.FromSeconds(10), () => "upload on the depot SSID");
    }

    [Fact]
    public async Task The_presence_backstop_probes_on_the_injected_clock_and_a_change_announcement_probes_at_once()
    {
        using var depot = DepotProcess.Start();
        Samples.Recording(_recordings, "clock", 10_000, 1);
        var wifi = new FakeWifi { Ssids = ["CoffeeShop"] };
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(57));
        await using var service = new OffloadService(Samples.Options(_recordings, depot.Url, _state) with
        {
            Presence = PresenceMode.NetworkManager,
            Ssids = ["depot-a"],
            ProbeInterval = TimeSpan.FromMinutes(1),
            EnterAfter = 1,
            LeaveAfter = 1,
        }, time: time, wifi: wifi);
        service.Start();
        await Samples.WaitFor(() => service.Status().ProbeFailures == 1, TimeSpan.FromSeconds(10), () => "the first probe");

        // Associated with the depot, but nobody says so: only the interval, on the injected clock, probes again.
        wifi.Ssids = ["depot-a"];
        await Samples.WaitFor(() =>
        {
            time.Advance(TimeSpan.FromMinutes(1)); // again each round: the loop may arm its timer after an advance
            return service.Status().InRange;
        }, TimeSpan.FromSeconds(10), () => $"a probe after a minute of fake time: {FaultInjectionTests.Describe(service.Status())}");
        await Samples.WaitFor(() => service.Status().Verified == 1, TimeSpan.FromSeconds(10), () => "the upload");

        // A change announced (NetworkManager's PropertiesChanged) probes at once, without the clock moving.
        wifi.Ssids = ["CoffeeShop"];
        wifi.Announce();
        await Samples.WaitFor(() => !service.Status().InRange, TimeSpan.FromSeconds(10), () => $"leaving range: {FaultInjectionTests.Describe(service.Status())}");
    }

    [Fact]
    public void Hysteresis_needs_k_successes_to_enter_and_m_failures_to_leave()
    {
        var h = new Hysteresis(enterAfter: 3, leaveAfter: 2);
        Assert.False(h.Observe(true));
        Assert.False(h.Observe(true));
        Assert.False(h.Observe(false)); // the run is broken
        Assert.False(h.Observe(true));
        Assert.False(h.Observe(true));
        Assert.True(h.Observe(true));
        Assert.True(h.InRange);
        Assert.False(h.Observe(false));
        Assert.False(h.Observe(true)); // one success resets the failures
        Assert.False(h.Observe(false));
        Assert.True(h.Observe(false));
        Assert.False(h.InRange);
        Assert.True(h.Force(true));
        Assert.False(h.Force(true));
    }

    [Fact]
    public void Backoff_grows_exponentially_is_capped_and_jittered()
    {
        var random = new Random(3);
        var min = TimeSpan.FromSeconds(1);
        var max = TimeSpan.FromSeconds(60);
        for (var attempt = 1; attempt < 40; attempt++)
        {
            var ceiling = TimeSpan.FromTicks(Math.Min(min.Ticks << Math.Min(attempt - 1, 20), max.Ticks));
            var delays = Enumerable.Range(0, 50).Select(_ => Backoff.Delay(attempt, min, max, random)).ToList();
            Assert.All(delays, d => Assert.InRange(d, ceiling / 2, ceiling));
            Assert.True(delays.Distinct().Count() > 40, "no jitter");
        }
    }

    [Fact]
    public void SSIDs_match_exactly_and_undecodable_ones_never_match()
    {
        Assert.True(SsidMatch.Any(["home", "depot-a"], ["depot-a"]));
        Assert.False(SsidMatch.Any(["Depot-A"], ["depot-a"]));
        Assert.False(SsidMatch.Any([], ["depot-a"]));
        Assert.Equal("depot-a", SsidMatch.Decode("depot-a"u8));
        Assert.Null(SsidMatch.Decode([0xff, 0xfe]));
        Assert.Null(SsidMatch.Decode([]));
    }
}
