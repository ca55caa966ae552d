import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from './helpers.js';

const ids = (docs: Iterable<Record<string, unknown>>) => [...docs].map((d) => d._id);

test('single-field, compound and descending indexes answer equality and range scans', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [
      { op: 'insert', db: 'd', coll: 'p', doc: { _id: 1, cat: 'a', price: 30 } },
      { op: 'insert', db: 'd', coll: 'p', doc: { _id: 2, cat: 'b', price: 10 } },
      { op: 'insert', db: 'd', coll: 'p', doc: { _id: 3, cat: 'a', price: 20 } },
      { op: 'insert', db: 'd', coll: 'p', doc: { _id: 4, cat: 'a' } },
    ]);
    await store.transact('main', (tx) => {
      tx.createIndex('d', 'p', { name: 'price_1', key: { price: 1 } });
      tx.createIndex('d', 'p', { name: 'cat_1_price_-1', key: { cat: 1, price: -1 } });
    });
    assert.deepEqual(ids(store.indexScan('main', 'd', 'p', 'price_1')), [4, 2, 3, 1], 'missing field indexes as null, first');
    assert.deepEqual(ids(store.indexScan('main', 'd', 'p', 'price_1', { lower: { values: [10], inclusive: false }, upper: { values: [30], inclusive: false } })), [3]);
    assert.deepEqual(ids(store.indexScan('main', 'd', 'p', 'price_1', {}, { reverse: true, limit: 2 })), [1, 3]);
    const catA = { lower: { values: ['a'], inclusive: true }, upper: { values: ['a'], inclusive: true } };
    assert.deepEqual(ids(store.indexScan('main', 'd', 'p', 'cat_1_price_-1', catA)), [1, 3, 4], 'price descending within cat');
    assert.deepEqual(
      ids(store.indexScan('main', 'd', 'p', 'cat_1_price_-1', { lower: { values: ['a', 25], inclusive: true }, upper: { values: ['a', 20], inclusive: true } })),
      [3],
      'bounds in index order on a descending field',
    );
    assert.deepEqual(store.listCollections('main')[0]!.indexes.map((i) => i.name), ['_id_', 'price_1', 'cat_1_price_-1']);
    await store.transact('main', (tx) => tx.dropIndex('d', 'p', 'price_1'));
    assert.throws(() => [...store.indexScan('main', 'd', 'p', 'price_1')], { codeName: 'IndexNotFound' });
  } finally {
    await done();
  }
});

test('nested fields and arrays (multikey) are indexed per element', async () => {
  const { store, done } = await tempStore();
  try {
    await store.transact('main', (tx) => {
      tx.createIndex('d', 'c', { name: 'tags', key: { tags: 1 } });
      tx.createIndex('d', 'c', { name: 'city', key: { 'addr.city': 1 } });
      tx.createIndex('d', 'c', { name: 'items.sku', key: { 'items.sku': 1 } });
      tx.insert('d', 'c', { _id: 1, tags: ['x', 'y', 'x'], addr: { city: 'Oslo' }, items: [{ sku: 'k1' }, { sku: 'k2' }] });
      tx.insert('d', 'c', { _id: 2, tags: [], addr: { city: 'Bergen' }, items: [{ sku: 'k2' }] });
      tx.insert('d', 'c', { _id: 3, tags: 'y' });
    });
    const eq = (v: unknown) => ({ lower: { values: [v], inclusive: true }, upper: { values: [v], inclusive: true } });
    assert.deepEqual(ids(store.indexScan('main', 'd', 'c', 'tags', eq('y'))), [1, 3]);
    assert.deepEqual(ids(store.indexScan('main', 'd', 'c', 'tags', eq(undefined))), [2], 'empty array indexes as undefined');
    assert.deepEqual(ids(store.indexScan('main', 'd', 'c', 'tags')), [2, 1, 3], 'a document appears once even with several keys');
    assert.deepEqual(ids(store.indexScan('main', 'd', 'c', 'city', eq('Oslo'))), [1]);
    assert.deepEqual(ids(store.indexScan('main', 'd', 'c', 'items.sku', eq('k2'))), [1, 2]);
    await store.write('main', [{ op: 'replace', db: 'd', coll: 'c', doc: { _id: 1, tags: ['z'] } }]);
    assert.deepEqual(ids(store.indexScan('main', 'd', 'c', 'tags', eq('y'))), [3], 'old keys are removed on update');
    await assert.rejects(
      store.transact('main', (tx) => tx.createIndex('d', 'c', { name: 'par', key: { tags: 1, 'items.sku': 1 } }) && tx.insert('d', 'c', { _id: 9, tags: [1], items: [{ sku: 1 }, { sku: 2 }] })),
      { codeName: 'CannotIndexParallelArrays', code: 171 },
    );
  } finally {
    await done();
  }
});

