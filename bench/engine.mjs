// Argon storage engine benchmark, with PostgreSQL 15 measured beside it in the same run.
//
//   npm run bench                 (all sizes: 1k, 100k, 1M documents)
//   npm run bench -- --quick      (1k and 100k only, no 1M load)
//   npm run bench -- --no-pg      (skip the PostgreSQL peer)
//   npm run bench -- --only=asof  (one section: branches, storage or asof)
//
// Prints one table: figure, Argon, goal, met?, peer. Figures are medians of several runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../packages/argon/dist/src/index.js';
import { makeDoc } from './lib/docs.mjs';
import { loadTemplate, median, startPostgres, templateSize, timeTemplateCopies } from './lib/postgres.mjs';
import { fmtMiB, fmtMs, fmtRate, pct, Report } from './lib/report.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withPg = !args.includes('--no-pg');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const runs = (section) => only === undefined || only === section;
const SIZES = quick ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
const RUNS = 3;
const BRANCHES_PER_RUN = 200;
const BATCH = 1_000;

const log = (msg) => process.stderr.write(`${msg}\n`);
const report = new Report();
const row = (...cells) => report.row(...cells);

async function withStore(fn, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'argon-bench-'));
  const store = await Store.open(dir, { compactionIntervalMs: 0, ...options });
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads n documents in batches; returns docs/s counting only the time spent in the store. */
async function load(store, n, branch = 'main') {
  let busy = 0;
  for (let at = 0; at < n; at += BATCH) {
    const ops = [];
    for (let i = at; i < Math.min(n, at + BATCH); i++) ops.push({ op: 'insert', db: 'bench', coll: 'docs', doc: makeDoc(i) });
    const t0 = performance.now();
    await store.write(branch, ops);
    busy += performance.now() - t0;
    if (at % 100_000 === 0 && at > 0) log(`  loaded ${at.toLocaleString('en-US')}/${n.toLocaleString('en-US')}`);
  }
  return n / (busy / 1000);
}

/** A second handle on the same data with the head cache disabled: every read takes the LMDB path. */
function reopenWithoutCache(store) {
  return Store.open(store.path, { compactionIntervalMs: 0, cacheBytes: 0 });
}

async function timeBranchCreation(store, tag) {
  const times = [];
  for (let i = 0; i < BRANCHES_PER_RUN; i++) {
    const t0 = performance.now();
    await store.createBranch(`${tag}-${i}`);
    times.push(performance.now() - t0);
  }
  return times;
}

/** Calls fn(i) for ~1 s and returns operations per second. */
function throughput(fn, minMs = 1000) {
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    for (let k = 0; k < 1000; k++) fn(ops++);
  }
  return ops / ((performance.now() - start) / 1000);
}
const medianOf = (fn) => median(Array.from({ length: RUNS }, fn));

async function branchCreationAndReads(pg) {
  const p50s = new Map();
  for (const n of SIZES) {
    log(`branch creation at ${n.toLocaleString('en-US')} documents`);
    await withStore(async (store) => {
      const insertRate = await load(store, n);
      const runs = [];
      for (let r = 0; r < RUNS; r++) runs.push(await timeBranchCreation(store, `r${r}`));
      const p50 = median(runs.map((t) => pct(t, 0.5)));
      const p99 = median(runs.map((t) => pct(t, 0.99)));
      p50s.set(n, p50);
      let peer = 'not run';
      if (pg) {
        log(`  PostgreSQL: loading ${n.toLocaleString('en-US')} documents`);
        const t0 = performance.now();
        await loadTemplate(pg, n, makeDoc);
        const pgLoadRate = n / ((performance.now() - t0) / 1000);
        const copies = await timeTemplateCopies(pg, n >= 1_000_000 ? 3 : 5);
        peer = `CREATE DATABASE … TEMPLATE: p50 ${fmtMs(median(copies))} (${(median(copies) / p50).toFixed(0)}× slower), ${fmtMiB(await templateSize(pg))} copied`;
        if (n === SIZES.at(-1)) row(`bulk insert, 1 KiB docs (${n.toLocaleString('en-US')})`, fmtRate(insertRate), '≥ 50,000/s', insertRate >= 50_000, `PostgreSQL JSONB batched INSERT (incl. generating docs): ${fmtRate(pgLoadRate)}`);
      } else if (n === SIZES.at(-1)) {
        row(`bulk insert, 1 KiB docs (${n.toLocaleString('en-US')})`, fmtRate(insertRate), '≥ 50,000/s', insertRate >= 50_000, peer);
      }
      row(`branch create @ ${n.toLocaleString('en-US')} docs p50 / p99`, `${fmtMs(p50)} / ${fmtMs(p99)}`, 'p50 ≤ 1 ms', p50 <= 1, peer);

      if (n === 100_000) {
        log('  point reads and index range scans');
        const ids = Array.from({ length: 4096 }, (_, i) => (i * 7919) % n);
        let pgReads = 'not run';
        if (pg) pgReads = `SELECT by primary key over loopback: ${fmtRate(await pgPointReads(pg, n))}`;
        for (const [label, s] of [['head cache on (default)', store], ['cache off', await reopenWithoutCache(store)]]) {
          const reads = medianOf(() => throughput((i) => s.get('main', 'bench', 'docs', ids[i & 4095])));
          const rawReads = medianOf(() => throughput((i) => s.getRaw('main', 'bench', 'docs', ids[i & 4095])));
          row(`point read by _id, decoded to JS, ${label}`, fmtRate(reads), '≥ 200,000/s', reads >= 200_000, pgReads);
          row(`point read by _id, BSON bytes, ${label}`, fmtRate(rawReads), '≥ 200,000/s', rawReads >= 200_000, pgReads);
          if (s !== store) await s.close();
        }
        await store.transact('main', (tx) => tx.createIndex('bench', 'docs', { name: 'age_1', key: { age: 1 } }));
        const scanned = medianOf(() => {
          let docs = 0;
          const t0 = performance.now();
          for (let age = 20; age < 30; age++) {
            for (const _ of store.indexScan('main', 'bench', 'docs', 'age_1', { lower: { values: [age], inclusive: true }, upper: { values: [age], inclusive: true } })) docs++;
          }
          return docs / ((performance.now() - t0) / 1000);
        });
        let pgScan = 'not run';
        if (pg) pgScan = `expression index range: ${fmtRate(await pgIndexScan(pg))}`;
        row('index range scan (docs returned)', fmtRate(scanned), 'measured', null, pgScan);
      }
    });
  }
  const ratio = p50s.get(SIZES.at(-1)) / p50s.get(SIZES[0]);
  row(`branch create p50 ratio ${SIZES.at(-1).toLocaleString('en-US')} / 1,000`, ratio.toFixed(2), '≤ 1.5', ratio <= 1.5, 'full copy grows with the data');
}

