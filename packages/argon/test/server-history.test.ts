import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { ArgonServer } from '../src/server/server.js';

const run = promisify(execFile);
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

let server: ArgonServer;
let dir: string;
let root: MongoClient;
let dev: MongoClient;
const uri = (user: string, pwd: string) => `mongodb://${user}:${pwd}@127.0.0.1:${server.port}/?directConnection=true`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'argon-history-'));
  server = await ArgonServer.start({ dataDir: dir, port: 0, httpPort: 0, logger: pino({ level: 'silent' }), admin: { user: 'root', password: 'pw' } });
  root = new MongoClient(uri('root', 'pw'));
  await root.connect();
  await root.db('admin').command({ createUser: 'dev', pwd: 'dpw', roles: ['developer'] });
  dev = new MongoClient(uri('dev', 'dpw'));
  await dev.connect();
  const items = dev.db('shop').collection<any>('items');
  await items.insertOne({ _id: 'a', qty: 1 });
  await items.insertOne({ _id: 'b', qty: 5 });
  await dev.db('shop').collection<any>('orders').insertOne({ _id: 'a', total: 3 });
  await items.updateOne({ _id: 'a' }, { $set: { qty: 2 } });
  await root.db('shop').collection<any>('items').updateOne({ _id: 'a' }, { $inc: { qty: 10 } });
  await items.deleteOne({ _id: 'a' });
  await dev.db('other').collection<any>('x').insertOne({ _id: 1 });
});

after(async () => {
  await dev.close();
  await root.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the log says who wrote each batch and filters by database, collection and document', async () => {
  const admin = dev.db('admin');
  const all = (await admin.command({ argonLog: 'main' })).entries;
  assert.ok(all.every((e: any) => e.who === 'dev@admin' || e.who === 'root@admin'));
  assert.ok(all.some((e: any) => e.who === 'root@admin' && e.changes[0].op === 'update'));
  const shop = (await admin.command({ argonLog: 'main', ns: 'shop' })).entries;
  assert.ok(shop.length === 6 && shop.every((e: any) => e.changes.every((c: any) => c.db === 'shop')));
  const items = (await admin.command({ argonLog: 'main', ns: 'shop.items' })).entries;
  assert.equal(items.length, 5);
  const docA = (await admin.command({ argonLog: 'main', ns: 'shop.items', id: 'a' })).entries;
  assert.deepEqual(docA.map((e: any) => e.changes[0].op), ['delete', 'update', 'update', 'insert']);
  assert.ok(docA.every((e: any) => e.changes.every((c: any) => c.id === 'a' && c.coll === 'items')), 'orders/a is a different document');
  await assert.rejects(admin.command({ argonLog: 'main', id: 'a' }), /needs 'ns'/);
  const { commit } = await admin.command({ argonCommit: 'main', message: 'stock take' });
  assert.equal(commit.author, 'dev@admin', "a commit's author defaults to the signed-in user");
});

test('the history of one document: every version, newest first, with author and content', async () => {
  const { versions } = await dev.db('admin').command({ argonHistory: 'main', ns: 'shop.items', id: 'a' });
  assert.deepEqual(
    versions.map((v: any) => [v.op, v.who, v.document === null ? null : v.document.qty]),
    [
      ['delete', 'dev@admin', null],
      ['update', 'root@admin', 12],
      ['update', 'dev@admin', 2],
      ['insert', 'dev@admin', 1],
    ],
  );
  assert.ok(versions[0].lsn > versions[1].lsn && versions[0].time instanceof Date);
  // A branch shows its parent's history up to the fork, then its own.
  await root.db('admin').command({ argonBranchCreate: 'hist-branch' });
  const port = (await root.db('admin').command({ argonEndpoint: 'hist-branch' })).port;
  const onBranch = new MongoClient(`mongodb://dev:dpw@127.0.0.1:${port}/?directConnection=true`);
  try {
    await onBranch.db('shop').collection<any>('items').insertOne({ _id: 'a', qty: 99 });
  } finally {
    await onBranch.close();
  }
  const branchVersions = (await dev.db('admin').command({ argonHistory: 'hist-branch', ns: 'shop.items', id: 'a' })).versions;
  assert.deepEqual(branchVersions.map((v: any) => v.document?.qty ?? null), [99, null, 12, 2, 1]);
  assert.equal((await dev.db('admin').command({ argonHistory: 'main', ns: 'shop.items', id: 'a' })).versions.length, 4);
});

test('history and filtered log through REST and the CLI', async () => {
  const key = (await dev.db('admin').command({ argonApiKeyCreate: 'history-test' })).key;
  const address = (server as unknown as { http: { server: { address(): { port: number } } } }).http.server.address();
  const res = await fetch(`http://127.0.0.1:${address.port}/v1/branches/main/history?ns=shop.items&id=${encodeURIComponent('"a"')}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.versions.map((v: any) => v.op), ['delete', 'update', 'update', 'insert']);
  const log = await (await fetch(`http://127.0.0.1:${address.port}/v1/branches/main/log?ns=shop.orders`, { headers: { authorization: `Bearer ${key}` } })).json();
  assert.equal(log.entries.length, 1);

  const cli = (...args: string[]) => run(process.execPath, [CLI, '--server', uri('dev', 'dpw'), '--json', ...args], { timeout: 30_000 });
  const history = JSON.parse((await cli('history', 'main', 'shop.items', '"a"')).stdout);
  assert.deepEqual(history.map((v: any) => v.who), ['dev@admin', 'root@admin', 'dev@admin', 'dev@admin']);
  const filtered = JSON.parse((await cli('log', 'main', '--ns', 'shop.items', '--id', '"b"')).stdout);
  assert.equal(filtered.length, 1);
  assert.equal(filtered[0].changes[0].id, 'b');
});
