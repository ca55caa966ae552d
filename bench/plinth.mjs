// Plinth (S3-compatible object store) benchmark, with nginx on loopback measured beside it in the
// same run as the single-node ceiling (static GET with sendfile, WebDAV PUT, same bytes).
//
//   npm run bench:plinth                        3 s per cell after 1 s of warm-up, 1 GiB streamed (~2.5 minutes)
//   npm run bench:plinth -- --quick             1 s per cell, 256 MiB streamed
//   npm run bench:plinth -- --server-prof=DIR   write a V8 CPU profile of the Plinth server to DIR
//   npm run bench:plinth -- --only=GET:1MiB:16  only these cells (OP:SIZE:CLIENTS, comma-separated;
//                                               a part may be *), and no stream test
//
// Cells: PUT and GET of 4 KiB and 1 MiB objects with 1 and 16 concurrent clients (async workers
// sharing one keep-alive http.Agent of up to 16 sockets per client kind). Plinth is measured through two clients:
// the AWS SDK v3 (its defaults: SHA-256 payload hash and CRC32 on PUT, CRC32 validated on GET)
// and a raw client signing with the SDK's SignatureV4 over node:http (UNSIGNED-PAYLOAD), which
// uses the same HTTP code as the nginx client. Every PUT sends distinct bytes to a new key (Plinth
// stores blobs by content, so repeated bytes would skip work). GETs cycle over 32 stored objects.
// Plinth runs as a child process (`plinth serve`, SQLite metadata, default logging to a file), so
// its CPU and RSS are its own; the memory test streams a generated object through a fresh server
// with the SDK (aws-chunked with a CRC32 trailer) while sampling the server's RSS.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { nginxBinary, startNginx } from './lib/nginx.mjs';
import { fmtMs, pct } from './lib/report.mjs';

const PLINTH = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'plinth');
const PLINTH_CLI = join(PLINTH, 'bin', 'plinth.cjs');
// The SDK is a dev dependency of Plinth; SignatureV4 and the HTTP handler come with it.
const sdkRequire = createRequire(createRequire(join(PLINTH, 'package.json')).resolve('@aws-sdk/client-s3'));
const { S3Client, PutObjectCommand, GetObjectCommand } = sdkRequire('@aws-sdk/client-s3');
const { NodeHttpHandler } = sdkRequire('@smithy/node-http-handler');
const { SignatureV4 } = sdkRequire('@smithy/signature-v4');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const serverProf = args.find((a) => a.startsWith('--server-prof='))?.slice('--server-prof='.length);
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .map((cell) => cell.split(':'));
/** Whether a cell was asked for: every cell without --only. */
const wanted = (op, size, clients) =>
  !only ||
  only.some(([o = '*', s = '*', c = '*']) => (o === '*' || o === op) && (s === '*' || s === size.label.replace(' ', '')) && (c === '*' || Number(c) === clients));
const DURATION_MS = quick ? 1000 : 3000;
const WARMUP_MS = quick ? 300 : 1000;
const MiB = 1024 * 1024;
const STREAM_BYTES = quick ? 256 * MiB : 1024 * MiB;
const SIZES = [
  { label: '4 KiB', bytes: 4096 },
  { label: '1 MiB', bytes: MiB },
];
const CLIENTS = [1, 16];
const GET_OBJECTS = 32;
const BUCKET = 'bench';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'PLINTHBENCHACCESSKEY', secretAccessKey: randomBytes(30).toString('base64') };
const GOALS = { PUT: 100, GET: 50 };
const MEMORY_GOAL = 100 * MiB;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

