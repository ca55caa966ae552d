import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/index.js';
import type { StoreOptions } from '../src/index.js';

/** Opens a store in a fresh temporary directory; `done()` closes and removes it. */
export async function tempStore(options: StoreOptions = {}): Promise<{ store: Store; dir: string; done: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'argon-test-'));
  const store = await Store.open(dir, { compactionIntervalMs: 0, ...options });
  return {
    store,
    dir,
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** app.users with a unique index on email and one document (a@x), then a branch 'dev' of main. */
export async function uniqueEmailsAndDevBranch(store: Store): Promise<void> {
  await store.transact('main', (tx) => {
    tx.createIndex('app', 'users', { name: 'email_1', key: { email: 1 }, unique: true });
    tx.insert('app', 'users', { _id: 1, email: 'a@x' });
  });
  await store.createBranch('dev');
}
