import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, Double, Int32 } from 'bson';
import type { Store } from '../src/index.js';
import { ArgonError } from '../src/errors.js';
import { mergeBranches } from '../src/vcs/merge.js';
import { abortMerge, pendingMerge, resolveConflict, startManualMerge } from '../src/vcs/manual.js';
import { tempStore, uniqueEmailsAndDevBranch } from './helpers.js';

type Doc = Record<string, unknown>;
const ins = (id: unknown, extra: Doc = {}) => ({ op: 'insert' as const, db: 'app', coll: 'users', doc: { _id: id, ...extra } });
const rep = (id: unknown, extra: Doc = {}) => ({ op: 'replace' as const, db: 'app', coll: 'users', doc: { _id: id, ...extra } });
const del = (id: unknown) => ({ op: 'delete' as const, db: 'app', coll: 'users', id });
const all = (store: Store, branch: string) => [...store.scan(branch, 'app', 'users')];
const code = (name: string) => (err: unknown) => err instanceof ArgonError && err.codeName === name;

/** main and dev share { _id: 1, a: 0, b: 0 } and { _id: 2, v: 0 }; both then change `a` of 1 differently. */
async function conflicted(store: Store): Promise<void> {
  await store.write('main', [ins(1, { a: 0, b: 0 }), ins(2, { v: 0 })]);
  await store.createBranch('dev');
  await store.write('main', [rep(1, { a: 'main', b: 0 })]);
  await store.write('dev', [rep(1, { a: 'dev', b: 'dev' }), rep(2, { v: 'dev' })]);
}

test('a manual merge with conflicts writes nothing, stores them, and completes when the last is resolved', async () => {
  const { store, done } = await tempStore();
  try {
    await conflicted(store);
    const before = store.headLsn;
    const r = await startManualMerge(store, 'dev', 'main', false);
    assert.equal(r.status, 'conflicts');
    assert.equal(store.headLsn, before, 'nothing is written');
    assert.deepEqual(all(store, 'main'), [{ _id: 1, a: 'main', b: 0 }, { _id: 2, v: 0 }]);
    assert.ok(r.pending);
    const pending = pendingMerge(store, 'main')!;
    assert.equal(pending.id, r.pending.id);
    assert.equal(pending.source, 'dev');
    assert.equal(pending.target, 'main');
    assert.ok(pending.created instanceof Date);
    assert.deepEqual(
      pending.conflicts.map(({ id, kind, db, coll, documentId, path, base, ours, theirs, resolution }) => ({ id, kind, db, coll, documentId, path, base, ours, theirs, resolution })),
      [{ id: 1, kind: 'field', db: 'app', coll: 'users', documentId: new Int32(1), path: 'a', base: new Int32(0), ours: 'main', theirs: 'dev', resolution: null }],
    );

    const resolved = await resolveConflict(store, 'main', 1, 'theirs');
    assert.equal(resolved.merge, null, 'the last resolution completes the merge');
    assert.equal(resolved.result!.status, 'merged');
    assert.deepEqual(resolved.result!.applied, { inserted: 0, updated: 2, deleted: 0 });
    assert.deepEqual(resolved.result!.conflicts.map((c) => [c.path, c.resolved]), [['a', 'theirs']]);
    assert.deepEqual(all(store, 'main'), [{ _id: 1, a: 'dev', b: 'dev' }, { _id: 2, v: 'dev' }]);
    assert.equal(pendingMerge(store, 'main'), null);
    assert.equal(store.headLsn, before + 1, 'one batch');
    assert.equal((await mergeBranches(store, 'dev', 'main')).status, 'up-to-date', 'the merge is recorded');
  } finally {
    await done();
  }
});

test('a manual merge without conflicts merges at once; dry runs store nothing; a second one is refused while one is pending', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 0 })]);
    await store.createBranch('clean');
    await store.write('clean', [ins(9)]);
    const clean = await startManualMerge(store, 'clean', 'main', false);
    assert.equal(clean.status, 'merged');
    assert.equal(clean.pending, undefined);
    assert.equal(pendingMerge(store, 'main'), null);

    await store.createBranch('dev');
    await store.write('main', [rep(1, { a: 1 })]);
    await store.write('dev', [rep(1, { a: 2 })]);
    const dry = await startManualMerge(store, 'dev', 'main', true);
    assert.equal(dry.status, 'conflicts');
    assert.equal(dry.pending, undefined);
    assert.equal(pendingMerge(store, 'main'), null, 'a dry run stores nothing');

    await startManualMerge(store, 'dev', 'main', false);
    await assert.rejects(startManualMerge(store, 'dev', 'main', false), (err: unknown) => code('MergeInProgress')(err) && /pending \(1 unresolved conflicts\)/.test((err as Error).message));
    assert.equal((await startManualMerge(store, 'dev', 'main', true)).status, 'conflicts', 'a dry run is still allowed');
    assert.equal((await mergeBranches(store, 'dev', 'main', { strategy: 'ours' })).status, 'merged', 'other strategies are not blocked');
  } finally {
    await done();
  }
});