const log = (msg) => process.stderr.write(`${msg}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmtRate = (n) => Math.round(n).toLocaleString('en-US');
const fmtMiBps = (n) => n.toFixed(n < 10 ? 2 : 1);
const fmtMiB = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;
const fmtPct = (x) => `${Math.round(100 * x)}%`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** User + system CPU seconds of some processes, from /proc. */
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLK_TCK;
}

/** Current and peak (since start or the last reset) resident set size of a process, in bytes. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Share of the last minute in which runnable tasks waited for a CPU (Linux PSI), or null where unavailable. */
function cpuPressure() {
  try {
    return Number(/^some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))[1]);
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0); false where that is not allowed. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** One HTTP exchange; resolves the response body's length once all of it has arrived. Non-2xx rejects. */
function exchange(agent, port, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: '127.0.0.1', port, method, path, headers }, (res) => {
      let bytes = 0;
      const error = [];
      res.on('data', (chunk) => {
        bytes += chunk.length;
        if (res.statusCode >= 300) error.push(chunk);
      });
      res.on('end', () => (res.statusCode < 300 ? resolve(bytes) : reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${Buffer.concat(error).toString().slice(0, 300)}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

const keepAlive = () => new http.Agent({ keepAlive: true, maxSockets: 16 });

/** SignatureV4's hash constructor (HMAC when given a secret) on node:crypto. */
class NodeSha256 {
  constructor(secret) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data) {
    this.hash.update(data);
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function nginxTarget(port) {
  const agent = keepAlive();
  return {
    client: 'node:http',
    put: (key, body, length) => exchange(agent, port, 'PUT', `/${BUCKET}/${key}`, { 'content-length': length }, body),
    get: (key) => exchange(agent, port, 'GET', `/${BUCKET}/${key}`, {}),
    close: () => agent.destroy(),
  };
}

function signedTarget(port) {
  const agent = keepAlive();
  const signer = new SignatureV4({ credentials: CREDENTIALS, region: REGION, service: 's3', sha256: NodeSha256, uriEscapePath: false });
  const send = async (method, path, headers, body) => {
    const request = { method, protocol: 'http:', hostname: '127.0.0.1', port, path, query: {}, headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } };
    return exchange(agent, port, method, path, (await signer.sign(request)).headers, body);
  };
  return {
    client: 'SigV4 + node:http',
    createBucket: () => send('PUT', `/${BUCKET}`, { 'content-length': '0' }),
    put: (key, body, length) => send('PUT', `/${BUCKET}/${key}`, { 'content-length': String(length) }, body),
    get: (key) => send('GET', `/${BUCKET}/${key}`, {}),
    close: () => agent.destroy(),
  };
}

function sdkTarget(endpoint) {
  const agent = keepAlive();
  const s3 = new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: CREDENTIALS, requestHandler: new NodeHttpHandler({ httpAgent: agent }) });
  const body = async (key) => (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body;
  return {
    client: 'AWS SDK v3',
    put: (key, data, length) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: data, ContentLength: length })),
    async get(key) {
      let bytes = 0;
      for await (const chunk of await body(key)) bytes += chunk.length;
      return bytes;
    },
    read: async (key) => Buffer.from(await (await body(key)).transformToByteArray()),
    close() {
      s3.destroy();
      agent.destroy();
    },
  };
}

/** `plinth serve` in a child process on a free port, logging to `logFile`; resolves once /health answers. */
async function startPlinth(dataDir, logFile) {
  const port = await freePort();
  const profile = serverProf ? ['--cpu-prof', `--cpu-prof-dir=${serverProf}`] : [];
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...profile, PLINTH_CLI, 'serve', '--data', dataDir, '--port', String(port)], {
    env: { ...process.env, PLINTH_ACCESS_KEY: CREDENTIALS.accessKeyId, PLINTH_SECRET_KEY: CREDENTIALS.secretAccessKey },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  let running = true;
  const exited = new Promise((resolve) => child.once('exit', () => resolve((running = false))));
  const agent = keepAlive();
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!running) throw new Error(`plinth serve exited; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`plinth serve did not answer /health; see ${logFile}`);
    if (await exchange(agent, port, 'GET', '/health', {}).then(() => true, () => false)) break;
    await sleep(100);
  }
  agent.destroy();
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      // SIGINT: the server finishes what is in flight and exits normally (writing --cpu-prof).
      child.kill('SIGINT');
      await exited;
    },
  };
}

const template = randomBytes(MiB);
/** The bytes of stored object `i` of a size: the same for Plinth and nginx. */
function objectBytes(size, i) {
  const bytes = Buffer.from(template.subarray(0, size.bytes));
  bytes.writeUInt32BE(i, 0);
  return bytes;
}
const getKey = (size, i) => `obj-${size.bytes}-${i % GET_OBJECTS}`;
/** Numbers every operation of the run: PUTs get distinct keys and bytes, GETs cycle over the stored objects. */
let operations = 0;

/**
 * Runs `clients` workers doing one operation back to back: warm-up, then DURATION_MS measured.
 * Operations started before the measured window are not counted. CPU shares are of one core.
 */
