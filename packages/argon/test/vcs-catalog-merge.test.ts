import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from '../src/storage/store.js';
import { diffRefs } from '../src/vcs/diff.js';
import { mergeBranches, revertRange } from '../src/vcs/merge.js';
import { compileValidator } from '../src/query/validator.js';
import { tempStore } from './helpers.js';

const ins = (id: unknown, extra: Record<string, unknown> = {}, coll = 'users') => ({ op: 'insert' as const, db: 'app', coll, doc: { _id: id, ...extra } });
const indexes = (store: Store, branch: string, coll = 'users') => store.collection(branch, 'app', coll)?.indexes.filter((ix) => ix.name !== '_id_') ?? null;
const indexNames = (store: Store, branch: string, coll = 'users') => indexes(store, branch, coll)?.map((ix) => ix.name).sort() ?? null;
const docs = (store: Store, branch: string, coll = 'users') => [...store.scan(branch, 'app', coll)];

test('indexes created and dropped on the source reach the target in a three-way merge, and the diff lists them', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1, w: 1 })]);
    await store.transact('main', (tx) => tx.createIndex('app', 'users', { name: 'w_1', key: { w: 1 } }));
    await store.createBranch('dev');
    await store.transact('dev', (tx) => {
      tx.createIndex('app', 'users', { name: 'v_1', key: { v: 1 }, unique: true });
      tx.dropIndex('app', 'users', 'w_1');
    });
    await store.write('main', [ins(2, { v: 2 })]); // the target moved too: not a fast-forward
    const diff = diffRefs(store, 'main', 'dev');
    assert.deepEqual(diff.objects.filter((o) => o.side === 'to').map((o) => [o.op, o.name]), [['createIndex', 'v_1'], ['dropIndex', 'w_1']]);
    const r = await mergeBranches(store, 'dev', 'main');
    assert.equal(r.status, 'merged');
    assert.equal(r.fastForward, false);
    assert.deepEqual(indexNames(store, 'main'), ['v_1']);
    const v1 = indexes(store, 'main')![0]!;
    assert.equal(v1.unique, true);
    // The index is real on the target: it finds the target's own document, and enforces uniqueness.
    assert.deepEqual([...store.indexScan('main', 'app', 'users', 'v_1', {})].map((d: any) => d._id), [1, 2]);
    await assert.rejects(store.write('main', [ins(3, { v: 2 })]), /duplicate key/);
  } finally {
    await done();
  }
});

test('collections created and dropped on the source are created and dropped on the target', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, {}, 'old'), ins(1)]);
    await store.createBranch('dev');
    await store.transact('dev', (tx) => {
      tx.dropCollection('app', 'old');
      tx.createCollection('app', 'empty');
      tx.createIndex('app', 'fresh', { name: 'a_1', key: { a: 1 } });
      tx.insert('app', 'fresh', { _id: 'f', a: 1 });
    });
    const r = await mergeBranches(store, 'dev', 'main');
    assert.equal(r.status, 'merged');
    assert.equal(store.collection('main', 'app', 'old'), null);
    assert.deepEqual(indexNames(store, 'main', 'empty'), []);
    assert.deepEqual(indexNames(store, 'main', 'fresh'), ['a_1']);
    assert.deepEqual(docs(store, 'main', 'fresh'), [{ _id: 'f', a: 1 }]);
  } finally {
    await done();
  }
});

test('a rename on the source renames the target collection, with the changes either side made to its documents', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 1 }), ins(2, { a: 2 })]);
    await store.transact('main', (tx) => tx.createIndex('app', 'users', { name: 'a_1', key: { a: 1 } }));
    await store.createBranch('dev');
    await store.transact('dev', (tx) => tx.replace('app', 'users', { _id: 1, a: 10 }));
    await store.transact('dev', (tx) => tx.renameCollection('app', 'users', 'people'));
    await store.transact('dev', (tx) => tx.insert('app', 'people', { _id: 3, a: 3 }));
    await store.transact('main', (tx) => tx.replace('app', 'users', { _id: 2, a: 2, b: 'main' }));
    const r = await mergeBranches(store, 'dev', 'main');
    assert.equal(r.status, 'merged', JSON.stringify(r.conflicts));
    assert.equal(store.collection('main', 'app', 'users'), null);
    assert.deepEqual(docs(store, 'main', 'people'), [{ _id: 1, a: 10 }, { _id: 2, a: 2, b: 'main' }, { _id: 3, a: 3 }]);
    assert.deepEqual(indexNames(store, 'main', 'people'), ['a_1']);
  } finally {
    await done();
  }
});

