// YCSB-style workloads over the wire: Argon (official MongoDB driver), PostgreSQL 15 (pg) in
// the same run, and the wire ceiling (a canned-reply server, same driver) for workload C.
//
//   node bench/ycsb.mjs                 100k documents of ~1 KiB, 5 s per cell (~3 minutes)
//   node bench/ycsb.mjs --quick         10k documents, 2 s per cell
//   node bench/ycsb.mjs --no-pg         skip PostgreSQL
//   node bench/ycsb.mjs --only=C,E      run only some workloads
//   node bench/ycsb.mjs --uniform       uniform key choice instead of scrambled Zipfian
//   node bench/ycsb.mjs --in-process    run Argon in the benchmark's own process (shares its event loop)
//   node bench/ycsb.mjs --server-prof=DIR   write a V8 CPU profile of the Argon child to DIR
//   node bench/ycsb.mjs --driver-defaults   default driver monitoring (see mongoOptions in lib/ycsb-targets.mjs)
//
// Workloads (YCSB core mixes): A 50% read / 50% update, B 95/5, C 100% read, E 100% short
// scans (start key from the key chooser, length uniform 1–10). Each runs with 1 and with 16
// connections (16 concurrent async workers over one pooled client). Keys: YCSB's scrambled
// Zipfian (theta 0.99) unless --uniform. Each cell: a warm-up, then a fixed duration;
// ops/s counts all operations, read latency is point reads (scans for E).
//
// Argon and the wire ceiling each run in a child process (bench/lib/ycsb-server.mjs), so the
// server has its own event loop; PostgreSQL is its own processes anyway. Cells run
// interleaved (Argon, PostgreSQL, ceiling for each workload × connections) so drift affects
// all equally.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDoc } from './lib/docs.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { WORKLOADS, runCell, scrambledZipfian, startServerChild, uniformKeys } from './lib/ycsb-core.mjs';
import { loadMongo, loadPostgres, mongoTarget, postgresTarget, useDriverDefaults } from './lib/ycsb-targets.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const withPg = !args.includes('--no-pg');
const uniform = args.includes('--uniform');
const inProcess = args.includes('--in-process');
const serverProf = flag('server-prof');
const driverDefaults = args.includes('--driver-defaults');
if (driverDefaults) useDriverDefaults();
const only = flag('only')?.toUpperCase().split(',') ?? Object.keys(WORKLOADS);
const N = quick ? 10_000 : 100_000;
const DURATION_MS = Number(flag('duration') ?? (quick ? 2000 : 5000));
const WARMUP_MS = quick ? 500 : 1000;
const CONNS = [1, 16];

const log = (msg) => process.stderr.write(`${msg}\n`);
const fmtRate = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmtMs = (ms) => (Number.isFinite(ms) ? `${ms.toFixed(3)} ms` : '—');
const chooseKey = uniform ? uniformKeys(N) : scrambledZipfian(N);

const dataDir = mkdtempSync(join(tmpdir(), 'argon-ycsb-'));
const started = [];
const results = [];
let argonLoad = NaN;
let pgLoad = NaN;

const load0 = loadavg()[0];

async function cell(label, makeTarget, workload, conns, seed, serverPid) {
  const target = await makeTarget(conns);
  try {
    const r = await runCell(target, { workload, conns, warmupMs: WARMUP_MS, durationMs: DURATION_MS, chooseKey, seed, serverPid });
    const cpu = `CPU: client ${(100 * r.clientCpu).toFixed(0)}%${Number.isFinite(r.serverCpu) ? `, server ${(100 * r.serverCpu).toFixed(0)}%` : ''}`;
    log(`  ${workload} ×${String(conns).padStart(2)} ${label.padEnd(10)} ${fmtRate(r.opsPerSec).padStart(7)} ops/s  read p50 ${fmtMs(r.readP50)} p99 ${fmtMs(r.readP99)}${Number.isFinite(r.updateP50) ? `  update p50 ${fmtMs(r.updateP50)}` : ''}  ${cpu}`);
    return r;
  } finally {
    await target.close();
  }
}

/** Checks that a target answers with the loaded data before anything is timed. */
async function sanityCheck(name, target) {
  const k = Math.floor(N / 3);
  const got = await target.read(k);
  const doc = got?.rows ? got.rows[0]?.doc : got;
  if (doc?.email !== makeDoc(k).email) throw new Error(`${name}: point read of ${k} returned ${JSON.stringify(doc)?.slice(0, 200)}`);
  const scanned = await target.scan(k, 5);
  const ids = (scanned.rows ? scanned.rows.map((r) => r.doc) : scanned).map((d) => Number(d._id));
  if (ids.join() !== [k, k + 1, k + 2, k + 3, k + 4].join()) throw new Error(`${name}: scan from ${k} returned _ids ${ids.join()}`);
}

