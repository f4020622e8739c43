// A test depot: @tus/server + @tus/file-store on 127.0.0.1, speaking the depot contract of
// proto/offload_depot.md.
//
//   node depot.mjs --dir DIR [--port N] [--token TOKEN]
//                  [--tls-cert C --tls-key K --tls-ca CA]   (HTTPS; requestCert: the device must present a cert from CA)
//                  [--lie hash|offset|location]              (a depot that lies, for the tests)
//                  [--standard]                              (a stock tus server: no verification, no X-Ingest-Verify)
//                  [--verify-delay-ms N]                     (the finish hook waits N ms before hashing: a slow verification)
//
// It prints one JSON line {"event":"listening","url":...} and then one JSON line per event
// (create, verified, mismatch), each also appended to DIR/events.jsonl before the client is answered. The finish hook hashes the stored bytes: when they match the
// sha256 in Upload-Metadata the final PATCH answers X-Ingest-Sha256: <hex> (HEAD repeats it from
// then on); when they do not, the upload is removed and the PATCH answers 460. OPTIONS advertises
// it with X-Ingest-Verify: sha256. With --standard it is @tus/server as shipped: no metadata checks,
// no hash, no X-Ingest-Verify (it still prints create and finish events). POST /raw stores a
// plain body (the benchmark's raw-upload baseline). Stops on SIGTERM or SIGINT.
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dir = opt('--dir');
if (!dir) {
  console.error('usage: node depot.mjs --dir DIR [--port N] [--token T] [--tls-cert C --tls-key K --tls-ca CA] [--lie hash|offset|location]');
  process.exit(2);
}
const token = opt('--token');
const lie = opt('--lie');
const standard = args.includes('--standard');
const verifyDelayMs = Number(opt('--verify-delay-ms') ?? 0);
const tls = opt('--tls-cert') !== undefined;
// Every event is appended to DIR/events.jsonl before the hook returns (so before the client gets its
// answer), then printed. Tests read the file: stdout passes through a pipe and a reader thread, and
// under load the client can act on an answer before the test has read the event it caused.
const emit = (event) => {
  const line = `${JSON.stringify(event)}\n`;
  if (event.event !== 'listening') appendFileSync(path.join(dir, 'events.jsonl'), line);
  process.stdout.write(line);
};

const verifiedPath = (id) => path.join(dir, `${id}.verified`);
const sizes = new Map();

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file).on('data', (d) => hash.update(d)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });
}

function peerName(req) {
  const socket = req.runtime?.node?.req?.socket;
  const cert = socket?.getPeerCertificate?.();
  return cert?.subject?.CN ?? null;
}

