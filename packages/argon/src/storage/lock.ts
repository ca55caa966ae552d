import { DataDirInUseError, lockDataDir } from '@argon/common';
import { ArgonError } from '../errors.js';

/**
 * One process per data directory. LMDB itself lets several processes open one environment, but
 * Argon keeps its LSN counter and caches in memory: two servers on one directory would hand out
 * the same LSNs and lose history. So an open store holds `argon.lock` (see @argon/common).
 */
export const LOCK_FILE = 'argon.lock';

/** Takes the directory's lock, or throws DBPathInUse (98, as mongod refuses a dbpath in use). */
export function lockStoreDir(dir: string): () => void {
  try {
    return lockDataDir(dir, LOCK_FILE);
  } catch (err) {
    if (err instanceof DataDirInUseError) throw new ArgonError('DBPathInUse', err.message);
    throw err;
  }
}
