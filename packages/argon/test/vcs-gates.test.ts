import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize } from 'bson';
import { Store } from '../src/index.js';
import { ArgonError } from '../src/errors.js';
import { branchGates, gatesForDisplay, parseGate, removeGate, setGate, type GateReport } from '../src/vcs/gates.js';
import { mergeBranches, revertRange } from '../src/vcs/merge.js';
import { pendingMerge, resolveConflict, startManualMerge } from '../src/vcs/manual.js';
import { tempStore } from './helpers.js';

type Doc = Record<string, unknown>;
const ins = (id: unknown, extra: Doc = {}) => ({ op: 'insert' as const, db: 'shop', coll: 'orders', doc: { _id: id, ...extra } });
const rep = (id: unknown, extra: Doc = {}) => ({ op: 'replace' as const, db: 'shop', coll: 'orders', doc: { _id: id, ...extra } });
const ids = (store: Store, branch: string) => [...store.scan(branch, 'shop', 'orders')].map((d) => d._id);
const SCHEMA = { bsonType: 'object', required: ['total'], properties: { total: { bsonType: 'number', minimum: 0 } } };
const schemaGate = (scope = 'all') => ({ name: 'orders-schema', kind: 'jsonSchema', db: 'shop', coll: 'orders', schema: SCHEMA, scope });

