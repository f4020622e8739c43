using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Logging;
using Recorder.Daemon;
using Recorder.Mcap;
using Recorder.Video;

namespace Recorder.Demo;

/// <summary>
/// Built-in producers for `recorder demo` and `recorder run --demo`. Each is a separate client of
/// the real ingest socket, speaking MCAP like any external producer would:
/// an IMU at 200 Hz (protobuf, its FileDescriptorSet embedded), GPS at 10 Hz (json with a JSON
/// schema), vehicle diagnostics at 1 Hz (json) and a camera at 10 fps (foxglove.CompressedVideo,
/// H.264, looping a 3 s clip embedded in the binary; indexed into the recording's .vidx).
/// Each survives a daemon restart (<see cref="ReconnectingProducer"/>).
/// </summary>
public static class DemoProducers
{
    public static Task RunAsync(string socketPath, ILogger logger, CancellationToken cancellationToken)
    {
        DaemonLog.DemoRunning(logger);
        return Task.WhenAll(
            Run("imu", socketPath, logger, ImuAsync, cancellationToken),
            Run("gps", socketPath, logger, GpsAsync, cancellationToken),
            Run("diagnostics", socketPath, logger, DiagnosticsAsync, cancellationToken),
            Run("camera", socketPath, logger, CameraAsync, cancellationToken));
    }

