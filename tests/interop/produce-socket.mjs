// A producer no one here wrote: Foxglove's TypeScript McapWriter (@mcap/core) streaming into the
// recorder's ingest socket.
//
// Usage: node produce-socket.mjs <socket path> <topic> <count> [interval ms] [chunked|unchunked]
//
// Writes <count> json messages {"seq": i, "producer": "mcap-core"} on <topic>, sequence = i,
// pacing them <interval ms> apart (default 0), then ends the stream (DataEnd, summary, Footer).
// Prints "sent <count>" on success; on any error prints it to stderr and exits 1.

import net from "node:net";

import { McapWriter } from "@mcap/core";

class SocketWritable {
  constructor(socket) {
    this.socket = socket;
    this.pos = 0n;
  }

  write(buffer) {
    this.pos += BigInt(buffer.byteLength);
    return new Promise((resolve, reject) => {
      this.socket.write(buffer, (err) => (err ? reject(err) : resolve()));
    });
  }

  position() {
    return this.pos;
  }
}

async function main() {
  const [socketPath, topic, countText, intervalText = "0", mode = "chunked"] = process.argv.slice(2);
  if (!socketPath || !topic || !countText) {
    throw new Error("usage: node produce-socket.mjs <socket> <topic> <count> [interval ms] [chunked|unchunked]");
  }
  const count = Number(countText);
  const interval = Number(intervalText);
  const socket = net.createConnection(socketPath);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const writer = new McapWriter({
    writable: new SocketWritable(socket),
    useChunks: mode === "chunked",
    chunkSize: 4 * 1024,
  });
  await writer.start({ library: "mcap-core-producer", profile: "" });
  const schemaId = await writer.registerSchema({
    name: "interop.Sample",
    encoding: "jsonschema",
    data: new TextEncoder().encode(JSON.stringify({ type: "object", properties: { seq: { type: "integer" } } })),
  });
  const channelId = await writer.registerChannel({ topic, schemaId, messageEncoding: "json", metadata: new Map() });
  const text = new TextEncoder();
  for (let i = 0; i < count; i++) {
    const now = BigInt(Date.now()) * 1000000n;
    await writer.addMessage({
      channelId,
      sequence: i,
      logTime: now,
      publishTime: now,
      data: text.encode(JSON.stringify({ seq: i, producer: "mcap-core" })),
    });
    if (interval > 0) await new Promise((r) => setTimeout(r, interval));
  }
  await writer.end();
  await new Promise((resolve) => socket.end(resolve));
  process.stdout.write(`sent ${count}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
