import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { ArgonApiError, ArgonRestClient } from '../src/index.js';
import { ArgonServer } from '../src/server/server.js';

async function startHttpServer(auth: boolean): Promise<{ server: ArgonServer; baseUrl: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'argon-rest-client-'));
  const server = await ArgonServer.start({ dataDir: dir, port: 0, httpPort: 0, auth, logger: pino({ level: 'silent' }) });
  return {
    server,
    baseUrl: `http://127.0.0.1:${server.httpPort}`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let env: Awaited<ReturnType<typeof startHttpServer>>;
let api: ArgonRestClient;
before(async () => {
  env = await startHttpServer(false);
  api = new ArgonRestClient({ baseUrl: `${env.baseUrl}/` });
});
after(async () => {
  await env.stop();
});

/** Writes through the driver on a ref's endpoint (the REST API has no document routes). */
async function onBranch(port: number, fn: (items: import('mongodb').Collection<any>) => Promise<unknown>): Promise<void> {
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  try {
    await fn(client.db('shop').collection('items'));
  } finally {
    await client.close();
  }
}

test('branches: create, list, rename, protect, reset, endpoint, suspend, resume, endpoints, delete', async () => {
  const health = await api.health();
  assert.equal(health.status, 'ok');
  const created = await api.createBranch({ name: 'feature' });
  assert.equal(created.parent, 'main');
  assert.ok(created.created instanceof Date, 'Extended JSON dates come back as Date');
  assert.deepEqual((await api.listBranches()).map((b) => b.name).sort(), ['feature', 'main']);

  assert.equal((await api.renameBranch('feature', 'feat')).name, 'feat');
  assert.equal((await api.protectBranch('feat')).protected, true);
  assert.equal((await api.protectBranch('feat', false)).protected, false);

  const { port } = await api.endpoint('feat');
  await onBranch(port, (items) => items.insertOne({ _id: 1 }));
  const reset = await api.resetBranch('feat', { backup: 'feat-old' });
  assert.equal(reset.backup.name, 'feat-old');
  assert.equal(reset.branch.name, 'feat');

  assert.equal((await api.suspendBranch('feat')).state, 'suspended');
  assert.equal((await api.endpoints()).find((e) => e.ref === 'feat')?.state, 'suspended');
  const resumed = await api.resumeBranch('feat');
  assert.equal(resumed.state, 'active');
  assert.ok(resumed.lastActive instanceof Date);

  await api.deleteBranch('feat-old');
  await api.deleteBranch('feat');
  assert.deepEqual((await api.listBranches()).map((b) => b.name), ['main']);
  assert.equal((await api.openApi()).openapi, '3.1.0');
});

test('diff, merge, revert, commits, log and tags', async () => {
  const main = await api.endpoint('main');
  await onBranch(main.port, (items) => items.insertOne({ _id: 'pen', price: 10 }));
  await api.createBranch({ name: 'sale', from: 'main' });
  await onBranch((await api.endpoint('sale')).port, (items) => items.updateOne({ _id: 'pen' }, { $set: { price: 8 } }));

  const diff = await api.diff('main', 'sale');
  assert.deepEqual(diff.summary['shop.items'], { added: 0, removed: 0, modified: 1 });
  assert.deepEqual(diff.collections[0]!.modified[0]!.fields, [{ path: 'price', kind: 'changed', before: 10, after: 8 }]);

  const dry = await api.merge({ source: 'sale', into: 'main', dryRun: true });
  assert.equal(dry.dryRun, true);
  const merged = await api.merge({ source: 'sale', into: 'main' });
  assert.equal(merged.status, 'merged');
  assert.equal(merged.fastForward, true);

  const tag = await api.createTag('after-sale', 'main');
  assert.equal(tag.branch, 'main');
  assert.deepEqual((await api.listTags()).map((t) => t.name), ['after-sale']);

  const reverted = await api.revert({ branch: 'main', fromLsn: merged.lsn! });
  assert.equal(reverted.status, 'merged');
  assert.deepEqual(reverted.applied, { inserted: 0, updated: 1, deleted: 0 });

  const commit = await api.commit('main', { message: 'list price again', author: 'ada' });
  assert.equal(commit.ref, `main@${commit.lsn}`);
  const log = await api.log('main', { limit: 2 });
  assert.equal(log.entries.length, 2);
  assert.ok(log.entries[0]!.time instanceof Date);
  assert.deepEqual(log.commits.map((c) => c.message), ['list price again']);
  await api.deleteTag('after-sale');
  assert.deepEqual(await api.listTags(), []);

  // Both sides change the price again: a merge that stops resolves with its conflicts (HTTP 409).
  await onBranch(main.port, (items) => items.updateOne({ _id: 'pen' }, { $set: { price: 11 } }));
  await onBranch((await api.endpoint('sale')).port, (items) => items.updateOne({ _id: 'pen' }, { $set: { price: 7 } }));
  const conflicted = await api.merge({ source: 'sale', into: 'main' });
  assert.equal(conflicted.status, 'conflicts');
  assert.equal(conflicted.conflicts[0]!.path, 'price');
});

test('refusals throw ArgonApiError with the HTTP status and the server code', async () => {
  await assert.rejects(api.deleteBranch('nope'), (err: unknown) => {
    assert.ok(err instanceof ArgonApiError);
    assert.equal(err.status, 404);
    assert.equal(err.codeName, 'BranchNotFound');
    assert.equal(typeof err.code, 'number');
    assert.match(err.message, /nope/);
    return true;
  });
  await api.createBranch({ name: 'twice' });
  await assert.rejects(api.createBranch({ name: 'twice' }), (err: unknown) => err instanceof ArgonApiError && err.status === 409 && err.codeName === 'BranchExists');
  await assert.rejects(api.createBranch({ name: 'bad name' }), (err: unknown) => err instanceof ArgonApiError && err.status === 400 && err.codeName === 'InvalidBranchName');
  await assert.rejects(api.createBranch({ name: 'past', at: 10_000 }), (err: unknown) => err instanceof ArgonApiError && err.status === 400 && /future/.test(err.message));
});

test('the API key goes as a bearer token; without one the server answers 401', async () => {
  const secured = await startHttpServer(true);
  try {
    const { apiKey } = JSON.parse(readFileSync(secured.server.credentialsFile!, 'utf8')) as { apiKey: string };
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(new Headers(init?.headers).get('authorization') ?? '');
      return fetch(input, init);
    };
    const withKey = new ArgonRestClient({ baseUrl: secured.baseUrl, apiKey, fetch: recording });
    assert.deepEqual((await withKey.listBranches()).map((b) => b.name), ['main']);
    assert.deepEqual(seen, [`Bearer ${apiKey}`]);
    await assert.rejects(new ArgonRestClient({ baseUrl: secured.baseUrl }).listBranches(), (err: unknown) => err instanceof ArgonApiError && err.status === 401 && err.codeName === 'Unauthorized');
  } finally {
    await secured.stop();
  }
});

