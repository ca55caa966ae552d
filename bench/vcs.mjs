// Argon version-control benchmark (issue 4): diff, merge, branch creation through the CLI,
// endpoint resume and time-travel reads, on a 1M-document collection, with PostgreSQL 15 measured
// beside it in the same run.
//
//   npm run bench:vcs                  (1,000,000 documents; several minutes)
//   npm run bench:vcs -- --quick       (20,000 documents, fewer runs)
//   npm run bench:vcs -- --no-pg       (skip the PostgreSQL peer)
//   npm run bench:vcs -- --only=diff   (one section: cli, diff, merge, resume or timetravel)
//
// Documents are loaded through the Store API (fast), then the server serves them: every figure
// except the in-process engine rows goes through the wire, as a user of the driver or the CLI
// would see it. Prints one table: figure, Argon, goal, met?, peer. Figures are medians (p50).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import pino from 'pino';
import { Store, diffRefs } from '../packages/argon/dist/src/index.js';
import { ArgonServer } from '../packages/argon/dist/src/server/server.js';
import { makeDoc } from './lib/docs.mjs';
import { loadTemplate, median, startPostgres, timeTemplateCopies } from './lib/postgres.mjs';
import { fmtMs, pct, Report } from './lib/report.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withPg = !args.includes('--no-pg');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const runs = (section) => only === undefined || only === section;

const N = quick ? 20_000 : 1_000_000;
const RUNS = quick ? 3 : 7;
const CLI_RUNS = quick ? 5 : 15;
const CONNECT_RUNS = quick ? 10 : 30;
const DIFF_DOCS = 100;
const MERGE_DOCS = 1_000;
/** Documents the target changes while the source works: half of them also changed by the source (other fields). */
const TARGET_DOCS = 100;
const POINT_READS = 1_000;
const DB = 'bench';
const COLL = 'docs';
const CLI = new URL('../packages/argon/dist/src/cli/main.js', import.meta.url).pathname;

// Every server, driver client and CLI call of this benchmark takes its options from these three.
// Authentication is off, as in the engine benchmark: with it, each new connection (CLI, resume)
// also pays a SCRAM exchange, whose 15,000 PBKDF2 rounds cost the client ~10 ms.
const serverOptions = { port: 0, autoSuspendMs: 0, auth: false, logger: pino({ level: 'silent' }) };
const clientOptions = {};
const cliArgs = [];

const log = (msg) => process.stderr.write(`${msg}\n`);
const report = new Report();
const row = (...cells) => report.row(...cells);
const p50p95 = (xs) => `${fmtMs(median(xs))} / ${fmtMs(pct(xs, 0.95))}`;
const execFileP = promisify(execFile);
const count = (n) => n.toLocaleString('en-US');

async function timed(fn) {
  const t0 = performance.now();
  const result = await fn();
  return [performance.now() - t0, result];
}

/** A fresh data directory holding documents 0..n-1 (and an index on age), loaded through the Store API. */
async function loadedDataDir(n) {
  const dir = mkdtempSync(join(tmpdir(), 'argon-vcs-bench-'));
  const store = await Store.open(dir, { compactionIntervalMs: 0 });
  try {
    await store.transact('main', (tx) => tx.createIndex(DB, COLL, { name: 'age_1', key: { age: 1 } }));
    for (let at = 0; at < n; at += 1000) {
      const ops = [];
      for (let i = at; i < Math.min(n, at + 1000); i++) ops.push({ op: 'insert', db: DB, coll: COLL, doc: makeDoc(i) });
      await store.write('main', ops);
      if (at % 200_000 === 0 && at > 0) log(`  loaded ${count(at)}/${count(n)}`);
    }
  } finally {
    await store.close();
  }
  return dir;
}

