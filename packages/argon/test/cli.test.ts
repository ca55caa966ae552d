import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { formatDuration, paint, printTable } from '../src/cli/format.js';
import { runCli, startServer } from './server-helpers.js';


let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

const argon = (...args: string[]) => runCli(env.uri, ...args);

test('the CLI branches, connects, diffs, merges and logs through the running server', async () => {
  await env.client.db('app').collection<any>('t').insertOne({ _id: 1, v: 1 });
  const created = await argon('--json', 'branch', 'create', 'exp');
  assert.equal(created.code, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout).parent, 'main');
  const list = JSON.parse((await argon('--json', 'branch', 'list')).stdout);
  assert.deepEqual(list.map((b: any) => b.name).sort(), ['exp', 'main']);
  assert.match((await argon('branch', 'list')).stdout, /^NAME\s+PARENT/m);

  const uri = (await argon('connect', 'exp')).stdout.trim();
  assert.notEqual(uri, env.uri);
  const exp = new MongoClient(uri);
  try {
    await exp.db('app').collection<any>('t').updateOne({ _id: 1 }, { $set: { v: 2 } });
  } finally {
    await exp.close();
  }
  const diff = await argon('diff', 'main', 'exp');
  assert.match(diff.stdout, /app\.t: \+0 -0 ~1/);
  assert.match(diff.stdout, /v: 1 → 2/);

  const dry = await argon('merge', 'exp', '--into', 'main', '--dry-run');
  assert.equal(dry.code, 0);
  assert.match(dry.stdout, /Dry run: merged \(fast-forward\): 0 inserted, 1 updated/);
  assert.equal((await env.client.db('app').collection<any>('t').findOne({ _id: 1 }))!.v, 1);
  assert.equal((await argon('merge', 'exp', '--into', 'main')).code, 0);
  assert.equal((await env.client.db('app').collection<any>('t').findOne({ _id: 1 }))!.v, 2);

  await env.client.db('app').collection<any>('t').updateOne({ _id: 1 }, { $set: { v: 3 } });
  const e2 = new MongoClient(uri);
  try {
    await e2.db('app').collection<any>('t').updateOne({ _id: 1 }, { $set: { v: 4 } });
  } finally {
    await e2.close();
  }
  const conflicted = await argon('merge', 'exp', '--into', 'main');
  assert.equal(conflicted.code, 1, 'a merge that does not complete exits non-zero');
  assert.match(conflicted.stdout, /conflicts.*\n\s+conflict field app\.t 1 v/);
  assert.equal((await argon('merge', 'exp', '--into', 'main', '--strategy', 'theirs')).code, 0);

  const committed = await argon('commit', 'main', '-m', 'after the merges', '--author', 'ada');
  assert.equal(committed.code, 0, committed.stderr);
  const ref = committed.stdout.match(/Committed (main@\d+)/)![1]!;
  assert.match((await argon('log', 'main', '--limit', '5')).stdout, /after the merges \(ada\)/);
  assert.match((await argon('diff', ref, 'main')).stdout, /No differences/, 'a commit is a ref');
  const log = JSON.parse((await argon('--json', 'log', 'main', '--limit', '3')).stdout);
  assert.equal(log.length, 3);
  const lastMerge = log[0].lsn;
  const reverted = await argon('revert', 'main', '--lsn', String(lastMerge));
  assert.equal(reverted.code, 0, reverted.stderr);
  assert.match(reverted.stdout, /merged: 0 inserted, 1 updated/);
  assert.equal((await env.client.db('app').collection<any>('t').findOne({ _id: 1 }))!.v, 3, 'the theirs-merge is undone');
  const bad = await argon('branch', 'create', 'no good');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^argon: InvalidBranchName: Invalid branch name/);
  assert.equal((await argon('branch', 'delete', 'exp')).code, 0);
});

test('tags are refs: tag, connect to it read-only, branch from it, diff against it', async () => {
  const items = env.client.db('shop').collection<any>('items');
  await items.insertOne({ _id: 'a' });
  assert.equal((await argon('tag', 'create', 'v1')).code, 0);
  await items.insertOne({ _id: 'b' });
  const tags = JSON.parse((await argon('--json', 'tag', 'list')).stdout);
  assert.deepEqual(tags.map((t: any) => [t.name, t.branch]), [['v1', 'main']]);

  const atTag = new MongoClient((await argon('connect', 'v1')).stdout.trim());
  try {
    assert.deepEqual((await atTag.db('shop').collection<any>('items').find().toArray()).map((d) => d._id), ['a']);
  } finally {
    await atTag.close();
  }
  assert.equal((await argon('branch', 'create', 'from-v1', '--from', 'v1')).code, 0);
  assert.deepEqual([...env.server.store.scan('from-v1', 'shop', 'items')].map((d) => d._id), ['a']);
  const diff = JSON.parse((await argon('--json', 'diff', 'v1', 'main')).stdout);
  const shop = diff.collections.find((c: any) => c.db === 'shop');
  assert.deepEqual(shop.added.map((d: any) => d.id), ['b']);
  assert.equal((await argon('tag', 'delete', 'v1')).code, 0);
  const missing = await argon('connect', 'v1');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No branch or tag named 'v1'/);
});

