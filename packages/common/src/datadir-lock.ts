import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One process per data directory: a server that keeps state in memory (Argon's LSN counter,
 * Dataplane's dispatch queue) must not share its directory with a second one. The holder keeps a
 * lock file (its pid, host and start time) while it runs. Node has no flock(), so liveness is
 * checked instead: a lock whose process is gone (killed, crashed) is stale and taken over; the
 * start time tells a reused pid apart.
 */

export interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), if known. */
  startTicks: number | null;
  since: string;
}

function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return null;
  }
}

function alive(owner: LockOwner): boolean {
  // Another host's process (a shared volume) cannot be checked from here: assume it runs.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const ticks = startTicks(owner.pid);
  return owner.startTicks === null || ticks === null || ticks === owner.startTicks;
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    // Missing (released meanwhile) or torn (its writer died mid-write): either way nobody holds it.
    return null;
  }
}

/** The directory is held by a live process; the message says which and what to do. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly lockPath: string,
    readonly owner: LockOwner,
  ) {
    const who = owner.host === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on ${owner.host}`;
    super(`the data directory ${dir} is in use by ${who} (since ${owner.since}); stop it first or choose another --data directory (if you are sure no process uses it, delete ${lockPath})`);
  }
}

/**
 * Takes the data directory's lock (`dir/lockFile`) or throws DataDirInUseError, touching nothing.
 * Returns the function that releases it. The lock file appears whole or not at all (written aside, then hard-linked:
 * link() fails if the name exists, so of two racing processes exactly one wins).
 */
export function lockDataDir(dir: string, lockFile: string): () => void {
  const path = join(dir, lockFile);
  const mine: LockOwner = { pid: process.pid, host: hostname(), startTicks: startTicks(process.pid), since: new Date().toISOString() };
  const draft = `${path}.${process.pid}`;
  writeFileSync(draft, JSON.stringify(mine));
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path);
        return () => {
          if (readOwner(path)?.pid === mine.pid) unlinkSync(path);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw err;
      }
      const owner = readOwner(path);
      if (owner && alive(owner)) throw new DataDirInUseError(dir, path, owner);
      takeOverStale(path, owner);
    }
  } finally {
    unlinkSync(draft);
  }
}

/**
 * Moves a stale lock aside. If another process took it over between our read and the move, the
 * file moved is that process's live lock: put it back, and the next attempt reports it in use.
 */
function takeOverStale(path: string, stale: LockOwner | null): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readOwner(aside);
  if (moved && moved.pid !== stale?.pid && alive(moved)) {
    try {
      linkSync(aside, path);
    } catch {
      // A third process already holds the name: it will be reported on the next attempt.
    }
  }
  unlinkSync(aside);
}
