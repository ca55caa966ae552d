/**
 * SQLite commits are made durable by an fsync of the WAL that each write awaits (synchronous=NORMAL
 * plus our own fsync, see sql/wal-sync.ts in @argon/common). A statement that writes AND returns
 * rows (INSERT … RETURNING) must wait for it too: createBucket answered before its row was on disk.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { openMetadata } from '../src/meta/open.js';
import { bucket } from './helpers/meta-fixtures.js';

test('SQLite: a write that returns rows (createBucket, INSERT … RETURNING) resolves only after a WAL fsync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-durable-'));
  const store = await openMetadata(undefined, dir);
  try {
    // The WAL's handle is the connection's own: count fdatasync on every file handle instead.
    const probe = await open(new URL(import.meta.url), 'r');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const spy = mock.method(proto, 'datasync');
    try {
      assert.equal(await store.createBucket(bucket('durable')), true);
      assert.ok(spy.mock.callCount() >= 1, 'createBucket resolved without an fsync of the WAL');
    } finally {
      spy.mock.restore();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
