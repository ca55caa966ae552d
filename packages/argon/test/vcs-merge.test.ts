import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Double } from 'bson';
import type { Store } from '../src/index.js';
import { mergeBranches, type MergeStrategy } from '../src/vcs/merge.js';
import { tempStore, uniqueEmailsAndDevBranch } from './helpers.js';

type Doc = Record<string, unknown>;
const ins = (id: unknown, extra: Doc = {}, coll = 'users') => ({ op: 'insert' as const, db: 'app', coll, doc: { _id: id, ...extra } });
const rep = (id: unknown, extra: Doc = {}, coll = 'users') => ({ op: 'replace' as const, db: 'app', coll, doc: { _id: id, ...extra } });
const del = (id: unknown, coll = 'users') => ({ op: 'delete' as const, db: 'app', coll, id });
const all = (store: Store, branch: string, coll = 'users') => [...store.scan(branch, 'app', coll)];

test('fast-forward: the target made no changes, so the source is applied as is', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1 }), ins(2, { v: 2 })]);
    await store.createBranch('dev');
    await store.write('dev', [rep(1, { v: 10 }), del(2), ins(3, { v: 3 })]);
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.equal(r.status, 'merged');
    assert.equal(r.fastForward, true);
    assert.deepEqual(r.applied, { inserted: 1, updated: 1, deleted: 1 });
    assert.deepEqual(r.conflicts, []);
    assert.equal(r.lsn, store.headLsn);
    assert.deepEqual(all(store, 'main'), all(store, 'dev'));
    // Merging again finds nothing to do.
    const again = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.equal(again.status, 'up-to-date');
    assert.equal(again.lsn, undefined);
  } finally {
    await done();
  }
});

test('nothing changed on the source: up-to-date', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1)]);
    await store.createBranch('dev');
    await store.write('main', [ins(2)]);
    const lsn = store.headLsn;
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.equal(r.status, 'up-to-date');
    assert.equal(r.fastForward, false);
    assert.equal(store.headLsn, lsn);
  } finally {
    await done();
  }
});

test('different fields of the same document merge cleanly, nested too', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 1, b: 1, n: { x: 1, y: 1 }, gone: 1 }), ins(2, { v: 1 })]);
    await store.createBranch('dev');
    await store.write('main', [rep(1, { a: 2, b: 1, n: { x: 2, y: 1 }, gone: 1, mine: true }), ins(5)]);
    await store.write('dev', [rep(1, { a: 1, b: 3, n: { x: 1, y: 3 }, theirs: new Double(1) }), rep(2, { v: 2 })]);
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.equal(r.status, 'merged');
    assert.equal(r.fastForward, false);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(r.applied, { inserted: 0, updated: 2, deleted: 0 });
    assert.deepEqual(store.get('main', 'app', 'users', 1), { _id: 1, a: 2, b: 3, n: { x: 2, y: 3 }, mine: true, theirs: 1 });
    assert.deepEqual(store.get('main', 'app', 'users', 2), { _id: 2, v: 2 });
    assert.ok(store.get('main', 'app', 'users', 5));
    // Types survive the merge: the double written on dev is still a double on main.
    const raw = store.getRaw('main', 'app', 'users', 1)!;
    const { deserialize } = await import('bson');
    assert.equal((deserialize(raw, { promoteValues: false }).theirs as { _bsontype: string })._bsontype, 'Double');
  } finally {
    await done();
  }
});

