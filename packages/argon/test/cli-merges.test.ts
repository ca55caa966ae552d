import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { runCli, startServer } from './server-helpers.js';


let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

const argon = (...args: string[]) => runCli(env.uri, ...args);

async function onBranch(branch: string, fn: (client: MongoClient) => Promise<unknown>): Promise<void> {
  const client = new MongoClient((await argon('connect', branch)).stdout.trim());
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

test('argon merge --strategy manual stops on conflicts and says how to go on; argon conflicts lists, resolves and aborts', async () => {
  const docs = env.client.db('app').collection<any>('docs');
  await docs.insertMany([{ _id: 1, title: 'base', body: 'base' }, { _id: 2, title: 'base' }]);
  assert.equal((await argon('branch', 'create', 'draft')).code, 0);
  await docs.updateMany({}, { $set: { title: 'main' } });
  await onBranch('draft', (c) => c.db('app').collection<any>('docs').updateMany({}, { $set: { title: 'draft', body: 'draft' } }));

  const merge = await argon('merge', 'draft', '--into', 'main', '--strategy', 'manual');
  assert.equal(merge.code, 1, 'non-zero while conflicts are pending');
  assert.match(merge.stdout, /conflict field app\.docs 1 title/);
  assert.match(merge.stdout, /Nothing was written to 'main'/);
  assert.match(merge.stdout, /argon conflicts resolve main ID --ours\|--theirs\|--base\|--keep\|--delete\|--value JSON/);
  assert.match((await argon('merge', '--help')).stdout, /--strategy manual/);

  const list = await argon('conflicts', 'list', 'main');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /Merge of 'draft' into 'main' .*: 2 of 2 conflicts unresolved/);
  assert.match(list.stdout, /^ID\s+KIND\s+NS\s+_ID\s+PATH\s+BASE\s+OURS\s+THEIRS\s+RESOLUTION$/m);
  assert.match(list.stdout, /^1\s+field\s+app\.docs\s+1\s+title\s+"base"\s+"main"\s+"draft"\s+-$/m);
  const listed = JSON.parse((await argon('conflicts', 'list', 'main', '--json')).stdout);
  assert.deepEqual(listed.conflicts.map((c: any) => [c.id, c.documentId, c.path]), [[1, 1, 'title'], [2, 2, 'title']]);

  const again = await argon('merge', 'draft', '--into', 'main', '--strategy', 'manual');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /MergeInProgress: a manual merge of 'draft' into 'main' is pending/);

  const bad = await argon('conflicts', 'resolve', 'main', '1', '--ours', '--theirs');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /choose one of --ours/);
  const first = await argon('conflicts', 'resolve', 'main', '1', '--value', '"both"');
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Resolved conflict 1; 1 left/);
  const last = await argon('conflicts', 'resolve', 'main', '2', '--theirs');
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.stdout, /Merge into 'main' completed: 0 inserted, 2 updated, 0 deleted/);
  assert.deepEqual(await docs.find().sort({ _id: 1 }).toArray(), [{ _id: 1, title: 'both', body: 'draft' }, { _id: 2, title: 'draft', body: 'draft' }]);
  assert.match((await argon('conflicts', 'list')).stdout, /No merge into 'main' is pending/);

  await docs.updateOne({ _id: 2 }, { $set: { title: 'main 2' } });
  await onBranch('draft', (c) => c.db('app').collection<any>('docs').updateOne({ _id: 2 }, { $set: { title: 'draft 2' } }));
  assert.equal((await argon('merge', 'draft', '--into', 'main', '--strategy', 'manual')).code, 1);
  const aborted = await argon('conflicts', 'abort', 'main');
  assert.equal(aborted.code, 0, aborted.stderr);
  assert.match(aborted.stdout, /Aborted the merge of 'draft' into 'main'/);
  assert.equal((await docs.findOne({ _id: 2 })).title, 'main 2');
  assert.equal((await argon('conflicts', 'abort', 'main')).code, 1);
});