test('the same index name defined differently on both sides is a catalog conflict; ours and theirs settle it', async () => {
  for (const strategy of ['fail', 'ours', 'theirs'] as const) {
    const { store, done } = await tempStore();
    try {
      await store.write('main', [ins(1, { a: 1, b: 1 })]);
      await store.createBranch('dev');
      await store.transact('dev', (tx) => tx.createIndex('app', 'users', { name: 'ix', key: { a: 1 } }));
      await store.transact('main', (tx) => tx.createIndex('app', 'users', { name: 'ix', key: { b: 1 } }));
      const r = await mergeBranches(store, 'dev', 'main', { strategy });
      const [c] = r.conflicts;
      assert.equal(c?.kind, 'catalog');
      assert.equal(c?.path, 'indexes.ix');
      assert.deepEqual([(c as any).ours?.key, (c as any).theirs?.key], [{ b: 1 }, { a: 1 }]);
      const key = indexes(store, 'main')![0]!.key;
      if (strategy === 'fail') {
        assert.equal(r.status, 'conflicts');
        assert.deepEqual(key, { b: 1 });
      } else {
        assert.equal(r.status, 'merged');
        assert.deepEqual(key, strategy === 'ours' ? { b: 1 } : { a: 1 });
      }
    } finally {
      await done();
    }
  }
});

test('a unique index the target\'s documents violate is an unresolved conflict: nothing is written', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1 })]);
    await store.createBranch('dev');
    await store.transact('dev', (tx) => tx.createIndex('app', 'users', { name: 'v_1', key: { v: 1 }, unique: true }));
    await store.write('main', [ins(2, { v: 1 })]);
    const lsn = store.headLsn;
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'theirs' });
    assert.equal(r.status, 'conflicts');
    assert.ok(r.conflicts.some((c) => c.kind === 'catalog' && c.resolved === undefined && /duplicate key/.test((c as any).message)));
    assert.equal(store.headLsn, lsn);
    assert.deepEqual(indexNames(store, 'main'), []);
  } finally {
    await done();
  }
});

test('a collection the source dropped while the target changed its documents is a conflict, not a silent loss', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1)]);
    await store.createBranch('dev');
    await store.transact('dev', (tx) => tx.dropCollection('app', 'users'));
    await store.write('main', [ins(2)]);
    const r = await mergeBranches(store, 'dev', 'main');
    assert.equal(r.status, 'conflicts');
    assert.equal(r.conflicts[0]?.kind, 'catalog');
    assert.equal(docs(store, 'main').length, 2);
    const theirs = await mergeBranches(store, 'dev', 'main', { strategy: 'theirs' });
    assert.equal(theirs.status, 'merged');
    assert.equal(store.collection('main', 'app', 'users'), null);
  } finally {
    await done();
  }
});

test('revert of an index creation drops the index', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1 })]);
    const { lsn } = await store.transact('main', (tx) => tx.createIndex('app', 'users', { name: 'v_1', key: { v: 1 } }));
    await store.write('main', [ins(2, { v: 2 })]);
    const r = await revertRange(store, 'main', { fromLsn: lsn });
    assert.equal(r.status, 'merged');
    assert.deepEqual(indexNames(store, 'main'), []);
    assert.equal(docs(store, 'main').length, 2);
  } finally {
    await done();
  }
});

test('validation options set on the source reach the target; set differently on both sides they conflict', async () => {
  const { store, done } = await tempStore({ compileValidator });
  try {
    await store.write('main', [ins(1, { age: 30 }), ins(1, {}, 'orders')]);
    await store.createBranch('dev');
    const adult = { $jsonSchema: { required: ['age'], properties: { age: { bsonType: 'int', minimum: 18 } } } };
    await store.transact('dev', (tx) => tx.setValidation('app', 'users', { validator: adult, validationLevel: 'strict', validationAction: 'error' }));
    await store.transact('dev', (tx) => tx.setValidation('app', 'orders', { validator: { total: { $gte: 0 } } }));
    await store.transact('main', (tx) => tx.setValidation('app', 'orders', { validator: { total: { $lt: 100 } } }));
    assert.ok(diffRefs(store, 'main', 'dev').objects.some((o) => o.op === 'collMod' && o.coll === 'users'));
    const r = await mergeBranches(store, 'dev', 'main', { strategy: 'ours' });
    assert.equal(r.status, 'merged');
    assert.deepEqual(r.conflicts.map((c) => [c.kind, c.coll, c.path, c.resolved]), [['catalog', 'orders', 'validation', 'ours']]);
    assert.deepEqual(store.catalogEntry('main', 'app', 'users')!.validationLevel, 'strict');
    // The merged validator is enforced on the target.
    await assert.rejects(store.write('main', [ins(2, { age: 3 })]), /Document failed validation/);
    assert.deepEqual(JSON.parse(JSON.stringify(store.catalogEntry('main', 'app', 'orders')!.validator)), { total: { $lt: 100 } });
  } finally {
    await done();
  }
});
