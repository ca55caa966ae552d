import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { BranchRecord, Tables, TagRecord } from './tables.js';
import { decodeCatalogEntry } from './catalog.js';
import { groupOf, keyBranch, keyLsn, type BinaryDb } from './versioned.js';

export interface CompactionInput {
  /** Reads below this LSN are outside the retention window. */
  horizonLsn: number;
  branches: BranchRecord[];
  tags: TagRecord[];
  isClosed: () => boolean;
  onRemovedBytes: (branchId: number, bytes: number) => void;
}

export interface CompactionReport {
  removedVersions: number;
  removedLogEntries: number;
  horizonLsn: number;
}

/** The LSNs at which a branch's state must stay readable. */
interface Needs {
  /** Every LSN from here on (a live branch's retention window); Infinity for none. */
  from: number;
  /** Single points: child fork points and tags. */
  pins: number[];
}

interface VersionRef {
  key: Buffer;
  lsn: number;
  bytes: number;
}

/** Keys read per chunk; each chunk's deletions commit in one short write transaction. */
const CHUNK_KEYS = 20_000;

/**
 * Walks every versioned table and deletes the versions no readable point can see. A version of
 * branch b is visible from its LSN until b's next version of the same key; it is kept when that
 * interval meets b's retention window or holds one of b's pins. Work is split in chunks with a
 * turn of the event loop between them, and LMDB's MVCC means readers never wait for it.
 */
export async function compact(t: Tables, input: CompactionInput): Promise<CompactionReport> {
  const needs = needsByBranch(input);
  const report: CompactionReport = { removedVersions: 0, removedLogEntries: 0, horizonLsn: input.horizonLsn };
  for (const db of [t.docs, t.catalog, t.stats]) {
    report.removedVersions += await compactTable(t, db, needs, input);
  }
  // Entries of indexes that no remaining catalog version mentions (dropped, or their collection
  // dropped) can never be read again: they go whole.
  const liveIndexes = referencedIndexIds(t);
  report.removedVersions += await compactTable(t, t.index, needs, input, (group) => !liveIndexes.has(group.readUInt32BE(0)));
  report.removedLogEntries = await compactLog(t, input);
  return report;
}

/**
 * Branches whose history someone can still read: live ones, and deleted ones that a tag or a
 * live descendant reads through.
 */
export function readableBranches(branches: readonly BranchRecord[], tags: readonly TagRecord[]): Set<number> {
  const byId = new Map(branches.map((b) => [b.id, b]));
  const readable = new Set<number>();
  const mark = (id: number | null) => {
    for (let b = id === null ? undefined : byId.get(id); b && !readable.has(b.id); b = b.parentId === null ? undefined : byId.get(b.parentId)) {
      readable.add(b.id);
    }
  };
  for (const b of branches) if (!b.deleted) mark(b.id);
  for (const t of tags) mark(t.branchId);
  return readable;
}

function needsByBranch(input: CompactionInput): Map<number, Needs> {
  const needs = new Map<number, Needs>();
  const readable = readableBranches(input.branches, input.tags);
  for (const b of input.branches) {
    needs.set(b.id, { from: b.deleted ? Infinity : Math.max(b.forkLsn, input.horizonLsn), pins: [] });
  }
  for (const b of input.branches) {
    if (b.parentId !== null && readable.has(b.id)) needs.get(b.parentId)?.pins.push(b.forkLsn);
  }
  for (const tag of input.tags) needs.get(tag.branchId)?.pins.push(tag.lsn);
  return needs;
}

/** Index ids named by any catalog version still stored. */
function referencedIndexIds(t: Tables): Set<number> {
  const ids = new Set<number>();
  for (const { value } of t.catalog.getRange()) {
    const entry = decodeCatalogEntry(value);
    for (const ix of entry?.indexes ?? []) ids.add(ix.id);
  }
  return ids;
}