test('abort drops the pending merge and leaves the target as it was', async () => {
  const { store, done } = await tempStore();
  try {
    await conflicted(store);
    const again = await startManualMerge(store, 'dev', 'main', false);
    assert.equal(again.status, 'conflicts');
    const snapshot = all(store, 'main');
    const aborted = await abortMerge(store, 'main');
    assert.equal(aborted.id, again.pending!.id);
    assert.equal(pendingMerge(store, 'main'), null);
    assert.deepEqual(all(store, 'main'), snapshot);
    await assert.rejects(abortMerge(store, 'main'), code('NoSuchKey'));
    await assert.rejects(resolveConflict(store, 'main', 1, 'ours'), code('NoSuchKey'));
  } finally {
    await done();
  }
});

test('completion re-runs the merge: changes made meanwhile are merged, and conflicts that changed or appeared wait again', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 0, b: 0 }), ins(2, { v: 0 }), ins(3, { w: 0 }), ins(4, { x: 0 })]);
    await store.createBranch('dev');
    await store.write('main', [rep(1, { a: 'main', b: 0 }), rep(2, { v: 'main' })]);
    await store.write('dev', [rep(1, { a: 'dev', b: 0 }), rep(2, { v: 'dev' }), rep(3, { w: 'dev' }), rep(4, { x: 'dev' })]);
    const { pending } = await startManualMerge(store, 'dev', 'main', false);
    assert.deepEqual(pending!.conflicts.map((c) => [c.id, Number(c.documentId), c.path]), [[1, 1, 'a'], [2, 2, 'v']]);

    // Meanwhile: main changes `v` of 2 again (that conflict's values change), edits 3 (a new conflict) and adds 5.
    await store.write('main', [rep(2, { v: 'main2' }), rep(3, { w: 'main' }), ins(5)]);
    const first = await resolveConflict(store, 'main', 1, 'theirs');
    assert.ok(first.merge, 'one conflict left: no completion yet');
    assert.equal(first.result, undefined);
    const second = await resolveConflict(store, 'main', 2, 'theirs');
    assert.equal(second.result!.status, 'conflicts', 'the re-run found conflicts');
    assert.ok(second.merge);
    assert.deepEqual(
      second.merge.conflicts.map((c) => [c.id, Number(c.documentId), c.path, c.ours, c.resolution?.take ?? null]),
      [
        [1, 1, 'a', 'main', 'theirs'],
        [3, 2, 'v', 'main2', null],
        [4, 3, 'w', 'main', null],
      ],
    );
    assert.deepEqual(all(store, 'main').map((d) => d._id), [1, 2, 3, 4, 5], 'still nothing written');
    assert.equal(store.get('main', 'app', 'users', 4)!.x, 0);

    await assert.rejects(resolveConflict(store, 'main', 2, 'theirs'), code('NoSuchKey'), 'conflict 2 was superseded');
    assert.ok((await resolveConflict(store, 'main', 3, 'ours')).merge);
    const done3 = await resolveConflict(store, 'main', 4, 'value', 'both');
    assert.equal(done3.merge, null);
    assert.deepEqual(all(store, 'main'), [
      { _id: 1, a: 'dev', b: 0 },
      { _id: 2, v: 'main2' },
      { _id: 3, w: 'both' },
      { _id: 4, x: 'dev' },
      { _id: 5 },
    ]);
  } finally {
    await done();
  }
});

test('the source is merged as it was when the manual merge started; its later changes wait for the next merge', async () => {
  const { store, done } = await tempStore();
  try {
    await conflicted(store);
    await startManualMerge(store, 'dev', 'main', false);
    await store.write('dev', [ins(7)]);
    await resolveConflict(store, 'main', 1, 'ours');
    assert.equal(store.get('main', 'app', 'users', 7), null);
    assert.equal(store.get('main', 'app', 'users', 1)!.b, 'dev', 'the non-conflicting field of 1 merged');
    const next = await mergeBranches(store, 'dev', 'main');
    assert.equal(next.status, 'merged');
    assert.deepEqual(next.applied, { inserted: 1, updated: 0, deleted: 0 });
  } finally {
    await done();
  }
});

