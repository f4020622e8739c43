// The configuration names the ingest stage's input formats, and the ingest stage runs on Linux only (Unix sockets, FIFOs).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
