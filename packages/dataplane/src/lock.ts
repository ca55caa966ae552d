import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One `dataplane serve` per data directory: the engine keeps runs, worker slots and the dispatch
 * queue in memory, so two servers on one store would dispatch the same tasks twice. The server
 * holds `dataplane.lock` (owner pid, host, start time) while it runs; a lock whose process is gone
 * (kill -9, a crash) is stale and taken over, the start time telling a reused pid apart.
 *
 * Adapted from packages/argon/src/storage/lock.ts (same algorithm, own error type and file name):
 * Argon does not export it, and importing @argon/argon would load LMDB. A shared package would
 * serve both (and Plinth).
 */
export const LOCK_FILE = 'dataplane.lock';

interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), if known. */
  startTicks: number | null;
  since: string;
}

export class DataDirInUseError extends Error {
  readonly code = 'DataDirInUse';
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

function inUse(dir: string, owner: LockOwner): DataDirInUseError {
  const who = owner.host === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on ${owner.host}`;
  return new DataDirInUseError(
    `the data directory ${dir} is in use by ${who} (since ${owner.since}); stop it first or choose another --data directory ` +
      `(if you are sure no process uses it, delete ${join(dir, LOCK_FILE)})`,
  );
}

/**
 * Takes the data directory's lock or throws DataDirInUseError, touching nothing. Returns the
 * function that releases it. The lock file appears whole or not at all (written aside, then
 * hard-linked: link() fails if the name exists, so of two racing processes exactly one wins).
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
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
      if (owner && alive(owner)) throw inUse(dir, owner);
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
