import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from './helpers.js';

const ins = (id: unknown, extra: Record<string, unknown> = {}) => ({ op: 'insert' as const, db: 'app', coll: 'users', doc: { _id: id, ...extra } });

test('a branch sees its parent as of the fork and nothing the parent writes later', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 'a' }), ins(2, { v: 'b' })]);
    const dev = await store.createBranch('dev');
    assert.equal(dev.parent, 'main');
    assert.equal(dev.forkLsn, store.headLsn);
    await store.write('main', [ins(3)]);
    await store.write('dev', [{ op: 'replace', db: 'app', coll: 'users', doc: { _id: 1, v: 'changed' } }, ins(4)]);
    assert.deepEqual([...store.scan('main', 'app', 'users')].map((d) => d._id), [1, 2, 3]);
    assert.deepEqual([...store.scan('dev', 'app', 'users')].map((d) => d._id), [1, 2, 4]);
    assert.equal(store.get('main', 'app', 'users', 1)!.v, 'a');
    assert.equal(store.get('dev', 'app', 'users', 1)!.v, 'changed');
  } finally {
    await done();
  }
});

test('branches of branches resolve through the whole lineage', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins('root', { depth: 0 })]);
    let parent = 'main';
    for (let depth = 1; depth <= 12; depth++) {
      const name = `b${depth}`;
      await store.createBranch(name, { from: parent });
      await store.write(name, [ins(`d${depth}`, { depth })]);
      parent = name;
    }
    const ids = [...store.scan('b12', 'app', 'users')].map((d) => d._id);
    assert.equal(ids.length, 13);
    assert.deepEqual([...store.scan('b6', 'app', 'users')].map((d) => d.depth).sort((a, b) => Number(a) - Number(b)), [0, 1, 2, 3, 4, 5, 6]);
    await store.write('b3', [{ op: 'delete', db: 'app', coll: 'users', id: 'root' }]);
    assert.equal(store.get('b12', 'app', 'users', 'root')?.depth, 0, 'a later delete on an ancestor is invisible to descendants');
    assert.equal(store.get('b3', 'app', 'users', 'root'), null);
  } finally {
    await done();
  }
});

test('branch from a past LSN and from a past time', async () => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const { store, done } = await tempStore({ now: () => clock });
  try {
    const first = await store.write('main', [ins(1)]);
    clock += 60_000;
    await store.write('main', [ins(2)]);
    clock += 60_000;
    await store.write('main', [ins(3)]);
    const byLsn = await store.createBranch('at-first', { lsn: first.lsn });
    assert.equal(byLsn.forkLsn, first.lsn);
    assert.deepEqual([...store.scan('at-first', 'app', 'users')].map((d) => d._id), [1]);
    await store.createBranch('at-time', { time: new Date(Date.parse('2026-01-01T00:01:30Z')) });
    assert.deepEqual([...store.scan('at-time', 'app', 'users')].map((d) => d._id), [1, 2]);
    assert.deepEqual([...store.scan({ branch: 'main', time: new Date('2026-01-01T00:00:30Z') }, 'app', 'users')].map((d) => d._id), [1]);
    await assert.rejects(store.createBranch('future', { lsn: store.headLsn + 5 }), { codeName: 'BadValue' });
  } finally {
    await done();
  }
});

test('list, rename and delete branches; deleted parents stay readable for children', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1)]);
    await store.createBranch('exp');
    await store.write('exp', [ins(2)]);
    await store.createBranch('exp-child', { from: 'exp' });
    await store.renameBranch('exp', 'experiment');
    assert.deepEqual(store.listBranches().map((b) => b.name).sort(), ['exp-child', 'experiment', 'main']);
    assert.equal(store.getBranch('exp-child').parent, 'experiment');
    await store.deleteBranch('experiment');
    assert.deepEqual(store.listBranches().map((b) => b.name).sort(), ['exp-child', 'main']);
    assert.deepEqual([...store.scan('exp-child', 'app', 'users')].map((d) => d._id), [1, 2]);
    await store.compact();
    assert.deepEqual([...store.scan('exp-child', 'app', 'users')].map((d) => d._id), [1, 2], 'compaction keeps what the child needs');
    await assert.rejects(store.deleteBranch('main'), { codeName: 'BadValue' });
    await assert.rejects(store.createBranch('main'), { codeName: 'BranchExists' });
    assert.throws(() => store.getBranch('experiment'), { codeName: 'BranchNotFound' });
  } finally {
    await done();
  }
});

test('branch names follow a clear rule', async () => {
  const { store, done } = await tempStore();
  try {
    for (const bad of ['', 'a b', 'x@y', '../x', 'a..b', '.hidden', 'trailing/', 'x.lock', 'é', 'a'.repeat(101)]) {
      await assert.rejects(store.createBranch(bad), { codeName: 'InvalidBranchName', code: 50003 }, `rejects ${JSON.stringify(bad)}`);
    }
    for (const good of ['dev', 'feature/login', 'exp_2026.11', 'A-1']) await store.createBranch(good);
    assert.equal(store.listBranches().length, 5);
  } finally {
    await done();
  }
});

test('branch creation copies nothing: own size of a new branch is zero', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', Array.from({ length: 2000 }, (_, i) => ins(i, { pad: 'p'.repeat(100) })));
    const before = store.storageBytes();
    const b = await store.createBranch('cheap');
    assert.equal(b.ownBytes, 0);
    assert.equal(store.branchStats('cheap').documents, 2000);
    assert.ok(store.storageBytes() - before < 64 * 1024, 'the store barely grows');
    await store.write('cheap', [{ op: 'replace', db: 'app', coll: 'users', doc: { _id: 5, pad: 'q' } }]);
    const stats = store.branchStats('cheap');
    assert.ok(stats.ownBytes > 0 && stats.ownBytes < 200, `own bytes cover one version (${stats.ownBytes})`);
    assert.equal(stats.documents, 2000);
    assert.ok(stats.logicalBytes < store.branchStats('main').logicalBytes);
  } finally {
    await done();
  }
});

