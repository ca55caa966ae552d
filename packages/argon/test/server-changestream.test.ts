import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { serialize } from 'bson';
import { Double, Int32, Long, MongoClient, MongoServerError, Timestamp, type ChangeStream, type ChangeStreamDocument, type Document } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';
import { decodeChanges, encodeChanges } from '../src/storage/changelog.js';
import { Store } from '../src/storage/store.js';
import { startServer } from './server-helpers.js';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

/** The next `n` events of a stream, failing instead of hanging when they do not come. */
async function take(stream: ChangeStream<any, any>, n: number, ms = 10_000): Promise<ChangeStreamDocument<any>[]> {
  const events: ChangeStreamDocument<any>[] = [];
  const deadline = Date.now() + ms;
  while (events.length < n) {
    if (Date.now() > deadline) assert.fail(`expected ${n} events, got ${events.length}: ${JSON.stringify(events.map((e) => e.operationType))}`);
    const event = await stream.tryNext();
    if (event) events.push(event);
  }
  return events;
}

/** Opens a stream and waits until the server has answered its aggregate (so it starts now). */
async function opened<T extends ChangeStream<any, any>>(stream: T): Promise<T> {
  assert.equal(await stream.tryNext(), null);
  return stream;
}

/** Creates a branch and returns the connection string of its endpoint. */
async function branchUri(name: string): Promise<string> {
  await env.client.db('admin').command({ argonBranchCreate: name });
  const { port } = await env.client.db('admin').command({ argonEndpoint: name });
  return `mongodb://127.0.0.1:${port}/?directConnection=true`;
}

/** Commands whose int64 fields (cursor ids) must stay Longs to be sent back. */
function command(db: ReturnType<MongoClient['db']>, doc: Document): Promise<Document> {
  return db.command(doc, { promoteLongs: false });
}

const code = (n: number) => (err: unknown) => err instanceof MongoServerError && err.code === n;

test('the change log keeps replacement and dropDatabase flags; records without them read as before', () => {
  const changes = [
    { op: 'update' as const, db: 'd', coll: 'c', id: 1, replacement: true },
    { op: 'update' as const, db: 'd', coll: 'c', id: 2 },
    { op: 'dropCollection' as const, db: 'd', coll: 'c', dropDatabase: true },
  ];
  assert.deepEqual(decodeChanges(encodeChanges(5, changes)).changes, changes);
  // A record written before the flags existed: no `f` field at all.
  const old = Buffer.from(serialize({ t: 5, c: [{ o: 2, d: 'd', c: 'c', i: 1 }, { o: 5, d: 'd', c: 'c' }] }));
  assert.deepEqual(decodeChanges(old).changes, [{ op: 'update', db: 'd', coll: 'c', id: 1 }, { op: 'dropCollection', db: 'd', coll: 'c' }]);
});

