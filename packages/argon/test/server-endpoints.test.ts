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
