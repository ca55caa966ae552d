import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';

test('the REST API manages merge gates, reports refusals with 412, and runs manual merges to completion', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-rest-merges-'));
  const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, httpPort: 0, logger: pino({ level: 'silent' }) });
  const base = `http://127.0.0.1:${server.httpPort}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, json: (await res.json()) as any };
  };
  const seen: any[] = [];
  const hook = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      seen.push(JSON.parse(text));
      res.writeHead(seen.length === 1 ? 409 : 200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const client = new MongoClient(await server.uri('main'));
  try {
    const items = client.db('shop').collection<any>('items');
    await items.insertOne({ _id: 1, price: 10, name: 'pen' });
    assert.equal((await call('POST', '/v1/branches', { name: 'sale' })).status, 201);
    const { port } = (await call('GET', '/v1/branches/sale/endpoint')).json;
    const sale = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
    try {
      await sale.db('shop').collection<any>('items').updateOne({ _id: 1 }, { $set: { price: 8, name: 'blue pen' } });
    } finally {
      await sale.close();
    }

    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/review`;
    const put = await call('PUT', '/v1/branches/main/gates/review', { kind: 'webhook', url });
    assert.equal(put.status, 200);
    assert.deepEqual(put.json.gates, [{ name: 'review', kind: 'webhook', url, timeoutMs: 10000 }]);
    assert.equal((await call('PUT', '/v1/branches/main/gates/cheap', { kind: 'pipeline', db: 'shop', coll: 'items', pipeline: [{ $match: { price: { $lt: 1 } } }] })).status, 200);
    assert.equal((await call('PUT', '/v1/branches/main/gates/broken', { kind: 'pipeline', db: 'shop', coll: 'items', pipeline: [{ $out: 'x' }] })).status, 400);
    assert.deepEqual((await call('GET', '/v1/branches/main/gates')).json.gates.map((g: any) => g.name), ['cheap', 'review']);
    assert.equal((await call('GET', '/v1/branches/nope/gates')).status, 404);

    const refused = await call('POST', '/v1/merge', { source: 'sale', into: 'main' });
    assert.equal(refused.status, 412);
    assert.equal(refused.json.error, 'MergeGateFailed');
    assert.equal(refused.json.code, 50008);
    assert.deepEqual(refused.json.gates.map((g: any) => [g.name, g.passed, g.details.status ?? g.details.returned]), [['cheap', true, 0], ['review', false, 409]]);
    assert.equal(seen[0].source, 'sale');
    assert.deepEqual(seen[0].documents, [{ db: 'shop', coll: 'items', id: 1, op: 'update' }]);
    assert.equal((await items.findOne({ _id: 1 }))!.price, 10);

    // A manual merge: main changed the same field meanwhile.
    await items.updateOne({ _id: 1 }, { $set: { price: 12 } });
    const manual = await call('POST', '/v1/merge', { source: 'sale', into: 'main', strategy: 'manual' });
    assert.equal(manual.status, 409);
    assert.equal(manual.json.status, 'conflicts');
    assert.equal(manual.json.pending.unresolved, 1);
    const pending = (await call('GET', '/v1/branches/main/pending-merge')).json.merge;
    assert.deepEqual(pending.conflicts.map((c: any) => [c.id, c.documentId, c.path, c.base, c.ours, c.theirs]), [[1, 1, 'price', 10, 12, 8]]);
    assert.equal((await call('POST', '/v1/merge', { source: 'sale', into: 'main', strategy: 'manual' })).status, 409, 'MergeInProgress');
    assert.equal((await call('POST', '/v1/branches/main/pending-merge/conflicts/5', { take: 'ours' })).status, 404);
    const resolved = await call('POST', '/v1/branches/main/pending-merge/conflicts/1', { value: 9 });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.json.completed, true);
    assert.equal(resolved.json.result.status, 'merged');
    assert.deepEqual(await items.findOne({ _id: 1 }), { _id: 1, price: 9, name: 'blue pen' });
    assert.equal(seen.length, 2, 'completing asked the webhook again');

    const log = (await call('GET', '/v1/branches/main/merges?limit=1')).json.merges;
    assert.deepEqual(log.map((m: any) => [m.source, m.strategy, m.gates.map((g: any) => g.passed)]), [['sale', 'manual', [true, true]]]);
    assert.equal((await call('GET', '/v1/branches/main/pending-merge')).json.merge, null);
    assert.equal((await call('DELETE', '/v1/branches/main/pending-merge')).status, 404);
    assert.deepEqual((await call('DELETE', '/v1/branches/main/gates/review')).json.gates.map((g: any) => g.name), ['cheap']);

    const openapi = (await call('GET', '/openapi.json')).json;
    for (const path of ['/v1/branches/{name}/gates', '/v1/branches/{name}/gates/{gate}', '/v1/branches/{name}/merges', '/v1/branches/{name}/pending-merge', '/v1/branches/{name}/pending-merge/conflicts/{id}']) {
      assert.ok(openapi.paths[path], path);
    }
    assert.ok(openapi.paths['/v1/merge'].post.requestBody.content['application/json'].schema.properties.strategy.enum.includes('manual'));
  } finally {
    await client.close();
    await new Promise((r) => hook.close(r));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