test('collection.watch reports insert, update, replace, delete, drop and invalidate in MongoDB shapes', async () => {
  const c = env.client.db('cs1').collection<any>('items');
  await c.insertOne({ _id: 0 });
  const stream = await opened(c.watch());
  await c.insertOne({ _id: 1, name: 'pen', qty: new Int32(2) });
  await c.updateOne({ _id: 1 }, { $set: { qty: 3 } });
  await c.replaceOne({ _id: 1 }, { name: 'ink' });
  await c.findOneAndReplace({ _id: 1 }, { name: 'pad' });
  await c.deleteOne({ _id: 1 });
  await env.client.db('cs1').collection<any>('other').insertOne({ _id: 'elsewhere' });
  await c.drop();
  const events = await take(stream, 7);
  assert.deepEqual(events.map((e) => e.operationType), ['insert', 'update', 'replace', 'replace', 'delete', 'drop', 'invalidate']);
  const [insert, update, replace, , del, drop, invalidate] = events as any[];
  assert.deepEqual(insert.fullDocument, { _id: 1, name: 'pen', qty: 2 });
  assert.deepEqual(insert.ns, { db: 'cs1', coll: 'items' });
  assert.deepEqual(insert.documentKey, { _id: 1 });
  assert.ok(insert.clusterTime instanceof Timestamp);
  assert.ok(insert.wallTime instanceof Date && Math.abs(insert.wallTime.getTime() - Date.now()) < 60_000);
  assert.equal(typeof insert._id._data, 'string');
  assert.deepEqual(Object.keys(insert._id), ['_data']);
  assert.deepEqual(update.updateDescription, { updatedFields: { qty: 3 }, removedFields: [], truncatedArrays: [] });
  assert.equal(update.fullDocument, undefined, "fullDocument 'default' leaves it out of updates");
  assert.deepEqual(replace.fullDocument, { _id: 1, name: 'ink' });
  assert.equal(replace.updateDescription, undefined);
  assert.deepEqual(del.documentKey, { _id: 1 });
  assert.equal(del.fullDocument, undefined);
  assert.deepEqual(drop.ns, { db: 'cs1', coll: 'items' });
  assert.deepEqual(Object.keys(invalidate).sort(), ['_id', 'clusterTime', 'operationType', 'wallTime']);
  // Tokens and cluster times increase along the stream.
  const tokens = events.map((e) => (e._id as any)._data as string);
  assert.deepEqual([...tokens].sort(), tokens);
  assert.equal(new Set(tokens).size, tokens.length);
  for (let i = 1; i < events.length; i++) assert.ok((events[i] as any).clusterTime.gte((events[i - 1] as any).clusterTime));
  assert.equal(await stream.tryNext(), null);
  assert.ok(stream.closed, 'the stream ends after invalidate');
});

test('updateDescription of nested fields and arrays is computed from the versions before and after', async () => {
  const c = env.client.db('cs2').collection<any>('docs');
  await c.insertOne({ _id: 1, a: { b: 1, c: { d: 'x' } }, arr: [1, 2, 3, 4], objs: [{ k: 1 }, { k: 2 }], gone: true, n: new Int32(1) });
  const stream = await opened(c.watch());
  await c.updateOne({ _id: 1 }, { $set: { 'a.c.d': 'y', 'a.e': [1] }, $unset: { gone: '' } });
  await c.updateOne({ _id: 1 }, { $push: { arr: 5 } } as Document);
  await c.updateOne({ _id: 1 }, { $pull: { arr: 2 } } as Document);
  await c.updateOne({ _id: 1 }, { $set: { 'objs.1.k': 20, n: new Double(1) } });
  await c.updateOne({ _id: 1 }, [{ $set: { arr: { $slice: ['$arr', 2] } } }]);
  const events = (await take(stream, 5)) as any[];
  assert.deepEqual(events.map((e) => e.operationType), ['update', 'update', 'update', 'update', 'update']);
  assert.deepEqual(events[0].updateDescription, { updatedFields: { 'a.c.d': 'y', 'a.e': [1] }, removedFields: ['gone'], truncatedArrays: [] });
  assert.deepEqual(events[1].updateDescription, { updatedFields: { 'arr.4': 5 }, removedFields: [], truncatedArrays: [] });
  assert.deepEqual(events[2].updateDescription, { updatedFields: { 'arr.1': 3, 'arr.2': 4, 'arr.3': 5 }, removedFields: [], truncatedArrays: [{ field: 'arr', newSize: 4 }] });
  // int 1 → double 1.0 is a change, as the stored BSON types differ.
  assert.deepEqual(events[3].updateDescription, { updatedFields: { 'objs.1.k': 20, n: 1 }, removedFields: [], truncatedArrays: [] });
  assert.deepEqual(events[4].updateDescription, { updatedFields: {}, removedFields: [], truncatedArrays: [{ field: 'arr', newSize: 2 }] });
  await stream.close();
});

