/**
 * Randomized model test of the versioned, branchable store: random sequences of write
 * batches, branch creations (at head and at past LSNs), index and collection creations and
 * drops, branch renames and deletions, and compactions are applied both to the real Store and
 * to a naive copy-everything reference model (helpers/model-ref.ts). After every step the
 * touched branch's head and one random (branch, LSN) point must read the same in both (scan,
 * reverse and ranged scans, get, count, listCollections, indexScan on every index); at the end
 * (and at every reopen) every branch is checked at every LSN it can be read at. A third
 * property runs the store on an injected clock with a short retention window, so as-of reads
 * beyond the horizon must be refused unless a readable child branch pins them, and compaction
 * must never remove anything still readable.
 *
 * Scale with ARGON_MODEL_RUNS (runs of the main property; default 600).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Store } from '../src/storage/store.js';
import { ArgonError } from '../src/errors.js';
import type { Document, IndexRange, IdRange, IndexSpec, ReadPoint, WriteOp } from '../src/storage/types.js';
import {
  BAD_VALUE,
  BRANCH_EXISTS,
  BRANCH_NOT_FOUND,
  INDEX_NOT_FOUND,
  ModelError,
  RefModel,
  SNAPSHOT_TOO_OLD,
  expectedIndexScan,
  expectedScan,
  idKey,
  sortedDocs,
  type DbState,
  type Doc,
  type IndexDef,
  type ModelBound,
  type ModelOp,
} from './helpers/model-ref.js';

const DB = 'db';
const COLLS = ['c0', 'c1'] as const;
const INDEX_NAMES = ['a_1', 'a_-1', 'a_unique'] as const;
type IndexName = (typeof INDEX_NAMES)[number];

const RUNS = Number(process.env.ARGON_MODEL_RUNS ?? 600);
/** ARGON_MODEL_SEED replays (or pins, as CI does) fast-check's random sequences. */
const SEED = process.env.ARGON_MODEL_SEED === undefined ? {} : { seed: Number(process.env.ARGON_MODEL_SEED) };

// ---- generators ----------------------------------------------------------------------

const idArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('a', 'b', 'k', 'zz') },
);
/** Values outside the id space too, so bounds fall between and around ids. */
const idBoundValueArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -1, max: 21 }) },
  { weight: 1, arbitrary: fc.constantFrom(2.5, 10.5) },
  { weight: 2, arbitrary: fc.constantFrom('', 'a', 'b', 'c', 'zz', 'zzz') },
);
const aArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }) },
);
const uArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 9 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 0, maxLength: 2 }) },
);
const fieldsArb = fc.record({ a: aArb, b: fc.constantFrom('x', 'y', 'z', ''), u: uArb });
type Fields = { a: number | number[] | undefined; b: string; u: number | number[] | undefined };

/** Index bound values: the `a`/`u` ranges plus values outside them, null and a fraction. */
const ixValueArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -1, max: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, 3.5) },
);
const boundArb = <T>(value: fc.Arbitrary<T>) => fc.option(fc.record({ value, inclusive: fc.boolean() }), { nil: undefined });

const writeOpArb = fc.record({
  kind: fc.constantFrom('insert', 'insert', 'replace', 'upsert', 'delete'),
  coll: fc.constantFrom(...COLLS),
  id: idArb,
  f: fieldsArb,
  /** 0: reuse the previous op's collection and id, so one batch touches a document repeatedly. */
  reuse: fc.nat({ max: 3 }),
});
type AbstractWriteOp = { kind: string; coll: string; id: number | string; f: Fields; reuse: number };

/** Where and how to look after a step; numbers are resolved against the model state. */
const probeArb = fc.record({
  br: fc.nat(),
  lsnPick: fc.option(fc.nat(), { nil: undefined }),
  idLower: boundArb(idBoundValueArb),
  idUpper: boundArb(idBoundValueArb),
  ixLower: boundArb(ixValueArb),
  ixUpper: boundArb(ixValueArb),
  ixEq: fc.option(ixValueArb, { nil: undefined }),
  reverse: fc.boolean(),
  limit: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  getIds: fc.array(idArb, { maxLength: 3 }),
  /** Milliseconds the injected clock advances after the step (retention runs only). */
  tick: fc.nat({ max: 3 }),
});
type Probe = {
  br: number;
  lsnPick: number | undefined;
  idLower: ModelBound | undefined;
  idUpper: ModelBound | undefined;
  ixLower: ModelBound | undefined;
  ixUpper: ModelBound | undefined;
  ixEq: unknown;
  reverse: boolean;
  limit: number | undefined;
  getIds: (number | string)[];
  tick: number;
};

