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