test('the same field changed differently: fail, ours, theirs', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 'base', w: 0 }), ins(2, { k: 0 })]);
    for (const s of ['fail', 'ours', 'theirs']) {
      await store.createBranch(`src-${s}`);
      await store.createBranch(`dst-${s}`);
    }
    for (const s of ['fail', 'ours', 'theirs']) {
      await store.write(`dst-${s}`, [rep(1, { v: 'ours', w: 0 })]);
      await store.write(`src-${s}`, [rep(1, { v: 'theirs', w: 1 }), rep(2, { k: 1 })]);
    }
    const expectedConflict = { kind: 'field', db: 'app', coll: 'users', id: 1, path: 'v', base: 'base', ours: 'ours', theirs: 'theirs' };

    const lsn = store.headLsn;
    const failed = await mergeBranches(store, 'src-fail', 'dst-fail', { strategy: 'fail' });
    assert.equal(failed.status, 'conflicts');
    assert.deepEqual(failed.conflicts, [expectedConflict]);
    assert.equal(failed.lsn, undefined);
    assert.equal(store.headLsn, lsn, 'a failed merge writes nothing');
    assert.deepEqual(all(store, 'dst-fail'), [{ _id: 1, v: 'ours', w: 0 }, { _id: 2, k: 0 }], 'not even the clean changes');

    const ours = await mergeBranches(store, 'src-ours', 'dst-ours', { strategy: 'ours' });
    assert.equal(ours.status, 'merged');
    assert.deepEqual(ours.conflicts, [{ ...expectedConflict, resolved: 'ours' }]);
    assert.deepEqual(all(store, 'dst-ours'), [{ _id: 1, v: 'ours', w: 1 }, { _id: 2, k: 1 }]);

    const theirs = await mergeBranches(store, 'src-theirs', 'dst-theirs', { strategy: 'theirs' });
    assert.equal(theirs.status, 'merged');
    assert.deepEqual(theirs.conflicts, [{ ...expectedConflict, resolved: 'theirs' }]);
    assert.deepEqual(all(store, 'dst-theirs'), [{ _id: 1, v: 'theirs', w: 1 }, { _id: 2, k: 1 }]);
  } finally {
    await done();
  }
});

test('delete against modify is a conflict on the whole document', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 0 }), ins(2, { v: 0 })]);
    for (const s of ['fail', 'ours', 'theirs']) {
      await store.createBranch(`src-${s}`);
      await store.createBranch(`dst-${s}`);
      await store.write(`src-${s}`, [del(1), rep(2, { v: 'theirs' })]);
      await store.write(`dst-${s}`, [rep(1, { v: 'ours' }), del(2)]);
    }
    const f = await mergeBranches(store, 'src-fail', 'dst-fail', { strategy: 'fail' });
    assert.equal(f.status, 'conflicts');
    assert.deepEqual(
      f.conflicts.map((c) => [c.kind, c.id, c.path]),
      [
        ['delete', 1, ''],
        ['delete', 2, ''],
      ],
    );
    assert.deepEqual(f.conflicts[0], { kind: 'delete', db: 'app', coll: 'users', id: 1, path: '', base: { _id: 1, v: 0 }, ours: { _id: 1, v: 'ours' }, theirs: undefined });
    assert.deepEqual(all(store, 'dst-fail'), [{ _id: 1, v: 'ours' }]);
    await mergeBranches(store, 'src-ours', 'dst-ours', { strategy: 'ours' });
    assert.deepEqual(all(store, 'dst-ours'), [{ _id: 1, v: 'ours' }]);
    const t = await mergeBranches(store, 'src-theirs', 'dst-theirs', { strategy: 'theirs' });
    assert.deepEqual(t.applied, { inserted: 1, updated: 0, deleted: 1 });
    assert.deepEqual(all(store, 'dst-theirs'), [{ _id: 2, v: 'theirs' }]);
  } finally {
    await done();
  }
});

