/**
 * Acknowledged writes survive a power cut, not only kill -9. SIGKILL keeps the page cache, so
 * crash.test cannot see a missing fsync. Here the writer runs under an LD_PRELOAD shim
 * (fixtures/fsync-shim.c, compiled at test time) that keeps a shadow copy of the data directory
 * holding only what the process made durable (fsync, fdatasync, O_DSYNC writes, msync...). After
 * the kill, a copy of the shadow is what the disk would hold after a power cut: every batch, user
 * and API key the writer acknowledged must be in it.
 *
 * A negative control runs the same writer and checker on a store that acknowledges without
 * flushing, and must be caught losing acknowledged writes.
 *
 * Needs gcc: without it the test fails (it would prove nothing). Kill points are random; set
 * ARGON_FUZZ_SEED to replay a run (the seed is printed as a test diagnostic).
 *
 * With lmdb-js 3.x on Linux (overlappingSync) a write's promise, and a transactionSync's return,
 * already come after LMDB's fdatasync and synced meta page: Store's own `await env.flushed` is
 * a second guarantee, and removing only it loses nothing. Opening the environment with noSync
 * or noMetaSync does lose acknowledged writes, and this test fails then.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../src/index.js';
import { AuthService } from '../src/auth/service.js';
import { mulberry32 } from './helpers/random.js';

// Tests run from dist/test; the C source is not compiled by tsc, so it stays in test/fixtures.
const SHIM_SOURCE = new URL('../../test/fixtures/fsync-shim.c', import.meta.url).pathname;
const WRITER = new URL('./fixtures/fsync-writer.js', import.meta.url).pathname;
const SEED = Number(process.env.ARGON_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = 3;


interface Batch {
  lsn: number;
  first: number;
  count: number;
}

/** What the writer acknowledged, in order; `syncedBatches`: how many came before its `synced` line. */
interface Acks {
  batches: Batch[];
  users: string[];
  keys: string[];
  syncedBatches: number | null;
}

interface Lost {
  batches: Batch[];
  users: string[];
  keys: string[];
  headLsn: number;
}

interface Run {
  label: string;
  acks: Acks;
  lost: Lost;
}

let scratch: string;
let shim: string;
const runs: Run[] = [];
let control: Run;

function compileShim(dir: string): string {
  const out = join(dir, 'fsync-shim.so');
  try {
    execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', out, SHIM_SOURCE, '-ldl', '-lpthread'], { stdio: 'pipe' });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    const why = e.code === 'ENOENT' ? 'gcc is not installed' : (e.stderr?.toString() ?? e.message);
    throw new Error(`durability-fsync needs gcc to build its LD_PRELOAD shim (${SHIM_SOURCE}): ${why}`);
  }
  return out;
}

/**
 * Runs the writer under the shim and SIGKILLs it `delayMs` after its `killAfter`-th
 * acknowledgement. Lines are read until the pipe closes: all the writer printed counts.
 */
