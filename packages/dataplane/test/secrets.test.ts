/** The secrets store: encryption, the master key, the write-only API, injection into tasks, the CLI. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataplaneApiError, DataplaneClient } from '../src/api/client.js';
import { startServer, type DataplaneServer } from '../src/server.js';
import { decryptSecret, encryptSecret, loadMasterKey, MASTER_KEY_ENV, MasterKeyError, parseMasterKey } from '../src/store/secrets.js';
import { BIN } from './cli-helpers.js';

const VALUE = 's3cr3t-Value-9f2c';

describe('secret encryption', () => {
  const key = randomBytes(32);

  it('round-trips, with a fresh nonce per write', () => {
    const a = encryptSecret(key, 'development', 'TOKEN', VALUE);
    const b = encryptSecret(key, 'development', 'TOKEN', VALUE);
    assert.equal(a.nonce.length, 12);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.ok(!a.ciphertext.includes(Buffer.from(VALUE)));
    assert.equal(decryptSecret(key, 'development', 'TOKEN', a.ciphertext, a.nonce), VALUE);
    assert.equal(decryptSecret(key, 'development', 'EMPTYISH', ...Object.values(encryptSecret(key, 'development', 'EMPTYISH', 'ü ✓')) as [Buffer, Buffer]), 'ü ✓');
  });

  it('refuses a flipped byte, another name, another environment, another key', () => {
    const { ciphertext, nonce } = encryptSecret(key, 'development', 'TOKEN', VALUE);
    for (const i of [0, ciphertext.length - 1]) {
      const flipped = Buffer.from(ciphertext);
      flipped[i]! ^= 1;
      assert.throws(() => decryptSecret(key, 'development', 'TOKEN', flipped, nonce), /cannot be decrypted/);
    }
    const badNonce = Buffer.from(nonce);
    badNonce[0]! ^= 1;
    assert.throws(() => decryptSecret(key, 'development', 'TOKEN', ciphertext, badNonce), /cannot be decrypted/);
    assert.throws(() => decryptSecret(key, 'development', 'OTHER', ciphertext, nonce), /'OTHER'.*cannot be decrypted/);
    assert.throws(() => decryptSecret(key, 'production', 'TOKEN', ciphertext, nonce), /cannot be decrypted/);
    assert.throws(() => decryptSecret(randomBytes(32), 'development', 'TOKEN', ciphertext, nonce), /cannot be decrypted/);
  });
});

describe('master key', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'dataplane-key-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts 32 bytes as hex or base64 from the environment, and refuses anything else without quoting it', () => {
    const raw = randomBytes(32);
    assert.deepEqual(parseMasterKey(raw.toString('hex')), raw);
    assert.deepEqual(parseMasterKey(raw.toString('base64')), raw);
    assert.deepEqual(parseMasterKey(raw.toString('base64url')), raw);
    assert.deepEqual(parseMasterKey(`${raw.toString('hex').toUpperCase()}\n`), raw);
    for (const bad of ['hunter2-not-a-key', raw.subarray(0, 16).toString('hex'), randomBytes(33).toString('base64'), `${raw.toString('hex')}00`]) {
      assert.throws(
        () => parseMasterKey(bad),
        (err: Error) => err instanceof MasterKeyError && err.message.includes(MASTER_KEY_ENV) && /hex/.test(err.message) && !err.message.includes(bad.trim()),
      );
    }
    const fromEnv = loadMasterKey(dir, { [MASTER_KEY_ENV]: raw.toString('base64') });
    assert.deepEqual([fromEnv.source, fromEnv.key], ['env', raw]);
    assert.equal(existsSync(join(dir, 'master.key')), false, 'no file when the key comes from the environment');
    assert.throws(() => loadMasterKey(dir, { [MASTER_KEY_ENV]: 'nope' }), MasterKeyError);
  });

  it('creates <dataDir>/master.key with mode 0600 on first start and reuses it', () => {
    const first = loadMasterKey(dir, {});
    assert.deepEqual([first.source, first.created, first.key.length], ['file', true, 32]);
    const file = join(dir, 'master.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readFileSync(file), first.key);
    const second = loadMasterKey(dir, {});
    assert.deepEqual([second.created, second.key], [false, first.key]);
    const other = mkdtempSync(join(tmpdir(), 'dataplane-key-bad-'));
    writeFileSync(join(other, 'master.key'), 'too short');
    assert.throws(() => loadMasterKey(other, {}), /not a 32-byte key/);
    rmSync(other, { recursive: true, force: true });
  });
});

describe('secrets through the server', () => {
  let dataDir: string;
  let server: DataplaneServer;
  let c: DataplaneClient;
  const raw = (path: string, init?: RequestInit) => fetch(server.url + path, init);
  const start = async () => {
    server = await startServer({ dataDir, port: 0, workers: 1 });
    c = new DataplaneClient({ server: server.url });
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'dataplane-secrets-'));
    await start();
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is write-only: no route ever sends a value back', async () => {
    const bodies: string[] = [];
    const send = async (path: string, init?: RequestInit) => {
      const r = await raw(path, init);
      const text = await r.text();
      bodies.push(text);
      return { status: r.status, text };
    };
    const put = (name: string, value: string, env?: string) =>
      send(`/v1/secrets/${name}${env ? `?environment=${env}` : ''}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });

    const created = await put('API_TOKEN', VALUE);
    assert.equal(created.status, 201);
    assert.deepEqual(JSON.parse(created.text), { name: 'API_TOKEN', environment: 'development', created: true });
    const replaced = await put('API_TOKEN', `${VALUE}-2`);
    assert.equal(replaced.status, 200);
    assert.equal(JSON.parse(replaced.text).created, false);
    assert.equal((await put('API_TOKEN', `${VALUE}-prod`, 'production')).status, 201);
    assert.equal((await put('1BAD', VALUE)).status, 400);
    assert.equal((await send('/v1/secrets/X', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 5 }) })).status, 400);

    const all = await send('/v1/secrets');
    assert.equal(all.status, 200);
    const list = JSON.parse(all.text).secrets as { environment: string; name: string; created: string; updated: string }[];
    assert.deepEqual(list.map((s) => [s.environment, s.name]), [['development', 'API_TOKEN'], ['production', 'API_TOKEN']]);
    assert.deepEqual(Object.keys(list[0]!).sort(), ['created', 'environment', 'name', 'updated']);
    const prod = JSON.parse((await send('/v1/secrets?environment=production')).text).secrets as { name: string }[];
    assert.deepEqual(prod.map((s) => s.name), ['API_TOKEN']);
    assert.equal(((await send('/openapi.json')).text.includes('/v1/secrets/{name}')), true);

    const missing = await send('/v1/secrets/NOPE', { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.text).error.code, 'SecretNotFound');
    const deleted = await send('/v1/secrets/API_TOKEN?environment=production', { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.deepEqual((await c.listSecrets('production')).map((s) => s.name), []);

    for (const body of bodies) for (const v of [VALUE, `${VALUE}-2`, `${VALUE}-prod`]) assert.ok(!body.includes(v), `a response body holds a value: ${body}`);
    // Nor does the database hold it in clear.
    for (const f of readdirSync(dataDir).filter((f) => f.startsWith('dataplane.db'))) assert.ok(!readFileSync(join(dataDir, f)).includes(Buffer.from(VALUE)), f);

    // The typed client, the same.
    const r = await c.putSecret('OTHER', 'x');
    assert.deepEqual(r, { name: 'OTHER', environment: 'development', created: true });
    await c.deleteSecret('OTHER');
    await assert.rejects(c.deleteSecret('OTHER'), (err: DataplaneApiError) => err.status === 404 && err.code === 'SecretNotFound');
  });

  it('passes a listed secret to its task as an env var, masked in the stored logs; unlisted tasks get nothing', async () => {
    await c.putSecret('DB_PASSWORD', VALUE);
    await server.engine.applyPipeline(`name: uses-secret
tasks:
  listed:
    run: bash
    secrets: [DB_PASSWORD]
    code: |
      echo "password is $DB_PASSWORD"
      test "$DB_PASSWORD" = '${VALUE}'
  unlisted:
    run: bash
    code: |
      echo "unlisted sees [\${DB_PASSWORD:-nothing}]"
`);
    const run = await server.engine.startRun('uses-secret');
    const done = await server.engine.waitForRun(run.id, 30_000);
    assert.equal(done.state, 'succeeded');
    const lines = (await server.engine.logs(run.id)).map((l) => `${l.taskId}: ${l.text}`);
    assert.ok(lines.includes('listed: password is ***'), lines.join('\n'));
    assert.ok(lines.includes('unlisted: unlisted sees [nothing]'), lines.join('\n'));
    assert.ok(!lines.join('\n').includes(VALUE));
  });

  it('fails a task that lists a missing secret, naming it, without retrying forever', async () => {
    await server.engine.applyPipeline(`name: missing-secret
tasks:
  needs-it:
    run: bash
    secrets: [NOT_THERE]
    retries: {count: 1, delay: 10ms}
    code: echo never
`);
    const run = await server.engine.startRun('missing-secret');
    const done = await server.engine.waitForRun(run.id, 30_000);
    assert.equal(done.state, 'failed');
    const details = await server.engine.getRun(run.id);
    const task = details.tasks.find((t) => t.taskId === 'needs-it')!;
    assert.equal(task.state, 'failed');
    assert.match(task.error ?? '', /NOT_THERE/);
    assert.ok(details.attempts.length <= 2, `${details.attempts.length} attempts`);
  });

  it('keeps secrets readable across a restart (the key file is reused)', async () => {
    const keyBefore = readFileSync(join(dataDir, 'master.key'));
    assert.equal(statSync(join(dataDir, 'master.key')).mode & 0o777, 0o600);
    await server.close();
    await start();
    assert.deepEqual(readFileSync(join(dataDir, 'master.key')), keyBefore);
    const run = await server.engine.startRun('uses-secret');
    assert.equal((await server.engine.waitForRun(run.id, 30_000)).state, 'succeeded');
  });

  it('refuses to start with a malformed DATAPLANE_MASTER_KEY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataplane-badkey-'));
    process.env[MASTER_KEY_ENV] = 'not-a-key';
    try {
      await assert.rejects(startServer({ dataDir: dir, port: 0, workers: 0 }), MasterKeyError);
    } finally {
      delete process.env[MASTER_KEY_ENV];
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI reads the value from stdin, never prints it, and lists and deletes', async () => {
    const dp = (args: string[], stdin?: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, '--server', server.url, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin ?? '');
      });
    const set = await dp(['secret', 'set', 'CLI_TOKEN', '--environment', 'staging'], `${VALUE}-cli\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /created secret CLI_TOKEN in staging/);
    assert.ok(!set.stdout.includes(VALUE) && !set.stderr.includes(VALUE));
    const values = await server.engine.secrets()!.values('staging', ['CLI_TOKEN']);
    assert.equal(values.CLI_TOKEN, `${VALUE}-cli`, 'one trailing newline dropped');
    const empty = await dp(['secret', 'set', 'EMPTY'], '');
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /stdin/);
    const list = await dp(['--json', 'secret', 'list', '--environment', 'staging']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name), ['CLI_TOKEN']);
    assert.ok(!list.stdout.includes(VALUE));
    const del = await dp(['secret', 'delete', 'CLI_TOKEN', '--environment', 'staging']);
    assert.equal(del.code, 0, del.stderr);
    const again = await dp(['secret', 'delete', 'CLI_TOKEN', '--environment', 'staging']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /SecretNotFound/);
  });
});
