// Write a deterministic sample MCAP file with Foxglove's TypeScript writer (@mcap/core McapWriter),
// so that our C# reader can be tested against files written by Foxglove's writer.
//
// Usage: node make-sample.mjs <out.mcap> [none|zstd]
//
// Compression: "none" (default) and "zstd" (via @foxglove/wasm-zstd's compress()).
// "lz4" is rejected: @foxglove/wasm-lz4 only provides decompression.
//
// Content (identical for every run and every compression, apart from chunk bytes):
//   header:      profile "", library "mcap-typescript/<version>" (McapWriter default)
//   schemas:     id 1 "recorder.Imu", id 2 "recorder.Gps" (encoding "jsonschema")
//   channels:    id 0 "/imu" (schema 1), id 1 "/gps" (schema 2), id 2 "/imu/rear" (schema 1),
//                all messageEncoding "json"; "/imu" has metadata {frame_id: "imu_link"}
//   messages:    1000, message i goes to channel i % 3, sequence = per-channel counter starting at 0,
//                logTime = 1_700_000_000_000_000_000 + i * 1_000_000 ns,
//                publishTime = logTime - 250_000 ns, data = UTF-8 JSON
//   attachment:  "calibration.yaml", "application/yaml", written after message 500
//   metadata:    "recording_info" {robot: "sample-bot", operator: "interop-test"}, after message 250
//   chunks:      chunkSize 16 KiB, so several chunks

import { open } from "node:fs/promises";

import { McapWriter } from "@mcap/core";
import zstd from "@foxglove/wasm-zstd";

/** IWritable backed by a file handle. */
class FileWritable {
  /** @param {import("node:fs/promises").FileHandle} handle */
  constructor(handle) {
    this.handle = handle;
    this.pos = 0n;
  }

  async write(buffer) {
    let done = 0;
    while (done < buffer.byteLength) {
      const { bytesWritten } = await this.handle.write(buffer, done, buffer.byteLength - done);
      done += bytesWritten;
    }
    this.pos += BigInt(buffer.byteLength);
  }

  position() {
    return this.pos;
  }
}

const SUPPORTED = ["none", "zstd"];

async function makeCompressChunk(compression) {
  switch (compression) {
    case "none":
      return undefined;
    case "zstd":
      await zstd.isLoaded;
      return (chunkData) => ({ compression: "zstd", compressedData: zstd.compress(chunkData) });
    case "lz4":
      throw new Error("lz4 is not supported: @foxglove/wasm-lz4 only provides decompression");
    default:
      throw new Error(`unknown compression "${compression}" (supported: ${SUPPORTED.join(", ")})`);
  }
}

const text = new TextEncoder();

function jsonSchema(properties) {
  return text.encode(JSON.stringify({ type: "object", properties }));
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 1 || args.length > 2) {
    throw new Error(`usage: node make-sample.mjs <out.mcap> [${SUPPORTED.join("|")}]`);
  }
  const [outPath, compression = "none"] = args;
  const compressChunk = await makeCompressChunk(compression);

  const handle = await open(outPath, "w");
  try {
    const writer = new McapWriter({
      writable: new FileWritable(handle),
      chunkSize: 16 * 1024,
      compressChunk,
    });
    await writer.start();

    const imuSchema = await writer.registerSchema({
      name: "recorder.Imu",
      encoding: "jsonschema",
      data: jsonSchema({
        seq: { type: "integer" },
        ax: { type: "number" },
        ay: { type: "number" },
        az: { type: "number" },
      }),
    });
    const gpsSchema = await writer.registerSchema({
      name: "recorder.Gps",
      encoding: "jsonschema",
      data: jsonSchema({
        seq: { type: "integer" },
        lat: { type: "number" },
        lon: { type: "number" },
      }),
    });

    const channels = [
      await writer.registerChannel({
        topic: "/imu",
        schemaId: imuSchema,
        messageEncoding: "json",
        metadata: new Map([["frame_id", "imu_link"]]),
      }),
      await writer.registerChannel({
        topic: "/gps",
        schemaId: gpsSchema,
        messageEncoding: "json",
        metadata: new Map(),
      }),
      await writer.registerChannel({
        topic: "/imu/rear",
        schemaId: imuSchema,
        messageEncoding: "json",
        metadata: new Map(),
      }),
    ];

    const baseTime = 1_700_000_000_000_000_000n;
    const sequences = channels.map(() => 0);
    for (let i = 0; i < 1000; i++) {
      const slot = i % channels.length;
      const channelId = channels[slot];
      const sequence = sequences[slot]++;
      const logTime = baseTime + BigInt(i) * 1_000_000n;
      const body =
        slot === 1
          ? { seq: sequence, lat: 48.1 + i * 1e-6, lon: 11.5 - i * 1e-6 }
          : { seq: sequence, ax: i * 0.01, ay: -i * 0.02, az: 9.81 };
      await writer.addMessage({
        channelId,
        sequence,
        logTime,
        publishTime: logTime - 250_000n,
        data: text.encode(JSON.stringify(body)),
      });

      if (i === 250) {
        await writer.addMetadata({
          name: "recording_info",
          metadata: new Map([
            ["robot", "sample-bot"],
            ["operator", "interop-test"],
          ]),
        });
      }
      if (i === 500) {
        await writer.addAttachment({
          name: "calibration.yaml",
          mediaType: "application/yaml",
          logTime,
          createTime: baseTime - 1_000_000_000n,
          data: text.encode("camera:\n  fx: 600.0\n  fy: 600.0\n  cx: 320.0\n  cy: 240.0\n"),
        });
      }
    }

    await writer.end();
  } finally {
    await handle.close();
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