test('a unique-index violation is reported as a conflict and nothing is written', async () => {
  const { store, done } = await tempStore();
  try {
    await uniqueEmailsAndDevBranch(store);
    await store.write('dev', [ins(2, { email: 'b@x' }), ins(3, { email: 'clean@x' })]);
    await store.write('main', [ins(4, { email: 'b@x' })]);
    const lsn = store.headLsn;
    for (const strategy of ['fail', 'theirs'] as const) {
      const r = await mergeBranches(store, 'dev', 'main', { strategy });
      assert.equal(r.status, 'conflicts');
      assert.equal(r.conflicts.length, 1);
      const c = r.conflicts[0]!;
      assert.equal(c.kind, 'unique');
      assert.equal(c.id, 2);
      assert.ok(c.kind === 'unique' && /E11000/.test(c.message));
      assert.deepEqual(c.kind === 'unique' && c.keyValue, { email: 'b@x' });
    }
    assert.equal(store.headLsn, lsn);
    assert.deepEqual(all(store, 'main').map((d) => d._id), [1, 4]);
  } finally {
    await done();
  }
});

test('unique keys moved between documents apply in a working order', async () => {
  const { store, done } = await tempStore();
  try {
    await store.transact('main', (tx) => {
      tx.createIndex('app', 'users', { name: 'email_1', key: { email: 1 }, unique: true });
      tx.insert('app', 'users', { _id: 1, email: 'b' });
      tx.insert('app', 'users', { _id: 2, email: 'a' });
    });
    await store.createBranch('dev');
    await store.write('dev', [rep(2, { email: 'c' }), rep(1, { email: 'a' })]);
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.equal(r.status, 'merged');
    assert.deepEqual(all(store, 'main'), [{ _id: 1, email: 'a' }, { _id: 2, email: 'c' }]);
  } finally {
    await done();
  }
});

test('dryRun computes the result and writes nothing', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 0, b: 0 })]);
    await store.createBranch('dev');
    await store.write('dev', [rep(1, { a: 1, b: 0 }), ins(2)]);
    await store.write('main', [rep(1, { a: 0, b: 1 })]);
    const before = all(store, 'main');
    const lsn = store.headLsn;
    const dry = await mergeBranches(store, 'dev', 'main', { strategy: 'fail', dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.status, 'merged');
    assert.deepEqual(dry.applied, { inserted: 1, updated: 1, deleted: 0 });
    assert.equal(dry.lsn, undefined);
    assert.equal(store.headLsn, lsn);
    assert.deepEqual(all(store, 'main'), before);
    const real = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.deepEqual({ ...real, lsn: undefined, dryRun: true }, { ...dry, lsn: undefined });
    assert.deepEqual(all(store, 'main'), [{ _id: 1, a: 1, b: 1 }, { _id: 2 }]);
  } finally {
    await done();
  }
});

test('an index created on the source is carried by a fast-forward merge (it was dropped before)', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1)]);
    await store.createBranch('dev');
    await store.transact('dev', (tx) => tx.createIndex('app', 'users', { name: 'v_1', key: { v: 1 } }));
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'fail' });
    assert.equal(r.status, 'merged');
    assert.deepEqual(r.objects.map((o) => [o.op, o.name]), [['createIndex', 'v_1']]);
    assert.deepEqual(store.collection('main', 'app', 'users')!.indexes.map((ix) => ix.name), ['_id_', 'v_1']);
  } finally {
    await done();
  }
});

// ---- randomized: the merge against a reference model over plain JS snapshots -----------------