try {
  // ---- servers and data ------------------------------------------------------------------
  let argon;
  if (inProcess) {
    const { startArgon } = await import('./lib/ycsb-server.mjs');
    argon = await startArgon(dataDir);
    log(`Argon in-process at ${argon.uri}`);
  } else {
    const nodeArgs = serverProf ? ['--cpu-prof', `--cpu-prof-dir=${serverProf}`] : [];
    argon = await startServerChild('argon', { dataDir, nodeArgs, log });
  }
  started.push(argon);
  const pgServer = withPg ? await startPostgres({ log: () => undefined }) : null;
  if (pgServer) started.push(pgServer);
  const ceiling = only.includes('C') ? await startServerChild('ceiling', { log }) : null;
  if (ceiling) started.push(ceiling);

  log(`loading ${N.toLocaleString('en-US')} documents of ~1 KiB`);
  argonLoad = await loadMongo(argon.uri, N, makeDoc, log);
  if (pgServer) pgLoad = await loadPostgres(pgServer, N, makeDoc, log);

  const systems = [['Argon', (c) => mongoTarget(argon.uri, c)]];
  if (pgServer) systems.push(['PostgreSQL', (c) => postgresTarget(pgServer, c)]);
  for (const [name, make] of systems) {
    const t = await make(1);
    try {
      await sanityCheck(name, t);
    } finally {
      await t.close();
    }
  }

  // JIT warm-up of the driver and servers (untimed): a short C run on each.
  log('warm-up');
  const warmSystems = ceiling ? [...systems, ['ceiling', (c) => mongoTarget(ceiling.uri, c)]] : systems;
  for (const [, make] of warmSystems) {
    const t = await make(4);
    try {
      await runCell(t, { workload: 'C', conns: 4, warmupMs: 0, durationMs: quick ? 500 : 2000, chooseKey, seed: 99 });
    } finally {
      await t.close();
    }
  }

  // ---- cells -----------------------------------------------------------------------------
  const order = ['A', 'B', 'C', 'E'].filter((w) => only.includes(w));
  let seed = 1;
  for (const workload of order) {
    for (const conns of CONNS) {
      seed++;
      const row = { workload, conns };
      row.argon = await cell('Argon', systems[0][1], workload, conns, seed, argon.pid);
      if (pgServer) row.pg = await cell('PostgreSQL', systems[1][1], workload, conns, seed);
      if (ceiling && workload === 'C') row.ceiling = await cell('ceiling', (c) => mongoTarget(ceiling.uri, c), workload, conns, seed, ceiling.pid);
      results.push(row);
    }
  }
} finally {
  for (const s of started.reverse()) {
    try {
      await s.stop();
    } catch (err) {
      log(`stopping a server failed: ${err.message}`);
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}

// ---- report ------------------------------------------------------------------------------
const table = [
  ['workload', 'conns', 'Argon ops/s', 'PostgreSQL ops/s', 'Argon / PG', 'Argon read p50 / p99', 'PG read p50 / p99', 'ceiling ops/s', '% of ceiling'],
];
for (const r of results) {
  const ratio = r.pg ? `${(r.argon.opsPerSec / r.pg.opsPerSec).toFixed(2)}×` : '—';
  table.push([
    WORKLOADS[r.workload].label,
    String(r.conns),
    fmtRate(r.argon.opsPerSec),
    r.pg ? fmtRate(r.pg.opsPerSec) : 'not run',
    ratio,
    `${fmtMs(r.argon.readP50)} / ${fmtMs(r.argon.readP99)}`,
    r.pg ? `${fmtMs(r.pg.readP50)} / ${fmtMs(r.pg.readP99)}` : '—',
    r.ceiling ? fmtRate(r.ceiling.opsPerSec) : '—',
    r.ceiling ? `${((100 * r.argon.opsPerSec) / r.ceiling.opsPerSec).toFixed(0)}%` : '—',
  ]);
}

const goals = [['goal', 'figure', 'met']];
const yes = (b) => (b ? 'yes' : 'NO');
for (const r of results.filter((x) => x.pg && x.workload !== 'E')) {
  goals.push([`Argon ≥ PostgreSQL, ${r.workload} ×${r.conns}`, `${(r.argon.opsPerSec / r.pg.opsPerSec).toFixed(2)}×`, yes(r.argon.opsPerSec >= r.pg.opsPerSec)]);
}
const c1 = results.find((x) => x.workload === 'C' && x.conns === 1);
if (c1) goals.push(['single-connection point read p50 < 0.3 ms (C ×1)', fmtMs(c1.argon.readP50), yes(c1.argon.readP50 < 0.3)]);
for (const r of results.filter((x) => x.ceiling)) {
  const share = r.argon.opsPerSec / r.ceiling.opsPerSec;
  goals.push([`≥ 50% of the wire ceiling, C ×${r.conns}`, `${(100 * share).toFixed(0)}%`, yes(share >= 0.5)]);
}

const print = (rows) => {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
};

console.log(
  `\nYCSB over the wire — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores — ` +
    `${N.toLocaleString('en-US')} docs of ~1 KiB, ${uniform ? 'uniform' : 'scrambled Zipfian (θ 0.99)'} keys, ` +
    `${DURATION_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up, Argon ${inProcess ? 'in-process' : 'in a child process'}, ` +
    `driver monitoring ${driverDefaults ? 'default' : 'polling every hour'}, ` +
    `1-min load average ${load0.toFixed(1)} at start / ${loadavg()[0].toFixed(1)} at end\n`,
);
print(table);
console.log('');
print(goals);
console.log(
  `\nLoad (insertMany / INSERT … unnest, batches of 1,000, 2 connections, documents generated in the loop): ` +
    `Argon ${fmtRate(argonLoad)} docs/s, PostgreSQL ${withPg ? `${fmtRate(pgLoad)} docs/s` : 'not run'}`,
);
