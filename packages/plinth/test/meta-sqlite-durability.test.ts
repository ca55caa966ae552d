/**
 * SQLite commits are made durable by an fsync of the WAL that each write awaits (synchronous=NORMAL
 * plus our own fsync, see meta/sqlite.ts). A statement that writes AND returns rows (INSERT …
 * RETURNING) must wait for it too: createBucket answered before its row was on disk.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openMetadata } from '../src/meta/open.js';
import { bucket } from './helpers/meta-fixtures.js';

test('SQLite: a write that returns rows (createBucket, INSERT … RETURNING) resolves only after a WAL fsync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-durable-'));
  const store = await openMetadata(undefined, dir);
  try {
    const wal = (store as any).wal as { datasync: () => Promise<void> };
    let syncs = 0;
    const real = wal.datasync.bind(wal);
    wal.datasync = () => {
      syncs++;
      return real();
    };
    assert.equal(await store.createBucket(bucket('durable')), true);
    assert.ok(syncs >= 1, 'createBucket resolved without an fsync of the WAL');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
