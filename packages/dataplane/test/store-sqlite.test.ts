/**
 * What only the embedded store has: its file and directory, the schema guard, and group commit
 * (every write waits for an fsync of the WAL, and concurrent writes share one).
 *
 * Measured putTaskAttempt latency (no transition) on the development VM this was written on; the
 * test prints its own figures as diagnostics and asserts only the fsync counts, never times:
 *   one at a time, each awaited:  ~0.6-1.0 ms per write (one fdatasync each)
 *   200 in flight at once:        ~0.07-0.10 ms per write amortized (2 fdatasyncs in all)
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import Database from 'better-sqlite3';
import { openStore, SQLITE_FILE } from '../src/store/open.js';
import type { DataStore } from '../src/store/types.js';
import { attempt, run } from './store-fixtures.js';

/** Counts fdatasync calls on any file handle while `work` runs. */
async function countSyncs(work: () => Promise<unknown>): Promise<number> {
  const probe = await open(new URL(import.meta.url), 'r');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const spy = mock.method(proto, 'datasync');
  try {
    await work();
    return spy.mock.callCount();
  } finally {
    spy.mock.restore();
  }
}

describe('store (sqlite file)', () => {
  let root: string;
  let dataDir: string;
  let store: DataStore | undefined;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dataplane-sqlite-'));
    dataDir = join(root, 'nested', 'data');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(root, { recursive: true, force: true });
  });

  it('creates the data directory (0700) and a WAL database in it', async () => {
    store = await openStore({ dataDir });
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('refuses a database a newer Dataplane migrated, and a URL it cannot open', async () => {
    store = await openStore({ dataDir });
    await store.close();
    store = undefined;
    const db = new Database(join(dataDir, SQLITE_FILE));
    db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (99, 0)').run();
    db.close();
    await assert.rejects(openStore({ dataDir }), /schema version 99 is newer/);
    await assert.rejects(openStore({ dataDir, database: 'mysql://root:hunter2@db/x' }), (err: Error) => /scheme mysql:/.test(err.message) && !err.message.includes('hunter2'));
  });

  it('syncs the WAL before a write resolves, one fsync for writes in flight together', async (t) => {
    store = await openStore({ dataDir });
    const s = store;
    const r = run();
    await s.createRun(r, []);
    const put = (i: number) => s.putTaskAttempt(attempt(r.id, `t${i}`, { state: 'queued', queued: new Date() }));

    const sequential = 200;
    let started = performance.now();
    const oneByOne = await countSyncs(async () => {
      for (let i = 0; i < sequential; i++) await put(i);
    });
    const sequentialMs = (performance.now() - started) / sequential;
    assert.equal(oneByOne, sequential, 'each awaited write waits for its own fsync');

    const concurrent = 200;
    started = performance.now();
    const together = await countSyncs(() => Promise.all(Array.from({ length: concurrent }, (_, i) => put(sequential + i))));
    const concurrentMs = (performance.now() - started) / concurrent;
    assert.ok(together >= 1 && together <= 3, `writes in flight together share fsyncs (${together} for ${concurrent})`);
    assert.equal((await s.taskAttempts(r.id)).length, sequential + concurrent);

    t.diagnostic(`putTaskAttempt one at a time: ${sequentialMs.toFixed(3)} ms each; ${concurrent} in flight: ${concurrentMs.toFixed(4)} ms each amortized (${together} fsyncs)`);
  });
});
