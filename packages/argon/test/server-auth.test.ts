import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError } from 'mongodb';
import pino from 'pino';
import { ArgonServer } from '../src/server/server.js';

const run = promisify(execFile);
const MONGOSH = new URL('../../../../node_modules/.bin/mongosh', import.meta.url).pathname;
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const DEBIAN_PYTHON = '/usr/bin/python3';
const requireV6 = createRequire(new URL('../../test/drivers/v6/package.json', import.meta.url));

const ROOT_PASSWORD = 'r00t-S3cret!';
let server: ArgonServer;
let dir: string;
let logText = '';
let http: string;
let root: MongoClient;
const clients: MongoClient[] = [];

function uriFor(user: string, password: string, port = server.port, db = ''): string {
  return `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}?directConnection=true`;
}

async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3000 });
  clients.push(client);
  await client.connect();
  return client;
}

async function refused(promise: Promise<unknown>, code: number): Promise<MongoServerError> {
  const err = await promise.then(
    () => assert.fail('expected the server to refuse'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MongoServerError, String(err));
  assert.equal(err.code, code, err.message);
  return err;
}

async function rest(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${http}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'argon-auth-'));
  const sink = new Writable({
    write(chunk, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  server = await ArgonServer.start({ dataDir: dir, port: 0, httpPort: 0, logger: pino({ level: 'debug' }, sink), admin: { user: 'root', password: ROOT_PASSWORD } });
  const address = (server as unknown as { http: { server: { address(): { port: number } } } }).http.server.address();
  http = `http://127.0.0.1:${address.port}`;
  root = await connect(uriFor('root', ROOT_PASSWORD));
  const admin = root.db('admin');
  await admin.command({ createUser: 'vera', pwd: 'viewer-pw', roles: ['viewer'] });
  await admin.command({ createUser: 'dev', pwd: 'dev-pw', roles: [{ role: 'developer', db: 'admin' }] });
  await root.db('shop').command({ createUser: 'clerk', pwd: 'clerk-pw', roles: ['readWrite'] });
  await root.db('shop').collection('items').insertOne({ _id: 1 as any, name: 'pen' });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('authentication is on by default: unauthenticated clients get only the handshake', async () => {
  const anonymous = await connect(`mongodb://127.0.0.1:${server.port}/?directConnection=true`);
  assert.equal((await anonymous.db('admin').command({ ping: 1 })).ok, 1);
  const err = await refused(anonymous.db('shop').collection('items').findOne(), 13);
  assert.match(err.message, /requires authentication/);
  await refused(anonymous.db('admin').command({ argonBranchList: 1 }), 13);
  const status = await anonymous.db('admin').command({ connectionStatus: 1 });
  assert.deepEqual(status.authInfo.authenticatedUsers, []);
});

test('SCRAM-SHA-256: right password signs in, wrong password or unknown user fail alike', async () => {
  const status = await root.db('admin').command({ connectionStatus: 1 });
  assert.deepEqual(status.authInfo.authenticatedUsers, [{ user: 'root', db: 'admin' }]);
  const wrong = new MongoClient(uriFor('vera', 'nope'), { serverSelectionTimeoutMS: 2000 });
  clients.push(wrong);
  const e1 = await refused(wrong.connect(), 18);
  const ghost = new MongoClient(uriFor('ghost', 'nope'), { serverSelectionTimeoutMS: 2000 });
  clients.push(ghost);
  const e2 = await refused(ghost.connect(), 18);
  assert.equal(e1.message, e2.message, 'an unknown user and a wrong password look the same');
  const sha1 = new MongoClient(uriFor('vera', 'viewer-pw') + '&authMechanism=SCRAM-SHA-1', { serverSelectionTimeoutMS: 2000 });
  clients.push(sha1);
  await refused(sha1.connect(), 334);
  // A user of another database signs in against it (authSource).
  const clerk = await connect(uriFor('clerk', 'clerk-pw', server.port, 'shop'));
  assert.equal((await clerk.db('shop').collection('items').countDocuments()), 1);
});

test('roles on the wire: viewer reads, developer writes and branches, admin protects; database roles stay in their database', async () => {
  const vera = await connect(uriFor('vera', 'viewer-pw'));
  const dev = await connect(uriFor('dev', 'dev-pw'));
  const clerk = await connect(uriFor('clerk', 'clerk-pw', server.port, 'shop'));
  assert.equal((await vera.db('shop').collection('items').findOne())?.name, 'pen');
  assert.ok((await vera.db('admin').command({ argonBranchList: 1 })).branches.length >= 1);
  assert.equal((await vera.db('admin').command({ argonDiff: 'main', to: 'main' })).ok, 1);
  const denied = await refused(vera.db('shop').collection('items').insertOne({ _id: 2 as any }), 13);
  assert.match(denied.message, /needs the developer role/);
  await refused(vera.db('admin').command({ argonBranchCreate: 'vera-branch' }), 13);

  await dev.db('shop').collection('items').insertOne({ _id: 3 as any, name: 'ink' });
  await dev.db('admin').command({ argonBranchCreate: 'feature' });
  await refused(dev.db('admin').command({ argonBranchProtect: 'main' }), 13);
  await refused(dev.db('admin').command({ createUser: 'x', pwd: 'y', roles: [] }), 13);

  await clerk.db('shop').collection('items').updateOne({ _id: 1 as any }, { $set: { price: 2 } });
  await refused(clerk.db('other').collection('c').insertOne({}), 13);
  await refused(clerk.db('admin').command({ argonBranchCreate: 'clerk-branch' }), 13);

  // A protected branch: only an admin deletes, renames or resets it; a developer still merges into it.
  await root.db('admin').command({ argonBranchCreate: 'release' });
  await root.db('admin').command({ argonBranchProtect: 'release' });
  await refused(dev.db('admin').command({ argonBranchDelete: 'release' }), 13);
  await refused(dev.db('admin').command({ argonBranchReset: 'release' }), 13);
  const merged = await dev.db('admin').command({ argonMerge: 'feature', into: 'release' });
  assert.equal(merged.ok, 1);
  await dev.db('admin').command({ argonBranchDelete: 'feature' });
  await root.db('admin').command({ argonBranchDelete: 'release' });
});

test('roles on gates, manual merges and change streams', async () => {
  const vera = await connect(uriFor('vera', 'viewer-pw'));
  const dev = await connect(uriFor('dev', 'dev-pw'));
  const gate = { name: 'has-name', kind: 'jsonSchema', db: 'shop', coll: 'items', schema: { required: ['name'] } };
  await refused(dev.db('admin').command({ argonGateSet: 'main', gate }), 13);
  await root.db('admin').command({ argonGateSet: 'main', gate });
  assert.equal((await vera.db('admin').command({ argonGateList: 'main' })).gates.length, 1);
  await refused(dev.db('admin').command({ argonGateDelete: 'main', name: 'has-name' }), 13);
  await root.db('admin').command({ argonGateDelete: 'main', name: 'has-name' });
  // Webhook secrets and URL tokens stay with admins, and out of the audit log.
  const hook = { name: 'ci', kind: 'webhook', url: 'http://127.0.0.1:9/hook?token=t0ken', secret: 'hmac-key' };
  assert.equal((await root.db('admin').command({ argonGateSet: 'main', gate: hook })).gates[0].secret, '***');
  const seen = (await vera.db('admin').command({ argonGateList: 'main' })).gates[0];
  assert.equal(seen.url, 'http://127.0.0.1:9/hook?***');
  assert.equal(seen.secret, '***');
  assert.equal((await root.db('admin').command({ argonGateList: 'main' })).gates[0].url, hook.url);
  const { entries } = await root.db('admin').command({ argonAudit: 1, command: 'argonGateSet', limit: 1 });
  assert.equal(entries[0].args.gate.secret, '***');
  await root.db('admin').command({ argonGateDelete: 'main', name: 'ci' });

  await dev.db('shop').collection<any>('items').insertOne({ _id: 'c1', name: 'orig' });
  await dev.db('admin').command({ argonBranchCreate: 'manual-src' });
  const port = (await dev.db('admin').command({ argonEndpoint: 'manual-src' })).port;
  const onBranch = await connect(uriFor('dev', 'dev-pw', port));
  await onBranch.db('shop').collection<any>('items').updateOne({ _id: 'c1' }, { $set: { name: 'branch' } });
  await dev.db('shop').collection<any>('items').updateOne({ _id: 'c1' }, { $set: { name: 'main' } });
  const started = await dev.db('admin').command({ argonMerge: 'manual-src', into: 'main', strategy: 'manual' });
  assert.equal(started.status, 'conflicts');
  const { merge } = await vera.db('admin').command({ argonConflictsList: 'main' });
  assert.equal(merge.conflicts.length, 1);
  await refused(vera.db('admin').command({ argonConflictsResolve: 'main', conflict: merge.conflicts[0].id, take: 'theirs' }), 13);
  const resolved = await dev.db('admin').command({ argonConflictsResolve: 'main', conflict: merge.conflicts[0].id, take: 'theirs' });
  assert.equal(resolved.completed, true);
  assert.equal((await vera.db('shop').collection<any>('items').findOne({ _id: 'c1' }))?.name, 'branch');

  // A viewer may watch; the stream sees the developer's write.
  const stream = vera.db('shop').collection<any>('items').watch();
  const next = stream.next();
  await new Promise((r) => setTimeout(r, 200));
  await dev.db('shop').collection<any>('items').insertOne({ _id: 'watched', name: 'w' });
  const event = await next;
  await stream.close();
  assert.equal(event.operationType, 'insert');
  assert.equal((event as any).documentKey._id, 'watched');
  await dev.db('admin').command({ argonBranchDelete: 'manual-src' });
});

test('user management: createUser errors, usersInfo shapes and visibility, updateUser, grant/revoke, dropUser', async () => {
  const admin = root.db('admin');
  await refused(admin.command({ createUser: 'vera', pwd: 'x', roles: [] }), 51003);
  await refused(admin.command({ createUser: 'nobody', pwd: 'x', roles: ['superhero'] }), 31);
  await refused(admin.command({ createUser: 'noroles', pwd: 'x' }), 2);
  const info = await admin.command({ usersInfo: 'vera' });
  assert.equal(info.users.length, 1);
  assert.equal(info.users[0]._id, 'admin.vera');
  assert.deepEqual(info.users[0].roles, [{ role: 'viewer', db: 'admin' }]);
  assert.deepEqual(info.users[0].mechanisms, ['SCRAM-SHA-256']);
  assert.equal(info.users[0].credentials, undefined, 'credentials are never shown');
  const all = await admin.command({ usersInfo: { forAllDBs: true } });
  assert.deepEqual(all.users.map((u: any) => u._id).sort(), ['admin.dev', 'admin.root', 'admin.vera', 'shop.clerk']);

  const vera = await connect(uriFor('vera', 'viewer-pw'));
  assert.equal((await vera.db('admin').command({ usersInfo: 'vera' })).users.length, 1, 'anyone reads their own entry');
  await refused(vera.db('admin').command({ usersInfo: 'dev' }), 13);

  await admin.command({ createUser: 'temp', pwd: 'first', roles: ['viewer'] });
  await admin.command({ updateUser: 'temp', pwd: 'second' });
  const old = new MongoClient(uriFor('temp', 'first'), { serverSelectionTimeoutMS: 2000 });
  clients.push(old);
  await refused(old.connect(), 18);
  const temp = await connect(uriFor('temp', 'second'));
  await refused(temp.db('shop').collection('items').insertOne({}), 13);
  await admin.command({ grantRolesToUser: 'temp', roles: ['developer'] });
  await temp.db('shop').collection('scratch').insertOne({ ok: true });
  await admin.command({ revokeRolesFromUser: 'temp', roles: ['developer'] });
  await refused(temp.db('shop').collection('scratch').insertOne({}), 13);
  await admin.command({ dropUser: 'temp' });
  await refused(admin.command({ dropUser: 'temp' }), 11);
  const gone = new MongoClient(uriFor('temp', 'second'), { serverSelectionTimeoutMS: 2000 });
  clients.push(gone);
  await refused(gone.connect(), 18);
});

test('HTTP: API keys, capped at their owner role, checked on every route but /health and /openapi.json', async () => {
  assert.equal((await rest('GET', '/health')).status, 200);
  assert.equal((await rest('GET', '/openapi.json')).status, 200);
  const none = await rest('GET', '/v1/branches');
  assert.equal(none.status, 401);
  assert.equal(none.json.error, 'Unauthorized');
  assert.equal((await rest('GET', '/v1/branches', 'argon_0000000000000000_' + 'x'.repeat(43))).status, 401);
  assert.equal((await rest('GET', '/metrics')).status, 401);

  const vera = await connect(uriFor('vera', 'viewer-pw'));
  await refused(vera.db('admin').command({ argonApiKeyCreate: 'too-strong', role: 'developer' }), 13);
  const veraKey = (await vera.db('admin').command({ argonApiKeyCreate: 'notebook' })).key as string;
  assert.match(veraKey, /^argon_[0-9a-f]{16}_/);
  assert.equal((await rest('GET', '/v1/branches', veraKey)).status, 200);
  assert.equal((await rest('GET', '/metrics', veraKey)).status, 200);
  const forbidden = await rest('POST', '/v1/branches', veraKey, { name: 'from-rest' });
  assert.equal(forbidden.status, 403);
  assert.match(forbidden.json.message, /developer/);

  const dev = await connect(uriFor('dev', 'dev-pw'));
  const devKey = (await dev.db('admin').command({ argonApiKeyCreate: 'ci', role: 'developer' })).key as string;
  const readOnlyKey = (await dev.db('admin').command({ argonApiKeyCreate: 'dashboards', role: 'viewer' })).key as string;
  assert.equal((await rest('POST', '/v1/branches', devKey, { name: 'from-rest' })).status, 201);
  assert.equal((await rest('POST', '/v1/branches', readOnlyKey, { name: 'from-rest-2' })).status, 403, "a key's own role caps its owner's");
  assert.equal((await rest('POST', '/v1/users', devKey, { user: 'x', password: 'y', roles: ['viewer'] })).status, 403);
  assert.equal((await rest('DELETE', '/v1/branches/from-rest', devKey)).status, 200);

  const listed = await rest('GET', '/v1/apikeys', devKey);
  assert.deepEqual(listed.json.apiKeys.map((k: any) => k.name).sort(), ['ci', 'dashboards']);
  assert.ok(listed.json.apiKeys.every((k: any) => k.hash === undefined && k.key === undefined), 'no secret is listed');
  const id = listed.json.apiKeys.find((k: any) => k.name === 'ci').id;
  assert.equal((await rest('DELETE', `/v1/apikeys/${id}`, devKey)).status, 200);
  assert.equal((await rest('GET', '/v1/branches', devKey)).status, 401, 'a revoked key stops working');

  // Admin through HTTP: users.
  const rootKey = (await root.db('admin').command({ argonApiKeyCreate: 'ops' })).key as string;
  assert.equal((await rest('POST', '/v1/users', rootKey, { user: 'restuser', password: 'pw1', roles: ['viewer'] })).status, 201);
  const users = await rest('GET', '/v1/users', rootKey);
  assert.ok(users.json.users.some((u: any) => u.user === 'restuser'));
  assert.equal((await rest('DELETE', '/v1/users/restuser', rootKey)).status, 200);
  assert.equal((await rest('DELETE', '/v1/users/restuser', rootKey)).status, 404);
});

test('the audit log records who did what, through which interface, with refusals, and never secrets', async () => {
  const dev = await connect(uriFor('dev', 'dev-pw'));
  const vera = await connect(uriFor('vera', 'viewer-pw'));
  await dev.db('admin').command({ argonBranchCreate: 'audited' });
  await refused(vera.db('admin').command({ argonBranchDelete: 'audited' }), 13);
  await dev.db('admin').command({ argonBranchDelete: 'audited' });
  const { entries } = await root.db('admin').command({ argonAudit: 1, limit: 500 });
  const mine = entries.filter((e: any) => e.target === 'audited');
  assert.deepEqual(
    mine.map((e: any) => [e.command, e.who, e.via, e.ok, e.error ?? null]).reverse(),
    [
      ['argonBranchCreate', 'dev@admin', 'wire', true, null],
      ['argonBranchDelete', 'vera@admin', 'wire', false, 'Unauthorized'],
      ['argonBranchDelete', 'dev@admin', 'wire', true, null],
    ],
  );
  assert.ok(mine.every((e: any) => e.time instanceof Date));
  const created = entries.find((e: any) => e.command === 'createUser' && e.target === 'vera');
  assert.equal(created.args.pwd, '***');
  assert.ok(entries.some((e: any) => e.command === 'argonBranchCreate' && e.via === 'rest' && e.who.startsWith('apikey:')));
  await refused(vera.db('admin').command({ argonAudit: 1 }), 13);

  const rootKey = (await root.db('admin').command({ argonApiKeyCreate: 'auditor' })).key as string;
  const viaRest = await rest('GET', '/v1/audit?command=argonBranchDelete&limit=2', rootKey);
  assert.equal(viaRest.status, 200);
  assert.equal(viaRest.json.entries.length, 2);
  assert.ok(viaRest.json.entries.every((e: any) => e.command === 'argonBranchDelete'));
  for (const secret of [ROOT_PASSWORD, 'viewer-pw', 'dev-pw', rootKey]) assert.ok(!logText.includes(secret), 'a secret reached the log');
  assert.ok(!JSON.stringify(entries).includes('viewer-pw'));
});

test('real clients sign in with user:password@ URIs: driver v6, mongosh, pymongo', async () => {
  const v6 = requireV6('mongodb') as typeof import('mongodb');
  const client = new v6.MongoClient(uriFor('dev', 'dev-pw'), { serverSelectionTimeoutMS: 3000 });
  try {
    assert.equal(await client.db('shop').collection('items').countDocuments(), (await root.db('shop').collection('items').countDocuments()));
  } finally {
    await client.close();
  }
  const { stdout } = await run(MONGOSH, [uriFor('vera', 'viewer-pw'), '--quiet', '--norc', '--eval', 'print(JSON.stringify(db.getSiblingDB("shop").items.findOne({_id: 1})))'], { timeout: 60_000 });
  assert.equal(JSON.parse(stdout.trim().split('\n').at(-1)!).name, 'pen');
  if (existsSync(DEBIAN_PYTHON)) {
    const script = 'import sys, pymongo\nc = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000)\nprint(c.shop.items.find_one({"_id": 1})["name"])\ntry:\n  c.shop.items.insert_one({})\nexcept pymongo.errors.OperationFailure as e:\n  print(e.code)\n';
    const py = await run(DEBIAN_PYTHON, ['-c', script, uriFor('vera', 'viewer-pw')], { timeout: 60_000 });
    assert.deepEqual(py.stdout.trim().split('\n'), ['pen', '13']);
  }
});

test('a server started with authentication and no user writes the first admin to a private file; the CLI uses it', async () => {
  const fresh = mkdtempSync(join(tmpdir(), 'argon-auth-boot-'));
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const boot = await ArgonServer.start({ dataDir: fresh, port: 0, logger: pino({ level: 'debug' }, sink) });
  try {
    assert.ok(boot.credentialsFile);
    assert.equal(statSync(boot.credentialsFile).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(boot.credentialsFile, 'utf8'));
    assert.equal(saved.user, 'admin');
    assert.ok(!text.includes(saved.password) && !text.includes(saved.apiKey), 'the generated secrets are not logged');
    const base = `mongodb://127.0.0.1:${boot.port}/?directConnection=true`;
    const { stdout } = await run(process.execPath, [CLI, '--data', fresh, '--server', base, 'branch', 'list', '--json'], { timeout: 30_000 });
    assert.ok(JSON.parse(stdout).some((b: any) => b.name === 'main'));
    const connect = await run(process.execPath, [CLI, '--data', fresh, '--server', base, 'connect', 'main'], { timeout: 30_000 });
    const printed = connect.stdout.trim();
    assert.equal(new URL(printed).username, 'admin');
    const client = new MongoClient(printed, { serverSelectionTimeoutMS: 3000 });
    try {
      assert.equal((await client.db('admin').command({ connectionStatus: 1 })).authInfo.authenticatedUsers[0].user, 'admin');
    } finally {
      await client.close();
    }
    const cli = (...args: string[]) => run(process.execPath, [CLI, '--data', fresh, '--server', base, ...args], { timeout: 30_000 });
    await cli('user', 'create', 'analyst', '--role', 'viewer', '--password', 'an4lyst');
    assert.ok(JSON.parse((await cli('--json', 'user', 'list')).stdout).some((u: any) => u.user === 'analyst' && u.roles[0].role === 'viewer'));
    const key = JSON.parse((await cli('--json', 'apikey', 'create', 'laptop', '--role', 'developer')).stdout);
    assert.match(key.key, /^argon_/);
    assert.equal(key.role, 'developer');
    assert.ok(JSON.parse((await cli('--json', 'apikey', 'list')).stdout).some((k: any) => k.id === key.id));
    await cli('apikey', 'revoke', key.id);
    const audit = JSON.parse((await cli('--json', 'audit', '--command', 'argonApiKeyRevoke')).stdout);
    assert.equal(audit[0].target, key.id);
    assert.equal(audit[0].who, 'admin@admin');
    await cli('user', 'drop', 'analyst');
    assert.ok(!JSON.parse((await cli('--json', 'user', 'list')).stdout).some((u: any) => u.user === 'analyst'));
    const anonymousCli = await run(process.execPath, [CLI, '--data', join(fresh, 'elsewhere'), '--server', base, 'branch', 'list'], { timeout: 30_000 }).then(
      () => assert.fail('expected the CLI to fail without credentials'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(anonymousCli.code, 1);
    assert.match(anonymousCli.stderr, /requires authentication/);
  } finally {
    await boot.stop();
    rmSync(fresh, { recursive: true, force: true });
  }
});