/** The error a refused merge throws, with its gate reports. */
async function refusal(merge: Promise<unknown>): Promise<{ message: string; gates: GateReport[] }> {
  const err = await merge.then(
    () => assert.fail('the merge should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ArgonError && err.code === 50008 && err.codeName === 'MergeGateFailed', String(err));
  return { message: err.message, gates: err.info.gates as GateReport[] };
}

/** A local webhook: `decide` answers each POST (status, optional delay); every request body is kept. */
async function webhook(decide: (body: any, n: number) => { status: number; delayMs?: number }) {
  const bodies: any[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text);
      bodies.push({ body, text, contentType: req.headers['content-type'], signature: req.headers['x-argon-signature'], method: req.method });
      const { status, delayMs = 0 } = decide(body, bodies.length);
      setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'looks good' : 'no: totals must be checked'), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, bodies, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function withSale(store: Store, sale: unknown[]): Promise<void> {
  await store.write('main', [ins(1, { total: 10 }), ins(2, { total: 20 })]);
  await store.createBranch('sale');
  await store.write('sale', sale as never);
  await store.protectBranch('main', true);
}

test('a $jsonSchema gate refuses a merge whose result has invalid documents, and the dry run reports it', async () => {
  const { store, done } = await tempStore();
  try {
    await withSale(store, [rep(1, { total: -5 }), ins(3, { note: 'no total' }), ins(4, { total: 4 })]);
    await setGate(store, 'main', schemaGate());
    const before = store.headLsn;

    const dry = await mergeBranches(store, 'sale', 'main', { dryRun: true });
    assert.equal(dry.status, 'merged');
    assert.deepEqual(dry.gates, [{ name: 'orders-schema', kind: 'jsonSchema', passed: false, details: { checked: 4, failed: 2, ids: [1, 3] } }]);

    const { message, gates } = await refusal(mergeBranches(store, 'sale', 'main'));
    assert.match(message, /merge into 'main' refused by its gates: orders-schema \(jsonSchema\): 2 of 4 documents do not match the schema \(_id 1, 3\)/);
    assert.deepEqual(gates, dry.gates);
    assert.equal(store.headLsn, before, 'nothing written');
    assert.deepEqual(ids(store, 'main'), [1, 2]);

    await store.write('sale', [rep(1, { total: 5 }), rep(3, { total: 3 })]);
    const merged = await mergeBranches(store, 'sale', 'main');
    assert.equal(merged.status, 'merged');
    assert.deepEqual(merged.gates, [{ name: 'orders-schema', kind: 'jsonSchema', passed: true, details: { checked: 4, failed: 0, ids: [] } }]);
    assert.deepEqual(ids(store, 'main'), [1, 2, 3, 4]);
    const [record] = store.merges('main');
    assert.equal(record!.lsn, merged.lsn);
    assert.equal(record!.source, 'sale');
    const report = deserialize(record!.report!);
    assert.equal(report.strategy, 'fail');
    assert.deepEqual(report.applied, { inserted: 2, updated: 1, deleted: 0 });
    assert.deepEqual(report.gates, merged.gates, 'the gate report is kept with the merge record');
  } finally {
    await done();
  }
});

test("scope 'changed' checks only what the merge writes; 'all' also sees what the branch already had", async () => {
  const { store, done } = await tempStore();
  try {
    await store.write('main', [ins(0, { legacy: true })]);
    await withSale(store, [ins(5, { total: 5 })]);
    await setGate(store, 'main', schemaGate('all'));
    const all = await mergeBranches(store, 'sale', 'main', { dryRun: true });
    assert.deepEqual(all.gates![0]!.details, { checked: 4, failed: 1, ids: [0] });
    await setGate(store, 'main', schemaGate('changed'));
    assert.equal(branchGates(store, 'main').length, 1, 'setting a gate of the same name replaces it');
    const changed = await mergeBranches(store, 'sale', 'main');
    assert.deepEqual(changed.gates![0]!.details, { checked: 1, failed: 0, ids: [] });
    assert.deepEqual(ids(store, 'main'), [0, 1, 2, 5]);
  } finally {
    await done();
  }
});

test('a pipeline gate must return no documents on the merged state', async () => {
  const { store, done } = await tempStore();
  try {
    await withSale(store, [ins(3, { total: 900 }), ins(4, { total: 200 })]);
    // The sum of all totals must stay under 1000: the pipeline returns a document when it does not.
    await setGate(store, 'main', { name: 'budget', kind: 'pipeline', db: 'shop', coll: 'orders', pipeline: [{ $group: { _id: null, sum: { $sum: '$total' } } }, { $match: { sum: { $gte: 1000 } } }] });
    const { gates } = await refusal(mergeBranches(store, 'sale', 'main'));
    assert.deepEqual(gates, [{ name: 'budget', kind: 'pipeline', passed: false, details: { returned: 1, documents: [{ _id: null, sum: 1130 }] } }]);
    await store.write('sale', [rep(3, { total: 90 })]);
    const ok = await mergeBranches(store, 'sale', 'main');
    assert.deepEqual(ok.gates, [{ name: 'budget', kind: 'pipeline', passed: true, details: { returned: 0, documents: [] } }]);
    assert.deepEqual(ids(store, 'main'), [1, 2, 3, 4]);
  } finally {
    await done();
  }
});

test('a webhook gate receives the merge as JSON and its answer decides: 2xx passes, anything else refuses', async () => {
  const { store, done } = await tempStore();
  let verdict = 403;
  const hook = await webhook(() => ({ status: verdict }));
  try {
    await withSale(store, [rep(1, { total: 11 }), ins(3, { total: 3 })]);
    await setGate(store, 'main', { name: 'ci', kind: 'webhook', url: hook.url });
    const { message, gates } = await refusal(mergeBranches(store, 'sale', 'main'));
    assert.match(message, /ci \(webhook\): HTTP 403/);
    assert.deepEqual(gates, [{ name: 'ci', kind: 'webhook', passed: false, details: { status: 403, body: 'no: totals must be checked' } }]);
    assert.deepEqual(ids(store, 'main'), [1, 2]);

    const { body, contentType, method } = hook.bodies[0];
    assert.equal(method, 'POST');
    assert.equal(contentType, 'application/json');
    assert.equal(body.event, 'merge');
    assert.equal(body.source, 'sale');
    assert.equal(body.target, 'main');
    assert.equal(body.strategy, 'fail');
    assert.equal(body.dryRun, false);
    assert.equal(body.base.branch, 'main');
    assert.equal(typeof body.base.lsn, 'number');
    assert.deepEqual(body.applied, { inserted: 1, updated: 1, deleted: 0 });
    assert.deepEqual(body.summary, { 'shop.orders': { inserted: 1, updated: 1, deleted: 0 } });
    assert.deepEqual(body.documents, [
      { db: 'shop', coll: 'orders', id: 1, op: 'update' },
      { db: 'shop', coll: 'orders', id: 3, op: 'insert' },
    ]);

    verdict = 204;
    const merged = await mergeBranches(store, 'sale', 'main');
    assert.equal(merged.status, 'merged');
    assert.deepEqual(merged.gates, [{ name: 'ci', kind: 'webhook', passed: true, details: { status: 204, body: '' } }]);
    assert.deepEqual(ids(store, 'main'), [1, 2, 3]);
    assert.equal(hook.bodies.length, 2, 'asked once per merge when nothing moves in between');
  } finally {
    await hook.close();
    await done();
  }
});

test('a webhook that does not answer in time, or cannot be reached, fails its gate', async () => {
  const { store, done } = await tempStore();
  const slow = await webhook(() => ({ status: 200, delayMs: 2000 }));
  const gone = await webhook(() => ({ status: 200 }));
  await gone.close();
  try {
    await withSale(store, [ins(3, { total: 3 })]);
    await setGate(store, 'main', { name: 'slow', kind: 'webhook', url: slow.url, timeoutMs: 200 });
    await setGate(store, 'main', { name: 'gone', kind: 'webhook', url: gone.url });
    const started = Date.now();
    const dry = await mergeBranches(store, 'sale', 'main', { dryRun: true });
    assert.ok(Date.now() - started < 1500, 'the timeout bounds the wait');
    const byName = Object.fromEntries(dry.gates!.map((g) => [g.name, g]));
    assert.deepEqual(byName.slow, { name: 'slow', kind: 'webhook', passed: false, details: { error: 'no reply within 200 ms' } });
    assert.equal(byName.gone!.passed, false);
    assert.match(String(byName.gone!.details.error), /ECONNREFUSED/);
    assert.equal(slow.bodies[0].body.dryRun, true, 'a dry run asks webhooks too, and says so');
  } finally {
    await slow.close();
    await done();
  }
});

test('webhooks are asked again when the changes moved while they were deciding', async () => {
  const { store, done } = await tempStore();
  const hook = await webhook((_body, n) => {
    // While the first answer is pending, the source changes: the approved changes are no longer the merge's.
    if (n === 1) void store.write('sale', [ins(9, { total: 9 })]);
    return { status: 200, delayMs: n === 1 ? 100 : 0 };
  });
  try {
    await withSale(store, [ins(3, { total: 3 })]);
    await setGate(store, 'main', { name: 'ci', kind: 'webhook', url: hook.url });
    await setGate(store, 'main', schemaGate());
    const merged = await mergeBranches(store, 'sale', 'main');
    assert.equal(hook.bodies.length, 2);
    assert.deepEqual(hook.bodies[0].body.documents.map((d: any) => d.id), [3]);
    assert.deepEqual(hook.bodies[1].body.documents.map((d: any) => d.id), [3, 9]);
    assert.deepEqual(ids(store, 'main'), [1, 2, 3, 9], 'what committed is what the second answer approved');
    assert.deepEqual(merged.gates!.map((g) => [g.name, g.passed]), [['orders-schema', true], ['ci', true]]);
  } finally {
    await hook.close();
    await done();
  }
});

test('gates also guard reverts; merges with nothing to write skip them; gates follow the branch name on reset', async () => {
  const { store, done } = await tempStore();
  try {
    await withSale(store, [ins(3, { total: 3 })]);
    await mergeBranches(store, 'sale', 'main');
    const undoable = store.headLsn;
    await setGate(store, 'main', { name: 'keep-3', kind: 'pipeline', db: 'shop', coll: 'orders', pipeline: [{ $group: { _id: null, n: { $sum: 1 } } }, { $match: { n: { $lt: 3 } } }] });
    await refusal(revertRange(store, 'main', { fromLsn: undoable }));
    assert.deepEqual(ids(store, 'main'), [1, 2, 3]);

    await setGate(store, 'main', schemaGate());
    const upToDate = await mergeBranches(store, 'sale', 'main');
    assert.equal(upToDate.status, 'up-to-date');
    assert.equal(upToDate.gates, undefined);

    await store.resetBranch('main', { lsn: undoable }, 'main-old');
    assert.deepEqual(branchGates(store, 'main').map((g) => g.name), ['keep-3', 'orders-schema']);
    assert.deepEqual(branchGates(store, 'main-old'), []);
    assert.deepEqual((await removeGate(store, 'main', 'keep-3')).map((g) => g.name), ['orders-schema']);
    await assert.rejects(removeGate(store, 'main', 'keep-3'), (err: unknown) => err instanceof ArgonError && err.codeName === 'NoSuchKey');
  } finally {
    await done();
  }
});

test('gate definitions are validated when they are set', async () => {
  const bad = (spec: Doc, pattern: RegExp) => assert.rejects(parseGate(spec), (err: unknown) => err instanceof ArgonError && err.codeName === 'BadValue' && pattern.test(err.message));
  await bad({ name: 'x', kind: 'lint' }, /unknown kind 'lint'/);
  await bad({ name: 'has space', kind: 'webhook', url: 'http://h/' }, /name/);
  await bad({ name: 'x', kind: 'webhook', url: 'ftp://h/' }, /http or https/);
  await bad({ name: 'x', kind: 'webhook', url: 'not a url' }, /not a URL/);
  await bad({ name: 'x', kind: 'webhook', url: 'http://h/', timeoutMs: 0 }, /timeoutMs/);
  await bad({ name: 'x', kind: 'jsonSchema', db: 'shop', schema: SCHEMA }, /'coll'/);
  await bad({ name: 'x', kind: 'jsonSchema', db: 'shop', coll: 'o', schema: { bsonType: 'nonsense' } }, /Unknown type name alias/);
  await bad({ name: 'x', kind: 'jsonSchema', db: 'shop', coll: 'o', schema: SCHEMA, scope: 'some' }, /scope/);
  await bad({ name: 'x', kind: 'pipeline', db: 'shop', coll: 'o', pipeline: [{ $out: 'elsewhere' }] }, /cannot write/);
  await bad({ name: 'x', kind: 'pipeline', db: 'shop', coll: 'o', pipeline: { $match: {} } }, /array of stages/);
  assert.deepEqual(await parseGate({ name: 'ci', kind: 'webhook', url: 'https://ci.example/hook' }), { name: 'ci', kind: 'webhook', url: 'https://ci.example/hook', timeoutMs: 10_000 });
});

test('completing a manual merge runs the gates; a refusal keeps the merge pending', async () => {
  const { store, done } = await tempStore();
  try {
    await withSale(store, [rep(1, { total: -1 })]);
    await store.protectBranch('main', false);
    await store.write('main', [rep(1, { total: 12 })]);
    await store.protectBranch('main', true);
    await setGate(store, 'main', schemaGate());
    const started = await startManualMerge(store, 'sale', 'main', false);
    assert.equal(started.status, 'conflicts');
    const { gates } = await refusal(resolveConflict(store, 'main', 1, 'theirs'));
    assert.deepEqual(gates[0]!.details.ids, [1]);
    assert.ok(pendingMerge(store, 'main'), 'still pending');
    assert.equal(store.get('main', 'shop', 'orders', 1)!.total, 12);
    const completed = await resolveConflict(store, 'main', 1, 'ours');
    assert.equal(completed.merge, null);
    assert.equal(pendingMerge(store, 'main'), null);
  } finally {
    await done();
  }
});

test('gates, pending merges and merge reports survive reopening the store', async () => {
  const { store, dir, done } = await tempStore();
  let reopened: Store | undefined;
  try {
    await withSale(store, [ins(3, { total: 3 })]);
    await setGate(store, 'main', schemaGate());
    await mergeBranches(store, 'sale', 'main');
    await store.protectBranch('main', false);
    await store.write('main', [rep(3, { total: 30 })]);
    await store.write('sale', [rep(3, { total: 300 })]);
    await startManualMerge(store, 'sale', 'main', false);
    await store.close();
    reopened = await Store.open(dir, { compactionIntervalMs: 0 });
    assert.deepEqual(branchGates(reopened, 'main').map((g) => g.name), ['orders-schema']);
    assert.deepEqual(pendingMerge(reopened, 'main')!.conflicts.map((c) => [c.path, Number(c.ours), Number(c.theirs)]), [['total', 30, 300]]);
    assert.equal(deserialize(reopened.merges('main')[0]!.report!).gates[0].passed, true);
    const done3 = await resolveConflict(reopened, 'main', 1, 'theirs');
    assert.equal(done3.result!.gates![0]!.passed, true);
    assert.equal(reopened.get('main', 'shop', 'orders', 3)!.total, 300);
  } finally {
    await reopened?.close();
    await done();
  }
});

test('a webhook with a secret gets an HMAC-SHA256 signature of the exact body; listings never show the secret', async () => {
  const { store, done } = await tempStore();
  const hook = await webhook(() => ({ status: 200 }));
  try {
    await setGate(store, 'main', { name: 'signed', kind: 'webhook', url: `${hook.url}?token=abc`, secret: 's3cret' });
    await withSale(store, [rep(1, { total: 11 })]);
    await mergeBranches(store, 'sale', 'main');
    const { text, signature } = hook.bodies[0];
    assert.equal(signature, `sha256=${createHmac('sha256', 's3cret').update(text).digest('hex')}`);
    const [forAdmin] = gatesForDisplay(branchGates(store, 'main'), true) as any[];
    assert.equal(forAdmin.secret, '***');
    assert.equal(forAdmin.url, `${hook.url}?token=abc`);
    const [forViewer] = gatesForDisplay(branchGates(store, 'main'), false) as any[];
    assert.equal(forViewer.url, `${hook.url}?***`);
    assert.equal(branchGates(store, 'main')[0]!.kind === 'webhook' && (branchGates(store, 'main')[0] as any).secret, 's3cret', 'kept for signing');
  } finally {
    await hook.close();
    await done();
  }
});
