import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Decimal128, Double, Int32, Long, MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { startServer } from './server-helpers.js';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

test('handshake, ping, buildInfo and unknown commands', async () => {
  const admin = env.client.db('admin');
  assert.deepEqual(await admin.command({ ping: 1 }), { ok: 1 });
  const info = await admin.command({ buildInfo: 1 });
  assert.equal(info.version, '7.0.0');
  const hello = await admin.command({ hello: 1 });
  assert.equal(hello.isWritablePrimary, true);
  assert.equal(hello.maxWireVersion, 21);
  assert.equal(hello.maxBsonObjectSize, 16 * 1024 * 1024);
  await assert.rejects(admin.command({ frobnicate: 1 }), (err: MongoServerError) => err.code === 59 && err.codeName === 'CommandNotFound' && /no such command: 'frobnicate'/.test(err.message));
  await assert.rejects(env.client.db('x').command({ listDatabases: 1 }), (err: MongoServerError) => err.code === 13);
  const cmds = await admin.command({ listCommands: 1 });
  assert.ok(cmds.commands.find && cmds.commands.insert && cmds.commands.ping);
});

test('insert, find with filter/sort/skip/limit/projection, types survive the round trip', async () => {
  const c = env.client.db('shop').collection<any>('items');
  const oid = new ObjectId();
  const res = await c.insertMany([
    { _id: 1, name: 'pen', price: new Double(1.5), qty: new Int32(10), big: Long.fromString('9007199254740993'), tags: ['a', 'b'] },
    { _id: 2, name: 'ink', price: new Double(7), qty: new Int32(0), dec: Decimal128.fromString('0.10'), ref: oid },
    { _id: 3, name: 'pad', price: new Double(3.25), qty: new Int32(4), tags: ['b'] },
  ]);
  assert.equal(res.insertedCount, 3);
  const raw = await c.find({ _id: 2 }, { promoteValues: false }).toArray();
  assert.ok(raw[0]!.price instanceof Double, 'a double stays a double (7.0, not int 7)');
  assert.equal(String(raw[0]!.dec), '0.10');
  const pen = await c.findOne({ _id: 1 }, { promoteLongs: false });
  assert.equal(String(pen!.big), '9007199254740993');
  assert.deepEqual((await c.find({ price: { $gt: 2 } }).sort({ price: -1 }).toArray()).map((d) => d._id), [2, 3]);
  assert.deepEqual((await c.find({}).sort({ _id: 1 }).skip(1).limit(1).toArray()).map((d) => d._id), [2]);
  assert.deepEqual(await c.find({ tags: 'b' }, { projection: { name: 1, _id: 0 } }).sort({ name: 1 }).toArray(), [{ name: 'pad' }, { name: 'pen' }]);
  assert.equal(await c.countDocuments({ qty: { $gte: 4 } }), 2);
  assert.equal(await c.estimatedDocumentCount(), 3);
  assert.deepEqual((await c.distinct('tags')).sort(), ['a', 'b']);
});

test('cursors: batches, getMore, killCursors', async () => {
  const c = env.client.db('shop').collection<any>('many');
  await c.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, v: i % 7 })));
  const cursor = c.find({}).batchSize(20);
  let n = 0;
  for await (const doc of cursor) {
    assert.equal(doc._id, n);
    n++;
  }
  assert.equal(n, 250);
  const partial = c.find({}).batchSize(10);
  await partial.next();
  await partial.close();
  assert.equal((await c.find({ v: 3 }).toArray()).length, 36);
});

test('updates: operators, upsert, multi, replace, findOneAndUpdate, delete', async () => {
  const c = env.client.db('shop').collection<any>('upd');
  await c.insertMany([{ _id: 1, n: 1, arr: [1, 2, 3] }, { _id: 2, n: 5, arr: [] }]);
  const r1 = await c.updateOne({ _id: 1 }, { $inc: { n: 2 }, $push: { arr: 4 } as any, $set: { 'sub.x': 'y' } });
  assert.equal(r1.matchedCount, 1);
  assert.equal(r1.modifiedCount, 1);
  assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, n: 3, arr: [1, 2, 3, 4], sub: { x: 'y' } });
  const r2 = await c.updateMany({}, { $set: { flag: true } });
  assert.equal(r2.modifiedCount, 2);
  const r3 = await c.updateOne({ _id: 9 }, { $set: { made: 1 } }, { upsert: true });
  assert.equal(r3.upsertedId, 9);
  await c.replaceOne({ _id: 2 }, { only: 'this' });
  assert.deepEqual(await c.findOne({ _id: 2 }), { _id: 2, only: 'this' });
  const after = await c.findOneAndUpdate({ _id: 1 }, { $inc: { n: 1 } }, { returnDocument: 'after' });
  assert.equal(after!.n, 4);
  const before = await c.findOneAndDelete({ _id: 9 });
  assert.equal(before!.made, 1);
  await assert.rejects(c.updateOne({ _id: 1 }, { $set: { _id: 5 } }), (err: MongoServerError) => err.code === 66);
  const d = await c.deleteMany({ flag: true });
  assert.equal(d.deletedCount, 1, "the replaced document lost its flag");
});

