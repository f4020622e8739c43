// Dump an MCAP file as JSON, as seen by Foxglove's TypeScript reader (@mcap/core).
//
// Usage: node mcap-dump.mjs <file.mcap>
//
// Prints exactly one JSON object to stdout:
//   { header, schemas, channels, messages, metadata, attachments, statistics, chunkIndexCount,
//     streamed: { recordCounts, messageCount, done } }
// Everything except "streamed" comes from McapIndexedReader; "streamed" comes from a second pass
// over the file with McapStreamReader (validateCrcs: true), fed in 64 KiB pieces.
// All bigint values are emitted as decimal strings; all byte payloads as base64.
// On any error, prints the error message to stderr and exits with code 1.

import { open } from "node:fs/promises";

import { McapIndexedReader, McapStreamReader } from "@mcap/core";
import lz4 from "@foxglove/wasm-lz4";
import zstd from "@foxglove/wasm-zstd";

const STREAM_PIECE_SIZE = 64 * 1024;

/** File-backed IReadable for McapIndexedReader. */
class FileReadable {
  /** @param {import("node:fs/promises").FileHandle} handle */
  constructor(handle) {
    this.handle = handle;
  }

  async size() {
    const stat = await this.handle.stat({ bigint: true });
    return stat.size;
  }

  async read(offset, length) {
    const len = Number(length);
    const pos = Number(offset);
    if (!Number.isSafeInteger(len) || !Number.isSafeInteger(pos) || len < 0 || pos < 0) {
      throw new Error(`read out of range: offset=${offset} length=${length}`);
    }
    const buffer = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.handle.read(buffer, done, len - done, pos + done);
      if (bytesRead === 0) {
        throw new Error(`unexpected end of file reading ${len} bytes at offset ${pos}`);
      }
      done += bytesRead;
    }
    return buffer;
  }
}

async function makeDecompressHandlers() {
  await lz4.isLoaded;
  await zstd.isLoaded;
  return {
    lz4: (buffer, decompressedSize) => lz4(buffer, Number(decompressedSize)),
    zstd: (buffer, decompressedSize) => zstd.decompress(buffer, Number(decompressedSize)),
  };
}

function b64(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function mapToObject(map) {
  const out = {};
  for (const [k, v] of map) {
    out[String(k)] = typeof v === "bigint" ? v.toString() : v;
  }
  return out;
}

async function dumpIndexed(handle, decompressHandlers) {
  const reader = await McapIndexedReader.Initialize({
    readable: new FileReadable(handle),
    decompressHandlers,
  });

  const schemas = [...reader.schemasById.values()]
    .sort((a, b) => a.id - b.id)
    .map((s) => ({ id: s.id, name: s.name, encoding: s.encoding, data: b64(s.data) }));

  const channels = [...reader.channelsById.values()]
    .sort((a, b) => a.id - b.id)
    .map((c) => ({
      id: c.id,
      schemaId: c.schemaId,
      topic: c.topic,
      messageEncoding: c.messageEncoding,
      metadata: mapToObject(c.metadata),
    }));

  const messages = [];
  for await (const m of reader.readMessages()) {
    messages.push({
      channelId: m.channelId,
      sequence: m.sequence,
      logTime: m.logTime.toString(),
      publishTime: m.publishTime.toString(),
      data: b64(m.data),
    });
  }

  const metadata = [];
  for await (const md of reader.readMetadata()) {
    metadata.push({ name: md.name, metadata: mapToObject(md.metadata) });
  }

  const attachments = [];
  for await (const a of reader.readAttachments()) {
    attachments.push({
      name: a.name,
      mediaType: a.mediaType,
      logTime: a.logTime.toString(),
      createTime: a.createTime.toString(),
      data: b64(a.data),
    });
  }

  const st = reader.statistics;
  const statistics =
    st == undefined
      ? null
      : {
          messageCount: st.messageCount.toString(),
          schemaCount: st.schemaCount,
          channelCount: st.channelCount,
          attachmentCount: st.attachmentCount,
          metadataCount: st.metadataCount,
          chunkCount: st.chunkCount,
          messageStartTime: st.messageStartTime.toString(),
          messageEndTime: st.messageEndTime.toString(),
          channelMessageCounts: mapToObject(st.channelMessageCounts),
        };

  return {
    header: { profile: reader.header.profile, library: reader.header.library },
    schemas,
    channels,
    messages,
    metadata,
    attachments,
    statistics,
    chunkIndexCount: reader.chunkIndexes.length,
  };
}

async function dumpStreamed(handle, decompressHandlers) {
  const reader = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  const recordCounts = {};
  let messageCount = 0;
  const piece = new Uint8Array(STREAM_PIECE_SIZE);
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(piece, 0, STREAM_PIECE_SIZE, position);
    if (bytesRead === 0) {
      break;
    }
    position += bytesRead;
    // append() copies the data into the reader's own buffer, so reusing `piece` is safe.
    reader.append(piece.subarray(0, bytesRead));
    for (let record; (record = reader.nextRecord()) !== undefined; ) {
      recordCounts[record.type] = (recordCounts[record.type] ?? 0) + 1;
      if (record.type === "Message") {
        messageCount++;
      }
    }
  }
  return { recordCounts, messageCount, done: reader.done() };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1) {
    throw new Error("usage: node mcap-dump.mjs <file.mcap>");
  }
  const decompressHandlers = await makeDecompressHandlers();
  const handle = await open(args[0], "r");
  try {
    const result = await dumpIndexed(handle, decompressHandlers);
    result.streamed = await dumpStreamed(handle, decompressHandlers);
    return result;
  } finally {
    await handle.close();
  }
}

try {
  const result = await main();
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
