import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** Runs `fn` with a driver connected to a branch's endpoint. */
async function onBranch(branch: string, fn: (client: MongoClient) => Promise<void>): Promise<void> {
  const { port } = await env.client.db('admin').command({ argonEndpoint: branch });
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

test('merge gates over the wire: set, list, refuse with a report, pass, and show in the merge log', async () => {
  const admin = env.client.db('admin');
  const orders = env.client.db('shop').collection<any>('orders');
  await orders.insertMany([{ _id: 1, total: 10 }]);
  await admin.command({ argonBranchCreate: 'sale', from: 'main' });
  await onBranch('sale', (c) => c.db('shop').collection<any>('orders').insertOne({ _id: 2, total: -3 }).then(() => undefined));
  await admin.command({ argonBranchProtect: 'main' });

  let approve = false;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(approve ? 200 : 500).end());
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`;
    const schema = { bsonType: 'object', required: ['total'], properties: { total: { bsonType: 'number', minimum: 0 } } };
    await admin.command({ argonGateSet: 'main', gate: { name: 'totals', kind: 'jsonSchema', db: 'shop', coll: 'orders', schema } });
    const set = await admin.command({ argonGateSet: 'main', gate: { name: 'ci', kind: 'webhook', url, timeoutMs: 2000 } });
    assert.deepEqual(set.gates.map((g: any) => g.name), ['ci', 'totals']);
    const listed = await admin.command({ argonGateList: 'main' });
    assert.deepEqual(listed.gates.find((g: any) => g.name === 'totals'), { name: 'totals', kind: 'jsonSchema', db: 'shop', coll: 'orders', schema, scope: 'all' });
    await assert.rejects(admin.command({ argonGateSet: 'main', gate: { name: 'x', kind: 'nope' } }), (err: MongoServerError) => err.code === 2);
    await assert.rejects(admin.command({ argonGateSet: 'nobranch', gate: { name: 'x', kind: 'webhook', url } }), (err: MongoServerError) => err.code === 50001);

    const dry = await admin.command({ argonMerge: 'sale', into: 'main', dryRun: true });
    assert.deepEqual(dry.gates.map((g: any) => [g.name, g.passed]), [['totals', false], ['ci', false]]);
    await assert.rejects(admin.command({ argonMerge: 'sale', into: 'main' }), (err: MongoServerError) => {
      assert.equal(err.code, 50008);
      assert.equal(err.codeName, 'MergeGateFailed');
      assert.match(err.message, /totals \(jsonSchema\): 1 of 2 documents do not match the schema \(_id 2\); ci \(webhook\): HTTP 500/);
      assert.deepEqual(err.errorResponse.gates[0].details, { checked: 2, failed: 1, ids: [2] });
      return true;
    });
    assert.equal(await orders.countDocuments(), 1);

    approve = true;
    await onBranch('sale', (c) => c.db('shop').collection<any>('orders').updateOne({ _id: 2 }, { $set: { total: 3 } }).then(() => undefined));
    const merged = await admin.command({ argonMerge: 'sale', into: 'main' });
    assert.equal(merged.status, 'merged');
    assert.deepEqual(merged.gates.map((g: any) => [g.name, g.passed]), [['totals', true], ['ci', true]]);
    const { merges } = await admin.command({ argonMergeList: 'main', limit: 5 });
    assert.equal(merges.length, 1);
    assert.equal(merges[0].lsn, merged.lsn);
    assert.equal(merges[0].source, 'sale');
    assert.ok(merges[0].time instanceof Date);
    assert.deepEqual(merges[0].applied, { inserted: 1, updated: 0, deleted: 0 });
    assert.deepEqual(merges[0].gates.map((g: any) => [g.name, g.passed, g.details.status ?? g.details.failed]), [['totals', true, 0], ['ci', true, 200]]);

    assert.deepEqual((await admin.command({ argonGateDelete: 'main', name: 'ci' })).gates.map((g: any) => g.name), ['totals']);
    await assert.rejects(admin.command({ argonGateDelete: 'main', name: 'ci' }), (err: MongoServerError) => err.code === 4);
    await admin.command({ argonGateDelete: 'main', name: 'totals' });
    await admin.command({ argonBranchProtect: 'main', protect: false });
  } finally {
    await new Promise((r) => hook.close(r));
  }
});

test('manual merges over the wire: conflicts stored, listed, resolved one by one, or aborted', async () => {
  const admin = env.client.db('admin');
  const notes = env.client.db('lab').collection<any>('notes');
  await notes.insertMany([{ _id: 'a', text: 'base', tags: ['x'] }, { _id: 'b', text: 'base' }]);
  await admin.command({ argonBranchCreate: 'edit', from: 'main' });
  await notes.updateMany({}, { $set: { text: 'main' } });
  await onBranch('edit', async (c) => {
    await c.db('lab').collection<any>('notes').updateMany({}, { $set: { text: 'edit' } });
    await c.db('lab').collection<any>('notes').updateOne({ _id: 'a' }, { $set: { tags: ['x', 'y'] } });
  });

  const started = await admin.command({ argonMerge: 'edit', into: 'main', strategy: 'manual' });
  assert.equal(started.status, 'conflicts');
  assert.equal(started.pending.source, 'edit');
  assert.equal(started.pending.unresolved, 2);
  assert.deepEqual(await notes.find().sort({ _id: 1 }).toArray(), [{ _id: 'a', text: 'main', tags: ['x'] }, { _id: 'b', text: 'main' }], 'nothing applied');
  await assert.rejects(admin.command({ argonMerge: 'edit', into: 'main', strategy: 'manual' }), (err: MongoServerError) => err.code === 50009 && /pending/.test(err.message));

  const { merge } = await admin.command({ argonConflictsList: 'main' });
  assert.equal(merge.id, started.pending.id);
  assert.deepEqual(
    merge.conflicts.map((c: any) => [c.id, c.kind, c.db, c.coll, c.documentId, c.path, c.base, c.ours, c.theirs, c.resolution]),
    [
      [1, 'field', 'lab', 'notes', 'a', 'text', 'base', 'main', 'edit', null],
      [2, 'field', 'lab', 'notes', 'b', 'text', 'base', 'main', 'edit', null],
    ],
  );
  await assert.rejects(admin.command({ argonConflictsResolve: 'main', conflict: 1, take: 'sideways' }), (err: MongoServerError) => err.code === 2);
  await assert.rejects(admin.command({ argonConflictsResolve: 'main', conflict: 7, take: 'ours' }), (err: MongoServerError) => err.code === 4);

  const first = await admin.command({ argonConflictsResolve: 'main', conflict: 1, value: 'both' });
  assert.equal(first.completed, false);
  assert.equal(first.merge.unresolved, 1);
  assert.deepEqual(first.merge.conflicts[0].resolution, { take: 'value', value: 'both' });
  const last = await admin.command({ argonConflictsResolve: 'main', conflict: 2, take: 'base' });
  assert.equal(last.completed, true);
  assert.equal(last.merge, null);
  assert.equal(last.result.status, 'merged');
  assert.deepEqual(await notes.find().sort({ _id: 1 }).toArray(), [{ _id: 'a', text: 'both', tags: ['x', 'y'] }, { _id: 'b', text: 'base' }]);
  assert.equal((await admin.command({ argonConflictsList: 'main' })).merge, null);

  await notes.updateOne({ _id: 'b' }, { $set: { text: 'main again' } });
  await onBranch('edit', (c) => c.db('lab').collection<any>('notes').updateOne({ _id: 'b' }, { $set: { text: 'edit again' } }).then(() => undefined));
  assert.equal((await admin.command({ argonMerge: 'edit', into: 'main', strategy: 'manual' })).status, 'conflicts');
  const aborted = await admin.command({ argonMergeAbort: 'main' });
  assert.equal(aborted.aborted.source, 'edit');
  assert.equal((await notes.findOne({ _id: 'b' })).text, 'main again');
  await assert.rejects(admin.command({ argonMergeAbort: 'main' }), (err: MongoServerError) => err.code === 4 && /no merge into 'main' is pending/.test(err.message));
  await assert.rejects(admin.command({ argonRevert: 'main', fromLsn: 1, strategy: 'manual' }), (err: MongoServerError) => err.code === 2, 'revert has no manual strategy');
});

test('listCommands lists the merge commands with their roles', async () => {
  const { commands } = await env.client.db('admin').command({ listCommands: 1 });
  for (const [name, role] of Object.entries({ argonGateSet: 'admin', argonGateDelete: 'admin', argonGateList: 'viewer', argonMergeList: 'viewer', argonConflictsList: 'viewer', argonConflictsResolve: 'developer', argonMergeAbort: 'developer' })) {
    assert.equal(commands[name]?.minimumRole, role, name);
  }
});
