// Decode every protobuf message of an MCAP file with the schema embedded in the file, the way
// Foxglove does it: @mcap/core reads the file, protobufjs loads the Schema record's
// FileDescriptorSet and decodes each message as the Schema's named type.
//
// Usage: node video-decode.mjs <file.mcap> [topic]
//
// Prints one JSON object: { topics: { "<topic>": { schema, count, frames: [ { logTime, timestamp,
// frameId, format, dataLength, dataBase64 } ] } } }. For other message types every decoded field
// is given as JSON (bigints as strings). On any error, prints it to stderr and exits with code 1.

import { open } from "node:fs/promises";

import { McapIndexedReader } from "@mcap/core";
import lz4 from "@foxglove/wasm-lz4";
import zstd from "@foxglove/wasm-zstd";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";

const [file, onlyTopic] = process.argv.slice(2);

async function main() {
  await lz4.isLoaded;
  await zstd.isLoaded;
  const handle = await open(file, "r");
  const readable = {
    size: async () => (await handle.stat({ bigint: true })).size,
    read: async (offset, length) => {
      const buffer = new Uint8Array(Number(length));
      let done = 0;
      while (done < buffer.length) {
        const { bytesRead } = await handle.read(buffer, done, buffer.length - done, Number(offset) + done);
        if (bytesRead === 0) throw new Error("unexpected end of file");
        done += bytesRead;
      }
      return buffer;
    },
  };
  const reader = await McapIndexedReader.Initialize({
    readable,
    decompressHandlers: {
      lz4: (buffer, size) => lz4(buffer, Number(size)),
      zstd: (buffer, size) => zstd.decompress(buffer, Number(size)),
    },
  });
  const types = new Map();
  const topics = {};
  for await (const message of reader.readMessages()) {
    const channel = reader.channelsById.get(message.channelId);
    if (onlyTopic && channel.topic !== onlyTopic) continue;
    if (channel.messageEncoding !== "protobuf") continue;
    const schema = reader.schemasById.get(channel.schemaId);
    let type = types.get(schema.id);
    if (!type) {
      const set = descriptor.FileDescriptorSet.decode(schema.data);
      const root = protobuf.Root.fromDescriptor(set);
      type = root.lookupType(schema.name);
      types.set(schema.id, type);
    }
    const decoded = type.decode(message.data);
    const object = type.toObject(decoded, { longs: String, bytes: String, defaults: true });
    const entry = (topics[channel.topic] ??= { schema: schema.name, count: 0, frames: [] });
    entry.count++;
    if (schema.name === "foxglove.CompressedVideo") {
      entry.frames.push({
        logTime: String(message.logTime),
        timestamp: object.timestamp ? { sec: object.timestamp.seconds, nsec: object.timestamp.nanos } : null,
        frameId: object.frame_id ?? object.frameId,
        format: object.format,
        dataLength: decoded.data.length,
        dataBase64: object.data,
      });
    } else {
      entry.frames.push({ logTime: String(message.logTime), ...object });
    }
  }
  await handle.close();
  process.stdout.write(JSON.stringify({ topics }));
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