test('fullDocument updateLookup, whenAvailable and required; fullDocumentBeforeChange from stored versions', async () => {
  const c = env.client.db('cs3').collection<any>('docs');
  await c.insertOne({ _id: 1, v: 0 });
  const lookup = await opened(c.watch([], { fullDocument: 'updateLookup' }));
  const images = await opened(c.watch([], { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' }));
  const required = await opened(c.watch([], { fullDocument: 'required', fullDocumentBeforeChange: 'required' }));
  await c.updateOne({ _id: 1 }, { $set: { v: 1 } });
  await c.updateOne({ _id: 1 }, { $set: { v: 2 } });
  await c.replaceOne({ _id: 1 }, { v: 3 });
  await c.deleteOne({ _id: 1 });

  const looked = (await take(lookup, 4)) as any[];
  // updateLookup reads the document as it is when the event is read: here already deleted.
  assert.equal(looked[0].fullDocument, null);
  assert.equal(looked[1].fullDocument, null);
  assert.deepEqual(looked[2].fullDocument, { _id: 1, v: 3 }, 'a replace carries its own document');

  const withImages = (await take(images, 4)) as any[];
  assert.deepEqual(withImages.map((e) => e.fullDocument), [{ _id: 1, v: 1 }, { _id: 1, v: 2 }, { _id: 1, v: 3 }, undefined]);
  assert.deepEqual(withImages.map((e) => e.fullDocumentBeforeChange), [{ _id: 1, v: 0 }, { _id: 1, v: 1 }, { _id: 1, v: 2 }, { _id: 1, v: 3 }]);
  const req = (await take(required, 4)) as any[];
  assert.deepEqual(req[3].fullDocumentBeforeChange, { _id: 1, v: 3 });

  await c.insertOne({ _id: 2, v: 0 });
  const live = await opened(c.watch([], { fullDocument: 'updateLookup' }));
  await c.updateOne({ _id: 2 }, { $inc: { v: 5 } });
  const [e] = (await take(live, 1)) as any[];
  assert.deepEqual(e.fullDocument, { _id: 2, v: 5 });
  for (const s of [lookup, images, required, live]) await s.close();
});

test('db.watch sees every collection of its database only, renames, and dropDatabase then invalidate', async () => {
  const db = env.client.db('cs4');
  await db.collection<any>('a').insertOne({ _id: 0 });
  const stream = await opened(db.watch());
  await db.collection<any>('a').insertOne({ _id: 1 });
  await env.client.db('cs4-other').collection<any>('a').insertOne({ _id: 'no' });
  await db.collection<any>('b').insertOne({ _id: 2 });
  await db.collection<any>('b').rename('c');
  await db.collection<any>('c').insertOne({ _id: 3 });
  await db.dropDatabase();
  const events = (await take(stream, 8)) as any[];
  assert.deepEqual(
    events.map((e) => [e.operationType, e.ns?.coll ?? null]),
    [['insert', 'a'], ['insert', 'b'], ['rename', 'b'], ['insert', 'c'], ['drop', 'a'], ['drop', 'c'], ['dropDatabase', null], ['invalidate', null]],
  );
  assert.deepEqual(events[2].to, { db: 'cs4', coll: 'c' });
  assert.deepEqual(events[6].ns, { db: 'cs4' });
  assert.ok(stream.closed);
});

test('client.watch (allChangesForCluster on admin) sees all user databases and is not invalidated', async () => {
  const stream = await opened(env.client.watch());
  await env.client.db('cs5a').collection<any>('x').insertOne({ _id: 1 });
  await env.client.db('cs5b').collection<any>('y').insertOne({ _id: 2 });
  await env.client.db('cs5a').dropDatabase();
  await env.client.db('cs5b').collection<any>('y').deleteOne({ _id: 2 });
  const events = (await take(stream, 5)) as any[];
  assert.deepEqual(
    events.map((e) => `${e.operationType} ${e.ns.db}${e.ns.coll ? `.${e.ns.coll}` : ''}`),
    ['insert cs5a.x', 'insert cs5b.y', 'drop cs5a.x', 'dropDatabase cs5a', 'delete cs5b.y'],
  );
  assert.ok(!stream.closed);
  await stream.close();
});

test('showExpandedEvents adds create, createIndexes and dropIndexes', async () => {
  const db = env.client.db('cs6');
  const stream = await opened(db.watch([], { showExpandedEvents: true }));
  await db.collection<any>('t').createIndex({ k: 1 }, { unique: true, name: 'k_1' });
  await db.collection<any>('t').dropIndex('k_1');
  const events = (await take(stream, 3)) as any[];
  assert.deepEqual(events.map((e) => e.operationType), ['create', 'createIndexes', 'dropIndexes']);
  assert.deepEqual(events[1].operationDescription.indexes, [{ v: 2, key: { k: 1 }, name: 'k_1', unique: true }]);
  assert.deepEqual(events[2].operationDescription.indexes[0].key, { k: 1 });
  await stream.close();
});

test('later pipeline stages ($match, $project) run on the events; changing _id is refused', async () => {
  const c = env.client.db('cs7').collection<any>('docs');
  const stream = await opened(c.watch([{ $match: { operationType: 'insert', 'fullDocument.keep': true } }, { $project: { 'fullDocument._id': 1, operationType: 1 } }]));
  await c.insertMany([{ _id: 1, keep: true, big: 'x' }, { _id: 2, keep: false }, { _id: 3, keep: true }]);
  await c.deleteOne({ _id: 1 });
  await c.insertOne({ _id: 4, keep: true });
  const events = (await take(stream, 3)) as any[];
  assert.deepEqual(events.map((e) => e.fullDocument), [{ _id: 1 }, { _id: 3 }, { _id: 4 }]);
  assert.deepEqual(Object.keys(events[0]).sort(), ['_id', 'fullDocument', 'operationType']);
  await stream.close();

  const broken = c.watch([{ $project: { _id: 0 } }]);
  await broken.tryNext();
  await c.insertOne({ _id: 5 });
  await assert.rejects(take(broken, 1), code(280));
  await broken.close();
});

test('resumeAfter and startAfter continue exactly after the token: nothing lost, nothing repeated', async () => {
  const c = env.client.db('cs8').collection<any>('seq');
  const first = await opened(c.watch());
  await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
  const seen = (await take(first, 4)) as any[];
  const token = seen[3]._id;
  await first.close();
  await c.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: 10 + i })));

  const resumed = c.watch([], { resumeAfter: token });
  const rest = (await take(resumed, 11)) as any[];
  assert.deepEqual([...seen, ...rest].map((e) => e.documentKey._id), Array.from({ length: 15 }, (_, i) => i));
  assert.equal(await resumed.tryNext(), null, 'and nothing more');
  const tail = resumed.resumeToken;
  await resumed.close();

  // startAfter the invalidate of a dropped collection: the stream goes on with its new life.
  const watcher = c.watch([], { resumeAfter: tail });
  await c.drop();
  const [drop, invalidate] = (await take(watcher, 2)) as any[];
  assert.equal(drop.operationType, 'drop');
  assert.equal(invalidate.operationType, 'invalidate');
  await c.insertOne({ _id: 'reborn' });
  const again = c.watch([], { startAfter: invalidate._id });
  const [reborn] = (await take(again, 1)) as any[];
  assert.deepEqual(reborn.documentKey, { _id: 'reborn' });
  await again.close();
  await assert.rejects(c.watch([], { resumeAfter: invalidate._id }).tryNext(), code(260));

  // startAtOperationTime is inclusive: the event at that clusterTime comes first.
  const at = c.watch([], { startAtOperationTime: reborn.clusterTime });
  const [same] = (await take(at, 1)) as any[];
  assert.deepEqual(same._id, reborn._id);
  await at.close();
});