test('the client covers history, gates, manual merges, audit, API keys and users', async () => {
  const secured = await startHttpServer(true);
  try {
    const { apiKey, user, password } = JSON.parse(readFileSync(secured.server.credentialsFile!, 'utf8')) as { apiKey: string; user: string; password: string };
    const admin = new ArgonRestClient({ baseUrl: secured.baseUrl, apiKey });
    const write = async (ref: string, fn: (items: import('mongodb').Collection<any>) => Promise<unknown>) => {
      const { port } = await admin.endpoint(ref);
      const client = new MongoClient(`mongodb://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/?directConnection=true`);
      try {
        await fn(client.db('shop').collection('items'));
      } finally {
        await client.close();
      }
    };
    await write('main', (items) => items.insertOne({ _id: 7, name: 'pen' }));
    await admin.createBranch({ name: 'edit' });
    await write('edit', (items) => items.updateOne({ _id: 7 }, { $set: { name: 'red pen' } }));
    await write('main', (items) => items.updateOne({ _id: 7 }, { $set: { name: 'blue pen' } }));

    const versions = await admin.history('main', 'shop.items', 7);
    assert.deepEqual(versions.map((v) => [v.op, v.who, (v.document as any)?.name]), [['update', `${user}@admin`, 'blue pen'], ['insert', `${user}@admin`, 'pen']]);
    assert.equal((await admin.log('main', { ns: 'shop.items', id: 7 })).entries.length, 2);

    const gates = await admin.setGate('main', { name: 'named', kind: 'jsonSchema', db: 'shop', coll: 'items', schema: { required: ['name'] } } as any);
    assert.deepEqual(gates.map((g) => g.name), ['named']);
    assert.deepEqual((await admin.gates('main')).map((g) => g.kind), ['jsonSchema']);

    const started = await admin.merge({ source: 'edit', into: 'main', strategy: 'manual' });
    assert.equal(started.status, 'conflicts');
    const pending = await admin.pendingMerge('main');
    assert.equal(pending?.unresolved, 1);
    const resolved = await admin.resolveConflict('main', pending!.conflicts[0]!.id, { take: 'theirs' });
    assert.equal(resolved.completed, true);
    assert.equal(await admin.pendingMerge('main'), null);
    const [merge] = await admin.merges('main');
    assert.ok(merge!.gates?.every((g) => g.passed), 'the gate report is kept with the merge');
    assert.deepEqual((await admin.deleteGate('main', 'named')), []);
    await assert.rejects(admin.abortMerge('main'), (err: unknown) => err instanceof ArgonApiError && err.status >= 400);

    await admin.createUser({ user: 'ana', password: 'pw-ana', roles: ['viewer'] });
    assert.ok((await admin.users()).some((u) => u.user === 'ana' && u.roles[0]!.role === 'viewer'));
    const created = await admin.createApiKey('laptop', 'viewer');
    assert.ok((await admin.apiKeys()).some((k) => k.id === created.apiKey.id));
    const viewer = new ArgonRestClient({ baseUrl: secured.baseUrl, apiKey: created.key });
    await assert.rejects(viewer.createBranch({ name: 'nope' }), (err: unknown) => err instanceof ArgonApiError && err.status === 403);
    await admin.revokeApiKey(created.apiKey.id);
    await assert.rejects(viewer.listBranches(), (err: unknown) => err instanceof ArgonApiError && err.status === 401);
    await admin.dropUser('ana');
    const entries = await admin.audit({ command: 'argonConflictsResolve' });
    assert.equal(entries[0]?.ok, true);
    assert.ok(entries[0]!.time instanceof Date);
  } finally {
    await secured.stop();
  }
});
