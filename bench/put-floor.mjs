// The floor under Plinth's 1 MiB PUT ×16 cell: what a minimal Node.js HTTP server reaches on this
// machine when it does only part of a durable object store's work per PUT, measured with the same
// kind of client as bench/plinth.mjs (16 keep-alive workers over node:http, distinct 1 MiB bodies).
//
//   npm run bench:put-floor
//
// Steps, each a separate server process: consume the body; + SHA-256 and MD5 (the content
// address and the ETag) on the main thread; + write it to a new file; + fsync that file; the
// same with the hashing on a worker thread. Plinth does all of that and more (xxHash64, SigV4,
// two metadata commits, rename and directory fsync), so its figure sits below the last rows.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMs } from './lib/report.mjs';

const CLIENTS = 16;
const MiB = 1024 * 1024;
const WARMUP_MS = 1000;
const DURATION_MS = 3000;

const STEPS = [
  { mode: 'consume', label: 'read the body' },
  { mode: 'hash', label: '+ SHA-256 and MD5 on the main thread' },
  { mode: 'write', label: '+ write a new file (page cache)' },
  { mode: 'fsync', label: '+ fsync it (durable)' },
  { mode: 'fsync-worker', label: '… hashing on a worker thread instead' },
];

// ---- server side (this file run with --serve MODE DIR) ----

async function serve(mode, dir) {
  const { createHash, randomUUID } = await import('node:crypto');
  const { open } = await import('node:fs/promises');
  const { Worker } = await import('node:worker_threads');
  let worker;
  const pending = new Map();
  if (mode === 'fsync-worker') {
    worker = new Worker(fileURLToPath(import.meta.url), { argv: ['--hash-worker'] });
    worker.on('message', (m) => {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    });
  }
  let nextId = 0;
  const server = http.createServer(async (req, res) => {
    const hashing = mode !== 'consume' && mode !== 'fsync-worker';
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    const id = nextId++;
    worker?.postMessage({ kind: 'start', id });
    const file = mode.startsWith('write') || mode.startsWith('fsync') ? open(join(dir, randomUUID()), 'wx') : null;
    const chunks = [];
    for await (const chunk of req) {
      if (hashing) {
        sha.update(chunk);
        md5.update(chunk);
      }
      worker?.postMessage({ kind: 'update', id, chunk });
      chunks.push(chunk);
    }
    const digested = worker ? new Promise((resolve) => pending.set(id, resolve)) : null;
    worker?.postMessage({ kind: 'finish', id });
    if (file) {
      const fh = await file;
      await fh.writev(chunks, 0);
      if (mode.startsWith('fsync')) await fh.sync();
      await fh.close();
    }
    const etag = digested ? (await digested).md5 : hashing ? md5.digest('hex') : '';
    if (hashing) sha.digest();
    res.end(etag);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

async function hashWorker() {
  const { parentPort } = await import('node:worker_threads');
  const { createHash } = await import('node:crypto');
  const jobs = new Map();
  parentPort.on('message', (m) => {
    if (m.kind === 'start') jobs.set(m.id, { sha: createHash('sha256'), md5: createHash('md5') });
    else if (m.kind === 'update') {
      const job = jobs.get(m.id);
      job.sha.update(m.chunk);
      job.md5.update(m.chunk);
    } else {
      const job = jobs.get(m.id);
      jobs.delete(m.id);
      job.sha.digest();
      parentPort.postMessage({ id: m.id, md5: job.md5.digest('hex') });
    }
  });
}

// ---- client side ----

function startServer(mode, dir) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', mode, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve({ port: Number(String(d).trim()), child }));
    child.once('exit', (code) => reject(new Error(`server (${mode}) exited with ${code}`)));
  });
}

async function runCell(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const put = (body) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/object', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  const start = performance.now();
  const from = start + WARMUP_MS;
  const end = from + DURATION_MS;
  const latencies = [];
  let sequence = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const body = Buffer.alloc(MiB, sequence % 251);
        body.writeUInt32BE(sequence++, 0);
        const t0 = performance.now();
        await put(body);
        if (t0 >= from && performance.now() <= end) latencies.push(performance.now() - t0);
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { opsPerSec: latencies.length / (DURATION_MS / 1000), p50: latencies[Math.floor(latencies.length / 2)], p95: latencies[Math.floor(latencies.length * 0.95)] };
}

async function main() {
  const rows = [];
  for (const step of STEPS) {
    const dir = mkdtempSync(join(tmpdir(), 'put-floor-'));
    const { port, child } = await startServer(step.mode, dir);
    try {
      const r = await runCell(port);
      rows.push([step.label, String(Math.round(r.opsPerSec)), `${fmtMs(r.p50)} / ${fmtMs(r.p95)}`]);
      process.stderr.write(`  ${step.label}: ${Math.round(r.opsPerSec)} PUT/s\n`);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nMinimal Node.js PUT server, 1 MiB bodies, ${CLIENTS} clients — ${new Date().toISOString()} — node ${process.version}\n`);
  const headers = ['server does', 'PUT/s', 'p50 / p95'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log([line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'));
}

const role = process.argv[2];
if (role === '--serve') await serve(process.argv[3], process.argv[4]);
else if (role === '--hash-worker') await hashWorker();
else await main();