    private static async Task Run(string name, string socketPath, ILogger logger, Func<ReconnectingProducer, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        try
        {
            using var producer = await ReconnectingProducer.ConnectAsync(socketPath, "recorder-demo/" + Cli.BuildInfo.Version, logger, cancellationToken).ConfigureAwait(false);
            try
            {
                await produce(producer, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping: end the stream properly.
            }
            producer.Finish();
            if (producer.Lost > 0) DaemonLog.DemoLost(logger, name, producer.Sent, producer.Lost, producer.Reconnects);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or McapException)
        {
            DaemonLog.DemoFailed(logger, name, e.Message);
        }
    }

    /// <summary>Connects a raw socket (loadgen), retrying while the daemon is still starting.</summary>
    public static async Task<Socket> ConnectAsync(string socketPath, CancellationToken cancellationToken, int attempts = 50, TimeProvider? time = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException) when (attempt < attempts)
            {
                socket.Dispose();
                await Task.Delay(ReconnectingProducer.InitialBackoff, time ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    private static ulong NowNs() => (ulong)(DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>The IMU schema as protoc would emit it with --include_imports --descriptor_set_out.</summary>
    public static byte[] ImuDescriptorSet()
    {
        static FieldDescriptorProto Field(string name, int number, FieldDescriptorProto.Types.Type type) => new()
        {
            Name = name,
            Number = number,
            Type = type,
            Label = FieldDescriptorProto.Types.Label.Optional,
            JsonName = ToCamel(name),
        };
        var imu = new DescriptorProto { Name = "Imu" };
        imu.Field.Add(Field("timestamp_ns", 1, FieldDescriptorProto.Types.Type.Uint64));
        imu.Field.Add(Field("frame_id", 2, FieldDescriptorProto.Types.Type.String));
        string[] axes = ["angular_velocity_x", "angular_velocity_y", "angular_velocity_z", "linear_acceleration_x", "linear_acceleration_y", "linear_acceleration_z"];
        for (var i = 0; i < axes.Length; i++) imu.Field.Add(Field(axes[i], 3 + i, FieldDescriptorProto.Types.Type.Double));
        var file = new FileDescriptorProto { Name = "recorder/demo/imu.proto", Package = "recorder.demo", Syntax = "proto3" };
        file.MessageType.Add(imu);
        var set = new FileDescriptorSet();
        set.File.Add(file);
        return set.ToByteArray();
    }

    private static string ToCamel(string snake)
    {
        var sb = new StringBuilder();
        var upper = false;
        foreach (var c in snake)
        {
            if (c == '_') { upper = true; continue; }
            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        return sb.ToString();
    }

    /// <summary>Encodes one recorder.demo.Imu message.</summary>
    public static int EncodeImu(Span<byte> buffer, ulong timestampNs, ReadOnlySpan<double> values)
    {
        var position = 0;
        void Varint(Span<byte> b, ulong v)
        {
            while (v >= 0x80) { b[position++] = (byte)(v | 0x80); v >>= 7; }
            b[position++] = (byte)v;
        }
        Varint(buffer, (1 << 3) | 0);
        Varint(buffer, timestampNs);
        var frame = "imu_link"u8;
        Varint(buffer, (2 << 3) | 2);
        Varint(buffer, (ulong)frame.Length);
        frame.CopyTo(buffer[position..]);
        position += frame.Length;
        for (var i = 0; i < values.Length; i++)
        {
            Varint(buffer, (ulong)(((3 + i) << 3) | 1));
            BinaryPrimitives.WriteDoubleLittleEndian(buffer[position..], values[i]);
            position += 8;
        }
        return position;
    }

    private static async Task ImuAsync(ReconnectingProducer writer, CancellationToken ct)
    {
        var schema = writer.AddSchema("recorder.demo.Imu", "protobuf", ImuDescriptorSet());
        var channel = writer.AddChannel("/imu", "protobuf", schema, new Dictionary<string, string> { ["frame_id"] = "imu_link" });
        var buffer = new byte[256];
        var values = new double[6];
        // Timers tick late under load; emit every sample that is due so the rate averages exactly 200 Hz.
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        uint sequence = 0;
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            while (clock.Elapsed.TotalMilliseconds >= sequence * 5.0)
                WriteImu(writer, channel, buffer, values, sequence++);
        }
    }

    private static void WriteImu(ReconnectingProducer writer, ushort channel, byte[] buffer, double[] values, uint sequence)
    {
        {
            var t = NowNs();
            var phase = t / 1e9;
            values[0] = 0.01 * Math.Sin(phase);
            values[1] = 0.02 * Math.Cos(phase);
            values[2] = 0.1 * Math.Sin(phase / 3);
            values[3] = 0.3 * Math.Sin(phase * 2);
            values[4] = 0.05 * Math.Cos(phase * 2);
            values[5] = 9.81 + 0.02 * Math.Sin(phase * 7);
            var length = EncodeImu(buffer, t, values);
            writer.Send(channel, sequence, t, t, buffer.AsSpan(0, length));
        }
    }

    private static async Task GpsAsync(ReconnectingProducer writer, CancellationToken ct)
    {
        var schema = writer.AddSchema("recorder.demo.Gps", "jsonschema", """
            {"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"},"alt":{"type":"number"},"fix":{"type":"string"},"speed_mps":{"type":"number"}},"required":["lat","lon"]}
            """u8.ToArray());
        var channel = writer.AddChannel("/gps", "json", schema, new Dictionary<string, string> { ["frame_id"] = "gps_antenna" });
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        uint sequence = 0;
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            var t = NowNs();
            var s = sequence * 0.00001;
            var json = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{{\"lat\":{48.137154 + s:0.0000000},\"lon\":{11.576124 + s / 2:0.0000000},\"alt\":519.4,\"fix\":\"rtk\",\"speed_mps\":{8.3 + Math.Sin(sequence / 20.0):0.00}}}");
            writer.Send(channel, sequence++, t, t, Encoding.UTF8.GetBytes(json));
        }
    }

    /// <summary>The embedded clip's access units (320x240 testsrc, 10 fps, a keyframe every second, baseline profile).</summary>
    public static List<byte[]> DemoCameraFrames()
    {
        using var resource = typeof(DemoProducers).Assembly.GetManifestResourceStream("demo-camera.h264")
            ?? throw new InvalidOperationException("the demo camera clip is not embedded");
        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        var frames = new List<byte[]>();
        var splitter = new AnnexBSplitter(VideoCodec.H264);
        AccessUnitHandler add = (au, in _) => frames.Add(au.ToArray());
        splitter.Push(copy.ToArray(), 0, add);
        splitter.Complete(add);
        return frames;
    }

    private static async Task CameraAsync(ReconnectingProducer writer, CancellationToken ct)
    {
        var frames = DemoCameraFrames();
        var schema = writer.AddSchema(CompressedVideo.SchemaName, CompressedVideo.SchemaEncoding, CompressedVideo.FileDescriptorSet.ToArray());
        var channel = writer.AddChannel("/camera/demo", CompressedVideo.MessageEncoding, schema, new Dictionary<string, string> { ["frame_id"] = "camera_demo" });
        var buffer = new byte[CompressedVideo.MaxEncodedLength(16, frames.Max(f => f.Length))];
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        uint sequence = 0;
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            var t = NowNs();
            var length = CompressedVideo.Encode(buffer, t, "camera_demo"u8, default, frames[(int)(sequence % frames.Count)], VideoCodec.H264);
            writer.Send(channel, sequence++, t, t, buffer.AsSpan(0, length));
        }
    }

    private static async Task DiagnosticsAsync(ReconnectingProducer writer, CancellationToken ct)
    {
        var channel = writer.AddChannel("/vehicle/diagnostics", "json");
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        uint sequence = 0;
        do
        {
            var t = NowNs();
            var json = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{{\"battery_v\":{48.1 - sequence * 0.001:0.000},\"cpu_temp_c\":{61 + sequence % 5},\"mode\":\"autonomous\",\"faults\":[]}}");
            writer.Send(channel, sequence++, t, t, Encoding.UTF8.GetBytes(json));
        }
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
    }
}
