// The sequence numbers of every message in many MCAP files, as Foxglove's TypeScript reader
// (@mcap/core) sees them: one Node start for a whole crash test's recordings.
//
// Usage: node mcap-sequences.mjs <file.mcap>...
//
// Prints one JSON object per file, one per line:
//   { file, topics: { "<topic>": [sequence, ...] }, streamedMessages }
// "topics" comes from McapIndexedReader (log-time order); "streamedMessages" counts the Message
// records a second pass with McapStreamReader (validateCrcs: true) finds. Any error: the message on
// stderr and exit code 1.

import { open, readFile } from "node:fs/promises";

import { McapIndexedReader, McapStreamReader } from "@mcap/core";
import lz4 from "@foxglove/wasm-lz4";
import zstd from "@foxglove/wasm-zstd";

class FileReadable {
  constructor(handle) {
    this.handle = handle;
  }

  async size() {
    return (await this.handle.stat({ bigint: true })).size;
  }

  async read(offset, length) {
    const len = Number(length);
    const pos = Number(offset);
    const buffer = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.handle.read(buffer, done, len - done, pos + done);
      if (bytesRead === 0) throw new Error(`unexpected end of file reading ${len} bytes at offset ${pos}`);
      done += bytesRead;
    }
    return buffer;
  }
}

await lz4.isLoaded;
await zstd.isLoaded;
const decompressHandlers = {
  lz4: (buffer, size) => lz4(buffer, Number(size)),
  zstd: (buffer, size) => zstd.decompress(buffer, Number(size)),
};

async function sequences(file) {
  const handle = await open(file, "r");
  try {
    const reader = await McapIndexedReader.Initialize({ readable: new FileReadable(handle), decompressHandlers });
    const topics = {};
    for await (const m of reader.readMessages()) {
      const topic = reader.channelsById.get(m.channelId).topic;
      (topics[topic] ??= []).push(m.sequence);
    }
    const stream = new McapStreamReader({ decompressHandlers, validateCrcs: true });
    stream.append(await readFile(file));
    let streamedMessages = 0;
    for (let record; (record = stream.nextRecord()) !== undefined; ) {
      if (record.type === "Message") streamedMessages++;
    }
    if (!stream.done()) throw new Error("the streamed read did not reach the end");
    return { file, topics, streamedMessages };
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await handle.close();
  }
}

try {
  for (const file of process.argv.slice(2)) {
    process.stdout.write(JSON.stringify(await sequences(file)) + "\n");
  }
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
