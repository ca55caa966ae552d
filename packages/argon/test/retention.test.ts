import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from './helpers.js';

const HOUR = 3_600_000;

test('history older than the retention window is compacted, except what branches and tags need', async () => {
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const { store, done } = await tempStore({ now: () => clock, retentionMs: 24 * HOUR });
  try {
    const put = (branch: string, v: number) => store.write(branch, [{ op: 'replace', db: 'd', coll: 'c', doc: { _id: 'k', v }, upsert: true }]);
    const v1 = await put('main', 1);
    clock += HOUR;
    const v2 = await put('main', 2);
    await store.createTag('release-2', { branch: 'main' });
    await store.createBranch('old-fork');
    clock += HOUR;
    const v3 = await put('main', 3);
    clock += HOUR;
    await put('main', 4);
    assert.equal(store.get({ branch: 'main', lsn: v1.lsn }, 'd', 'c', 'k')!.v, 1);

    clock += 48 * HOUR;
    const v5 = await put('main', 5);
    assert.throws(() => store.get({ branch: 'main', lsn: v1.lsn }, 'd', 'c', 'k'), { codeName: 'SnapshotTooOld', code: 239 });
    const report = await store.compact();
    assert.ok(report.removedVersions >= 2, `old versions removed (${report.removedVersions})`);
    assert.equal(store.get({ branch: 'main', lsn: v2.lsn }, 'd', 'c', 'k')!.v, 2, 'tag and fork point keep v2 readable');
    assert.equal(store.get('old-fork', 'd', 'c', 'k')!.v, 2);
    assert.equal(store.get('main', 'd', 'c', 'k')!.v, 5);
    assert.throws(() => store.get({ branch: 'main', lsn: v3.lsn }, 'd', 'c', 'k'), { codeName: 'SnapshotTooOld' });
    assert.ok([...store.log('main')].every((e) => e.lsn >= store.horizonLsn()), 'the change log is trimmed to the window');

    await store.deleteTag('release-2');
    await store.deleteBranch('old-fork');
    await store.compact();
    assert.throws(() => store.get({ branch: 'main', lsn: v2.lsn }, 'd', 'c', 'k'), { codeName: 'SnapshotTooOld' });
    assert.equal(store.get({ branch: 'main', lsn: v5.lsn }, 'd', 'c', 'k')!.v, 5);
  } finally {
    await done();
  }
});

test('reads keep working while compaction runs', async () => {
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const { store, done } = await tempStore({ now: () => clock, retentionMs: HOUR });
  try {
    for (let round = 0; round < 5; round++) {
      await store.write('main', Array.from({ length: 5000 }, (_, i) => ({ op: 'replace' as const, db: 'd', coll: 'c', doc: { _id: i, round }, upsert: true })));
    }
    clock += 2 * HOUR;
    await store.write('main', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 'last' } }]);
    const running = store.compact();
    let reads = 0;
    let finished = false;
    void running.then(() => (finished = true));
    while (!finished) {
      assert.equal(store.get('main', 'd', 'c', reads % 5000)!.round, 4);
      reads++;
      await new Promise((r) => setImmediate(r));
    }
    const report = await running;
    assert.ok(report.removedVersions >= 20000, `removed ${report.removedVersions}`);
    assert.ok(reads > 1, `reads ran between compaction chunks (${reads})`);
    assert.equal([...store.scan('main', 'd', 'c')].length, 5001);
    assert.equal(store.count('main', 'd', 'c'), 5001);
  } finally {
    await done();
  }
});

test('stats per branch: documents, own bytes, logical size', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', Array.from({ length: 100 }, (_, i) => ({ op: 'insert' as const, db: 'd', coll: 'c', doc: { _id: i, pad: 'x'.repeat(100) } })));
    await store.createBranch('b');
    await store.write('b', [{ op: 'delete', db: 'd', coll: 'c', id: 0 }, { op: 'insert', db: 'd2', coll: 'c', doc: { _id: 1 } }]);
    const main = store.branchStats('main');
    const b = store.branchStats('b');
    assert.equal(main.documents, 100);
    assert.equal(b.documents, 100);
    assert.equal(b.collections, 2);
    assert.ok(main.logicalBytes > 100 * 100 && main.logicalBytes < 100 * 140);
    assert.ok(b.ownBytes < main.ownBytes / 10, 'the branch owns only its own changes');
  } finally {
    await done();
  }
});

test('compaction reclaims the entries of dropped indexes, and only those', async () => {
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const { store, done } = await tempStore({ now: () => clock, retentionMs: HOUR });
  try {
    await store.write('main', Array.from({ length: 200 }, (_, i) => ({ op: 'insert' as const, db: 'd', coll: 'c', doc: { _id: i, a: i % 7, b: i } })));
    await store.transact('main', (tx) => {
      tx.createIndex('d', 'c', { name: 'a_1', key: { a: 1 } });
      tx.createIndex('d', 'c', { name: 'b_1', key: { b: 1 } });
    });
    const entries = () => [...(store as any).t.index.getKeys()].length;
    assert.equal(entries(), 400);
    await store.createBranch('keeps-a');
    await store.transact('main', (tx) => tx.dropIndex('d', 'c', 'a_1'));
    clock += 2 * HOUR;
    await store.write('main', [{ op: 'insert', db: 'x', coll: 'y', doc: { _id: 0 } }]);
    await store.compact();
    assert.equal(entries(), 400, "a branch forked before the drop still has a_1");
    await store.deleteBranch('keeps-a');
    await store.transact('main', (tx) => tx.dropCollection('d', 'c'));
    clock += 2 * HOUR;
    await store.write('main', [{ op: 'insert', db: 'x', coll: 'y', doc: { _id: 1 } }]);
    await store.compact();
    assert.equal(entries(), 0, 'nothing can read either index any more');
  } finally {
    await done();
  }
});

test('named commits keep their point readable past the retention window, like tags', async () => {
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const { store, done } = await tempStore({ now: () => clock, retentionMs: HOUR });
  try {
    await store.write('main', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 1, v: 'committed' } }]);
    const commit = await store.commit('main', 'the good state', 'ada');
    await store.write('main', [{ op: 'replace', db: 'd', coll: 'c', doc: { _id: 1, v: 'later' } }]);
    clock += 3 * HOUR;
    await store.write('main', [{ op: 'insert', db: 'd', coll: 'c', doc: { _id: 2 } }]);
    await store.compact();
    assert.equal(store.get(store.resolveRef(commit.ref), 'd', 'c', 1)!.v, 'committed');
    assert.deepEqual(store.commits('main').map((c) => c.message), ['the good state']);
  } finally {
    await done();
  }
});
