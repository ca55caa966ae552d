import { open, type Database, type RootDatabase } from 'lmdb';
import type { BinaryDb } from './versioned.js';

/** Persistent records that are not versioned per branch. */
export interface BranchRecord {
  id: number;
  name: string;
  parentId: number | null;
  forkLsn: number;
  created: number;
  deleted: boolean;
  /** No direct writes: changes arrive only by merge. */
  protected?: boolean;
  /** BSON of its merge gates (see vcs/gates.ts): they follow the name, as protection does. */
  gates?: Buffer;
  ownBytes: number;
}

/** A merge into a branch: which source it took, as of which source LSN. */
export interface MergeRecord {
  sourceId: number;
  sourceLsn: number;
  /** BSON of the merge's report (time, strategy, counts, gate reports); absent on older records. */
  report?: Buffer;
}

/** A named commit: a message (and author) marking a point of a branch's log. */
export interface CommitRecord {
  message: string;
  author: string;
  time: number;
}

export interface TagRecord {
  name: string;
  branchId: number;
  lsn: number;
  created: number;
}

/** The LMDB environment and its named databases. All share one transaction per commit. */
export interface Tables {
  env: RootDatabase;
  /** Counters: lsn, lastTs, nextBranchId, nextNsId, nextIndexId. */
  meta: Database<number, string>;
  branches: Database<BranchRecord, number>;
  tags: Database<TagRecord, string>;
  /** [branchId, lsn] → CommitRecord. */
  commits: Database<CommitRecord, [number, number]>;
  /** [targetId, lsn of the merge batch] → MergeRecord: later merges start from there. */
  merges: Database<MergeRecord, [number, number]>;
  /** targetId → BSON of the manual merge into it that waits for conflict resolutions (see vcs/manual.ts). */
  pendingMerges: Database<Buffer, number>;
  /** [ts, lsn] → null: finds the LSN in force at a wall-clock time. */
  clock: Database<null, [number, number]>;
  /** [branchId, lsn] → encoded change list (see changelog.ts). */
  log: Database<Buffer, [number, number]>;
  /** Versioned tables, keyed as described in versioned.ts. */
  docs: BinaryDb;
  index: BinaryDb;
  catalog: BinaryDb;
  stats: BinaryDb;
}

export function openTables(path: string): Tables {
  const env = open({ path, maxDbs: 32, noMemInit: true, noSubdir: false });
  const binary = (name: string) => env.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' });
  return {
    env,
    meta: env.openDB<number, string>('meta', {}),
    branches: env.openDB<BranchRecord, number>('branches', {}),
    tags: env.openDB<TagRecord, string>('tags', {}),
    clock: env.openDB<null, [number, number]>('clock', {}),
    merges: env.openDB<MergeRecord, [number, number]>('merges', {}),
    pendingMerges: env.openDB<Buffer, number>('pendingMerges', { encoding: 'binary' }),
    commits: env.openDB<CommitRecord, [number, number]>('commits', {}),
    log: env.openDB<Buffer, [number, number]>('log', { encoding: 'binary' }),
    docs: binary('docs'),
    index: binary('index'),
    catalog: binary('catalog'),
    stats: binary('stats'),
  };
}
