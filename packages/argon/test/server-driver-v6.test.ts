import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server-helpers.js';

// Installed by scripts/install-driver-v6.mjs (npm's pretest) outside the workspace tree.
const requireV6 = createRequire(new URL('../../test/drivers/v6/package.json', import.meta.url));
const v6 = requireV6('mongodb') as typeof import('mongodb');
const version: string = requireV6('mongodb/package.json').version;

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

test(`the official driver v6 (${version}) works against Argon`, async () => {
  assert.match(version, /^6\./);
  const client = new v6.MongoClient(env.uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const c = client.db('v6').collection<any>('items');
    await c.insertMany(Array.from({ length: 120 }, (_, i) => ({ _id: i, k: i % 3, tags: [`t${i % 5}`] })));
    assert.equal(await c.countDocuments({ k: 1 }), 40);
    assert.equal((await c.find({ tags: 't2' }).batchSize(5).toArray()).length, 24, 'getMore over several batches');
    const r = await c.updateMany({ k: 2 }, { $inc: { k: 10 } });
    assert.equal(r.modifiedCount, 40);
    await c.createIndex({ k: 1 }, { unique: false });
    const plan = (await c.find({ k: 12 }).explain()) as any;
    assert.equal(plan.queryPlanner.winningPlan.inputStage.stage, 'IXSCAN');
    const grouped = await c.aggregate([{ $group: { _id: '$k', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray();
    assert.deepEqual(grouped, [{ _id: 0, n: 40 }, { _id: 1, n: 40 }, { _id: 12, n: 40 }]);
    await assert.rejects(c.insertOne({ _id: 0 }), (err: any) => err.code === 11000);
    assert.equal((await c.deleteMany({ k: 12 })).deletedCount, 40);
    assert.equal(await c.estimatedDocumentCount(), 80);
  } finally {
    await client.close();
  }
});