async function pgPointReads(pg, n) {
  const { default: pgLib } = await import('pg');
  const client = new pgLib.Client(pg.clientConfig('template_src'));
  await client.connect();
  try {
    const rounds = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 3000; i++) await client.query({ name: 'get', text: 'SELECT doc FROM docs WHERE id = $1', values: [(i * 7919) % n] });
      rounds.push(3000 / ((performance.now() - t0) / 1000));
    }
    return median(rounds);
  } finally {
    await client.end();
  }
}

async function pgIndexScan(pg) {
  const { default: pgLib } = await import('pg');
  const client = new pgLib.Client(pg.clientConfig('template_src'));
  await client.connect();
  try {
    await client.query("CREATE INDEX IF NOT EXISTS age_idx ON docs (((doc->>'age')::int))");
    await client.query('ANALYZE docs');
    const rounds = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      let docs = 0;
      for (let age = 20; age < 30; age++) docs += (await client.query("SELECT doc FROM docs WHERE (doc->>'age')::int = $1", [age])).rowCount;
      rounds.push(docs / ((performance.now() - t0) / 1000));
    }
    return median(rounds);
  } finally {
    await client.end();
  }
}

async function asOfReads() {
  log('as-of reads with 1M writes of history since');
  await withStore(async (store) => {
    const n = 100_000;
    for (let at = 0; at < n; at += BATCH) {
      await store.write('main', Array.from({ length: BATCH }, (_, k) => ({ op: 'insert', db: 'bench', coll: 'small', doc: { _id: at + k, v: 0, pad: 'x'.repeat(100) } })));
    }
    const old = store.headLsn;
    const writes = quick ? 200_000 : 1_000_000;
    for (let done = 0; done < writes; done += BATCH) {
      await store.write('main', Array.from({ length: BATCH }, (_, k) => ({ op: 'replace', db: 'bench', coll: 'small', doc: { _id: (done + k * 97) % n, v: done + k, pad: 'y'.repeat(100) } })));
    }
    const ids = Array.from({ length: 4096 }, (_, i) => (i * 7919) % n);
    const head = medianOf(() => throughput((i) => store.get('main', 'bench', 'small', ids[i & 4095])));
    const point = { branch: 'main', lsn: old };
    const past = medianOf(() => throughput((i) => store.get(point, 'bench', 'small', ids[i & 4095])));
    row(`read as of old LSN (${writes.toLocaleString('en-US')} writes since) vs head, cache off`, `${fmtRate(past)} vs ${fmtRate(head)}: ratio ${(head / past).toFixed(2)}`, 'ratio ≤ 2', head / past <= 2, 'PostgreSQL has no as-of reads');
  }, { cacheBytes: 0 });
}

async function storageOverhead(pg) {
  log('storage: 10 branches each updating a different 1% of 100k documents');
  await withStore(async (store) => {
    const n = 100_000;
    await load(store, n);
    const base = store.storageBytes();
    for (let b = 0; b < 10; b++) {
      const name = `s${b}`;
      await store.createBranch(name);
      for (let at = 0; at < n / 100; at += BATCH) {
        const ops = [];
        for (let k = at; k < Math.min(n / 100, at + BATCH); k++) {
          const id = b * (n / 100) + k;
          ops.push({ op: 'replace', db: 'bench', coll: 'docs', doc: { ...makeDoc(id), age: 200 + b } });
        }
        await store.write(name, ops);
      }
    }
    const after = store.storageBytes();
    const ratio = after / base;
    const peer = pg ? `11 full copies: ${fmtMiB(11 * (await templateSize(pg)))} (11.0×)` : 'full copy: 11.0×';
    row('storage, 10 branches × 1% updated', `${fmtMiB(after)} / ${fmtMiB(base)} = ${ratio.toFixed(2)}×`, '≤ 1.2×', ratio <= 1.2, peer);
  });
}

const pg = withPg && only !== 'asof' ? await startPostgres({ log: () => undefined }) : null;
try {
  if (runs('branches')) await branchCreationAndReads(pg);
  if (runs('storage')) {
    if (pg) await loadTemplate(pg, 100_000, makeDoc);
    await storageOverhead(pg);
  }
  if (runs('asof')) await asOfReads();
} finally {
  await pg?.stop();
}

report.print('Argon storage engine');