test('write errors: duplicate key with keyPattern/keyValue, ordered and unordered batches', async () => {
  const c = env.client.db('shop').collection<any>('dups');
  await c.createIndex({ email: 1 }, { unique: true });
  await c.insertOne({ _id: 1, email: 'a@x' });
  await assert.rejects(c.insertOne({ _id: 2, email: 'a@x' }), (err: MongoServerError) => {
    assert.equal(err.code, 11000);
    assert.deepEqual(err.keyPattern, { email: 1 });
    assert.deepEqual(err.keyValue, { email: 'a@x' });
    return true;
  });
  await assert.rejects(c.insertMany([{ _id: 3, email: 'c@x' }, { _id: 1, email: 'z@x' }, { _id: 4, email: 'd@x' }]), (err: any) => err.result.insertedCount === 1);
  await assert.rejects(c.insertMany([{ _id: 5, email: 'e@x' }, { _id: 1, email: 'y@x' }, { _id: 6, email: 'f@x' }], { ordered: false }), (err: any) => err.result.insertedCount === 2);
  assert.deepEqual((await c.find({}).toArray()).map((d) => d._id), [1, 3, 5, 6]);
});

test('namespaces and indexes', async () => {
  const db = env.client.db('ns');
  await db.createCollection('a');
  await assert.rejects(db.createCollection('a'), (err: MongoServerError) => err.code === 48);
  await db.collection<any>('b').insertOne({ x: 1 });
  assert.deepEqual((await db.listCollections().toArray()).map((c) => c.name).sort(), ['a', 'b']);
  assert.ok((await env.client.db('admin').admin().listDatabases()).databases.some((d) => d.name === 'ns'));
  const name = await db.collection<any>('b').createIndex({ x: 1, y: -1 });
  assert.equal(name, 'x_1_y_-1');
  assert.deepEqual((await db.collection<any>('b').listIndexes().toArray()).map((i) => i.name), ['_id_', 'x_1_y_-1']);
  await db.collection<any>('b').dropIndex('x_1_y_-1');
  await db.collection<any>('b').rename('c');
  assert.deepEqual((await db.listCollections().toArray()).map((c) => c.name).sort(), ['a', 'c']);
  assert.equal(await db.collection<any>('a').drop(), true);
  await db.dropDatabase();
  assert.deepEqual(await db.listCollections().toArray(), []);
});

test('each branch endpoint reads and writes its own branch only', async () => {
  await env.client.db('app').collection<any>('t').insertOne({ _id: 'shared' });
  await env.server.store.createBranch('dev');
  const devUri = await env.server.uri('dev');
  assert.notEqual(devUri, env.uri);
  const dev = new MongoClient(devUri);
  try {
    await dev.db('app').collection<any>('t').insertOne({ _id: 'dev-only' });
    assert.deepEqual((await dev.db('app').collection<any>('t').find().toArray()).map((d) => d._id), ['dev-only', 'shared']);
    assert.deepEqual((await env.client.db('app').collection<any>('t').find().toArray()).map((d) => d._id), ['shared']);
    const reply = await env.client.db('admin').command({ argonEndpoint: 'dev' });
    assert.equal(`mongodb://127.0.0.1:${reply.port}/?directConnection=true`, devUri);
  } finally {
    await dev.close();
  }
});

test('explain shows IXSCAN vs COLLSCAN; hint forces an index or fails clearly', async () => {
  const c = env.client.db('shop').collection<any>('plans');
  await c.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, k: i % 10, s: `v${i}` })));
  await c.createIndex({ k: 1 });
  const ix = (await c.find({ k: 3 }).explain()) as any;
  assert.equal(ix.queryPlanner.winningPlan.stage, 'FETCH');
  assert.equal(ix.queryPlanner.winningPlan.inputStage.stage, 'IXSCAN');
  assert.equal(ix.queryPlanner.winningPlan.inputStage.indexName, 'k_1');
  assert.equal(ix.executionStats.nReturned, 5);
  assert.equal(((await c.find({ s: 'v3' }).explain()) as any).queryPlanner.winningPlan.stage, 'COLLSCAN');
  const bySort = (await c.find({}).sort({ k: -1, _id: 1 }).explain()) as any;
  assert.equal(bySort.queryPlanner.winningPlan.inputStage.indexName, 'k_1', 'a sort on an indexed field reads through the index');
  assert.deepEqual((await c.find({}).sort({ k: -1, _id: 1 }).limit(3).toArray()).map((d) => d._id), [9, 19, 29]);
  assert.equal(((await c.find({ k: { $in: [1, 2] } }).explain()) as any).queryPlanner.winningPlan.inputStage.stage, 'IXSCAN');
  assert.equal(((await c.find({ s: 'v3' }).hint('k_1').explain()) as any).queryPlanner.winningPlan.inputStage.indexName, 'k_1');
  assert.deepEqual((await c.find({ s: 'v3' }).hint({ k: 1 }).toArray()).map((d) => d._id), [3]);
  await assert.rejects(c.find({}).hint('nope').toArray(), (err: MongoServerError) => err.code === 2 && /hint provided does not correspond to an existing index/.test(err.message));
  assert.equal(((await c.find({ k: 3 }).hint({ $natural: 1 }).explain()) as any).queryPlanner.winningPlan.stage, 'COLLSCAN');
});

test('cursor batches stay within the 16 MiB reply limit', async () => {
  const c = env.client.db('shop').collection<any>('big');
  const pad = 'x'.repeat(3 * 1024 * 1024);
  for (let i = 0; i < 8; i++) await c.insertOne({ _id: i, pad });
  const first = await env.client.db('shop').command({ find: 'big', filter: {}, batchSize: 100 });
  assert.ok(first.cursor.firstBatch.length >= 1 && first.cursor.firstBatch.length < 8, `first batch holds ${first.cursor.firstBatch.length} of 8 documents`);
  assert.notEqual(Number(first.cursor.id), 0, 'the rest waits behind the cursor');
  assert.equal((await c.find({}).toArray()).length, 8);
});