async function compactTable(
  t: Tables,
  db: BinaryDb,
  needs: Map<number, Needs>,
  input: CompactionInput,
  /** Groups to drop entirely, whatever their versions. */
  orphaned: (group: Buffer) => boolean = () => false,
): Promise<number> {
  let removed = 0;
  let start: Buffer | undefined;
  for (;;) {
    if (input.isClosed()) return removed;
    const doomed: VersionRef[] = [];
    const doomedOwners: number[] = [];
    let group: Buffer | null = null;
    let versions = new Map<number, VersionRef[]>();
    let read = 0;
    let resumeAt: Buffer | undefined;
    const settle = () => {
      const dropAll = group !== null && orphaned(group);
      for (const [branch, refs] of versions) {
        for (const ref of dropAll ? refs : unneeded(refs, needs.get(branch))) {
          doomed.push(ref);
          doomedOwners.push(branch);
        }
      }
    };
    for (const { key, value } of db.getRange({ start })) {
      const g = groupOf(key);
      if (group === null || !g.equals(group)) {
        if (read >= CHUNK_KEYS) {
          resumeAt = Buffer.from(key);
          break;
        }
        settle();
        group = Buffer.from(g);
        versions = new Map();
      }
      const branch = keyBranch(key);
      const refs = versions.get(branch) ?? [];
      refs.push({ key: Buffer.from(key), lsn: keyLsn(key), bytes: key.length + value.length });
      versions.set(branch, refs);
      read++;
    }
    settle();
    if (doomed.length > 0) {
      const bytesByBranch = new Map<number, number>();
      t.env.transactionSync(() => {
        doomed.forEach((ref, i) => {
          db.remove(ref.key);
          bytesByBranch.set(doomedOwners[i]!, (bytesByBranch.get(doomedOwners[i]!) ?? 0) + ref.bytes);
        });
        for (const [branchId, bytes] of bytesByBranch) {
          const record = t.branches.get(branchId);
          if (record) t.branches.put(branchId, { ...record, ownBytes: Math.max(0, record.ownBytes - bytes) });
        }
      });
      for (const [branchId, bytes] of bytesByBranch) input.onRemovedBytes(branchId, bytes);
      removed += doomed.length;
    }
    if (!resumeAt) return removed;
    start = resumeAt;
    await yieldToLoop();
  }
}

/** Versions of one branch for one key (newest first, as stored) that no needed point can see. */
function unneeded(refs: VersionRef[], needs: Needs | undefined): VersionRef[] {
  if (!needs) return [];
  const out: VersionRef[] = [];
  let next = Infinity; // LSN of the next newer version of this branch
  for (const ref of refs) {
    const seenByWindow = next > needs.from;
    const seenByPin = needs.pins.some((p) => p >= ref.lsn && p < next);
    if (!seenByWindow && !seenByPin) out.push(ref);
    next = ref.lsn;
  }
  return out;
}

async function compactLog(t: Tables, input: CompactionInput): Promise<number> {
  let removed = 0;
  const lastChildFork = new Map<number, number>();
  const readable = readableBranches(input.branches, input.tags);
  for (const b of input.branches) {
    if (b.parentId !== null && readable.has(b.id)) lastChildFork.set(b.parentId, Math.max(lastChildFork.get(b.parentId) ?? 0, b.forkLsn));
  }
  for (const b of input.branches) {
    // A deleted branch's log is still read by its children's log up to their fork points.
    const keepUpTo = b.deleted ? (lastChildFork.get(b.id) ?? -1) : Number.MAX_SAFE_INTEGER;
    const doomed = [...t.log.getKeys({ start: [b.id, 0], end: [b.id, Number.MAX_SAFE_INTEGER] })].filter(
      ([, lsn]) => lsn < input.horizonLsn || lsn > keepUpTo,
    );
    if (doomed.length === 0) continue;
    t.env.transactionSync(() => {
      for (const key of doomed) t.log.remove(key);
    });
    removed += doomed.length;
    await yieldToLoop();
  }
  return removed;
}