/**
 * A TCP proxy to an endpoint that can cut the connections opened through it, except the first
 * (the driver's monitor, which connects before any pooled connection): a network failure of the
 * operations' connections only.
 */
async function proxyTo(port: number): Promise<{ port: number; cut: () => void; close: () => Promise<void> }> {
  const pairs: [net.Socket, net.Socket][] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    cut: () => pairs.slice(1).forEach(([a, b]) => (a.destroy(), b.destroy())),
    close: () => {
      pairs.forEach(([a, b]) => (a.destroy(), b.destroy()));
      return new Promise((resolve) => proxy.close(() => resolve()));
    },
  };
}

test('the driver resumes by itself when its connection drops mid-getMore, without loss or repeats', async () => {
  const uri = await branchUri('cs-resume');
  const proxy = await proxyTo(Number(new URL(uri).port));
  const writer = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  const aggregates: Document[] = [];
  const client = new MongoClient(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`, { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
  client.on('commandStarted', (e) => {
    if (e.commandName === 'aggregate') aggregates.push(e.command);
  });
  try {
    await client.connect();
    const c = client.db('r').collection<any>('c');
    const stream = await opened(c.watch([], { maxAwaitTimeMS: 3000 }));
    await writer.db('r').collection<any>('c').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i })));
    const before = await take(stream, 5);
    // The next getMore waits on the server; its connection is cut under it.
    const rest = take(stream, 5, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    proxy.cut();
    await writer.db('r').collection<any>('c').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: 5 + i })));
    assert.deepEqual([...before, ...(await rest)].map((e: any) => e.documentKey._id), Array.from({ length: 10 }, (_, i) => i));
    assert.equal(await stream.tryNext(), null, 'nothing twice');
    assert.equal(aggregates.length, 2, 'the driver opened the stream again');
    assert.ok(aggregates[1]!.pipeline[0].$changeStream.resumeAfter, 'with resumeAfter');
    await stream.close();
  } finally {
    await client.close();
    await writer.close();
    await proxy.close();
  }
});

test('a stream survives the server closing all connections of its endpoint: its cursor lives on the server', async () => {
  const uri = await branchUri('cs-suspend');
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    const c = client.db('r').collection<any>('c');
    const stream = await opened(c.watch([], { maxAwaitTimeMS: 200 }));
    await c.insertMany([{ _id: 0 }, { _id: 1 }]);
    const before = await take(stream, 2);
    await env.client.db('admin').command({ argonBranchSuspend: 'cs-suspend' });
    assert.equal((await env.client.db('admin').command({ argonEndpoints: 1 })).endpoints.find((e: any) => e.ref === 'cs-suspend').connections, 0);
    await env.server.store.write('cs-suspend', [2, 3].map((i) => ({ op: 'insert' as const, db: 'r', coll: 'c', doc: { _id: i } })));
    const after = await take(stream, 2);
    assert.deepEqual([...before, ...after].map((e: any) => e.documentKey._id), [0, 1, 2, 3]);
    assert.equal(await stream.tryNext(), null);
    await stream.close();
  } finally {
    await client.close();
  }
});

test("a branch endpoint's stream sees that branch's writes only", async () => {
  await env.client.db('cs9').collection<any>('c').insertOne({ _id: 'before-fork' });
  const dev = new MongoClient(await branchUri('cs-dev'), { serverSelectionTimeoutMS: 5000 });
  try {
    const onDev = await opened(dev.db('cs9').collection<any>('c').watch());
    const onMain = await opened(env.client.db('cs9').collection<any>('c').watch());
    await env.client.db('cs9').collection<any>('c').insertOne({ _id: 'main-only' });
    await dev.db('cs9').collection<any>('c').insertOne({ _id: 'dev-only' });
    await dev.db('cs9').collection<any>('c').updateOne({ _id: 'before-fork' }, { $set: { x: 1 } });
    const devEvents = (await take(onDev, 2)) as any[];
    assert.deepEqual(devEvents.map((e) => e.documentKey._id), ['dev-only', 'before-fork']);
    assert.deepEqual(devEvents[1].updateDescription.updatedFields, { x: 1 });
    assert.equal(await onDev.tryNext(), null);
    const mainEvents = (await take(onMain, 1)) as any[];
    assert.deepEqual(mainEvents.map((e) => e.documentKey._id), ['main-only']);
    assert.equal(await onMain.tryNext(), null);
    // A token of main's stream names no change of dev: resuming dev from it is refused.
    await assert.rejects(dev.db('cs9').collection<any>('c').watch([], { resumeAfter: mainEvents[0]._id }).tryNext(), code(280));
    await onDev.close();
    await onMain.close();
  } finally {
    await dev.close();
  }
});

test('a branch reset or renamed away invalidates the streams that followed it', async () => {
  const onBranch = new MongoClient(await branchUri('cs-reset'), { serverSelectionTimeoutMS: 5000 });
  try {
    const stream = await opened(onBranch.db('cs10').collection<any>('c').watch());
    await onBranch.db('cs10').collection<any>('c').insertOne({ _id: 'kept?' });
    assert.equal(((await take(stream, 1))[0] as any).documentKey._id, 'kept?');
    await env.client.db('admin').command({ argonBranchReset: 'cs-reset', backup: 'cs-reset-old' });
    const [event] = (await take(stream, 1)) as any[];
    assert.equal(event.operationType, 'invalidate');
    assert.equal(stream.closed, true);
  } finally {
    await onBranch.close();
  }
});

test('cursor protocol: non-zero id, awaitData getMore times out with an empty batch and a newer token, a commit wakes it', async () => {
  const db = env.client.db('cs10');
  const reply = await command(db, { aggregate: 'w', pipeline: [{ $changeStream: {} }], cursor: {} });
  const id = reply.cursor.id as Long;
  assert.ok(Long.isLong(id) && !id.isZero(), 'a change stream cursor stays open even when empty');
  assert.deepEqual(reply.cursor.firstBatch, []);
  const firstToken = reply.cursor.postBatchResumeToken._data as string;

  await env.client.db('cs10').collection<any>('unwatched').insertOne({ _id: 1 });
  let t0 = Date.now();
  const empty = await command(db, { getMore: id, collection: 'w', maxTimeMS: 300 });
  const waited = Date.now() - t0;
  assert.ok(waited >= 250 && waited < 3000, `waited ${waited} ms`);
  assert.deepEqual(empty.cursor.nextBatch, []);
  assert.ok(empty.cursor.postBatchResumeToken._data > firstToken, 'the token moves past changes it did not report');
  assert.ok(empty.cursor.id.equals(id));

  t0 = Date.now();
  const pending = command(db, { getMore: id, collection: 'w', maxTimeMS: 10_000 });
  setTimeout(() => void db.collection<any>('w').insertOne({ _id: 'wake' }), 100);
  const woken = await pending;
  assert.ok(Date.now() - t0 < 5000, 'a commit on the branch ends the wait');
  assert.deepEqual(woken.cursor.nextBatch.map((e: any) => e.documentKey._id), ['wake']);
  assert.ok(woken.cursor.postBatchResumeToken._data >= woken.cursor.nextBatch[0]._id._data);

  // killCursors stops a waiting getMore and forgets the cursor.
  t0 = Date.now();
  const waiting = command(db, { getMore: id, collection: 'w', maxTimeMS: 10_000 }).catch((err) => err);
  await new Promise((r) => setTimeout(r, 100));
  const killed = await command(db, { killCursors: 'w', cursors: [id] });
  assert.equal(killed.cursorsKilled.length, 1);
  assert.ok(killed.cursorsKilled[0].equals(id));
  assert.equal((await waiting).code, 237);
  assert.ok(Date.now() - t0 < 5000);
  await assert.rejects(command(db, { getMore: id, collection: 'w' }), code(43));
});

test('batchSize splits a backlog over getMores; a full batch ends at its last event', async () => {
  const db = env.client.db('cs11');
  const reply = await command(db, { aggregate: 'b', pipeline: [{ $changeStream: {} }], cursor: {} });
  await db.collection<any>('b').insertMany(Array.from({ length: 7 }, (_, i) => ({ _id: i })));
  const ids: number[] = [];
  for (let round = 0; round < 4; round++) {
    const r = await command(db, { getMore: reply.cursor.id, collection: 'b', batchSize: 3, maxTimeMS: 100 });
    assert.ok(r.cursor.nextBatch.length <= 3);
    ids.push(...r.cursor.nextBatch.map((e: any) => e.documentKey._id.valueOf()));
    // A full batch stops at its last event; one that drained the log may point past it.
    if (r.cursor.nextBatch.length === 3) assert.equal(r.cursor.postBatchResumeToken._data, r.cursor.nextBatch.at(-1)._id._data);
    if (r.cursor.nextBatch.length > 0) assert.ok(r.cursor.postBatchResumeToken._data >= r.cursor.nextBatch.at(-1)._id._data);
  }
  assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6]);
  await command(db, { killCursors: 'b', cursors: [reply.cursor.id] });
});

test('invalid change streams get MongoDB error codes', async () => {
  const db = env.client.db('cs12');
  const agg = (pipeline: Document[], on: string | number = 'c', database = db) => database.command({ aggregate: on, pipeline, cursor: {} });
  await assert.rejects(agg([{ $match: {} }, { $changeStream: {} }]), code(40602));
  await assert.rejects(agg([{ $changeStream: { bogus: 1 } }]), code(40415));
  await assert.rejects(agg([{ $changeStream: 1 }]), code(50808));
  await assert.rejects(agg([{ $changeStream: { fullDocument: 'sometimes' } }]), code(2));
  await assert.rejects(agg([{ $changeStream: { fullDocument: 1 } }]), code(14));
  await assert.rejects(agg([{ $changeStream: {} }, { $group: { _id: null } }]), code(20));
  const token = { _data: '01000000000000000100000000FF' };
  await assert.rejects(agg([{ $changeStream: { resumeAfter: token, startAfter: token } }]), code(50865));
  await assert.rejects(agg([{ $changeStream: { resumeAfter: token, startAtOperationTime: new Timestamp({ t: 1, i: 1 }) } }]), code(40674));
  await assert.rejects(agg([{ $changeStream: { resumeAfter: { _data: 'zz' } } }]), code(9));
  await assert.rejects(agg([{ $changeStream: { resumeAfter: { _data: 5 } } }]), code(40647));
  await assert.rejects(agg([{ $changeStream: { allChangesForCluster: true } }]), code(72));
  await assert.rejects(agg([{ $changeStream: {} }], 1, env.client.db('admin')), code(73));
  await assert.rejects(agg([{ $changeStream: {} }], 'system.views'), code(73));
});

test('a resume point older than the retained history: ChangeStreamHistoryLost (286)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-cs-retention-'));
  let now = Date.now();
  const store = await Store.open(dir, { retentionMs: 1000, compactionIntervalMs: 0, now: () => now });
  const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, store, logger: pino({ level: 'silent' }) });
  const client = new MongoClient(await server.uri('main'), { serverSelectionTimeoutMS: 5000 });
  try {
    const c = client.db('old').collection<any>('c');
    const stream = await opened(c.watch());
    await c.insertOne({ _id: 1 });
    await c.insertOne({ _id: 2 });
    const [old] = (await take(stream, 1)) as any[];
    await stream.close();
    now += 60_000;
    await c.insertOne({ _id: 3 });
    await assert.rejects(c.watch([], { resumeAfter: old._id }).tryNext(), code(286));
    await assert.rejects(c.watch([], { startAtOperationTime: new Timestamp({ t: 1, i: 0 }) }).tryNext(), code(286));
  } finally {
    await client.close();
    await server.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the official driver v6 watches too', async () => {
  const requireV6 = createRequire(new URL('../../test/drivers/v6/package.json', import.meta.url));
  const v6 = requireV6('mongodb') as typeof import('mongodb');
  const client = new v6.MongoClient(env.uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const c = client.db('cs13').collection<any>('v6');
    const stream = c.watch([], { fullDocument: 'updateLookup' });
    assert.equal(await stream.tryNext(), null);
    await c.insertOne({ _id: 1, v: 1 });
    await c.updateOne({ _id: 1 }, { $inc: { v: 1 } });
    const events = (await take(stream as any, 2)) as any[];
    assert.deepEqual(events.map((e) => e.operationType), ['insert', 'update']);
    assert.deepEqual(events[1].fullDocument, { _id: 1, v: 2 });
    await stream.close();
  } finally {
    await client.close();
  }
});

// Debian's python3 has python3-pymongo; the python3 first on PATH may be another interpreter.
test('pymongo watches, reads update descriptions and resumes', { skip: !existsSync('/usr/bin/python3') && 'no /usr/bin/python3' }, async () => {
  const script = new URL('../../test/fixtures/pymongo_changestream.py', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, env.uri], { timeout: 60_000 });
  assert.equal(stdout.trim(), 'OK');
});
