import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The branch the CLI's commands use when none is named, set by `argon switch`. Kept per project
 * like git's HEAD: a file in the CLI's data directory (--data, default ./.argon), so two checkouts
 * of a project can work on different branches of the same server. Not the server's business:
 * clients choose their branch by the endpoint they connect to.
 */
const HEAD_FILE = 'HEAD';

export function currentBranch(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, HEAD_FILE), 'utf8').trim() || 'main';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'main'; // never switched
    throw err;
  }
}

export function setCurrentBranch(dataDir: string, branch: string): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, HEAD_FILE), `${branch}\n`);
}
