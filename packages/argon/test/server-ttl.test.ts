import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server-helpers.js';

test('TTL indexes: the monitor deletes expired documents on every branch, and only those', async () => {
  const env = await startServer();
  try {
    const c = env.client.db('app').collection<any>('sessions');
    assert.equal(await c.createIndex({ lastSeen: 1 }, { expireAfterSeconds: 3600 }), 'lastSeen_1');
    const indexes = await c.listIndexes().toArray();
    assert.equal(indexes.find((i) => i.name === 'lastSeen_1')!.expireAfterSeconds, 3600);
    const now = Date.now();
    await c.insertMany([
      { _id: 'old', lastSeen: new Date(now - 2 * 3600_000) },
      { _id: 'fresh', lastSeen: new Date(now - 60_000) },
      { _id: 'old-in-array', lastSeen: [new Date(now - 5 * 3600_000), 'x'] },
      { _id: 'not-a-date', lastSeen: 'yesterday' },
      { _id: 'missing' },
    ]);
    await env.server.store.createBranch('copy');
    assert.equal(await env.server.ttl.runOnce(new Date(now)), 4, 'two expired documents on each of two branches');
    assert.deepEqual((await c.find().sort({ _id: 1 }).toArray()).map((d) => d._id), ['fresh', 'missing', 'not-a-date']);
    assert.deepEqual([...env.server.store.scan('copy', 'app', 'sessions')].map((d) => d._id), ['fresh', 'missing', 'not-a-date']);
    await assert.rejects(c.createIndex({ a: 1, b: 1 }, { expireAfterSeconds: 5 }), (err: any) => err.code === 67);
  } finally {
    await env.stop();
  }
});
