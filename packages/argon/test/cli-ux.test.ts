/**
 * What a new user of the `argon` CLI trips over: --version, global options in a command's help,
 * hints when the server is not there or wants a sign-in, readable server logs and a ready line
 * that says how to connect (without secrets), `argon switch`, and bounded diff and log output.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { ArgonServer } from '../src/server/server.js';
import { startServer } from './server-helpers.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The test process's own ARGON_* settings would change what the command under test does. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ARGON_') && name !== 'FORCE_COLOR'));
  return { ...env, ...extra };
}

/** `argon …args` in a child process, resolving (never rejecting) with its exit code and output. */
function argon(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: cleanEnv(env), timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

test('--version prints the version of the package', async () => {
  for (const flag of ['--version', '-V']) {
    const run = await argon([flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), PACKAGE.version);
  }
});

test("a command's help lists the global options it honours, --data among them", async () => {
  const serve = await argon(['serve', '--help']);
  assert.equal(serve.code, 0, serve.stderr);
  assert.match(serve.stdout, /Global Options:[\s\S]*--data <dir>/);
  assert.match((await argon(['branch', 'list', '--help'])).stdout, /--server <uri>/);
});

test('no server at the address: the error says so, with how to start one; exit 1', async () => {
  const port = await freePort();
  const run = await argon(['--server', `mongodb://127.0.0.1:${port}/?directConnection=true`, 'status']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, new RegExp(`^argon: cannot reach the server at 127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`, 'm'));
  assert.match(run.stderr, /^hint: is the server running\? start it with 'npm start' \(or 'npx argon serve'\); 'npx argon status' checks it$/m);
  // Through the driver too (a URI the CLI's own client does not speak), and never showing the password.
  const viaDriver = await argon(['--server', `mongodb://u:secret@127.0.0.1:${port}/?directConnection=true&authMechanism=SCRAM-SHA-1&serverSelectionTimeoutMS=500`, 'status']);
  assert.equal(viaDriver.code, 1);
  assert.match(viaDriver.stderr, new RegExp(`^argon: cannot reach the server at 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)\\nhint: is the server running`, 'm'));
  assert.doesNotMatch(viaDriver.stderr, /secret/);
});

describe('a server with authentication', () => {
  let server: ArgonServer;
  let dir: string;
  let uri: string;
  before(async () => {
    dir = tempDir('argon-ux-auth-');
    server = await ArgonServer.start({ dataDir: dir, port: 0, logger: pino({ level: 'silent' }), admin: { user: 'root', password: 'right' } });
    uri = await server.uri('main');
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('no credentials, or wrong ones: the error says where the CLI looks for them', async () => {
    const empty = tempDir('argon-ux-nodata-');
    try {
      const none = await argon(['--server', uri, '--data', empty, 'status']);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^argon: Unauthorized: Command \w+ requires authentication$/m);
      assert.match(none.stderr, /^hint: the CLI found no credentials; it signs in with ARGON_USER and ARGON_PASSWORD, else the admin-credentials\.json .*\(--data, here .*\)$/m);
      const wrong = await argon(['--server', uri, '--data', empty, 'status'], { ARGON_USER: 'root', ARGON_PASSWORD: 'wrong' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^argon: AuthenticationFailed: Authentication failed\.\nhint: the user name or password is wrong; the CLI signs in with ARGON_USER and ARGON_PASSWORD/m);
      assert.equal((await argon(['--server', uri, '--data', empty, 'status'], { ARGON_USER: 'root', ARGON_PASSWORD: 'right' })).code, 0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('argon serve', () => {
  test('the log format: pretty lines on a terminal, JSON lines otherwise', async () => {
    const { logTransport } = await import('../src/cli/logger.js');
    assert.equal(logTransport(true)?.target, 'pino-pretty');
    assert.equal(logTransport(false), undefined);
    assert.equal(logTransport(undefined), undefined, 'a pipe or file: stdout.isTTY is undefined');
  });

  /** Starts `argon serve` piped (not a terminal) and resolves with its JSON log lines up to the ready line. */
  async function serve(data: string, args: string[] = [], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [CLI, '--data', data, 'serve', '--port', '0', '--http-port', '0', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const ready = await new Promise<Record<string, any>>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        output += d;
        for (const line of output.split('\n').slice(0, -1)) {
          const entry = JSON.parse(line); // throws, failing the test, on any line that is not JSON
          if (String(entry.msg).startsWith('Argon is ready')) resolve(entry);
        }
      });
      child.once('exit', (code) => reject(new Error(`argon serve exited (${code}) before it was ready: ${stderr}`)));
    });
    const stop = () => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM'))));
    return { ready, output: () => output, stop };
  }

  test('with authentication, the ready line names the admin, the credentials file and the command for a working URI; never a secret', async () => {
    const data = tempDir('argon-ux-serve-');
    const { ready, output, stop } = await serve(data);
    try {
      const file = join(data, 'admin-credentials.json');
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { user: string; password: string; apiKey: string };
      assert.equal(ready.auth, true);
      assert.equal(ready.admin, 'admin');
      assert.equal(ready.credentialsFile, file);
      assert.match(ready.msg, /^Argon is ready on mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true with authentication: sign in as 'admin' \(password and API key in .*admin-credentials\.json\)/);
      assert.match(ready.msg, /`npx argon --data \S+ --server '?mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true'? connect main` prints a URI that signs in: npx mongosh "\$\(npx argon .* connect main\)"$/);
      assert.ok(!output().includes(saved.password), 'the password is not logged');
      assert.ok(!output().includes(saved.apiKey), 'the API key is not logged');

      // The command the line gives works as given.
      const connect = await argon(['--data', data, '--server', ready.uri, 'connect', 'main']);
      assert.equal(connect.code, 0, connect.stderr);
      const client = new MongoClient(connect.stdout.trim(), { serverSelectionTimeoutMS: 5000 });
      try {
        assert.equal((await client.db('admin').command({ ping: 1 })).ok, 1);
      } finally {
        await client.close();
      }
    } finally {
      await stop();
      rmSync(data, { recursive: true, force: true });
    }
  });

  test('without authentication the plain URI is the way in', async () => {
    const data = tempDir('argon-ux-serve-');
    const { ready, stop } = await serve(data, ['--no-auth']);
    try {
      assert.equal(ready.auth, false);
      assert.match(ready.msg, /^Argon is ready \(no authentication\): npx mongosh "mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true"$/);
    } finally {
      await stop();
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('against a running server', () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let data: string;
  before(async () => {
    env = await startServer();
    data = tempDir('argon-ux-cli-');
  });
  after(async () => {
    await env.stop();
    rmSync(data, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => argon(['--server', env.uri, '--data', data, ...args]);

  test('argon switch sets the branch the commands default to, per data directory', async () => {
    assert.equal((await cli('switch')).stdout.trim(), 'main', 'main until switched');
    assert.equal((await cli('branch', 'create', 'feature')).code, 0);
    const missing = await cli('switch', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^argon: BranchNotFound: No branch named 'nope'/m);
    assert.equal((await cli('switch')).stdout.trim(), 'main', 'a failed switch changes nothing');

    const switched = await cli('switch', 'feature');
    assert.equal(switched.code, 0, switched.stderr);
    assert.match(switched.stdout, /^Switched to branch 'feature'$/m);
    assert.equal((await cli('switch')).stdout.trim(), 'feature');
    assert.equal(readFileSync(join(data, 'HEAD'), 'utf8').trim(), 'feature', 'kept in the data directory, as git keeps HEAD');

    assert.match((await cli('status')).stdout, /^on branch feature$/m);
    assert.equal(JSON.parse((await cli('--json', 'status')).stdout).branch, 'feature');
    const list = (await cli('branch', 'list')).stdout;
    assert.match(list, /^\* feature\s/m);
    assert.match(list, /^ {2}main\s/m);

    // Commands without a branch act on it: connect, commit, log, conflicts, and the --from of branch and tag create.
    const port = (await env.client.db('admin').command({ argonEndpoint: 'feature' })).port;
    assert.equal(new URL((await cli('connect')).stdout.trim()).port, String(port));
    await env.server.store.write('feature', [{ op: 'insert', db: 'app', coll: 'f', doc: { _id: 'on-feature' } }]);
    assert.match((await cli('commit', '-m', 'on the feature')).stdout, /^Committed feature@\d+: on the feature$/m);
    const log = JSON.parse((await cli('--json', 'log', '--limit', '1')).stdout);
    assert.equal(log[0].branch, 'feature');
    assert.match((await cli('conflicts', 'list')).stdout, /No merge into 'feature' is pending/);
    assert.equal(JSON.parse((await cli('--json', 'branch', 'create', 'sub')).stdout).parent, 'feature');
    assert.equal(JSON.parse((await cli('--json', 'tag', 'create', 't-feature')).stdout).branch, 'feature');

    // Another data directory (another project) has its own current branch.
    const other = tempDir('argon-ux-other-');
    try {
      assert.equal((await argon(['--server', env.uri, '--data', other, 'switch'])).stdout.trim(), 'main');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    assert.equal((await cli('switch', 'main')).code, 0);
  });

  test('argon stats defaults to the switched branch', async () => {
    const { Store } = await import('../src/storage/store.js');
    const dir = tempDir('argon-ux-stats-');
    try {
      const store = await Store.open(dir, { compactionIntervalMs: 0 });
      await store.createBranch('side');
      await store.write('side', [{ op: 'insert', db: 'a', coll: 'b', doc: { _id: 1 } }]);
      await store.close();
      writeFileSync(join(dir, 'HEAD'), 'side\n');
      const stats = JSON.parse((await argon(['--data', dir, '--json', 'stats'])).stdout);
      assert.equal(stats.branch, 'side');
      assert.equal(stats.documents, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('argon diff: --stat, --summary, a default limit on listed documents, and collection-level changes', async () => {
    assert.equal((await cli('branch', 'create', 'bulk')).code, 0);
    const bulk = new MongoClient((await cli('connect', 'bulk')).stdout.trim());
    try {
      const orders = bulk.db('shop').collection<any>('orders');
      await orders.insertMany(Array.from({ length: 120 }, (_, i) => ({ _id: i, status: 'new', total: i })));
      await orders.createIndex({ status: 1 }, { name: 'status_1' });
      // users differs on both sides: one document removed, two modified (name in both, age in one).
      await env.client.db('shop').collection<any>('users').insertMany([{ _id: 'u1', name: 'a' }, { _id: 'u2', name: 'b' }, { _id: 'u3', name: 'c' }]);
      const users = bulk.db('shop').collection<any>('users');
      await users.insertMany([{ _id: 'u2', name: 'B', age: 3 }, { _id: 'u3', name: 'C' }]);
    } finally {
      await bulk.close();
    }

    const full = await cli('diff', 'main', 'bulk');
    assert.equal(full.code, 0, full.stderr);
    const lines = full.stdout.trimEnd().split('\n');
    assert.ok(lines.length < 70, `bounded: ${lines.length} lines`);
    assert.match(full.stdout, /^shop\.orders: \+120 -0 ~0$/m);
    assert.equal(lines.filter((l) => /^ {2}\+ \d+$/.test(l)).length, 50, 'the first 50 documents');
    assert.match(lines.at(-1)!, /^… 73 more documents \(use --limit 0 or --json\)$/);
    assert.match(full.stdout, /^collections and indexes:\n(.*\n)*? {2}createIndex shop\.orders status_1 .*\(on bulk\)$/m);
    const all = await cli('diff', 'main', 'bulk', '--limit', '0');
    assert.equal(all.stdout.split('\n').filter((l) => /^ {2}\+ \d+$/.test(l)).length, 120);
    assert.doesNotMatch(all.stdout, /more documents/);

    const stat = await cli('diff', 'main', 'bulk', '--stat');
    assert.equal(stat.code, 0, stat.stderr);
    assert.match(stat.stdout, /^shop\.users: \+0 -1 ~2\n {4}name {2}~2\n {4}age {3}~1$/m, 'documents per field path, most first');
    assert.doesNotMatch(stat.stdout, /^ {2}\+ /m, 'no document list');
    assert.match(stat.stdout, /^2 collection\(s\) changed: \+120 -1 ~2$/m);

    const summary = await cli('diff', 'main', 'bulk', '--summary');
    assert.deepEqual(summary.stdout.split('\n').filter((l) => /^shop\./.test(l)), ['shop.orders: +120 -0 ~0', 'shop.users: +0 -1 ~2']);
    assert.doesNotMatch(summary.stdout, /^ {2}[+~-] |age/m);
  });

  test('argon log: a batch write is one short row; pages with --before and a hint for the next page', async () => {
    assert.equal((await cli('branch', 'create', 'logged')).code, 0);
    const logged = new MongoClient((await cli('connect', 'logged')).stdout.trim());
    try {
      await logged.db('shop').collection<any>('orders').insertMany(Array.from({ length: 5000 }, (_, i) => ({ _id: i, pad: 'x'.repeat(20) })));
      for (let i = 0; i < 4; i++) await logged.db('shop').collection<any>('notes').insertOne({ _id: `n${i}` });
    } finally {
      await logged.close();
    }
    const batch = await cli('log', 'logged', '--limit', '5');
    assert.equal(batch.code, 0, batch.stderr);
    const row = batch.stdout.split('\n').find((l) => l.includes('shop.orders'))!;
    assert.match(row, /insert shop\.orders ×5000 \(0, 1, 2, …\)$/);
    assert.ok(row.length < 200, `a short row: ${row.length} characters`);

    const first = await cli('log', 'logged', '--limit', '2', '--ns', 'shop.notes');
    const firstLsns = [...first.stdout.matchAll(/^(\d+)\s/gm)].map((m) => Number(m[1]));
    assert.equal(firstLsns.length, 2);
    const hint = /^more: (npx argon .*)$/m.exec(first.stdout)?.[1];
    assert.equal(hint, `npx argon log logged --limit 2 --ns shop.notes --before ${firstLsns[1]}`);
    const second = await cli('log', 'logged', '--limit', '2', '--ns', 'shop.notes', '--before', String(firstLsns[1]));
    const secondLsns = [...second.stdout.matchAll(/^(\d+)\s/gm)].map((m) => Number(m[1]));
    assert.equal(secondLsns.length, 2);
    assert.ok(secondLsns[0]! < firstLsns[1]!, 'older entries');
    assert.match(second.stdout, /insert shop\.notes "n1"/);
    assert.doesNotMatch(second.stdout, /^more:/m, 'no hint once nothing older remains');
    const json = JSON.parse((await cli('--json', 'log', 'logged', '--limit', '2', '--ns', 'shop.notes', '--before', String(firstLsns[1]))).stdout);
    assert.deepEqual(json.map((e: any) => e.lsn), secondLsns, '--json pages the same way, without the hint');
  });
});