test('branch protect and reset through the CLI', async () => {
  await argon('branch', 'create', 'guarded');
  assert.equal((await argon('branch', 'protect', 'guarded')).code, 0);
  const port = (await env.client.db('admin').command({ argonEndpoint: 'guarded' })).port;
  const guarded = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  try {
    await assert.rejects(guarded.db('g').collection<any>('c').insertOne({ _id: 1 }), (err: any) => err.code === 50007);
    assert.equal((await argon('branch', 'protect', 'guarded', '--off')).code, 0);
    await guarded.db('g').collection<any>('c').insertOne({ _id: 1 });
    const reset = JSON.parse((await argon('--json', 'branch', 'reset', 'guarded', '--backup', 'guarded-old')).stdout);
    assert.equal(reset.backup.name, 'guarded-old');
    assert.equal(await guarded.db('g').collection<any>('c').countDocuments(), 0, 'the endpoint now serves the reset branch');
  } finally {
    await guarded.close();
  }
});

test('the end-to-end scenario: branch, insert, suspend, resume, insert, branch from the moment between, delete', async () => {
  assert.equal((await argon('branch', 'create', 'e2e')).code, 0);
  const uri = (await argon('connect', 'e2e')).stdout.trim();
  const client = new MongoClient(uri);
  try {
    const docs = client.db('tour').collection<any>('notes');
    await docs.insertOne({ _id: 'first' });
    const suspended = JSON.parse((await argon('--json', 'branch', 'suspend', 'e2e')).stdout);
    assert.equal(suspended.state, 'suspended');
    const between = new Date();
    await new Promise((r) => setTimeout(r, 15));
    const t0 = performance.now();
    await docs.insertOne({ _id: 'second' }); // the driver reconnects: that resumes the endpoint
    const resumeMs = performance.now() - t0;
    assert.ok(resumeMs < 1000, `resumed transparently in ${resumeMs.toFixed(1)} ms`);
    const { endpoints } = await env.client.db('admin').command({ argonEndpoints: 1 });
    assert.equal(endpoints.find((e: any) => e.ref === 'e2e').state, 'active');
    assert.equal((await argon('branch', 'create', 'e2e-past', '--from', 'e2e', '--at', between.toISOString())).code, 0);
    assert.deepEqual([...env.server.store.scan('e2e-past', 'tour', 'notes')].map((d) => d._id), ['first']);
    assert.deepEqual((await docs.find().toArray()).map((d) => d._id), ['first', 'second']);
  } finally {
    await client.close();
  }
  assert.equal((await argon('branch', 'delete', 'e2e-past')).code, 0);
  assert.equal((await argon('branch', 'delete', 'e2e')).code, 0);
  const names = JSON.parse((await argon('--json', 'branch', 'list')).stdout).map((b: any) => b.name);
  assert.ok(!names.includes('e2e') && !names.includes('e2e-past'));
});

test('status reports the running server: version, uptime, head LSN, branches, endpoints, connections', async () => {
  const human = await argon('status');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^Argon \d+\.\d+\.\d+ \(MongoDB 7\.0\.0 compatible\), up \d+/m);
  assert.match(human.stdout, /^head LSN \d+ · \d+ branches · \d+ connections$/m);
  assert.match(human.stdout, /^ENDPOINT\s+PORT\s+STATE\s+CONNECTIONS\s+LASTACTIVE$/m);
  const status = JSON.parse((await argon('--json', 'status')).stdout);
  const { branches } = await env.client.db('admin').command({ argonBranchList: 1 });
  assert.equal(status.branches, branches.length);
  assert.equal(status.headLsn, env.server.store.headLsn);
  assert.equal(status.server, env.uri);
  assert.ok(status.connections >= 2, 'the test client and the CLI itself');
  assert.equal(typeof status.uptimeSeconds, 'number');
  assert.ok(status.endpoints.some((e: any) => e.ref === 'main' && e.state === 'active' && e.port === env.server.port));
});

test('piped output carries no colour codes; the branch list marks the current and protected branches', async () => {
  await argon('branch', 'create', 'plain');
  await env.server.store.write('plain', [{ op: 'insert', db: 'app', coll: 'colours', doc: { _id: 'p' } }]);
  await argon('branch', 'protect', 'plain');
  const outputs = [await argon('branch', 'list'), await argon('diff', 'main', 'plain'), await argon('status'), await argon('merge', 'plain', '--into', 'main', '--dry-run')];
  for (const out of outputs) assert.doesNotMatch(out.stdout + out.stderr, /\x1b\[/);
  const list = outputs[0]!.stdout;
  assert.match(list, /^\* main\s/m, 'the server endpoint the CLI talks to serves main');
  assert.match(list, /^ {2}plain\s.*\sprotected$/m);
  await argon('branch', 'protect', 'plain', '--off');
  assert.equal((await argon('branch', 'delete', 'plain')).code, 0);
});

test('colour only on a terminal and without NO_COLOR; tables align on the visible text', (t) => {
  const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  const noColor = process.env.NO_COLOR;
  t.after(() => {
    if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
    if (noColor === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = noColor;
  });
  Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
  delete process.env.NO_COLOR;
  assert.equal(paint.green('+1'), '\x1b[32m+1\x1b[39m');
  const lines: string[] = [];
  t.mock.method(console, 'log', (line: string) => lines.push(line));
  printTable([{ name: paint.red('ab'), n: 1 }, { name: 'abcd', n: 2 }]);
  assert.deepEqual(lines.map((l) => l.replace(/\x1b\[\d+m/g, '')), ['NAME  N', 'ab    1', 'abcd  2']);
  process.env.NO_COLOR = '1';
  assert.equal(paint.green('+1'), '+1');
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
  delete process.env.NO_COLOR;
  assert.equal(paint.red('-1'), '-1');
  assert.deepEqual([formatDuration(42), formatDuration(250), formatDuration(7_380), formatDuration(90_000)], ['42s', '4m 10s', '2h 03m', '1d 1h 00m']);
});
