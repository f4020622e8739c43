namespace Recorder.Ingest.Tests;

/// <summary>
/// Seeded mutations of a valid producer stream: flipped bytes, truncation, inserted garbage, huge
/// lengths, duplicated slices. Shared by the in-process fuzz test and the one through the daemon's socket.
/// </summary>
public static class StreamMutator
{
    public static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits; e++)
        {
            switch (random.Next(5))
            {
                case 0: // flip bytes
                    bytes[random.Next(bytes.Count)] ^= (byte)random.Next(1, 256);
                    break;
                case 1: // truncate
                    bytes = bytes.Take(random.Next(1, bytes.Count + 1)).ToList();
                    break;
                case 2: // insert garbage
                    var garbage = new byte[random.Next(1, 40)];
                    random.NextBytes(garbage);
                    bytes.InsertRange(random.Next(bytes.Count), garbage);
                    break;
                case 3: // a huge length somewhere
                    var at = random.Next(Math.Max(1, bytes.Count - 8));
                    for (var i = 0; i < 8 && at + i < bytes.Count; i++) bytes[at + i] = 0xFF;
                    break;
                default: // duplicate a slice
                    var from = random.Next(bytes.Count);
                    var length = Math.Min(random.Next(1, 200), bytes.Count - from);
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(from, length));
                    break;
            }
            if (bytes.Count == 0) bytes.Add(0);
        }
        return bytes.ToArray();
    }
}