const isObj = (v: unknown): v is Doc => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Order-sensitive, like BSON: a document with its fields reordered is a different document. */
const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The merge rules, restated over plain values (undefined: absent). */
function modelValue(b: unknown, o: unknown, t: unknown, prefer: 'ours' | 'theirs', conflicts: { n: number }): unknown {
  if (eq(o, t)) return o;
  if (eq(b, o)) return t;
  if (eq(b, t)) return o;
  if (isObj(o) && isObj(t) && (b === undefined || isObj(b))) {
    const out: Doc = {};
    for (const k of new Set([...Object.keys(o), ...Object.keys(t)])) {
      const v = modelValue(b?.[k], o[k], t[k], prefer, conflicts);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  conflicts.n++;
  return prefer === 'theirs' ? t : o;
}

function modelMerge(base: Map<number, Doc>, ours: Map<number, Doc>, theirs: Map<number, Doc>, strategy: MergeStrategy): { docs: Doc[]; conflicts: number } {
  const conflicts = { n: 0 };
  const out: Doc[] = [];
  const ids = [...new Set([...base.keys(), ...ours.keys(), ...theirs.keys()])].sort((x, y) => x - y);
  for (const id of ids) {
    const [b, o, t] = [base.get(id), ours.get(id), theirs.get(id)];
    let v: unknown;
    if (eq(b, t) || eq(o, t)) v = o;
    else if (eq(b, o)) v = t;
    else if (o === undefined || t === undefined) {
      conflicts.n++;
      v = strategy === 'theirs' ? t : o;
    } else v = modelValue(b, o, t, strategy === 'theirs' ? 'theirs' : 'ours', conflicts);
    if (v !== undefined) out.push(v as Doc);
  }
  if (strategy === 'fail' && conflicts.n > 0) return { docs: [...ours.values()].sort((x, y) => Number(x._id) - Number(y._id)), conflicts: conflicts.n };
  return { docs: out, conflicts: conflicts.n };
}

const leaf = fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom('p', 'q'));
const fields = fc.record({ a: leaf, b: leaf, c: leaf, n: fc.oneof(leaf, fc.record({ x: leaf, y: leaf }, { requiredKeys: [] })) }, { requiredKeys: [] });
const op = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), id: fc.nat(14), doc: fields }),
  fc.record({ kind: fc.constant('set' as const), id: fc.nat(14), field: fc.constantFrom('a', 'b', 'c', 'n.x', 'n.y'), value: fc.option(leaf) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.nat(14) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function applyOps(store: Store, branch: string, coll: string, batches: Op[][]): Promise<void> {
  for (const batch of batches) {
    await store.transact(branch, (tx) => {
      for (const o of batch) {
        if (o.kind === 'put') tx.replace('app', coll, { _id: o.id, ...o.doc }, true);
        else if (o.kind === 'delete') tx.delete('app', coll, o.id);
        else {
          const doc = tx.get('app', coll, o.id);
          if (!doc) continue;
          const [head, sub] = o.field.split('.') as [string, string | undefined];
          if (sub === undefined) {
            if (o.value === null) delete doc[head];
            else doc[head] = o.value;
          } else {
            const n = isObj(doc[head]) ? (doc[head] as Doc) : {};
            if (o.value === null) delete n[sub];
            else n[sub] = o.value;
            doc[head] = n;
          }
          tx.replace('app', coll, doc);
        }
      }
    });
  }
}

const snapshot = (store: Store, branch: string, coll: string) => new Map(all(store, branch, coll).map((d) => [d._id as number, d]));

test('randomized merges match the reference model (ours, theirs, fail)', async () => {
  const { store, done } = await tempStore();
  let run = 0;
  const seen = { conflicts: 0, updates: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ id: fc.nat(14), doc: fields }), { maxLength: 12 }),
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 3 }),
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 3 }),
        async (initial, oursOps, theirsOps) => {
          const coll = `c${++run}`;
          if (initial.length > 0) await store.transact('main', (tx) => initial.forEach((d) => tx.replace('app', coll, { _id: d.id, ...d.doc }, true)));
          const base = snapshot(store, 'main', coll);
          for (const strategy of ['ours', 'theirs', 'fail'] as const) {
            const [src, dst] = [`r${run}-${strategy}-src`, `r${run}-${strategy}-dst`];
            await store.createBranch(src);
            await store.createBranch(dst);
            await applyOps(store, dst, coll, oursOps);
            await applyOps(store, src, coll, theirsOps);
            const ours = snapshot(store, dst, coll);
            const theirs = snapshot(store, src, coll);
            const expected = modelMerge(base, ours, theirs, strategy);
            const r = await mergeBranches(store, src, dst, { strategy });
            assert.deepEqual(all(store, dst, coll), expected.docs);
            assert.equal(r.conflicts.length, expected.conflicts);
            assert.equal(r.status === 'conflicts', strategy === 'fail' && expected.conflicts > 0);
            if (r.fastForward) assert.equal(r.conflicts.length, 0);
            if (r.conflicts.length > 0) seen.conflicts++;
            if (r.applied.updated > 0) seen.updates++;
          }
        },
      ),
      { numRuns: 100 },
    );
    assert.ok(seen.conflicts > 0 && seen.updates > 0, `the generator exercised conflicts and updates: ${JSON.stringify(seen)}`);
  } finally {
    await done();
  }
});

