import type { Database } from 'lmdb';
import { prefixSuccessor } from './keys.js';
import type { Lsn } from './types.js';

/**
 * Every versioned table (documents, index entries, catalog, stats) uses the same key shape:
 *
 *   group | (MAX - lsn) as u64 BE | branch id as u32 BE
 *
 * so all versions of one group (one document, one index entry...) sit together, newest first,
 * whatever branch wrote them. A read seeks to (group, readLsn) and takes the first version whose
 * branch is in the reader's lineage: the cost depends on the versions of that one group, not on
 * how deep the branch ancestry is.
 */
export const SUFFIX_BYTES = 12;
const MAX_WALK_IN_GROUP = 8;
const LSN_CEILING = 2 ** 53 - 1;
const TWO_32 = 2 ** 32;

export type BinaryDb = Database<Buffer, Buffer>;

/** Which versions a read can see: for each branch of the lineage, the newest LSN it contributes. */
export class View {
  constructor(
    /** branch id → highest LSN of that branch visible to this read (Infinity for the reading branch). */
    readonly ceilings: ReadonlyMap<number, number>,
    readonly readLsn: Lsn,
  ) {}

  visible(lsn: Lsn, branch: number): boolean {
    if (lsn > this.readLsn) return false;
    const ceiling = this.ceilings.get(branch);
    return ceiling !== undefined && lsn <= ceiling;
  }
}

export interface Version {
  key: Buffer;
  value: Buffer;
  lsn: Lsn;
  branch: number;
}

export function versionKey(group: Uint8Array, lsn: Lsn, branch: number): Buffer {
  const key = Buffer.allocUnsafe(group.length + SUFFIX_BYTES);
  key.set(group, 0);
  writeSuffix(key, group.length, lsn, branch);
  return key;
}

function writeSuffix(buf: Buffer, at: number, lsn: Lsn, branch: number): void {
  const desc = LSN_CEILING - lsn;
  buf.writeUInt32BE(Math.floor(desc / TWO_32), at);
  buf.writeUInt32BE(desc % TWO_32, at + 4);
  buf.writeUInt32BE(branch, at + 8);
}

export function keyLsn(key: Buffer): Lsn {
  const at = key.length - SUFFIX_BYTES;
  return LSN_CEILING - (key.readUInt32BE(at) * TWO_32 + key.readUInt32BE(at + 4));
}

export function keyBranch(key: Buffer): number {
  return key.readUInt32BE(key.length - 4);
}

export function groupOf(key: Buffer): Buffer {
  return key.subarray(0, key.length - SUFFIX_BYTES);
}

/** The newest version of `group` visible to `view`, if any. */
export function getVisible(db: BinaryDb, group: Buffer, view: View): Version | undefined {
  const start = versionKey(group, Math.min(view.readLsn, LSN_CEILING), 0);
  const end = versionKey(group, 0, 0xffffffff);
  for (const { key, value } of db.getRange({ start, end })) {
    const lsn = keyLsn(key);
    const branch = keyBranch(key);
    if (view.visible(lsn, branch)) return { key, value, lsn, branch };
  }
  return undefined;
}

/**
 * The newest visible version of every group whose key lies in [lower, upper), in group order
 * (descending when `reverse`). Groups are told apart by stripping the version suffix.
 */
export function* scanVisible(db: BinaryDb, lower: Buffer, upper: Buffer | null, view: View, reverse = false): Generator<Version> {
  if (reverse) {
    yield* scanVisibleReverse(db, lower, upper, view);
    return;
  }
  let start = lower;
  for (;;) {
    let current: Buffer | null = null;
    let chosen: Version | undefined;
    let passed = 0;
    let resumeAt: Buffer | null = null;
    for (const { key, value } of db.getRange({ start, end: upper ?? undefined })) {
      const group = groupOf(key);
      if (current === null || !group.equals(current)) {
        if (chosen) yield chosen;
        current = group;
        chosen = undefined;
        passed = 0;
      } else if (chosen) {
        // Versions of a group arrive newest first and the first visible one won. Past a few
        // older versions (a hot document's history), seeking beyond the group is cheaper.
        if (++passed > MAX_WALK_IN_GROUP) {
          resumeAt = prefixSuccessor(group);
          break;
        }
        continue;
      }
      const lsn = keyLsn(key);
      const branch = keyBranch(key);
      if (view.visible(lsn, branch)) chosen = { key, value, lsn, branch };
    }
    if (chosen) yield chosen;
    if (resumeAt === null) return;
    start = resumeAt;
  }
}

/** Reverse scans see each group's versions oldest first: the last visible one wins. */
function* scanVisibleReverse(db: BinaryDb, lower: Buffer, upper: Buffer | null, view: View): Generator<Version> {
  let current: Buffer | null = null;
  let chosen: Version | undefined;
  for (const { key, value } of db.getRange({ start: upper ?? undefined, end: lower, reverse: true })) {
    if (upper !== null && Buffer.compare(key, upper) >= 0) continue;
    const group = groupOf(key);
    if (current === null || !group.equals(current)) {
      if (chosen) yield chosen;
      current = group;
      chosen = undefined;
    }
    const lsn = keyLsn(key);
    const branch = keyBranch(key);
    if (view.visible(lsn, branch)) chosen = { key, value, lsn, branch };
  }
  if (chosen) yield chosen;
}
