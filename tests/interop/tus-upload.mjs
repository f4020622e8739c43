// Uploads one file with tus-js-client (the reference tus client) and prints what happened as JSON:
//   node tus-upload.mjs ENDPOINT TOKEN FILE METADATA_JSON [CHUNK_SIZE]
// {"url": upload URL, "sha256": the X-Ingest-Sha256 of the last response, "status": last status}
// or, on failure, {"error": message, "status": status}. Exit code 0 on success, 1 on failure.
import { readFileSync } from 'node:fs';
import * as tus from 'tus-js-client';

const [endpoint, token, file, metadataJson, chunk] = process.argv.slice(2);
const bytes = readFileSync(file);
let sha256 = null;
let status = null;
const upload = new tus.Upload(bytes, {
  endpoint,
  metadata: JSON.parse(metadataJson),
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: chunk ? Number(chunk) : Infinity,
  retryDelays: [],
  onAfterResponse: (req, res) => {
    status = res.getStatus();
    const header = res.getHeader('X-Ingest-Sha256');
    if (header) sha256 = header;
  },
  onError: (error) => {
    process.stdout.write(JSON.stringify({ error: String(error.message ?? error), status }) + '\n');
    process.exit(1);
  },
  onSuccess: () => {
    process.stdout.write(JSON.stringify({ url: upload.url, sha256, status }) + '\n');
  },
});
upload.start();
