import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Double } from 'bson';
import { diffRefs } from '../src/vcs/diff.js';
import { tempStore } from './helpers.js';

const ins = (id: unknown, extra: Record<string, unknown> = {}, coll = 'users') => ({ op: 'insert' as const, db: 'app', coll, doc: { _id: id, ...extra } });
const rep = (id: unknown, extra: Record<string, unknown> = {}, coll = 'users') => ({ op: 'replace' as const, db: 'app', coll, doc: { _id: id, ...extra } });
const del = (id: unknown, coll = 'users') => ({ op: 'delete' as const, db: 'app', coll, id });

test('added, removed and modified documents between parent and child, with summary counts', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1 }), ins(2, { v: 2 }), ins(3, { v: 3 }), ins('x', {}, 'orders')]);
    await store.createBranch('dev');
    await store.write('dev', [ins(4, { v: 4 }), del(2), rep(3, { v: 30 }), ins('y', { n: 1 }, 'orders')]);
    const d = diffRefs(store, 'main', 'dev');
    assert.deepEqual(d.summary, { 'app.orders': { added: 1, removed: 0, modified: 0 }, 'app.users': { added: 1, removed: 1, modified: 1 } });
    const users = d.collections.find((c) => c.coll === 'users')!;
    assert.deepEqual(users.added, [{ id: 4, after: { _id: 4, v: 4 } }]);
    assert.deepEqual(users.removed, [{ id: 2, before: { _id: 2, v: 2 } }]);
    assert.deepEqual(users.modified, [{ id: 3, before: { _id: 3, v: 3 }, after: { _id: 3, v: 30 }, fields: [{ path: 'v', kind: 'changed', before: 3, after: 30 }] }]);
    // The reverse direction swaps added and removed.
    const back = diffRefs(store, 'dev', 'main');
    assert.deepEqual(back.summary['app.users'], { added: 1, removed: 1, modified: 1 });
    assert.deepEqual(back.collections.find((c) => c.coll === 'users')!.added.map((c) => c.id), [2]);
    // A branch compared with itself has no differences.
    assert.deepEqual(diffRefs(store, 'dev', 'dev').collections, []);
  } finally {
    await done();
  }
});

test('field-level diff of nested documents and arrays', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: { b: 1, c: { d: 'x' }, gone: true }, arr: [1, 2, 3], tags: ['a'], same: { k: [1, { z: 1 }] } })]);
    await store.createBranch('dev');
    await store.write('dev', [rep(1, { a: { b: 2, c: { d: 'x', e: 'new' } }, arr: [1, 5], tags: ['a', 'b', { q: 1 }], same: { k: [1, { z: 1 }] }, top: null })]);
    const [c] = diffRefs(store, 'main', 'dev').collections;
    assert.deepEqual(c!.modified[0]!.fields, [
      { path: 'a.b', kind: 'changed', before: 1, after: 2 },
      { path: 'a.c.e', kind: 'added', after: 'new' },
      { path: 'a.gone', kind: 'removed', before: true },
      { path: 'arr.1', kind: 'changed', before: 2, after: 5 },
      { path: 'arr.2', kind: 'removed', before: 3 },
      { path: 'tags.1', kind: 'added', after: 'b' },
      { path: 'tags.2', kind: 'added', after: { q: 1 } },
      { path: 'top', kind: 'added', after: null },
    ]);
  } finally {
    await done();
  }
});

test('an object replaced by a scalar or an array is one change at that path', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { a: { b: 1 }, c: [1] })]);
    await store.createBranch('dev');
    await store.write('dev', [rep(1, { a: 5, c: { 0: 1 } })]);
    assert.deepEqual(diffRefs(store, 'main', 'dev').collections[0]!.modified[0]!.fields, [
      { path: 'a', kind: 'changed', before: { b: 1 }, after: 5 },
      { path: 'c', kind: 'changed', before: [1], after: { 0: 1 } },
    ]);
  } finally {
    await done();
  }
});

test('changed and changed back, and inserted then deleted, are no change', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1 })]);
    await store.createBranch('dev');
    await store.write('dev', [rep(1, { v: 2 })]);
    await store.write('dev', [rep(1, { v: 1 })]);
    await store.write('dev', [ins(9)]);
    await store.write('dev', [del(9)]);
    const d = diffRefs(store, 'main', 'dev');
    assert.deepEqual(d.collections, []);
    assert.deepEqual(d.summary, {});
  } finally {
    await done();
  }
});

test('int 1 and double 1.0 differ', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { n: 1, m: 2 })]);
    await store.createBranch('dev');
    await store.write('dev', [rep(1, { n: new Double(1), m: 2 })]);
    const fields = diffRefs(store, 'main', 'dev').collections[0]!.modified[0]!.fields!;
    assert.equal(fields.length, 1);
    assert.equal(fields[0]!.path, 'n');
    assert.equal(fields[0]!.kind, 'changed');
  } finally {
    await done();
  }
});

test('diff between siblings, and as of a past LSN', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, { v: 1 }), ins(2, { v: 2 })]);
    await store.createBranch('a');
    await store.createBranch('b');
    const before = await store.write('a', [rep(1, { v: 'a' })]);
    await store.write('a', [ins(3)]);
    await store.write('b', [rep(2, { v: 'b' }), del(1)]);
    await store.write('main', [ins(100)]); // invisible to both siblings
    const d = diffRefs(store, 'a', 'b');
    const c = d.collections[0]!;
    assert.deepEqual(c.added, []);
    assert.deepEqual(c.removed.map((x) => x.id), [1, 3]);
    assert.deepEqual(c.modified.map((x) => [x.id, x.fields]), [[2, [{ path: 'v', kind: 'changed', before: 2, after: 'b' }]]]);
    // As of a past LSN on `a`, document 3 does not exist yet there.
    const past = diffRefs(store, { branch: 'a', lsn: before.lsn }, 'b');
    assert.deepEqual(past.collections[0]!.removed.map((x) => x.id), [1]);
    // Parent vs child after the parent moved on: the parent's later insert shows as removed.
    assert.deepEqual(diffRefs(store, 'main', 'a').summary['app.users'], { added: 1, removed: 1, modified: 1 });
  } finally {
    await done();
  }
});

test('collection-level changes are listed and their documents compared', async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(1, {}, 'keep'), ins(2, {}, 'drop')]);
    await store.createBranch('dev');
    await store.transact('dev', (tx) => {
      tx.createIndex('app', 'keep', { name: 'v_1', key: { v: 1 } });
      tx.dropCollection('app', 'drop');
      tx.createCollection('app', 'empty');
    });
    const d = diffRefs(store, 'main', 'dev');
    assert.deepEqual(
      d.objects.map((o) => [o.side, o.op, o.coll, o.name]),
      [
        ['to', 'createIndex', 'keep', 'v_1'],
        ['to', 'dropCollection', 'drop', undefined],
        ['to', 'createCollection', 'empty', undefined],
      ],
    );
    assert.deepEqual(d.summary, { 'app.drop': { added: 0, removed: 1, modified: 0 } });
  } finally {
    await done();
  }
});