const stepArb = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('write' as const), br: fc.nat(), ops: fc.array(writeOpArb, { minLength: 1, maxLength: 4 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('branch' as const), br: fc.nat(), name: fc.nat({ max: 9 }), lsnPick: fc.option(fc.nat(), { nil: undefined }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('index' as const),
      br: fc.nat(),
      coll: fc.constantFrom(...COLLS),
      which: fc.constantFrom(...INDEX_NAMES),
      sparse: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('drop' as const), br: fc.nat(), coll: fc.constantFrom(...COLLS), which: fc.constantFrom('collection' as const, ...INDEX_NAMES) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rename' as const), br: fc.nat(), name: fc.nat({ max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), br: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), background: fc.boolean() }) },
);
type Step =
  | { t: 'write'; br: number; ops: AbstractWriteOp[] }
  | { t: 'branch'; br: number; name: number; lsnPick: number | undefined }
  | { t: 'index'; br: number; coll: string; which: IndexName; sparse: boolean }
  | { t: 'drop'; br: number; coll: string; which: 'collection' | IndexName }
  | { t: 'rename'; br: number; name: number }
  | { t: 'delete'; br: number }
  | { t: 'compact'; background: boolean };

const scenarioArb = (min: number, max: number) => fc.array(fc.tuple(stepArb, probeArb), { minLength: min, maxLength: max, size: 'max' });

// ---- helpers ---------------------------------------------------------------------------

function makeDoc(id: number | string, f: Fields): Doc {
  const d: Doc = { _id: id };
  if (f.a !== undefined) d.a = structuredClone(f.a);
  d.b = f.b;
  if (f.u !== undefined) d.u = structuredClone(f.u);
  return d;
}

function indexDef(which: IndexName, sparse: boolean): IndexDef {
  if (which === 'a_1') return { name: which, field: 'a', dir: 1, unique: false, sparse: false };
  if (which === 'a_-1') return { name: which, field: 'a', dir: -1, unique: false, sparse: false };
  return { name: which, field: 'u', dir: 1, unique: true, sparse };
}

function indexSpec(def: IndexDef): IndexSpec {
  const spec: IndexSpec = { name: def.name, key: { [def.field]: def.dir } };
  if (def.unique) spec.unique = true;
  if (def.sparse) spec.sparse = true;
  return spec;
}

function pick<T>(items: readonly T[], n: number): T {
  return items[n % items.length]!;
}

/** An LSN in [forkLsn, head] chosen by `n`. */
function pickLsn(m: RefModel, branch: string, n: number): number {
  const fork = m.branch(branch).forkLsn;
  return fork + (n % (m.lsn - fork + 1));
}

function isCode(code: number): (e: unknown) => boolean {
  return (e: unknown) => {
    if (e instanceof ArgonError && e.code === code) return true;
    throw new assert.AssertionError({ message: `expected ArgonError ${code}, got ${String((e as Error)?.stack ?? e)}` });
  };
}

async function expectRejects(p: Promise<unknown>, code: number, ctx: string): Promise<void> {
  let ok = false;
  try {
    await p;
    ok = true;
  } catch (e) {
    if (!(e instanceof ArgonError) || e.code !== code) {
      assert.fail(`${ctx}: expected ArgonError ${code}, got ${String((e as Error)?.stack ?? e)}`);
    }
  }
  if (ok) assert.fail(`${ctx}: expected ArgonError ${code}, but the call succeeded`);
}

const toRange = (lower?: ModelBound, upper?: ModelBound): IdRange => {
  const r: IdRange = {};
  if (lower) r.lower = { value: lower.value, inclusive: lower.inclusive };
  if (upper) r.upper = { value: upper.value, inclusive: upper.inclusive };
  return r;
};

const toIndexRange = (lower?: ModelBound, upper?: ModelBound): IndexRange => {
  const r: IndexRange = {};
  if (lower) r.lower = { values: [lower.value], inclusive: lower.inclusive };
  if (upper) r.upper = { values: [upper.value], inclusive: upper.inclusive };
  return r;
};

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (x === undefined ? '<undefined>' : x));

/** Renders the catalog of a point for comparison. */
function modelCatalog(state: DbState): unknown[] {
  return [...state.entries()]
    .map(([name, c]) => ({
      name,
      indexes: [...c.indexes.values()].map((ix) => show(indexSpec(ix))).sort(),
    }))
    .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

function storeCatalog(s: Store, point: ReadPoint | string): unknown[] {
  return s
    .listCollections(point, DB)
    .map((c) => ({
      name: c.name,
      indexes: c.indexes
        .filter((ix) => ix.name !== '_id_')
        .map((ix) => {
          const spec: IndexSpec = { name: ix.name, key: ix.key };
          if (ix.unique) spec.unique = true;
          if (ix.sparse) spec.sparse = true;
          return show(spec);
        })
        .sort(),
    }))
    .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

// ---- checks ----------------------------------------------------------------------------

let checks = 0;
let refusedPoints = 0;
let compactedVersions = 0;

/** Compares every read of one point (a branch head, or an as-of LSN) against the model. */
function checkPoint(s: Store, m: RefModel, branch: string, lsn: number | undefined, probe: Probe): void {
  checks++;
  const point: ReadPoint | string = lsn === undefined ? branch : { branch, lsn };
  const at = `${branch}@${lsn ?? 'head'}`;
  let state: DbState;
  try {
    state = lsn === undefined ? m.head(branch) : m.stateAt(branch, lsn);
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    // The point is out of reach (before the fork, or compacted away): every read must say so.
    refusedPoints++;
    const refused = isCode(e.code);
    assert.throws(() => [...s.scan(point, DB, 'c0')], refused, `${at}: scan should be refused (${e.message})`);
    assert.throws(() => s.get(point, DB, 'c1', 0), refused, `${at}: get should be refused (${e.message})`);
    assert.throws(() => s.count(point, DB, 'c0'), refused, `${at}: count should be refused (${e.message})`);
    assert.throws(() => s.listCollections(point, DB), refused, `${at}: listCollections should be refused (${e.message})`);
    assert.throws(() => [...s.indexScan(point, DB, 'c0', 'a_1')], refused, `${at}: indexScan should be refused (${e.message})`);
    return;
  }
  assert.deepStrictEqual(storeCatalog(s, point), modelCatalog(state), `${at}: listCollections`);
  for (const coll of COLLS) {
    const ctx = `${at} ${coll}`;
    const c = state.get(coll);
    const all = sortedDocs(c);
    assert.deepStrictEqual([...s.scan(point, DB, coll)], all, `${ctx}: scan`);
    assert.deepStrictEqual([...s.scan(point, DB, coll, {}, { reverse: true })], [...all].reverse(), `${ctx}: reverse scan`);
    assert.equal(s.count(point, DB, coll), all.length, `${ctx}: count`);
    for (const id of [...probe.getIds, ...all.slice(0, 2).map((d) => d._id as number | string)]) {
      assert.deepStrictEqual(s.get(point, DB, coll, id), c?.docs.get(idKey(id)) ?? null, `${ctx}: get ${show(id)}`);
    }
    const range = toRange(probe.idLower, probe.idUpper);
    const opts = { reverse: probe.reverse, ...(probe.limit === undefined ? {} : { limit: probe.limit }) };
    assert.deepStrictEqual(
      [...s.scan(point, DB, coll, range, opts)],
      expectedScan(c, probe.idLower, probe.idUpper, probe.reverse, probe.limit),
      `${ctx}: scan ${show(range)} ${show(opts)}`,
    );
    for (const name of INDEX_NAMES) {
      const ix = c?.indexes.get(name);
      if (!ix) {
        if (c) assert.throws(() => [...s.indexScan(point, DB, coll, name)], isCode(INDEX_NOT_FOUND), `${ctx}: ${name} should not exist`);
        else assert.deepStrictEqual([...s.indexScan(point, DB, coll, name)], [], `${ctx}: ${name} on a missing collection`);
        continue;
      }
      const cases: [ModelBound | undefined, ModelBound | undefined][] = [
        [undefined, undefined],
        [probe.ixLower, probe.ixUpper],
      ];
      if (probe.ixEq !== undefined) cases.push([{ value: probe.ixEq, inclusive: true }, { value: probe.ixEq, inclusive: true }]);
      for (const [lower, upper] of cases) {
        const ir = toIndexRange(lower, upper);
        for (const reverse of [false, true]) {
          assert.deepStrictEqual(
            [...s.indexScan(point, DB, coll, name, ir, { reverse })],
            expectedIndexScan(c!, ix, lower, upper, reverse),
            `${ctx}: indexScan ${name} ${show(ir)} reverse=${reverse}`,
          );
        }
      }
      if (probe.limit !== undefined) {
        const ir = toIndexRange(probe.ixLower, probe.ixUpper);
        assert.deepStrictEqual(
          [...s.indexScan(point, DB, coll, name, ir, { reverse: probe.reverse, limit: probe.limit })],
          expectedIndexScan(c!, ix, probe.ixLower, probe.ixUpper, probe.reverse, probe.limit),
          `${ctx}: indexScan ${name} ${show(ir)} reverse=${probe.reverse} limit=${probe.limit}`,
        );
      }
    }
  }
}

/** Branch list, head LSN, and refusals of points outside [forkLsn, head]. */
function checkBranches(s: Store, m: RefModel): void {
  assert.equal(s.headLsn, m.lsn, 'headLsn');
  const listed = s.listBranches().map((b) => ({ name: b.name, forkLsn: b.forkLsn }));
  const expected = [...m.branches.values()].map((b) => ({ name: b.name, forkLsn: b.forkLsn }));
  const byName = (x: { name: string }, y: { name: string }) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
  assert.deepStrictEqual(listed.sort(byName), expected.sort(byName), 'listBranches');
}

/** Every branch at head and at every LSN it can be read at. */
function checkEverything(s: Store, m: RefModel, probe: Probe): void {
  checkBranches(s, m);
  for (const b of m.branches.values()) {
    checkPoint(s, m, b.name, undefined, probe);
    for (let lsn = Math.max(0, b.forkLsn - 1); lsn <= m.lsn; lsn++) checkPoint(s, m, b.name, lsn, probe);
    assert.throws(() => [...s.scan({ branch: b.name, lsn: m.lsn + 1 }, DB, 'c0')], isCode(BAD_VALUE), `${b.name}: read in the future`);
  }
}

// ---- running a scenario ----------------------------------------------------------------

let stepsRun = 0;
let writesCommitted = 0;
let writesRefused = 0;

interface Env {
  dir: string;
  s: Store;
  m: RefModel;
  /** The injected clock (retention runs). */
  clock: number;
  /** Compactions started in the background, still running while later steps write and read. */
  pending: Promise<void>[];
}

/** Applies one step to the store and the model; returns the branch it touched, if any. */
async function applyStep(env: Env, step: Step): Promise<string | undefined> {
  const { s, m } = env;
  const names = [...m.branches.keys()];
  const branch = pick(names, 'br' in step ? step.br : 0);
  const ctx = `step ${show(step)} on ${branch}`;
  switch (step.t) {
    case 'write': {
      const modelOps: ModelOp[] = [];
      const storeOps: WriteOp[] = [];
      let prev: { coll: string; id: number | string } | undefined;
      for (const op of step.ops) {
        const o = op.reuse === 0 && prev ? { ...op, coll: prev.coll, id: prev.id } : op;
        prev = o;
        if (o.kind === 'delete') {
          modelOps.push({ op: 'delete', coll: o.coll, id: o.id });
          storeOps.push({ op: 'delete', db: DB, coll: o.coll, id: o.id });
        } else if (o.kind === 'insert') {
          modelOps.push({ op: 'insert', coll: o.coll, doc: makeDoc(o.id, o.f) });
          storeOps.push({ op: 'insert', db: DB, coll: o.coll, doc: makeDoc(o.id, o.f) as Document });
        } else {
          const upsert = o.kind === 'upsert';
          modelOps.push({ op: 'replace', coll: o.coll, doc: makeDoc(o.id, o.f), upsert });
          storeOps.push({ op: 'replace', db: DB, coll: o.coll, doc: makeDoc(o.id, o.f) as Document, upsert });
        }
      }
      let expected: { changed: boolean; lsn: number } | ModelError;
      try {
        expected = m.write(branch, modelOps);
      } catch (e) {
        if (!(e instanceof ModelError)) throw e;
        expected = e;
      }
      if (expected instanceof ModelError) {
        writesRefused++;
        await expectRejects(s.write(branch, storeOps), expected.code, `${ctx}: ${expected.message}`);
      } else {
        const res = await s.write(branch, storeOps);
        assert.equal(res.lsn, expected.lsn, `${ctx}: commit LSN (changed=${expected.changed})`);
        if (expected.changed) writesCommitted++;
      }
      return branch;
    }
    case 'branch': {
      const name = `b${step.name}`;
      const lsn = step.lsnPick === undefined ? undefined : pickLsn(m, branch, step.lsnPick);
      const from = lsn === undefined ? { from: branch } : { from: branch, lsn };
      try {
        m.createBranch(name, branch, lsn);
      } catch (e) {
        if (!(e instanceof ModelError)) throw e;
        await expectRejects(s.createBranch(name, from), e.code, `${ctx}: ${e.message}`);
        return undefined;
      }
      const info = await s.createBranch(name, from);
      assert.equal(info.forkLsn, lsn ?? m.lsn, `${ctx}: forkLsn`);
      assert.equal(info.parent, branch, `${ctx}: parent`);
      // Forking before the parent's own fork point must be refused.
      const parentFork = m.branch(branch).forkLsn;
      if (parentFork > 0) {
        await expectRejects(s.createBranch(`${name}x`, { from: branch, lsn: parentFork - 1 }), SNAPSHOT_TOO_OLD, `${ctx}: fork before parent's fork`);
      }
      return name;
    }
    case 'index': {
      const def = indexDef(step.which, step.sparse);
      await expectSameCatalogOutcome(
        ctx,
        () => m.createIndex(branch, step.coll, def),
        () => s.transact(branch, (tx) => tx.createIndex(DB, step.coll, indexSpec(def))),
      );
      return branch;
    }
    case 'drop': {
      await expectSameCatalogOutcome(
        ctx,
        () => (step.which === 'collection' ? m.dropCollection(branch, step.coll) : m.dropIndex(branch, step.coll, step.which)),
        () => s.transact(branch, (tx) => (step.which === 'collection' ? tx.dropCollection(DB, step.coll) : tx.dropIndex(DB, step.coll, step.which))),
      );
      return branch;
    }
    case 'compact': {
      const run = s.compact().then((report) => {
        compactedVersions += report.removedVersions;
      });
      if (step.background) env.pending.push(run);
      else await run;
      return undefined;
    }
    case 'rename': {
      const to = `b${step.name}`;
      if (branch === 'main') return undefined;
      if (m.branches.has(to)) {
        await expectRejects(s.renameBranch(branch, to), BRANCH_EXISTS, `${ctx}: name taken`);
        return undefined;
      }
      await s.renameBranch(branch, to);
      m.renameBranch(branch, to);
      assert.throws(() => s.count(branch, DB, 'c0'), isCode(BRANCH_NOT_FOUND), `${ctx}: old name still resolves`);
      return to;
    }
    case 'delete': {
      if (branch === 'main') {
        await expectRejects(s.deleteBranch('main'), BAD_VALUE, `${ctx}: deleting the root`);
        return undefined;
      }
      await s.deleteBranch(branch);
      m.deleteBranch(branch);
      assert.throws(() => s.count(branch, DB, 'c0'), isCode(BRANCH_NOT_FOUND), `${ctx}: deleted branch still resolves`);
      return undefined;
    }
  }
}

interface ScenarioOptions {
  /** Step indexes before which the store is closed and reopened. */
  reopenAt?: number[];
  /** With a retention window, the store runs on an injected clock that each probe advances. */
  retentionMs?: number;
}

async function runScenario(scenario: [Step, Probe][], { reopenAt = [], retentionMs }: ScenarioOptions = {}): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argon-model-'));
  const env = { dir, clock: 1_000, pending: [] } as unknown as Env;
  const settle = async () => {
    await Promise.all(env.pending);
    env.pending = [];
  };
  const options = retentionMs === undefined ? { compactionIntervalMs: 0 } : { compactionIntervalMs: 0, retentionMs, now: () => env.clock };
  env.s = await Store.open(dir, options);
  env.m = retentionMs === undefined ? new RefModel() : new RefModel(() => env.clock, retentionMs);
  try {
    for (let i = 0; i < scenario.length; i++) {
      const [step, probe] = scenario[i]!;
      if (reopenAt.includes(i)) {
        await settle();
        await env.s.close();
        env.s = await Store.open(dir, options);
        checkEverything(env.s, env.m, probe);
      }
      stepsRun++;
      const touched = await applyStep(env, step);
      checkBranches(env.s, env.m);
      if (touched !== undefined) checkPoint(env.s, env.m, touched, undefined, probe);
      const names = [...env.m.branches.keys()];
      const other = pick(names, probe.br);
      checkPoint(env.s, env.m, other, probe.lsnPick === undefined ? undefined : pickLsn(env.m, other, probe.lsnPick), probe);
      if (retentionMs !== undefined) env.clock += probe.tick;
    }
    await settle();
    const last = scenario[scenario.length - 1]?.[1];
    if (last) checkEverything(env.s, env.m, last);
  } finally {
    await Promise.allSettled(env.pending);
    await env.s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- properties ------------------------------------------------------------------------

test('store agrees with a copy-everything reference model (writes, branches, as-of reads, indexes)', async () => {
  const started = Date.now();
  stepsRun = 0;
  writesCommitted = 0;
  writesRefused = 0;
  checks = 0;
  await fc.assert(
    fc.asyncProperty(scenarioArb(1, 45), async (scenario) => {
      await runScenario(scenario as [Step, Probe][]);
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
  console.log(
    `model test: ${RUNS} runs, ${stepsRun} steps (${writesCommitted} committed batches, ${writesRefused} refused), ${checks} point checks, ${Date.now() - started} ms`,
  );
});

test('store agrees with the model across close and reopen', async () => {
  const started = Date.now();
  stepsRun = 0;
  checks = 0;
  const runs = Math.max(10, Math.round(RUNS / 4));
  await fc.assert(
    fc.asyncProperty(scenarioArb(1, 30), fc.nat(), fc.nat(), async (scenario, r1, r2) => {
      const at = [r1 % scenario.length, r2 % scenario.length];
      await runScenario(scenario as [Step, Probe][], { reopenAt: at });
    }),
    { numRuns: runs, includeErrorInReport: true, ...SEED },
  );
  console.log(`model reopen test: ${runs} runs, ${stepsRun} steps, ${checks} point checks, ${Date.now() - started} ms`);
});

test('store agrees with the model under a retention window, compaction and reopen', async () => {
  const started = Date.now();
  stepsRun = 0;
  checks = 0;
  refusedPoints = 0;
  compactedVersions = 0;
  const runs = Math.max(10, Math.round(RUNS / 2));
  await fc.assert(
    fc.asyncProperty(scenarioArb(1, 40), fc.integer({ min: 1, max: 12 }), fc.nat(), async (scenario, retentionMs, r) => {
      await runScenario(scenario as [Step, Probe][], { retentionMs, reopenAt: [r % scenario.length] });
    }),
    { numRuns: runs, includeErrorInReport: true, ...SEED },
  );
  console.log(
    `model retention test: ${runs} runs, ${stepsRun} steps, ${checks} point checks (${refusedPoints} refused), ${compactedVersions} versions compacted, ${Date.now() - started} ms`,
  );
});

/** Runs a catalog change on the model and the store: both fail with the same code, or commit at the same LSN. */
async function expectSameCatalogOutcome(
  ctx: string,
  onModel: () => { changed: boolean; lsn: number },
  onStore: () => Promise<{ lsn: number }>,
): Promise<void> {
  let expected: { changed: boolean; lsn: number } | ModelError;
  try {
    expected = onModel();
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    expected = e;
  }
  const p = onStore();
  if (expected instanceof ModelError) {
    await expectRejects(p, expected.code, `${ctx}: ${expected.message}`);
  } else {
    const res = await p;
    assert.equal(res.lsn, expected.lsn, `${ctx}: commit LSN (changed=${expected.changed})`);
  }
}
