import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, ObjectId } from 'bson';
import { tempStore } from './helpers.js';

test('a batch is atomic: a duplicate _id fails the batch and writes nothing', async () => {
  const { store, done } = await tempStore();
  try {
    const ok = await store.write('main', [
      { op: 'insert', db: 'a', coll: 'x', doc: { _id: 1 } },
      { op: 'insert', db: 'b', coll: 'y', doc: { _id: 1 } },
    ]);
    assert.equal(ok.lsn, 1, 'one LSN for the whole batch across collections');
    await assert.rejects(
      store.write('main', [
        { op: 'insert', db: 'a', coll: 'x', doc: { _id: 2 } },
        { op: 'insert', db: 'a', coll: 'x', doc: { _id: 1.0 } },
      ]),
      (err: any) => err.code === 11000 && err.info.keyValue._id === 1 && /E11000 duplicate key error collection: a.x index: _id_/.test(err.message),
    );
    assert.equal(store.get('main', 'a', 'x', 2), null);
    assert.equal(store.headLsn, 1);
    assert.equal(store.count('main', 'a', 'x'), 1);
  } finally {
    await done();
  }
});

test('ids of any BSON type, ordered as MongoDB orders them', async () => {
  const { store, done } = await tempStore();
  try {
    const oid = new ObjectId();
    const ids = [oid, 'str', 3, new Long(2), 1.5, null, { k: 1 }, true, new Date(0)];
    await store.write('main', ids.map((id) => ({ op: 'insert' as const, db: 'd', coll: 'c', doc: { _id: id } })));
    const order = [...store.scan('main', 'd', 'c')].map((d) => d._id);
    assert.deepEqual(order.map(String), [null, 1.5, 2, 3, 'str', { k: 1 }, oid, true, new Date(0)].map(String));
    const range = [...store.scan('main', 'd', 'c', { lower: { value: 1.5, inclusive: false }, upper: { value: 3, inclusive: true } })];
    assert.deepEqual(range.map((d) => Number(d._id)), [2, 3]);
    assert.deepEqual([...store.scan('main', 'd', 'c', {}, { reverse: true, limit: 2 })].map((d) => String(d._id)), [String(new Date(0)), 'true']);
  } finally {
    await done();
  }
});

test('bad input gets a typed error and writes nothing', async () => {
  const { store, done } = await tempStore();
  try {
    const cases: [unknown, string, number][] = [
      [{ op: 'insert', db: 'bad.db', coll: 'c', doc: { _id: 1 } }, 'InvalidNamespace', 73],
      [{ op: 'insert', db: 'a'.repeat(64), coll: 'c', doc: { _id: 1 } }, 'InvalidNamespace', 73],
      [{ op: 'insert', db: 'd', coll: 'has$dollar', doc: { _id: 1 } }, 'InvalidNamespace', 73],
      [{ op: 'insert', db: 'd', coll: '', doc: { _id: 1 } }, 'InvalidNamespace', 73],
      [{ op: 'insert', db: 'd', coll: 'system.users', doc: { _id: 1 } }, 'InvalidNamespace', 73],
      [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: [1, 2] } }, 'InvalidIdField', 53],
      [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: /re/ } }, 'InvalidIdField', 53],
      [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: { $gt: 1 } } }, 'DollarPrefixedFieldName', 52],
      [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 1, big: 'x'.repeat(16 * 1024 * 1024) } }, 'BSONObjectTooLarge', 10334],
      [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 'k'.repeat(2000) } }, 'KeyTooLong', 17280],
    ];
    for (const [op, codeName, code] of cases) {
      await assert.rejects(store.write('main', [{ op: 'insert', db: 'd', coll: 'ok', doc: { _id: 'first' } }, op as any]), { codeName, code }, codeName);
    }
    await store.write('main', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 1, $price: 5 } }]);
    await assert.rejects(store.write('main', [{ op: 'replace', db: 'd', coll: 'c', doc: { _id: 1, $price: 6 } }]), { codeName: 'DollarPrefixedFieldName' });
    assert.deepEqual(store.listCollections('main').map((c) => `${c.db}.${c.name}`), ['d.c'], 'no failed batch created anything');
    assert.equal(store.get('main', 'd', 'c', 1)!.$price, 5);
  } finally {
    await done();
  }
});