async function startArgon(dir) {
  const server = await ArgonServer.start({ ...serverOptions, dataDir: dir });
  const client = new MongoClient(await server.uri('main'), clientOptions);
  await client.connect();
  const admin = (cmd) => client.db('admin').command(cmd);
  return {
    server,
    admin,
    uri: await server.uri('main'),
    async stop() {
      await client.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Replace operations rewriting documents `ids` with `change(doc)` applied. */
const rewrites = (ids, change) => ids.map((i) => ({ op: 'replace', db: DB, coll: COLL, doc: change(makeDoc(i)) }));
const range = (from, n, step = 1) => Array.from({ length: n }, (_, k) => from + k * step);

// ---- branch creation through the CLI -------------------------------------------------------

/** Runs `argon branch create` as a new process each time; ms from spawn to exit. */
async function cliBranchCreates(uri, tag) {
  const times = [];
  for (let r = 0; r < CLI_RUNS; r++) {
    const [ms] = await timed(() => execFileP(process.execPath, [CLI, ...cliArgs, '--server', uri, 'branch', 'create', `${tag}-${r}`]));
    times.push(ms);
  }
  return times;
}

async function cliSection(argonN, pgServer) {
  const sizes = [];
  log('branch creation through the CLI at 1,000 documents');
  const small = await startArgon(await loadedDataDir(1_000));
  try {
    sizes.push({ n: 1_000, times: await cliBranchCreates(small.uri, 'cli') });
  } finally {
    await small.stop();
  }
  log(`branch creation through the CLI at ${count(N)} documents`);
  sizes.push({ n: N, times: await cliBranchCreates(argonN.uri, 'cli') });

  for (const { n, times } of sizes) {
    let peer = 'not run';
    if (pgServer) {
      log(`  PostgreSQL: ${count(n)} documents, CREATE DATABASE … TEMPLATE through psql`);
      await loadTemplate(pgServer, n, makeDoc);
      const copies = await timeTemplateCopies(pgServer, n >= 1_000_000 ? 3 : 5, { viaPsql: true });
      peer = `psql -c 'CREATE DATABASE … TEMPLATE': p50 ${fmtMs(median(copies))} (${(median(copies) / median(times)).toFixed(1)}× ours)`;
    }
    row(`argon branch create (CLI process) @ ${count(n)} docs p50 / p95`, p50p95(times), 'p50 ≤ 150 ms', median(times) <= 150, peer);
  }
  const ratio = median(sizes[1].times) / median(sizes[0].times);
  row(`CLI branch create p50 ratio ${count(N)} / 1,000`, ratio.toFixed(2), '≤ 1.2 (same)', ratio <= 1.2, 'template copy grows with the data');
}

// ---- diff ----------------------------------------------------------------------------------

async function diffSection(argon, pgc) {
  log(`diff: ${DIFF_DOCS} documents changed on a branch`);
  const wire = [];
  const engine = [];
  for (let r = 0; r < RUNS; r++) {
    const branch = `diff-${r}`;
    await argon.admin({ argonBranchCreate: branch });
    await argon.server.store.write(branch, rewrites(range(r * DIFF_DOCS, DIFF_DOCS), (d) => ({ ...d, age: d.age + 1, name: `${d.name}-diff` })));
    const [ms, reply] = await timed(() => argon.admin({ argonDiff: 'main', to: branch }));
    if (reply.summary[`${DB}.${COLL}`]?.modified !== DIFF_DOCS) throw new Error(`diff saw ${JSON.stringify(reply.summary)}`);
    wire.push(ms);
    engine.push((await timed(() => diffRefs(argon.server.store, 'main', branch)))[0]);
  }
  let peer = 'not run';
  if (pgc) {
    await pgc.query('CREATE TABLE docs_b AS SELECT * FROM docs');
    await pgc.query('ALTER TABLE docs_b ADD PRIMARY KEY (id)');
    await pgc.query(`UPDATE docs_b SET doc = jsonb_set(doc, '{age}', to_jsonb((doc->>'age')::int + 1)) WHERE id < ${DIFF_DOCS}`);
    await pgc.query('VACUUM (ANALYZE) docs_b');
    const sql = 'SELECT coalesce(a.id, b.id) AS id, a.doc AS before, b.doc AS after FROM docs a FULL OUTER JOIN docs_b b ON a.id = b.id WHERE a.doc IS DISTINCT FROM b.doc';
    const times = [];
    for (let r = 0; r < Math.min(RUNS, 3); r++) {
      const [ms, res] = await timed(() => pgc.query(sql));
      if (res.rowCount !== DIFF_DOCS) throw new Error(`PostgreSQL diff returned ${res.rowCount} rows`);
      times.push(ms);
    }
    peer = `FULL OUTER JOIN of two ${count(N)}-row JSONB tables: p50 ${fmtMs(median(times))} (${(median(times) / median(wire)).toFixed(0)}× ours)`;
  }
  row(`diff, ${DIFF_DOCS} changed docs of ${count(N)}, argonDiff over the wire p50 / p95`, p50p95(wire), 'p50 ≤ 50 ms', median(wire) <= 50, peer);
  row(`diff, ${DIFF_DOCS} changed docs, in-process diffRefs p50 / p95`, p50p95(engine), 'measured', null, 'the wire row minus the driver and the reply');
}

// ---- merge ---------------------------------------------------------------------------------

/**
 * Run r: a branch changes `age` of MERGE_DOCS documents while main changes `name` of TARGET_DOCS,
 * half of them documents the branch changed too (a field-level three-way merge, no conflict).
 */
async function threeWayMerge(argon, r) {
  const source = `merge-${r}`;
  const first = Math.floor(N / 2) + r * (MERGE_DOCS + TARGET_DOCS);
  await argon.admin({ argonBranchCreate: source });
  await argon.server.store.write(source, rewrites(range(first, MERGE_DOCS), (d) => ({ ...d, age: 100 + r })));
  const targetIds = [...range(first, TARGET_DOCS / 2, MERGE_DOCS / (TARGET_DOCS / 2)), ...range(first + MERGE_DOCS, TARGET_DOCS / 2)];
  await argon.server.store.write('main', rewrites(targetIds, (d) => ({ ...d, name: `${d.name}-main` })));
  const [ms, result] = await timed(() => argon.admin({ argonMerge: source, into: 'main' }));
  if (result.status !== 'merged' || result.fastForward || result.applied.updated !== MERGE_DOCS) throw new Error(`three-way merge: ${JSON.stringify(result)}`);
  return ms;
}

async function fastForwardMerge(argon, r) {
  const target = `ff-target-${r}`;
  const source = `ff-source-${r}`;
  await argon.admin({ argonBranchCreate: target });
  await argon.admin({ argonBranchCreate: source, from: target });
  await argon.server.store.write(source, rewrites(range(r * MERGE_DOCS, MERGE_DOCS), (d) => ({ ...d, age: 100 + r })));
  const [ms, result] = await timed(() => argon.admin({ argonMerge: source, into: target }));
  if (result.status !== 'merged' || !result.fastForward || result.applied.updated !== MERGE_DOCS) throw new Error(`fast-forward merge: ${JSON.stringify(result)}`);
  return ms;
}

async function mergeSection(argon, pgc) {
  log(`merge: ${MERGE_DOCS} changes`);
  const threeWay = [];
  const ff = [];
  for (let r = 0; r < RUNS; r++) {
    threeWay.push(await threeWayMerge(argon, r));
    ff.push(await fastForwardMerge(argon, r));
  }
  let peer = 'not run';
  if (pgc) {
    await pgc.query('CREATE TABLE changes (id bigint PRIMARY KEY, doc jsonb NOT NULL)');
    const times = [];
    for (let r = 0; r < RUNS; r++) {
      const first = Math.floor(N / 2) + r * MERGE_DOCS;
      await pgc.query('TRUNCATE changes');
      await pgc.query(`INSERT INTO changes SELECT id, jsonb_set(doc, '{age}', to_jsonb(${100 + r})) FROM docs WHERE id >= ${first} AND id < ${first + MERGE_DOCS}`);
      const [ms, res] = await timed(() => pgc.query('INSERT INTO docs (id, doc) SELECT id, doc FROM changes ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc'));
      if (res.rowCount !== MERGE_DOCS) throw new Error(`PostgreSQL upsert wrote ${res.rowCount} rows`);
      times.push(ms);
    }
    peer = `INSERT … SELECT … ON CONFLICT DO UPDATE of ${count(MERGE_DOCS)} rows (two-way): p50 ${fmtMs(median(times))}`;
  }
  row(`merge, ${count(MERGE_DOCS)} changes, three-way (target diverged), argonMerge p50 / p95`, p50p95(threeWay), 'p50 ≤ 200 ms', median(threeWay) <= 200, peer);
  row(`merge, ${count(MERGE_DOCS)} changes, fast-forward, argonMerge p50 / p95`, p50p95(ff), 'p50 ≤ 200 ms', median(ff) <= 200, peer);
}

// ---- resume of a suspended endpoint ----------------------------------------------------------

/** ms from a new driver client's connect() to the reply of its first ping. */
async function firstReply(uri) {
  const client = new MongoClient(uri, clientOptions);
  try {
    const [ms] = await timed(async () => {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
    });
    return ms;
  } finally {
    await client.close();
  }
}

async function resumeSection(argon, pgServer) {
  log('resume: a suspended endpoint to the first reply of a new connection');
  await argon.admin({ argonBranchCreate: 'sleepy' });
  await argon.admin({ argonBranchCreate: 'awake' });
  const sleepy = await argon.server.uri('sleepy');
  const awake = await argon.server.uri('awake');
  await firstReply(awake); // the driver's own first-use costs stay out of both series
  const resumed = [];
  const baseline = [];
  for (let r = 0; r < CONNECT_RUNS; r++) {
    const { endpoint } = await argon.admin({ argonBranchSuspend: 'sleepy' });
    if (endpoint.state !== 'suspended') throw new Error(`endpoint not suspended: ${JSON.stringify(endpoint)}`);
    resumed.push(await firstReply(sleepy));
    baseline.push(await firstReply(awake));
  }
  const { endpoints } = await argon.admin({ argonEndpoints: 1 });
  if (endpoints.find((e) => e.ref === 'sleepy')?.state !== 'active') throw new Error('the suspended endpoint did not resume');
  let peer = 'not run';
  if (pgServer) {
    const times = [];
    for (let r = 0; r < CONNECT_RUNS; r++) {
      const client = new pg.Client(pgServer.clientConfig('template_src'));
      const [ms] = await timed(async () => {
        await client.connect();
        await client.query('SELECT 1');
      });
      await client.end();
      times.push(ms);
    }
    peer = `new pg connection to first reply (SELECT 1): p50 ${fmtMs(median(times))}`;
  }
  row('resume: suspended endpoint, connect to first ping reply p50 / p95', p50p95(resumed), 'p50 ≤ 50 ms', median(resumed) <= 50, peer);
  row('never-suspended endpoint, connect to first ping reply p50 / p95', p50p95(baseline), 'baseline', null, peer);
}

// ---- time travel -----------------------------------------------------------------------------

const AGE = 40;

async function pointFinds(coll, ids) {
  const [ms] = await timed(async () => {
    for (const id of ids) if (!(await coll.findOne({ _id: id }))) throw new Error(`document ${id} not found`);
  });
  return ms;
}

async function timeTravelSection(argon, pastIso, pgc) {
  log('time travel: finds at main@<time> vs head');
  const head = new MongoClient(argon.uri, clientOptions);
  const past = new MongoClient(await argon.server.uri(`main@${pastIso}`), clientOptions);
  try {
    await Promise.all([head.connect(), past.connect()]);
    const atHead = head.db(DB).collection(COLL);
    const atPast = past.db(DB).collection(COLL);
    // The documents the first merge rewrote: every past read has to pass over a newer version.
    const ids = range(Math.floor(N / 2), POINT_READS);
    const [before, now] = [await atPast.findOne({ _id: ids[0] }), await atHead.findOne({ _id: ids[0] })];
    if (before.age === now.age) throw new Error('the time-travel endpoint does not read the past');
    const rangeFind = (coll) => timed(() => coll.find({ age: { $gte: AGE, $lt: AGE + 1 } }).toArray());
    const series = { headPoints: [], pastPoints: [], headRange: [], pastRange: [] };
    let docs = 0;
    for (let r = 0; r <= RUNS; r++) {
      const results = [await pointFinds(atHead, ids), await pointFinds(atPast, ids), await rangeFind(atHead), await rangeFind(atPast)];
      docs = results[3][1].length;
      if (r === 0) continue; // warm-up: caches and the driver's connection pools
      series.headPoints.push(results[0]);
      series.pastPoints.push(results[1]);
      series.headRange.push(results[2][0]);
      series.pastRange.push(results[3][0]);
    }
    let pointPeer = 'PostgreSQL has no as-of reads';
    let rangePeer = pointPeer;
    if (pgc) {
      await pgc.query("CREATE INDEX IF NOT EXISTS age_idx ON docs (((doc->>'age')::int))");
      await pgc.query('ANALYZE docs');
      const points = [];
      const ranges = [];
      for (let r = 0; r <= RUNS; r++) {
        const [p] = await timed(async () => {
          for (const id of ids) await pgc.query({ name: 'get', text: 'SELECT doc FROM docs WHERE id = $1', values: [id] });
        });
        const [q] = await timed(() => pgc.query("SELECT doc FROM docs WHERE (doc->>'age')::int >= $1 AND (doc->>'age')::int < $2", [AGE, AGE + 1]));
        if (r === 0) continue;
        points.push(p);
        ranges.push(q);
      }
      pointPeer = `no as-of reads; head reference: ${fmtMs(median(points))}`;
      rangePeer = `no as-of reads; head reference (expression index): ${fmtMs(median(ranges))}`;
    }
    const ratio = (a, b) => (median(a) / median(b)).toFixed(2);
    const pointRatio = median(series.pastPoints) / median(series.headPoints);
    const rangeRatio = median(series.pastRange) / median(series.headRange);
    row(`${count(POINT_READS)} finds by _id at main@<time> vs head (p50)`, `${fmtMs(median(series.pastPoints))} vs ${fmtMs(median(series.headPoints))}: ratio ${ratio(series.pastPoints, series.headPoints)}`, 'ratio ≤ 2', pointRatio <= 2, pointPeer);
    row(`indexed range find (${count(docs)} docs) at main@<time> vs head (p50)`, `${fmtMs(median(series.pastRange))} vs ${fmtMs(median(series.headRange))}: ratio ${ratio(series.pastRange, series.headRange)}`, 'ratio ≤ 2', rangeRatio <= 2, rangePeer);
  } finally {
    await Promise.all([head.close(), past.close()]);
  }
}

// ---- run -----------------------------------------------------------------------------------

// Other work on this 2-core machine inflates every latency here: the title reports the load.
const load0 = loadavg()[0];
const pgServer = withPg ? await startPostgres({ log: () => undefined }) : null;
let argon;
let pgc;
try {
  log(`loading ${count(N)} documents into Argon`);
  argon = await startArgon(await loadedDataDir(N));
  await new Promise((resolve) => setTimeout(resolve, 5)); // the past point lies strictly after the load's last batch
  const pastIso = new Date().toISOString();
  if (runs('cli')) await cliSection(argon, pgServer);
  if (pgServer) {
    if (!runs('cli')) await loadTemplate(pgServer, N, makeDoc); // else the CLI section left N documents in it
    pgc = new pg.Client(pgServer.clientConfig('template_src'));
    await pgc.connect();
  }
  if (runs('diff')) await diffSection(argon, pgc);
  if (runs('merge') || runs('timetravel')) await mergeSection(argon, pgc);
  if (runs('resume')) await resumeSection(argon, pgServer);
  if (runs('timetravel')) await timeTravelSection(argon, pastIso, pgc);
} finally {
  await pgc?.end();
  await argon?.stop();
  await pgServer?.stop();
}
report.print(`Argon version control on ${count(N)} documents, 1-min load average ${load0.toFixed(1)} at start / ${loadavg()[0].toFixed(1)} at end`);