test('delete-vs-modify conflicts resolve by keeping, deleting or replacing the document', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 0 }), ins(2, { v: 0 }), ins(3, { v: 0 })]);
    await store.createBranch('dev');
    await store.write('main', [del(1), del(2), rep(3, { v: 'main' })]);
    await store.write('dev', [rep(1, { v: 'dev' }), rep(2, { v: 'dev' }), del(3)]);
    const { pending } = await startManualMerge(store, 'dev', 'main', false);
    assert.deepEqual(pending!.conflicts.map((c) => [c.id, c.kind, Number(c.documentId), 'ours' in c, 'theirs' in c]), [
      [1, 'delete', 1, false, true],
      [2, 'delete', 2, false, true],
      [3, 'delete', 3, true, false],
    ]);
    await assert.rejects(resolveConflict(store, 'main', 1, 'value', { _id: 99 }), code('BadValue'));
    await assert.rejects(resolveConflict(store, 'main', 1, 'value', 'not a document'), code('BadValue'));
    await resolveConflict(store, 'main', 1, 'keep');
    assert.equal(pendingMerge(store, 'main')!.conflicts[0]!.resolution!.take, 'theirs', 'keep: the side that has the document');
    await resolveConflict(store, 'main', 2, 'value', { v: 'by hand' });
    const last = await resolveConflict(store, 'main', 3, 'delete');
    assert.equal(last.merge, null);
    assert.deepEqual(all(store, 'main'), [
      { _id: 1, v: 'dev' },
      { _id: 2, v: 'by hand' },
    ]);
  } finally {
    await done();
  }
});

test('unique violations are pending conflicts too, resolved by another document, by keeping ours or by deleting', async () => {
  const { store, done } = await tempStore();
  try {
    await uniqueEmailsAndDevBranch(store);
    await store.write('main', [ins(2, { email: 'b@x' }), ins(4, { email: 'd@x' })]);
    await store.write('dev', [ins(3, { email: 'b@x' }), ins(5, { email: 'd@x' })]);
    const r = await startManualMerge(store, 'dev', 'main', false);
    assert.equal(r.status, 'conflicts');
    const conflicts = pendingMerge(store, 'main')!.conflicts;
    assert.deepEqual(conflicts.map((c) => [c.id, c.kind, Number(c.documentId), 'ours' in c]), [
      [1, 'unique', 3, false],
      [2, 'unique', 5, false],
    ]);
    assert.match(conflicts[0]!.message!, /E11000/);
    assert.deepEqual(conflicts[0]!.theirs, { _id: new Int32(3), email: 'b@x' });
    await assert.rejects(resolveConflict(store, 'main', 1, 'theirs'), code('BadValue'), 'theirs is what violates the index');

    // A resolved document that still violates the index comes back as a new conflict.
    await resolveConflict(store, 'main', 1, 'value', { email: 'a@x' });
    const still = await resolveConflict(store, 'main', 2, 'delete');
    assert.equal(still.result!.status, 'conflicts');
    const again = still.merge!.conflicts.find((c) => c.resolution === null)!;
    assert.deepEqual([again.id, again.kind, again.theirs], [3, 'unique', { _id: new Int32(3), email: 'a@x' }]);
    const last = await resolveConflict(store, 'main', 3, 'value', { _id: 3, email: 'c@x' });
    assert.equal(last.merge, null);
    assert.deepEqual(all(store, 'main'), [
      { _id: 1, email: 'a@x' },
      { _id: 2, email: 'b@x' },
      { _id: 3, email: 'c@x' },
      { _id: 4, email: 'd@x' },
    ]);
  } finally {
    await done();
  }
});

test('resolutions are checked against the conflict kind, and values keep their exact BSON types', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { n: new Int32(1) })]);
    await store.createBranch('dev');
    await store.write('main', [rep(1, { n: new Double(2) })]);
    await store.write('dev', [rep(1, { n: new Int32(3) })]);
    const { pending } = await startManualMerge(store, 'dev', 'main', false);
    const [c] = pending!.conflicts;
    assert.ok(c!.ours instanceof Double && c!.theirs instanceof Int32 && c!.base instanceof Int32, 'stored exactly');
    await assert.rejects(resolveConflict(store, 'main', 1, 'keep'), code('BadValue'), 'keep is for delete-vs-modify');
    await assert.rejects(resolveConflict(store, 'main', 1, 'value'), code('BadValue'), 'value needs a value');
    await assert.rejects(resolveConflict(store, 'main', 9, 'ours'), code('NoSuchKey'));
    await resolveConflict(store, 'main', 1, 'theirs');
    const stored = deserialize(store.getRaw('main', 'app', 'users', 1)!, { promoteValues: false });
    assert.ok(stored.n instanceof Int32 && stored.n.value === 3, 'the source int32 is written as an int32');
  } finally {
    await done();
  }
});
