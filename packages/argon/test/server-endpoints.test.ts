import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError } from 'mongodb';
import pino from 'pino';
import { ArgonServer } from '../src/server/server.js';

const IDLE_MS = 300;
let server: ArgonServer;
let dir: string;
let main: MongoClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'argon-endpoints-'));
  server = await ArgonServer.start({ dataDir: dir, port: 0, httpPort: 0, auth: false, autoSuspendMs: IDLE_MS, logger: pino({ level: 'silent' }) });
  main = new MongoClient(await server.uri('main'));
  await main.connect();
});

after(async () => {
  await main.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const state = async (ref: string) =>
  ((await main.db('admin').command({ argonEndpoints: 1 })).endpoints as { ref: string; state: string }[]).find((e) => e.ref === ref)?.state;

test('an endpoint idle for the configured time suspends itself; main never does; the next client resumes it', async () => {
  await main.db('admin').command({ argonBranchCreate: 'idle' });
  const client = new MongoClient(await server.uri('idle'));
  await client.db('t').collection<any>('c').insertOne({ _id: 1 });
  assert.equal(await state('idle'), 'active');
  await client.close();
  await new Promise((r) => setTimeout(r, IDLE_MS * 4));
  assert.equal(await state('idle'), 'suspended');
  assert.equal(await state('main'), 'active', 'main has a client, and is never auto-suspended');
  const again = new MongoClient(await server.uri('idle'));
  try {
    assert.equal(await again.db('t').collection('c').countDocuments(), 1);
    assert.equal(await state('idle'), 'active');
  } finally {
    await again.close();
  }
});

test('REST hands out read-only time-travel endpoints for BRANCH@TIME', async () => {
  await main.db('rest').collection<any>('c').insertOne({ _id: 'before' });
  await new Promise((r) => setTimeout(r, 20));
  const then = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await main.db('rest').collection<any>('c').insertOne({ _id: 'after' });
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/branches/${encodeURIComponent(`main@${then}`)}/endpoint`);
  assert.equal(res.status, 200);
  const { port } = (await res.json()) as { port: number };
  const past = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  try {
    assert.deepEqual((await past.db('rest').collection<any>('c').find().toArray()).map((d) => d._id), ['before']);
    await assert.rejects(past.db('rest').collection<any>('c').insertOne({ _id: 'x' }), (e: unknown) => e instanceof MongoServerError && e.code === 50006);
  } finally {
    await past.close();
  }
});

test('deleting a branch closes its endpoint and its time-travel endpoints: argonEndpoints no longer lists them and the ports refuse', async () => {
  await main.db('t').collection<any>('seed').insertOne({ _id: 'seed' });
  await main.db('admin').command({ argonBranchCreate: 'doomed' });
  const port = (await main.db('admin').command({ argonEndpoint: 'doomed' })).port as number;
  const lsn = (await main.db('admin').command({ serverStatus: 1 })).argon.headLsn;
  const pastPort = (await main.db('admin').command({ argonEndpoint: `doomed@${lsn}` })).port as number;
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { serverSelectionTimeoutMS: 1000 });
  await client.db('t').collection('c').findOne({});
  await main.db('admin').command({ argonBranchDelete: 'doomed' });
  const refs = ((await main.db('admin').command({ argonEndpoints: 1 })).endpoints as { ref: string }[]).map((e) => e.ref);
  assert.ok(!refs.some((r) => r.startsWith('doomed')), `still listed: ${refs}`);
  await assert.rejects(client.db('t').collection('c').findOne({}));
  await client.close();
  for (const p of [port, pastPort]) {
    const probe = new MongoClient(`mongodb://127.0.0.1:${p}/?directConnection=true`, { serverSelectionTimeoutMS: 500 });
    await assert.rejects(probe.db('admin').command({ ping: 1 }), /ECONNREFUSED|Server selection timed out/);
    await probe.close();
  }
});

test('renaming a branch closes the endpoint of its old name; the new name gets its own', async () => {
  await main.db('admin').command({ argonBranchCreate: 'old-name' });
  await main.db('admin').command({ argonEndpoint: 'old-name' });
  await main.db('admin').command({ argonBranchRename: 'old-name', to: 'new-name' });
  const refs = ((await main.db('admin').command({ argonEndpoints: 1 })).endpoints as { ref: string }[]).map((e) => e.ref);
  assert.ok(!refs.includes('old-name'));
  const client = new MongoClient(await server.uri('new-name'));
  assert.equal((await client.db('admin').command({ ping: 1 })).ok, 1);
  await client.close();
});

test('a time before a branch existed is refused with SnapshotTooOld, not read as an empty LSN 0', async () => {
  const before = new Date(Date.now() - 60 * 60_000).toISOString();
  await assert.rejects(main.db('admin').command({ argonEndpoint: `main@${before}` }), (err: MongoServerError) => err.codeName === 'SnapshotTooOld' && /before the history of 'main' began/.test(err.message));
  const tooOld = new Date(Date.now() - 30 * 24 * 60 * 60_000).toISOString();
  await assert.rejects(main.db('admin').command({ argonEndpoint: `main@${tooOld}` }), (err: MongoServerError) => err.codeName === 'SnapshotTooOld');
});
