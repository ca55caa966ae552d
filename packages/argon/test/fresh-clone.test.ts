/**
 * What a new user gets: a fresh clone of the committed repository, set up with the README's
 * commands exactly (`npm install`, then `npm start`), with every package bin run through
 * `npx --no-install` — never a registry package of the same name. Slow (a real `npm install`,
 * served from npm's local cache when it can), so it runs once, beside the other suites.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

const execFileP = promisify(execFile);
const top = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: new URL('.', import.meta.url).pathname, encoding: 'utf8' }).trim();
const work = mkdtempSync(join(tmpdir(), 'argon-fresh-clone-'));
const clone = join(work, 'repo');

/** Runs a command in the clone as a shell would; rejects with its output when it fails. */
async function sh(command: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await execFileP('bash', ['-c', command], { cwd: clone, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
    return stdout;
  } catch (err: any) {
    throw new Error(`'${command}' failed (${err.code ?? err.signal}):\n${err.stdout}\n${err.stderr}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The shell lines of the README's quick start block, as a new user copies them. */
function quickStartCommands(): string[] {
  const readme = readFileSync(join(clone, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean);
}

before(async () => {
  execFileSync('git', ['clone', '-q', top, clone]);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('the README quick start names two commands to run the server, then npm test', () => {
  const commands = quickStartCommands();
  assert.deepEqual(commands.slice(0, 3), ['npm install', 'npm start', 'npm test']);
});

test('npm install alone builds every package and links every bin (npx --no-install finds them)', { timeout: 600_000 }, async () => {
  await sh('npm install --prefer-offline --no-audit --no-fund', 600_000);
  for (const bin of ['argon', 'plinth']) {
    const help = await sh(`npx --no-install ${bin} --help`);
    assert.match(help, new RegExp(`Usage: ${bin}`));
    const version = await sh(`npx --no-install ${bin} --version`);
    assert.match(version.trim(), /^\d+\.\d+\.\d+$/);
  }
});

test('npm start serves main; npx argon connect prints a URI that signs in; mongosh runs through npx', { timeout: 120_000 }, async () => {
  const [port, httpPort] = [await freePort(), await freePort()];
  const server = spawn('npm', ['start', '--', '--port', String(port), '--http-port', String(httpPort)], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  server.stdout.on('data', (chunk) => (log += chunk));
  server.stderr.on('data', (chunk) => (log += chunk));
  try {
    const deadline = Date.now() + 60_000;
    while (!/Argon is ready/.test(log)) {
      assert.ok(Date.now() < deadline && server.exitCode === null, `npm start did not get ready:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const uri = (await sh(`npx --no-install argon --server mongodb://127.0.0.1:${port} connect main`)).trim();
    assert.match(uri, /^mongodb:\/\/admin:[^@]+@127\.0\.0\.1:/);
    const client = await MongoClient.connect(uri);
    try {
      await client.db('tour').collection('notes').insertOne({ _id: 1 as any, hi: 'there' });
    } finally {
      await client.close();
    }
    const found = await sh(`npx --no-install mongosh "${uri}" --quiet --eval 'db.getSiblingDB("tour").notes.countDocuments()'`, 60_000);
    assert.equal(found.trim(), '1');
  } finally {
    process.kill(-server.pid!, 'SIGINT');
    await new Promise((resolve) => server.once('exit', resolve));
  }
});