async function runCell(target, op, size, clients, serverPids) {
  const latencies = [];
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  const end = measureFrom + DURATION_MS;
  let lastDone = measureFrom;
  let cpuFrom;
  const snapshot = setTimeout(() => (cpuFrom = { server: cpuSeconds(serverPids()), client: process.cpuUsage(), at: performance.now() }), WARMUP_MS);
  const worker = async () => {
    while (performance.now() < end) {
      const sequence = operations++;
      const body = op === 'PUT' ? objectBytes(size, sequence) : undefined;
      const t0 = performance.now();
      if (op === 'PUT') {
        await target.put(`put-${size.bytes}-${sequence}`, body, size.bytes);
      } else {
        const got = await target.get(getKey(size, sequence));
        if (got !== size.bytes) throw new Error(`${target.client} GET ${getKey(size, sequence)}: ${got} bytes, expected ${size.bytes}`);
      }
      const t1 = performance.now();
      if (t0 >= measureFrom) {
        latencies.push(t1 - t0);
        lastDone = t1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  clearTimeout(snapshot);
  const wall = (performance.now() - cpuFrom.at) / 1000;
  const client = process.cpuUsage(cpuFrom.client);
  const seconds = (lastDone - measureFrom) / 1000;
  const opsPerSec = latencies.length / seconds;
  return {
    ops: latencies.length,
    opsPerSec,
    mibPerSec: (opsPerSec * size.bytes) / MiB,
    p50: pct(latencies, 0.5),
    p95: pct(latencies, 0.95),
    serverCpu: (cpuSeconds(serverPids()) - cpuFrom.server) / wall,
    clientCpu: (client.user + client.system) / 1e6 / wall,
  };
}

/** A generated stream of `total` bytes (one 1 MiB buffer pushed again and again): nothing is held in memory. */
function generated(total) {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(MiB, total - sent);
      sent += n;
      this.push(n === MiB ? template : template.subarray(0, n));
    },
  });
}

/** Runs fn while sampling the server's RSS every 20 ms; the peak also comes from VmHWM when it could be reset. */
async function sampled(pid, fn) {
  const base = memory(pid).rss;
  const exact = resetPeak(pid);
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, memory(pid).rss)), 20);
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  const after = memory(pid);
  if (exact) peak = Math.max(peak, after.hwm);
  return { seconds, base, peak, growth: peak - base, mibPerSec: STREAM_BYTES / MiB / seconds };
}

/** Streams STREAM_BYTES up and back down through a fresh Plinth (AWS SDK) and through nginx (node:http). */
async function streamTest(work, nginx) {
  log(`memory: streaming ${fmtMiB(STREAM_BYTES)} through a fresh Plinth server`);
  const server = await startPlinth(join(work, 'plinth-stream'), join(work, 'plinth-stream.log'));
  const sdk = sdkTarget(server.endpoint);
  const signed = signedTarget(server.port);
  try {
    await signed.createBucket();
    // Warm the paths once so module loading and first-use allocations are in the baseline.
    await sdk.put('warm', generated(MiB), MiB);
    await sdk.get('warm');
    await sleep(500);
    const put = await sampled(server.pid, () => sdk.put('stream', generated(STREAM_BYTES), STREAM_BYTES));
    log(`  PUT ${put.seconds.toFixed(1)} s, server RSS ${fmtMiB(put.base)} → peak ${fmtMiB(put.peak)}`);
    const get = await sampled(server.pid, async () => {
      const got = await sdk.get('stream');
      if (got !== STREAM_BYTES) throw new Error(`streamed GET: ${got} bytes, expected ${STREAM_BYTES}`);
    });
    log(`  GET ${get.seconds.toFixed(1)} s, server RSS ${fmtMiB(get.base)} → peak ${fmtMiB(get.peak)}`);
    let peer = null;
    if (nginx) {
      const t0 = performance.now();
      await nginx.target.put('stream', generated(STREAM_BYTES), STREAM_BYTES);
      const t1 = performance.now();
      const got = await nginx.target.get('stream');
      if (got !== STREAM_BYTES) throw new Error(`nginx streamed GET: ${got} bytes`);
      const t2 = performance.now();
      peer = { put: STREAM_BYTES / MiB / ((t1 - t0) / 1000), get: STREAM_BYTES / MiB / ((t2 - t1) / 1000) };
    }
    return { put, get, peer };
  } finally {
    sdk.close();
    signed.close();
    await server.stop();
  }
}

