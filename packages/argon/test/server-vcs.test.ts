import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError } from 'mongodb';
import { startServer } from './server-helpers.js';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

test('branch, diff and merge over the wire with admin commands', async () => {
  const admin = env.client.db('admin');
  const main = env.client.db('lab').collection<any>('runs');
  await main.insertMany([{ _id: 1, score: 0.5, params: { lr: 0.1 } }, { _id: 2, score: 0.7 }]);
  const created = await admin.command({ argonBranchCreate: 'exp' });
  assert.equal(created.branch.parent, 'main');
  assert.ok((await admin.command({ argonBranchList: 1 })).branches.some((b: any) => b.name === 'exp'));

  const { port } = await admin.command({ argonEndpoint: 'exp' });
  const exp = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  try {
    const runs = exp.db('lab').collection<any>('runs');
    await runs.updateOne({ _id: 1 }, { $set: { 'params.lr': 0.01, score: 0.9 } });
    await runs.insertOne({ _id: 3, score: 0.8 });
    await main.updateOne({ _id: 2 }, { $set: { note: 'baseline' } });

    const diff = await admin.command({ argonDiff: 'main', to: 'exp' });
    const lab = diff.collections.find((c: any) => c.db === 'lab' && c.coll === 'runs');
    assert.deepEqual(lab.added.map((d: any) => d.id), [3]);
    const modified = Object.fromEntries(lab.modified.map((d: any) => [d.id, d.fields.map((f: any) => f.path).sort()]));
    assert.deepEqual(modified[1], ['params.lr', 'score']);

    const dry = await admin.command({ argonMerge: 'exp', into: 'main', dryRun: true });
    assert.equal(dry.status, 'merged');
    assert.equal((await main.findOne({ _id: 1 })).score, 0.5, 'a dry run writes nothing');
    const merged = await admin.command({ argonMerge: 'exp', into: 'main' });
    assert.equal(merged.status, 'merged');
    assert.equal(merged.fastForward, false);
    assert.deepEqual(await main.find().sort({ _id: 1 }).toArray(), [
      { _id: 1, score: 0.9, params: { lr: 0.01 } },
      { _id: 2, score: 0.7, note: 'baseline' },
      { _id: 3, score: 0.8 },
    ]);

    await runs.updateOne({ _id: 2 }, { $set: { score: 0.1 } });
    await main.updateOne({ _id: 2 }, { $set: { score: 0.2 } });
    const conflict = await admin.command({ argonMerge: 'exp', into: 'main' });
    assert.equal(conflict.status, 'conflicts');
    assert.ok(conflict.conflicts.some((c: any) => c.id === 2 && c.path === 'score'));
    assert.equal((await main.findOne({ _id: 2 })).score, 0.2, 'a failed merge changes nothing');

    const log = await admin.command({ argonLog: 'main', limit: 2 });
    assert.equal(log.entries.length, 2);
    await assert.rejects(admin.command({ argonMerge: 'exp', into: 'main', strategy: 'sideways' }), (err: MongoServerError) => err.code === 2);
    await assert.rejects(admin.command({ argonBranchCreate: 'bad name' }), (err: MongoServerError) => err.code === 50003);
  } finally {
    await exp.close();
  }
});

test('time travel: a read-only connection string for a branch as of a past time or LSN', async () => {
  const c = env.client.db('tt').collection<any>('events');
  await c.insertOne({ _id: 'first' });
  await new Promise((r) => setTimeout(r, 20));
  const between = new Date();
  await new Promise((r) => setTimeout(r, 20));
  await c.insertOne({ _id: 'second' });
  await c.updateOne({ _id: 'first' }, { $set: { edited: true } });

  const past = new MongoClient(await env.server.uri(`main@${between.toISOString()}`));
  try {
    const events = past.db('tt').collection<any>('events');
    assert.deepEqual(await events.find().toArray(), [{ _id: 'first' }], 'the state as of that moment');
    assert.equal(await events.countDocuments(), 1);
    await assert.rejects(events.insertOne({ _id: 'nope' }), (err: MongoServerError) => err.code === 50006 && /read-only/.test(err.message));
    await assert.rejects(events.aggregate([{ $out: 'copy' }]).toArray(), (err: MongoServerError) => err.code === 50006);
  } finally {
    await past.close();
  }
  const lsn = env.server.store.headLsn - 1;
  const byLsn = new MongoClient(await env.server.uri(`main@${lsn}`));
  try {
    assert.deepEqual((await byLsn.db('tt').collection<any>('events').find().toArray()).map((d) => d._id), ['first', 'second']);
  } finally {
    await byLsn.close();
  }
  assert.deepEqual((await c.find().toArray()).map((d) => d._id), ['first', 'second'], 'head is untouched');
  await assert.rejects(env.server.uri('main@not-a-time'), /neither an ISO 8601 time nor an LSN/);
});