const datastore = new FileStore({ directory: dir, expirationPeriodInMilliseconds: 24 * 3600 * 1000 });
const standardTus = () => {
  const server = new Server({ path: '/files', datastore, relativeLocation: true });
  server.on('POST_CREATE', (_req, upload) => emit({ event: 'create', id: upload.id, size: upload.size, metadata: upload.metadata ?? {}, peer: null }));
  server.on('POST_FINISH', (_req, _res, upload) => emit({ event: 'finish', id: upload.id, filename: upload.metadata?.filename, path: path.join(dir, upload.id) }));
  return server;
};
const tus = standard ? standardTus() : new Server({
  path: '/files',
  datastore,
  relativeLocation: true,
  generateUrl: lie === 'location' ? (_req, { id }) => `http://127.0.0.2:9/files/${id}` : undefined,
  onUploadCreate: async (req, upload) => {
    const m = upload.metadata ?? {};
    for (const key of ['filename', 'sha256', 'size', 'device_id', 'start_time', 'end_time', 'kind', 'recording']) {
      if (!m[key]) throw { status_code: 400, body: `Upload-Metadata lacks ${key}\n` };
    }
    if (!/^[0-9a-f]{64}$/.test(m.sha256)) throw { status_code: 400, body: 'sha256 must be 64 lowercase hex digits\n' };
    if (String(upload.size) !== m.size) throw { status_code: 400, body: 'size does not match Upload-Length\n' };
    sizes.set(upload.id, upload.size);
    emit({ event: 'create', id: upload.id, size: upload.size, metadata: m, peer: peerName(req) });
    return {};
  },
  onUploadFinish: async (req, upload) => {
    // @tus/server has already unlocked the upload: during this wait HEAD shows it complete, not verified.
    if (verifyDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, verifyDelayMs));
    const expected = upload.metadata?.sha256;
    const actual = await sha256File(upload.storage.path);
    if (actual !== expected) {
      // Remove first: then "HEAD complete" can only ever mean "verified".
      await datastore.remove(upload.id);
      emit({ event: 'mismatch', id: upload.id, filename: upload.metadata?.filename, expected, actual });
      throw { status_code: 460, body: 'Checksum Mismatch\n' };
    }
    const claimed = lie === 'hash' ? createHash('sha256').update(`lie:${actual}`).digest('hex') : actual;
    writeFileSync(verifiedPath(upload.id), claimed);
    const verified = { event: 'verified', id: upload.id, filename: upload.metadata?.filename, sha256: actual, path: upload.storage.path, peer: peerName(req) };
    // The record of verifications tests check against, written before the answer: stdout reaches a
    // test through a pipe and a reader thread and may lag behind the client acting on the answer.
    appendFileSync(path.join(dir, 'verified.jsonl'), `${JSON.stringify(verified)}\n`);
    emit(verified);
    return { headers: { 'X-Ingest-Sha256': claimed } };
  },
});

const uploadId = (url) => {
  const m = /^\/files\/([^/?#]+)/.exec(url ?? '');
  return m ? decodeURIComponent(m[1]) : null;
};

async function handle(req, res) {
  if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
    res.writeHead(401, { 'Content-Type': 'text/plain', 'Tus-Resumable': '1.0.0' });
    res.end('Unauthorized\n');
    return;
  }
  if (req.method === 'POST' && req.url === '/raw') {
    const out = createWriteStream(path.join(dir, 'raw.bin'));
    req.pipe(out);
    out.on('finish', () => {
      res.writeHead(204);
      res.end();
    });
    return;
  }
  const id = uploadId(req.url);
  const method = req.method;
  const writeHead = res.writeHead.bind(res);
  res.writeHead = (status, text, raw) => {
    if (!Array.isArray(raw)) return writeHead(status, text, raw);
    const headers = [...raw];
    const at = (name) => headers.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === name);
    if (method === 'OPTIONS' && !standard && status < 300) {
      // The depot contract: this depot verifies (proto/offload_depot.md).
      headers.push('X-Ingest-Verify', 'sha256');
    }
    if (method === 'HEAD' && id && status === 200 && existsSync(verifiedPath(id))) {
      headers.push('X-Ingest-Sha256', readFileSync(verifiedPath(id), 'utf8'));
    }
    if (lie === 'offset' && id && (method === 'HEAD' || method === 'PATCH') && status < 300) {
      // Claims every byte arrived, whatever did.
      const offset = at('upload-offset');
      const size = sizes.get(id);
      if (offset >= 0 && size !== undefined) headers[offset + 1] = String(size);
    }
    return writeHead(status, text, headers);
  };
  try {
    await tus.handle(req, res);
  } catch (e) {
    if (!res.headersSent) {
      res.writeHead(500);
      res.end(`${e}\n`);
    }
  }
}

const server = tls
  ? https.createServer(
      {
        cert: readFileSync(opt('--tls-cert')),
        key: readFileSync(opt('--tls-key')),
        ca: readFileSync(opt('--tls-ca')),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      handle,
    )
  : http.createServer(handle);
server.keepAliveTimeout = 30_000;
server.listen({ host: '127.0.0.1', port: Number(opt('--port') ?? 0) }, () => {
  const { port } = server.address();
  emit({ event: 'listening', url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/files`, port });
});
const stop = () => {
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
