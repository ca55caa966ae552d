import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from './server-helpers.js';

// mongod fills a batch with up to 16 MiB of documents; the reply's per-document framing (type
// byte, index key, NUL) must count too, or a batch of many small documents overflows the reply.
test('find().toArray() over 24 MB of ~200-byte documents: every batch fits the reply limit', { timeout: 120_000 }, async () => {
  const { client, stop } = await startServer();
  try {
    const coll = client.db('big').collection<{ _id: number; pad: string }>('small');
    const total = 120_000;
    for (let start = 0; start < total; start += 10_000) {
      await coll.insertMany(Array.from({ length: 10_000 }, (_, i) => ({ _id: start + i, pad: 'x'.repeat(170) })));
    }
    const all = await coll.find({}, { batchSize: 1_000_000 }).toArray();
    assert.equal(all.length, total);
    assert.equal(all[total - 1]!._id, total - 1);
  } finally {
    await stop();
  }
});
