import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';

test('the HTTP port serves /health and Prometheus /metrics with per-command counters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-http-'));
  const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, httpPort: 0, logger: pino({ level: 'silent' }) });
  const client = new MongoClient(await server.uri('main'));
  try {
    await client.db('m').collection<any>('c').insertOne({ _id: 1 });
    await client.db('m').collection<any>('c').findOne({ _id: 1 });
    await client.db('m').command({ nope: 1 }).catch(() => undefined);
    const base = `http://127.0.0.1:${server.httpPort}`;
    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.status, 'ok');
    assert.equal(health.headLsn, 1);
    const res = await fetch(`${base}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /argon_commands_total\{command="insert",outcome="ok"\} 1/);
    assert.match(text, /argon_commands_total\{command="find",outcome="ok"\} 1/);
    assert.match(text, /argon_command_duration_seconds_count\{command="insert"\} 1/);
    assert.match(text, /argon_connections [1-9]/);
    assert.match(text, /argon_head_lsn 1/);
  } finally {
    await client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