test('unique indexes are enforced per branch, with keyPattern and keyValue', async () => {
  const { store, done } = await tempStore();
  try {
    await store.transact('main', (tx) => {
      tx.createIndex('d', 'u', { name: 'email_1', key: { email: 1 }, unique: true });
      tx.insert('d', 'u', { _id: 1, email: 'a@x' });
    });
    await store.createBranch('b1');
    await store.createBranch('b2');
    await store.write('b1', [{ op: 'insert', db: 'd', coll: 'u', doc: { _id: 2, email: 'b@x' } }]);
    await store.write('b2', [{ op: 'insert', db: 'd', coll: 'u', doc: { _id: 3, email: 'b@x' } }]);
    await assert.rejects(store.write('b1', [{ op: 'insert', db: 'd', coll: 'u', doc: { _id: 4, email: 'a@x' } }]), (err: any) => {
      assert.equal(err.code, 11000);
      assert.deepEqual(err.info, { keyPattern: { email: 1 }, keyValue: { email: 'a@x' } });
      assert.match(err.message, /index: email_1 dup key: \{ email: "a@x" \}/);
      return true;
    });
    await store.write('b1', [{ op: 'replace', db: 'd', coll: 'u', doc: { _id: 1, email: 'moved@x' } }]);
    await store.write('b1', [{ op: 'insert', db: 'd', coll: 'u', doc: { _id: 4, email: 'a@x' } }]);
    await assert.rejects(store.write('main', [{ op: 'insert', db: 'd', coll: 'u', doc: { _id: 5, email: 'a@x' } }]), { code: 11000 });
    await assert.rejects(store.transact('b2', (tx) => tx.createIndex('d', 'u', { name: 'dup', key: { email: -1 }, unique: true }) && tx.insert('d', 'u', { _id: 6, email: 'b@x' })), { code: 11000 });
    await store.write('b2', [{ op: 'insert', db: 'd', coll: 'u', doc: { _id: 7, email: 'c@x' } }]);
    await assert.rejects(store.transact('b2', (tx) => tx.createIndex('d', 'u', { name: 'name_1', key: { name: 1 }, unique: true })), { code: 11000 }, 'two documents without the field collide on null');
    await store.transact('b2', (tx) => tx.createIndex('d', 'u', { name: 'name_1', key: { name: 1 }, unique: true, sparse: true }));
  } finally {
    await done();
  }
});

test('an index created on a branch exists there (and on later children) only', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 1, n: 5 } }]);
    await store.createBranch('early');
    await store.createBranch('ix');
    await store.transact('ix', (tx) => tx.createIndex('d', 'c', { name: 'n_1', key: { n: 1 } }));
    await store.createBranch('ix-child', { from: 'ix' });
    await store.write('ix-child', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 2, n: 1 } }]);
    assert.deepEqual(ids(store.indexScan('ix-child', 'd', 'c', 'n_1')), [2, 1]);
    assert.deepEqual(ids(store.indexScan('ix', 'd', 'c', 'n_1')), [1]);
    assert.throws(() => [...store.indexScan('main', 'd', 'c', 'n_1')], { codeName: 'IndexNotFound' });
    assert.throws(() => [...store.indexScan('early', 'd', 'c', 'n_1')], { codeName: 'IndexNotFound' });
    assert.deepEqual(store.listCollections('main')[0]!.indexes.map((i) => i.name), ['_id_']);
  } finally {
    await done();
  }
});

test('index definitions are validated', async () => {
  const { store, done } = await tempStore();
  try {
    const bad: [unknown, string][] = [
      [{ name: 'x', key: {} }, 'CannotCreateIndex'],
      [{ name: 'x', key: { a: 2 } }, 'CannotCreateIndex'],
      [{ name: 'x', key: { $a: 1 } }, 'CannotCreateIndex'],
      [{ name: '', key: { a: 1 } }, 'CannotCreateIndex'],
    ];
    for (const [spec, codeName] of bad) {
      await assert.rejects(store.transact('main', (tx) => tx.createIndex('d', 'c', spec as any)), { codeName });
    }
    await store.transact('main', (tx) => tx.createIndex('d', 'c', { name: 'a_1', key: { a: 1 } }));
    await store.transact('main', (tx) => tx.createIndex('d', 'c', { name: 'a_1', key: { a: 1 } }));
    await assert.rejects(store.transact('main', (tx) => tx.createIndex('d', 'c', { name: 'a_1', key: { a: -1 } })), { codeName: 'IndexKeySpecsConflict', code: 86 });
    await assert.rejects(store.transact('main', (tx) => tx.createIndex('d', 'c', { name: 'other', key: { a: 1 } })), { codeName: 'IndexOptionsConflict', code: 85 });
  } finally {
    await done();
  }
});
