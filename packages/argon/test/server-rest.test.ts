import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';

test('the REST API branches, diffs, merges, reverts and tags, with HTTP statuses for errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-rest-'));
  const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, httpPort: 0, logger: pino({ level: 'silent' }) });
  const base = `http://127.0.0.1:${server.httpPort}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, json: (await res.json()) as any };
  };
  const client = new MongoClient(await server.uri('main'));
  try {
    const main = client.db('shop').collection<any>('items');
    await main.insertOne({ _id: 1, price: 10 });
    assert.equal((await call('POST', '/v1/branches', { name: 'sale' })).status, 201);
    assert.deepEqual((await call('GET', '/v1/branches')).json.branches.map((b: any) => b.name).sort(), ['main', 'sale']);
    const { port } = (await call('GET', '/v1/branches/sale/endpoint')).json;
    const sale = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
    try {
      await sale.db('shop').collection<any>('items').updateOne({ _id: 1 }, { $set: { price: 8 } });
    } finally {
      await sale.close();
    }
    const diff = (await call('GET', '/v1/diff?from=main&to=sale')).json;
    assert.equal(diff.collections[0].modified[0].fields[0].path, 'price');
    const merged = await call('POST', '/v1/merge', { source: 'sale', into: 'main' });
    assert.equal(merged.status, 200);
    assert.equal(merged.json.status, 'merged');
    assert.equal((await main.findOne({ _id: 1 }))!.price, 8);
    const tagged = await call('POST', '/v1/tags', { name: 'after-sale', from: 'main' });
    assert.equal(tagged.status, 201);
    const reverted = await call('POST', '/v1/revert', { branch: 'main', fromLsn: merged.json.lsn });
    assert.equal(reverted.json.status, 'merged');
    assert.equal((await main.findOne({ _id: 1 }))!.price, 10);
    assert.equal((await call('POST', '/v1/branches/main/commits', { message: 'back to list price' })).status, 201);
    assert.ok((await call('GET', '/v1/branches/main/log?limit=2')).json.commits.length === 1);

    assert.equal((await call('POST', '/v1/branches', { name: 'sale' })).status, 409);
    assert.equal((await call('POST', '/v1/branches', { name: 'bad name' })).status, 400);
    assert.equal((await call('DELETE', '/v1/branches/nope')).status, 404);
    await call('POST', '/v1/branches/main/protect', { protect: true });
    await assert.rejects(main.insertOne({ _id: 2 }), (err: any) => err.code === 50007);
    const openapi = (await call('GET', '/openapi.json')).json;
    assert.equal(openapi.openapi, '3.1.0');
    assert.ok(openapi.paths['/v1/merge'].post && openapi.paths['/v1/diff'].get);
  } finally {
    await client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