test('the head cache never shows a branch another branch’s writes, a failed batch, or a stale value', async () => {
  const { store, done } = await tempStore({ cacheBytes: 4096 });
  try {
    await store.write('main', [ins(1, { v: 'main-1' })]);
    assert.equal(store.get('main', 'app', 'users', 1)!.v, 'main-1');
    await store.createBranch('child');
    assert.equal(store.get('child', 'app', 'users', 1)!.v, 'main-1');
    await store.write('main', [{ op: 'replace', db: 'app', coll: 'users', doc: { _id: 1, v: 'main-2' } }]);
    assert.equal(store.get('child', 'app', 'users', 1)!.v, 'main-1', 'parent writes after the fork stay invisible');
    assert.equal(store.get('main', 'app', 'users', 1)!.v, 'main-2');
    await assert.rejects(store.write('child', [{ op: 'replace', db: 'app', coll: 'users', doc: { _id: 1, v: 'lost' } }, ins(1)]), { code: 11000 });
    assert.equal(store.get('child', 'app', 'users', 1)!.v, 'main-1', 'a failed batch leaves the cache alone');
    await store.write('child', [{ op: 'delete', db: 'app', coll: 'users', id: 1 }]);
    assert.equal(store.get('child', 'app', 'users', 1), null);
    for (let i = 2; i < 200; i++) await store.write('child', [ins(i, { pad: 'x'.repeat(100) })]);
    for (let i = 2; i < 200; i++) assert.equal(store.get('child', 'app', 'users', i)!._id, i, 'eviction keeps answers right');
    assert.equal(store.get('main', 'app', 'users', 1)!.v, 'main-2');
  } finally {
    await done();
  }
});

test('divergence: each side’s changes since the merge base, and the base itself', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: 1 })]);
    await store.createBranch('dev');
    await store.write('main', [ins(2)]);
    await store.write('dev', [{ op: 'replace', db: 'app', coll: 'users', doc: { _id: 1, a: 2 } }]);
    await store.createBranch('dev2', { from: 'dev' });
    await store.write('dev2', [{ op: 'delete', db: 'app', coll: 'users', id: 1 }]);
    const d = store.divergence('dev2', 'main');
    assert.deepEqual(d.a.map((e) => [e.branch, e.changes.map((c) => `${c.op}:${c.id}`)]), [['dev', ['update:1']], ['dev2', ['delete:1']]]);
    assert.deepEqual(d.b.map((e) => [e.branch, e.changes.map((c) => `${c.op}:${c.id}`)]), [['main', ['insert:2']]]);
    assert.equal(d.base.branch, 'main');
    assert.deepEqual(store.get(d.base, 'app', 'users', 1), { _id: 1, a: 1 });
    assert.equal(store.get(d.base, 'app', 'users', 2), null);
    const same = store.divergence('dev', 'dev2');
    assert.deepEqual(same.a, []);
    assert.equal(same.b.length, 1);
    assert.equal(same.base.branch, 'dev');
    await store.deleteBranch('dev');
    assert.deepEqual(store.get(store.divergence('dev2', 'main').base, 'app', 'users', 1), { _id: 1, a: 1 });
  } finally {
    await done();
  }
});

test('protected branches refuse direct writes but accept merges; reset keeps a backup', async () => {
  const { store, done } = await tempStore();
  try {
    const { mergeBranches } = await import('../src/vcs/merge.js');
    await store.write('main', [ins(1, { v: 1 })]);
    await store.createBranch('dev');
    await store.protectBranch('main', true);
    assert.equal(store.getBranch('main').protected, true);
    await assert.rejects(store.write('main', [ins(2)]), { codeName: 'BranchProtected', code: 50007 });
    await store.write('dev', [ins(2, { v: 2 })]);
    assert.equal((await mergeBranches(store, 'dev', 'main')).status, 'merged');
    assert.deepEqual([...store.scan('main', 'app', 'users')].map((d) => d._id), [1, 2]);
    await store.protectBranch('main', false);
    await store.write('main', [ins(3)]);

    const toParent = await store.resetBranch('dev', { parent: true });
    assert.match(toParent.backup.name, /^dev-backup-\d+$/);
    assert.deepEqual([...store.scan('dev', 'app', 'users')].map((d) => d._id), [1, 2, 3], "dev now equals main's head");
    assert.deepEqual([...store.scan(toParent.backup.name, 'app', 'users')].map((d) => d._id), [1, 2]);

    await store.write('dev', [ins(9, { v: 9 })]);
    const mid = store.headLsn;
    await store.write('dev', [ins(10)]);
    const back = await store.resetBranch('dev', { lsn: mid }, 'dev-old');
    assert.equal(back.backup.name, 'dev-old');
    assert.deepEqual([...store.scan('dev', 'app', 'users')].map((d) => d._id), [1, 2, 3, 9], 'dev as of the past point');
    assert.deepEqual([...store.scan('dev-old', 'app', 'users')].map((d) => d._id), [1, 2, 3, 9, 10], 'the old state is kept');
    await assert.rejects(store.resetBranch('main', { parent: true }), { codeName: 'BadValue' });
  } finally {
    await done();
  }
});