test('argon gate add, list, check, history and remove; a refused merge exits non-zero with the reasons', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-cli-gates-'));
  try {
    const orders = env.client.db('shop').collection<any>('orders');
    await orders.insertOne({ _id: 1, total: 5 });
    assert.equal((await argon('branch', 'create', 'bulk')).code, 0);
    await onBranch('bulk', (c) => c.db('shop').collection<any>('orders').insertMany([{ _id: 2, total: -1 }, { _id: 3 }]));
    const schemaFile = join(dir, 'schema.json');
    writeFileSync(schemaFile, JSON.stringify({ required: ['total'], properties: { total: { minimum: 0 } } }));

    const added = await argon('gate', 'add', 'main', 'totals', '--schema', `@${schemaFile}`, '--ns', 'shop.orders');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Gate 'totals' \(jsonSchema\) set on 'main'; it has 1 gate\(s\)/);
    assert.equal((await argon('gate', 'add', 'main', 'few', '--pipeline', '[{"$count": "n"}, {"$match": {"n": {"$gt": 10}}}]', '--ns', 'shop.orders')).code, 0);
    const noNs = await argon('gate', 'add', 'main', 'x', '--pipeline', '[]');
    assert.equal(noNs.code, 1);
    assert.match(noNs.stderr, /--ns DB\.COLLECTION is required/);
    const two = await argon('gate', 'add', 'main', 'x', '--webhook', 'http://127.0.0.1:1/', '--pipeline', '[]');
    assert.match(two.stderr, /exactly one of --schema, --pipeline, --webhook/);
    const unset = await argon('gate', 'add', 'main', 'signed', '--webhook', 'http://127.0.0.1:1/', '--secret-env', 'ARGON_TEST_NO_SUCH_VAR');
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /ARGON_TEST_NO_SUCH_VAR is not set/);

    const list = await argon('gate', 'list', 'main');
    assert.match(list.stdout, /^few\s+pipeline\s+shop\.orders\s+returns nothing: /m);
    assert.match(list.stdout, /^totals\s+jsonSchema\s+shop\.orders\s+all documents match /m);
    assert.deepEqual(JSON.parse((await argon('--json', 'gate', 'list', 'main')).stdout).map((g: any) => g.name), ['few', 'totals']);

    const check = await argon('gate', 'check', 'bulk', '--into', 'main');
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^totals\s+jsonSchema\s+FAILED\s+\{"checked":3,"failed":2,"ids":\[2,3\]\}$/m);
    assert.match(check.stdout, /^few\s+pipeline\s+passed/m);

    const refused = await argon('merge', 'bulk', '--into', 'main');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^argon: MergeGateFailed: merge into 'main' refused by its gates: totals \(jsonSchema\): 2 of 3 documents do not match the schema \(_id 2, 3\)/);
    assert.equal(await orders.countDocuments(), 1);

    await onBranch('bulk', (c) => c.db('shop').collection<any>('orders').updateMany({}, { $set: { total: 1 } }));
    assert.equal((await argon('gate', 'check', 'bulk', '--into', 'main')).code, 0);
    const merged = await argon('merge', 'bulk', '--into', 'main');
    assert.equal(merged.code, 0, merged.stderr);
    const history = await argon('gate', 'history', 'main');
    assert.match(history.stdout, /^\d+\s+\S+\s+bulk@\d+\s+fail\s+\+2 ~1 -0\s+few passed, totals passed$/m);

    assert.equal((await argon('gate', 'remove', 'main', 'few')).code, 0);
    assert.equal((await argon('gate', 'remove', 'main', 'totals')).code, 0);
    assert.match((await argon('gate', 'list', 'main')).stdout, /'main' has no merge gates/);
    const missing = await argon('gate', 'remove', 'main', 'totals');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NoSuchKey: branch 'main' has no merge gate named 'totals'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