test('merging the same source again starts from the previous merge: no false conflicts', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 1, b: 1 }), ins(2, { a: 1 })]);
    await store.createBranch('feature');
    await store.write('feature', [rep(1, { a: 2, b: 1 })]);
    await store.write('main', [rep(2, { a: 5 })]);
    assert.equal((await mergeBranches(store, 'feature', 'main')).status, 'merged');
    // The target edits the document it merged; the source edits a different one.
    await store.write('main', [rep(1, { a: 2, b: 7 })]);
    await store.write('feature', [ins(3, { a: 3 })]);
    const second = await mergeBranches(store, 'feature', 'main');
    assert.equal(second.status, 'merged');
    assert.deepEqual(second.conflicts, []);
    assert.deepEqual(second.applied, { inserted: 1, updated: 0, deleted: 0 });
    assert.deepEqual(all(store, 'main'), [{ _id: 1, a: 2, b: 7 }, { _id: 2, a: 5 }, { _id: 3, a: 3 }]);
    assert.equal((await mergeBranches(store, 'feature', 'main')).status, 'up-to-date');
    // A later change to the document both sides touched is still a real conflict.
    await store.write('feature', [rep(1, { a: 9, b: 1 })]);
    await store.write('main', [rep(1, { a: 8, b: 7 })]);
    const third = await mergeBranches(store, 'feature', 'main');
    assert.equal(third.status, 'conflicts');
    assert.deepEqual(third.conflicts.map((c) => c.path), ['a']);
  } finally {
    await done();
  }
});

test('revert undoes an LSN range as a new change, keeping later edits or reporting them', async () => {
  const { revertRange } = await import('../src/vcs/merge.js');
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 1, b: 1 }), ins(2, { a: 1 })]);
    const bad = await store.write('main', [rep(1, { a: 99, b: 1 }), del(2), ins(3, { junk: true })]);
    await store.write('main', [ins(4, { keep: true })]);
    const r = await revertRange(store, 'main', { fromLsn: bad.lsn });
    assert.equal(r.status, 'merged');
    assert.deepEqual(r.applied, { inserted: 1, updated: 1, deleted: 1 });
    assert.deepEqual(all(store, 'main'), [{ _id: 1, a: 1, b: 1 }, { _id: 2, a: 1 }, { _id: 4, keep: true }]);
    assert.ok(r.lsn! > bad.lsn, 'the revert is a new change');

    const second = await store.write('main', [rep(1, { a: 5, b: 1 })]);
    await store.write('main', [rep(1, { a: 6, b: 2 })]);
    const conflicted = await revertRange(store, 'main', { fromLsn: second.lsn });
    assert.equal(conflicted.status, 'conflicts');
    assert.deepEqual(conflicted.conflicts.map((c) => c.path), ['a']);
    assert.deepEqual(all(store, 'main')[0], { _id: 1, a: 6, b: 2 }, 'nothing written');
    assert.equal((await revertRange(store, 'main', { fromLsn: second.lsn }, { strategy: 'theirs' })).status, 'merged');
    assert.deepEqual(all(store, 'main')[0], { _id: 1, a: 1, b: 2 }, 'a reverted, the later change to b kept');
  } finally {
    await done();
  }
});
