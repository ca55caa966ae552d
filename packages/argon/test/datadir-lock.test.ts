import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MongoClient } from 'mongodb';
import { Store } from '../src/storage/store.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

/** `argon serve` on free ports; resolves with the process and everything it printed once it exits or is ready. */
function serve(dir: string): { child: ChildProcess; ready: Promise<number>; exited: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, [CLI, '--data', dir, 'serve', '--port', '0', '--no-auth'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<number>((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const m = /"ref":"main".*?"port":(\d+)/.exec(output) ?? /endpoint listening.*?port\D+(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => resolve({ code, output })));
  return { child, ready, exited };
}

test('a second store on the same directory in the same process is refused with DBPathInUse', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-lock-'));
  try {
    const first = await Store.open(dir, { compactionIntervalMs: 0 });
    await assert.rejects(Store.open(dir, { compactionIntervalMs: 0 }), (err: any) => err.codeName === 'DBPathInUse' && err.code === 98 && /in use by process \d+/.test(err.message));
    await first.close();
    const again = await Store.open(dir, { compactionIntervalMs: 0 });
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second argon serve on a data directory in use exits non-zero, says why, and changes nothing', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-lock-'));
  const first = serve(dir);
  try {
    const port = await first.ready;
    const client = await MongoClient.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`);
    await client.db('d').collection('c').insertOne({ _id: 1 as any });
    const before = Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]));

    const second = serve(dir);
    const timer = setTimeout(() => second.child.kill('SIGKILL'), 15_000);
    const { code, output } = await second.exited;
    clearTimeout(timer);
    assert.notEqual(code, 0);
    assert.match(output, /DBPathInUse: the data directory .* is in use by process \d+/);
    assert.deepEqual(Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs])), before);

    // The first server still serves, and its LSNs go on from its own counter.
    await client.db('d').collection('c').insertOne({ _id: 2 as any });
    assert.equal(await client.db('d').collection('c').countDocuments(), 2);
    await client.close();
  } finally {
    first.child.kill('SIGKILL');
    await first.exited;
  }
  // A lock left by a killed process is stale: the next server takes it over.
  const third = serve(dir);
  try {
    const port = await third.ready;
    const client = await MongoClient.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`);
    assert.equal(await client.db('d').collection('c').countDocuments(), 2);
    await client.close();
  } finally {
    third.child.kill('SIGTERM');
    await third.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