function runAndKill(data: string, shadow: string, mode: 'argon' | 'nosync', killAfter: number, delayMs: number): Promise<Acks> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, LD_PRELOAD: shim, SHIM_DIR: data, SHIM_SHADOW: shadow, UV_USE_IO_URING: '0' };
    const child = spawn(process.execPath, [WRITER, data, mode], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Acks = { batches: [], users: [], keys: [], syncedBatches: null };
    let seen = 0;
    let killTimer: NodeJS.Timeout | undefined;
    let buffered = '';
    let stderr = '';
    const unexpected: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b, c] = line.split(' ');
        if (kind === 'batch') acks.batches.push({ lsn: Number(a), first: Number(b), count: Number(c) });
        else if (kind === 'user') acks.users.push(a!);
        else if (kind === 'key') acks.keys.push(a!);
        else if (kind === 'synced') acks.syncedBatches = acks.batches.length;
        else unexpected.push(line);
        if (kind !== 'synced') seen++;
      }
      if (seen >= killAfter && !killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A writer that stalls is killed too; the test then fails on too few acknowledgements.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(deadline);
      // The shim exits with code 70 when it cannot keep the shadow: that lands here too.
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own (code ${code}, signal ${signal}): ${stderr}`));
      else if (unexpected.length) reject(new Error(`writer printed unexpected lines: ${unexpected.join(' | ')}; stderr: ${stderr}`));
      else resolve(acks);
    });
  });
}

/** Opens a copy of the shadow (the simulated disk) and lists the acknowledged writes it lacks. */
async function lostWrites(shadow: string, copy: string, acks: Acks): Promise<Lost> {
  // A shadow update the kill interrupted leaves its temporary file: the disk never had it.
  cpSync(shadow, copy, { recursive: true, filter: (src) => !src.endsWith('.shimtmp') });
  // A power cut means a reboot, after which LMDB trusts only meta pages written by a sync. In the
  // same boot it would also trust the newest unsynced one: 'safe' turns that shortcut off.
  process.env.LMDB_RESTORE = 'safe';
  let store: Store;
  try {
    store = await Store.open(copy, { compactionIntervalMs: 0 });
  } finally {
    delete process.env.LMDB_RESTORE;
  }
  try {
    const auth = new AuthService(store, true);
    const whole = (b: Batch) => Array.from({ length: b.count }, (_, i) => b.first + i).every((id) => store.get('main', 'durable', 'docs', id));
    return {
      batches: acks.batches.filter((b) => !whole(b)),
      users: acks.users.filter((u) => !auth.users.get('admin', u)),
      keys: acks.keys.filter((k) => !auth.apiKeys.verify(k)),
      headLsn: store.headLsn,
    };
  } finally {
    await store.close();
  }
}

async function run(label: string, mode: 'argon' | 'nosync', killAfter: number, delayMs: number): Promise<Run> {
  const base = join(scratch, label);
  const data = join(base, 'data');
  const shadow = join(base, 'shadow');
  mkdirSync(data, { recursive: true }); // the shim resolves SHIM_DIR when the writer starts
  mkdirSync(shadow);
  // An empty shadow is not an error here: the checker then reports every write lost. The
  // control shows that the shim is loaded (what its one forced sync wrote must be found).
  const acks = await runAndKill(data, shadow, mode, killAfter, delayMs);
  return { label: `${label} (killed ${delayMs} ms after acknowledgement ${killAfter})`, acks, lost: await lostWrites(shadow, join(base, 'check'), acks) };
}

function report(r: Run, kinds: ('batches' | 'users' | 'keys')[]): string {
  const parts: string[] = [];
  if (kinds.includes('batches') && r.lost.batches.length) {
    const lsns = r.lost.batches.map((b) => `${b.lsn} (ids ${b.first}..${b.first + b.count - 1})`).join(', ');
    parts.push(`${r.lost.batches.length} of ${r.acks.batches.length} acknowledged batches lost: LSN ${lsns}; the disk's head LSN is ${r.lost.headLsn}`);
  }
  if (kinds.includes('users') && r.lost.users.length) parts.push(`${r.lost.users.length} of ${r.acks.users.length} acknowledged users lost: ${r.lost.users.join(', ')}`);
  if (kinds.includes('keys') && r.lost.keys.length) {
    parts.push(`${r.lost.keys.length} of ${r.acks.keys.length} acknowledged API keys lost: ${r.lost.keys.map((k) => k.split('_')[1]).join(', ')}`);
  }
  return `${r.label}: ${parts.join('; ') || 'nothing lost'}`;
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'argon-fsync-'));
  shim = compileShim(scratch);
  const random = mulberry32(SEED);
  for (let i = 0; i < RUNS; i++) {
    runs.push(await run(`run${i}`, 'argon', 4 + Math.floor(random() * 40), Math.floor(random() * 4)));
  }
  // Enough acknowledgements after the control's one sync (after its third batch) to lose some.
  control = await run('control', 'nosync', 12 + Math.floor(random() * 10), Math.floor(random() * 4));
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('acknowledged batches are on disk after a simulated power cut', (t) => {
  t.diagnostic(`seed ${SEED} (replay with ARGON_FUZZ_SEED=${SEED})`);
  for (const r of runs) t.diagnostic(`${r.label}: ${r.acks.batches.length} batches, ${r.acks.users.length} users, ${r.acks.keys.length} keys acknowledged`);
  for (const r of runs) assert.ok(r.acks.batches.length > 0, `${r.label}: the writer acknowledged no batch`);
  const failures = runs.filter((r) => r.lost.batches.length).map((r) => report(r, ['batches']));
  assert.equal(failures.length, 0, failures.join('\n'));
});

test('acknowledged users and API keys are on disk after a simulated power cut', (t) => {
  t.diagnostic(`seed ${SEED} (replay with ARGON_FUZZ_SEED=${SEED})`);
  assert.ok(runs.some((r) => r.acks.users.length > 0 && r.acks.keys.length > 0), 'the writers acknowledged users and keys');
  const failures = runs.filter((r) => r.lost.users.length || r.lost.keys.length).map((r) => report(r, ['users', 'keys']));
  assert.equal(failures.length, 0, failures.join('\n'));
});

test('negative control: a store that acknowledges without flushing is caught', (t) => {
  const { acks, lost } = control;
  t.diagnostic(report(control, ['batches', 'users', 'keys']));
  assert.ok(acks.syncedBatches !== null && acks.batches.length > acks.syncedBatches, `${control.label}: acknowledgements after the one sync`);
  // What the forced sync wrote is found (the shim ran and the checker reads the disk)...
  const after = acks.batches.slice(acks.syncedBatches!);
  // ...and everything acknowledged after it, never flushed, is reported lost.
  assert.deepEqual(lost.batches, after, `the checker reports exactly the batches acknowledged after the sync as lost: ${report(control, ['batches'])}`);
  assert.ok(lost.batches.length > 0);
});
