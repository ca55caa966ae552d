// YCSB-style workload machinery shared by bench/ycsb.mjs: key choosers, workload mixes,
// the timed runner (N concurrent async workers) and the server child-process helper.
//
// Key choice follows YCSB's default "scrambled Zipfian": a Zipfian rank (theta 0.99, the
// YCSB constant) over the n loaded keys, hashed (FNV-1a) onto the key space so the hot keys
// are scattered rather than all at the low end. Every worker has its own seeded generator,
// so each system under test sees the same sequence of operations and keys.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** xorshift128+ style generator on two 32-bit halves; returns floats in [0, 1). */
export function makeRng(seed) {
  let a = (seed * 2654435761) >>> 0 || 1;
  let b = (seed * 1597334677 + 0x9e3779b9) >>> 0 || 2;
  return () => {
    let t = a ^ (a << 11);
    a = b;
    b = (b ^ (b >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return b / 4294967296;
  };
}

/** 32-bit FNV-1a over the four bytes of a non-negative integer. */
function fnv1a(x) {
  let h = 0x811c9dc5;
  for (let k = 0; k < 4; k++) {
    h ^= (x >>> (k * 8)) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Zipfian over ranks [0, n) as in YCSB's ZipfianGenerator (Gray et al., "Quickly generating
 * billion-record synthetic databases"), scrambled onto keys [0, n) by hashing the rank.
 * Returns choose(rng) → key.
 */
export function scrambledZipfian(n, theta = 0.99) {
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan);
  const half = 1 + Math.pow(0.5, theta);
  const rank = (u) => {
    const uz = u * zetan;
    if (uz < 1) return 0;
    if (uz < half) return 1;
    return Math.min(n - 1, Math.floor(n * Math.pow(eta * u - eta + 1, alpha)));
  };
  return (rng) => fnv1a(rank(rng())) % n;
}

export const uniformKeys = (n) => (rng) => Math.floor(rng() * n);

/** Operation mixes. E's scans: start key from the key chooser, length uniform in 1..10. */
export const WORKLOADS = {
  A: { label: 'A: 50% read / 50% update', read: 0.5, update: 0.5, scan: 0 },
  B: { label: 'B: 95% read / 5% update', read: 0.95, update: 0.05, scan: 0 },
  C: { label: 'C: 100% read', read: 1, update: 0, scan: 0 },
  E: { label: 'E: 100% short scan (1–10 docs)', read: 0, update: 0, scan: 1 },
};
export const MAX_SCAN = 10;

/** Nearest-rank percentile of a sorted Float64Array (p in [0, 1]). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where unavailable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** Growable Float64Array of latencies in milliseconds. */
class Samples {
  constructor() {
    this.buf = new Float64Array(1 << 16);
    this.n = 0;
  }
  push(x) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = x;
  }
  sorted() {
    return this.buf.slice(0, this.n).sort();
  }
}

/**
 * Runs one cell: `conns` concurrent async workers issue operations of `workload` against
 * `target` ({ read(key), update(key, value), scan(key, len) }, all returning promises) for
 * warmupMs (not recorded), then for durationMs (recorded). "Read" latency is the latency of
 * point reads, or of scans for a scan-only workload.
 *
 * serverPid: a server process whose CPU use over the recorded phase is reported (serverCpu,
 * in cores); clientCpu is this process's.
 *
 * @returns {{ opsPerSec: number, ops: number, readP50: number, readP99: number, updateP50: number, serverCpu: number, clientCpu: number }}
 */
export async function runCell(target, { workload, conns, warmupMs, durationMs, chooseKey, seed = 1, serverPid }) {
  const mix = WORKLOADS[workload];
  const reads = new Samples();
  const updates = new Samples();
  let recording = false;
  let stopAt = 0;
  let ops = 0;
  let updateSeq = 0;

  const worker = async (w) => {
    const rng = makeRng(seed * 1000 + w + 1);
    for (;;) {
      const now = performance.now();
      if (now >= stopAt) return;
      const key = chooseKey(rng);
      const dice = rng();
      if (dice < mix.read) {
        await target.read(key);
        if (recording) reads.push(performance.now() - now);
      } else if (dice < mix.read + mix.update) {
        await target.update(key, `v${seed}-${w}-${updateSeq++}-${key}`.padEnd(32, '.'));
        if (recording) updates.push(performance.now() - now);
      } else {
        await target.scan(key, 1 + Math.floor(rng() * MAX_SCAN));
        if (recording) reads.push(performance.now() - now);
      }
      if (recording) ops++;
    }
  };
  const phase = async (ms) => {
    stopAt = performance.now() + ms;
    await Promise.all(Array.from({ length: conns }, (_, w) => worker(w)));
  };

  if (warmupMs > 0) await phase(warmupMs);
  recording = true;
  const server0 = serverPid ? cpuSeconds(serverPid) : NaN;
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await phase(durationMs);
  const elapsed = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const serverCpu = (cpuSeconds(serverPid) - server0) / elapsed;
  const clientCpu = (client.user + client.system) / 1e6 / elapsed;
  const r = reads.sorted();
  const u = updates.sorted();
  return { opsPerSec: ops / elapsed, ops, readP50: percentile(r, 0.5), readP99: percentile(r, 0.99), updateP50: percentile(u, 0.5), serverCpu, clientCpu };
}

const SERVER_ENTRY = fileURLToPath(new URL('./ycsb-server.mjs', import.meta.url));

/**
 * Starts bench/lib/ycsb-server.mjs in a child process (`kind` is 'argon' or 'ceiling') and
 * waits for the connection string it prints. stop() closes the child's stdin, which makes it
 * shut its server down cleanly and exit (so a --cpu-prof profile gets written); SIGKILL after
 * a timeout.
 */
export async function startServerChild(kind, { dataDir, nodeArgs = [], log = () => {} } = {}) {
  const args = [...nodeArgs, SERVER_ENTRY, kind];
  if (dataDir) args.push(dataDir);
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    exited.then(({ code, signal }) => reject(new Error(`${kind} server child exited before listening (code ${code}, signal ${signal})`)));
  });
  const { uri } = JSON.parse(first);
  log(`${kind} server child pid ${child.pid} at ${uri}`);
  return {
    uri,
    pid: child.pid,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const result = await exited;
      clearTimeout(timer);
      lines.close();
      return result;
    },
  };
}