test('replace, upsert and delete; collections: create, drop, rename', async () => {
  const { store, done } = await tempStore();
  try {
    const r = await store.transact('main', (tx) => [
      tx.replace('d', 'c', { _id: 1, v: 1 }),
      tx.replace('d', 'c', { _id: 1, v: 2 }, true),
      tx.replace('d', 'c', { _id: 1, v: 3 }),
      tx.delete('d', 'c', 99),
    ]);
    assert.deepEqual(r.result, ['missing', 'inserted', 'updated', false]);
    assert.equal(store.get('main', 'd', 'c', 1)!.v, 3);
    await store.createBranch('keep');
    await store.transact('main', (tx) => tx.renameCollection('d', 'c', 'renamed'));
    assert.equal(store.get('main', 'd', 'renamed', 1)!.v, 3);
    assert.equal(store.get('main', 'd', 'c', 1), null);
    await store.transact('main', (tx) => tx.dropCollection('d', 'renamed'));
    assert.deepEqual(store.listCollections('main'), []);
    assert.deepEqual(store.listDatabases('keep'), ['d'], 'the branch keeps its collection');
    await store.write('main', [{ op: 'insert', db: 'd', coll: 'renamed', doc: { _id: 2 } }]);
    assert.deepEqual([...store.scan('main', 'd', 'renamed')].map((d) => d._id), [2], 'a re-created collection starts empty');
  } finally {
    await done();
  }
});

test('the change log is readable per branch from any LSN', async () => {
  const { store, done } = await tempStore();
  try {
    const a = await store.write('main', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 1 } }]);
    await store.createBranch('dev');
    const b = await store.write('dev', [{ op: 'replace', db: 'd', coll: 'c', doc: { _id: 1, x: 1 } }]);
    await store.write('main', [{ op: 'delete', db: 'd', coll: 'c', id: 1 }]);
    const devLog = [...store.log('dev')];
    assert.deepEqual(devLog.map((e) => [e.lsn, e.branch]), [[a.lsn, 'main'], [b.lsn, 'dev']]);
    assert.deepEqual(devLog[0]!.changes.map((c) => c.op), ['createCollection', 'insert']);
    assert.deepEqual(devLog[1]!.changes, [{ op: 'update', db: 'd', coll: 'c', id: 1 }]);
    assert.deepEqual([...store.log('dev', { fromLsn: b.lsn })].map((e) => e.lsn), [b.lsn]);
    assert.deepEqual([...store.log('main')].map((e) => e.changes.at(-1)!.op), ['insert', 'delete']);
  } finally {
    await done();
  }
});

test('scans stay right past long version histories (seeking beyond a hot document)', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', Array.from({ length: 5 }, (_, i) => ({ op: 'insert' as const, db: 'd', coll: 'c', doc: { _id: i, v: 0 } })));
    await store.createBranch('early');
    for (let v = 1; v <= 40; v++) {
      await store.write('main', [{ op: 'replace', db: 'd', coll: 'c', doc: { _id: 2, v } }, { op: 'replace', db: 'd', coll: 'c', doc: { _id: 3, v } }]);
    }
    const mid = store.headLsn - 20;
    assert.deepEqual([...store.scan('main', 'd', 'c')].map((d) => [d._id, d.v]), [[0, 0], [1, 0], [2, 40], [3, 40], [4, 0]]);
    assert.deepEqual([...store.scan('early', 'd', 'c')].map((d) => d.v), [0, 0, 0, 0, 0]);
    assert.deepEqual([...store.scan({ branch: 'main', lsn: mid }, 'd', 'c')].map((d) => d.v), [0, 0, 20, 20, 0]);
    assert.deepEqual([...store.scan('main', 'd', 'c', { lower: { value: 2, inclusive: false } })].map((d) => d._id), [3, 4]);
    assert.deepEqual([...store.scan('main', 'd', 'c', {}, { reverse: true })].map((d) => d.v), [0, 40, 40, 0, 0]);
  } finally {
    await done();
  }
});