/** Markdown table with padded columns. */
function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'plinth-bench-'));
  const load0 = loadavg()[0];
  const pressure0 = cpuPressure();
  const binary = nginxBinary();
  if (!binary) log('nginx not found (apt-get install -y nginx-light): the peer columns stay empty');
  let plinth;
  let nginx = null;
  const targets = [];
  try {
    plinth = await startPlinth(join(work, 'plinth'), join(work, 'plinth.log'));
    const startRss = memory(plinth.pid).rss;
    const signed = signedTarget(plinth.port);
    const sdk = sdkTarget(plinth.endpoint);
    targets.push(signed, sdk);
    await signed.createBucket();
    if (binary) {
      const port = await freePort();
      nginx = { server: await startNginx(binary, { dir: join(work, 'nginx'), port }), target: nginxTarget(port) };
    }
    log('storing the objects GETs read');
    for (const size of SIZES) {
      for (let i = 0; i < GET_OBJECTS; i++) {
        await signed.put(getKey(size, i), objectBytes(size, i), size.bytes);
        if (nginx) await nginx.target.put(getKey(size, i), objectBytes(size, i), size.bytes);
      }
    }
    // Both stores hold what was sent before anything is timed.
    const probe = getKey(SIZES[1], 7);
    if (!(await sdk.read(probe)).equals(objectBytes(SIZES[1], 7))) throw new Error(`Plinth returned other bytes for ${probe}`);
    if (nginx && !readFileSync(join(nginx.server.root, BUCKET, probe)).equals(objectBytes(SIZES[1], 7))) throw new Error(`nginx stored other bytes for ${probe}`);

    const cells = [];
    for (const op of ['PUT', 'GET']) {
      for (const size of SIZES) {
        for (const clients of CLIENTS) {
          if (!wanted(op, size, clients)) continue;
          const cell = { op, size, clients, plinth: [], nginx: null };
          for (const target of targets) {
            const r = await runCell(target, op, size, clients, () => [plinth.pid]);
            cell.plinth.push({ client: target.client, ...r });
            log(`  ${op} ${size.label} ×${String(clients).padStart(2)} Plinth ${target.client.padEnd(17)} ${fmtRate(r.opsPerSec).padStart(6)} ops/s  p50 ${fmtMs(r.p50)} p95 ${fmtMs(r.p95)}  CPU server ${fmtPct(r.serverCpu)} client ${fmtPct(r.clientCpu)}`);
          }
          if (nginx) {
            cell.nginx = await runCell(nginx.target, op, size, clients, nginx.server.pids);
            const r = cell.nginx;
            log(`  ${op} ${size.label} ×${String(clients).padStart(2)} nginx  ${nginx.target.client.padEnd(17)} ${fmtRate(r.opsPerSec).padStart(6)} ops/s  p50 ${fmtMs(r.p50)} p95 ${fmtMs(r.p95)}  CPU server ${fmtPct(r.serverCpu)} client ${fmtPct(r.clientCpu)}`);
          }
          cells.push(cell);
        }
      }
    }
    const cellsRss = memory(plinth.pid).hwm;
    for (const target of targets) target.close();
    targets.length = 0;
    await plinth.stop();
    plinth = undefined;

    const stream = only ? null : await streamTest(work, nginx);
    print(cells, stream, { load0, pressure0, startRss, cellsRss });
  } finally {
    for (const target of targets) target.close();
    if (nginx) {
      nginx.target.close();
      await nginx.server.stop();
    }
    if (plinth) await plinth.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function print(cells, stream, { load0, pressure0, startRss, cellsRss }) {
  const clientNames = cells[0].plinth.map((r) => r.client);
  const lat = (r) => `${fmtMs(r.p50)} / ${fmtMs(r.p95)}`;
  const rows = [];
  for (const c of cells) {
    for (const r of c.plinth) {
      const n = c.nginx;
      rows.push([
        c.op,
        c.size.label,
        c.clients,
        r.client,
        fmtRate(r.opsPerSec),
        fmtMiBps(r.mibPerSec),
        lat(r),
        fmtPct(r.serverCpu),
        n ? fmtRate(n.opsPerSec) : '—',
        n ? fmtMiBps(n.mibPerSec) : '—',
        n ? lat(n) : '—',
        n ? fmtPct(n.serverCpu) : '—',
        n ? `${(r.opsPerSec / n.opsPerSec).toFixed(2)}×` : '—',
        r.p95 < GOALS[c.op] ? 'yes' : 'NO',
      ]);
    }
  }
  const streamed = fmtMiB(STREAM_BYTES);
  console.log(
    `\nPlinth vs nginx — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores — ${DURATION_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up, ` +
      `1-min load average ${load0.toFixed(1)} at start / ${loadavg()[0].toFixed(1)} at end` +
      (pressure0 === null ? '' : `, CPU pressure (PSI some avg60) ${pressure0}% at start / ${cpuPressure()}% at end`) +
      '\n',
  );
  console.log(
    table(
      ['op', 'size', 'clients', 'Plinth client', 'Plinth ops/s', 'MiB/s', 'p50 / p95', 'Plinth CPU', 'nginx ops/s', 'MiB/s', 'p50 / p95', 'nginx CPU', 'Plinth / nginx', `p95 < ${GOALS.PUT} ms PUT, ${GOALS.GET} ms GET`],
      rows,
    ),
  );

  const goals = [];
  for (const op of ['PUT', 'GET'].filter((o) => cells.some((c) => c.op === o))) {
    clientNames.forEach((client, k) => {
      const worst = cells.filter((c) => c.op === op).reduce((a, b) => (a.plinth[k].p95 >= b.plinth[k].p95 ? a : b));
      const p95 = worst.plinth[k].p95;
      goals.push([`${op} p95 < ${GOALS[op]} ms, every size and concurrency (${client})`, `worst ${fmtMs(p95)} (${worst.size.label} ×${worst.clients})`, p95 < GOALS[op] ? 'yes' : 'NO']);
    });
  }
  for (const c of cells.filter((x) => x.op === 'GET' && x.size.bytes === MiB)) {
    for (const r of c.plinth) {
      const ratio = c.nginx ? r.mibPerSec / c.nginx.mibPerSec : NaN;
      goals.push([`1 MiB GET ≥ 50% of nginx's throughput, ${c.clients} client${c.clients > 1 ? 's' : ''} (${r.client})`, c.nginx ? fmtPct(ratio) : 'nginx not run', c.nginx ? (ratio >= 0.5 ? 'yes' : 'NO') : '—']);
    }
  }
  for (const op of stream ? ['put', 'get'] : []) {
    const m = stream[op];
    goals.push([`server RSS growth < ${fmtMiB(MEMORY_GOAL)} streaming a ${streamed} ${op.toUpperCase()}`, `+${fmtMiB(m.growth)} (${fmtMiB(m.base)} → ${fmtMiB(m.peak)})`, m.growth < MEMORY_GOAL ? 'yes' : 'NO']);
  }
  console.log(`\n${table(['goal', 'figure', 'met'], goals)}`);
  if (stream) printStream(stream);
  console.log(`\nPlinth server RSS in the throughput cells: ${fmtMiB(startRss)} after start, peak ${fmtMiB(cellsRss)}.`);
}

function printStream(stream) {
  const streamed = fmtMiB(STREAM_BYTES);
  const peer = (op) => (stream.peer ? `${fmtMiBps(stream.peer[op])} MiB/s` : '—');
  console.log(
    `\n${table(
      [`${streamed} stream`, 'Plinth (AWS SDK, aws-chunked + CRC32 trailer)', 'server RSS before → peak', 'nginx (node:http)'],
      [
        ['PUT', `${fmtMiBps(stream.put.mibPerSec)} MiB/s (${stream.put.seconds.toFixed(1)} s)`, `${fmtMiB(stream.put.base)} → ${fmtMiB(stream.put.peak)}`, peer('put')],
        ['GET', `${fmtMiBps(stream.get.mibPerSec)} MiB/s (${stream.get.seconds.toFixed(1)} s)`, `${fmtMiB(stream.get.base)} → ${fmtMiB(stream.get.peak)}`, peer('get')],
      ],
    )}`,
  );
}

main().catch((err) => {
  log(`bench:plinth: ${err.stack ?? err}`);
  process.exit(1);
});
