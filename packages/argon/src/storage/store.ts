import { mkdirSync } from 'node:fs';
import { ABORT, type Database, type Key } from 'lmdb';
import { ArgonError } from '../errors.js';
import { listCatalog, readCatalogEntry, type CatalogEntry } from './catalog.js';
import { writeAuthor } from './author.js';
import { decodeChanges } from './changelog.js';
import { compact, readableBranches, type CompactionReport } from './compaction.js';
import { HeadCache } from './headcache.js';
import { IdHighWater } from './highwater.js';
import { lockStoreDir } from './lock.js';
import { encodeCompound, encodeValue, prefixSuccessor } from './keys.js';
import { validateBranchName } from './names.js';
import { openTables, type BranchRecord, type Tables, type TagRecord } from './tables.js';
import type {
  BranchInfo,
  BranchStats,
  CommitInfo,
  CollectionInfo,
  CommitResult,
  CompiledValidator,
  Document,
  IdRange,
  IndexInfo,
  IndexRange,
  Divergence,
  LogEntry,
  Lsn,
  ReadPoint,
  ScanOptions,
  StoreOptions,
  WriteOp,
} from './types.js';
import { getVisible, scanVisible, View } from './versioned.js';
import { decodeBson, decodeStats, docGroup, indexDirections, u32, LIVE, WriteTx, type Counters } from './writer.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const HEAD = Number.MAX_SAFE_INTEGER;
const PAST_CATALOG_CACHE_SIZE = 10_000;
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_BRANCH = 'main';

export interface BranchFrom {
  /** Ref to fork from (a branch, a tag, or `branch@time|lsn`); default `main`. */
  from?: string;
  lsn?: Lsn;
  time?: Date;
}

/**
 * The versioned, branchable document store. Branches are Neon-style timelines: a parent and
 * the LSN they forked at. Creating one writes one small record; reads resolve each key through
 * the branch's lineage (see versioned.ts).
 */
export class Store {
  private lsn = 0;
  private lastTs = 0;
  private counters: Counters = { nextNsId: 1, nextIndexId: 1 };
  private nextBranchId = 1;
  private readonly branchesById = new Map<number, BranchRecord>();
  private readonly branchIdByName = new Map<string, number>();
  private readonly ceilingsCache = new Map<number, Map<number, number>>();
  /** Head catalog lookups by `${branchId}\0${db}\0${coll}`; cleared whenever a catalog changes. */
  private readonly catalogCache = new Map<string, CatalogEntry | null>();
  private readonly pastCatalogCache = new Map<string, CatalogEntry | null>();
  private readonly headCache: HeadCache;
  private readonly highWater: IdHighWater;
  private readonly compileFilter?: (filter: Document) => (doc: Document) => boolean;
  /** Compiled partial-index filters by index id (an index's filter never changes). */
  private readonly partialFilters = new Map<number, (doc: Document) => boolean>();
  private readonly compileValidator?: (validator: Document) => CompiledValidator;
  /**
   * Compiled validators by the catalog entry's validator object: entries are never mutated, and
   * every copy of an entry (a rename, an index change) shares that object, so a validator is
   * compiled once per catalog read, not once per write.
   */
  private readonly validators = new WeakMap<Document, CompiledValidator>();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private compactionTimer: NodeJS.Timeout | null = null;
  private compacting: Promise<CompactionReport> | null = null;
  /** Bumped when a branch or tag is deleted: that can free history even if the horizon stays put. */
  private pinsVersion = 0;
  private compactedAt = { horizonLsn: -1, pinsVersion: -1 };
  private closed = false;
  private horizon = { cutoff: NaN, lsn: 0 };
  /** Newest LSN whose batch is flushed and visible to readers; `lsn` runs ahead of it during a commit. */
  private durable = 0;
  private readonly commitListeners = new Set<(branch: string, lsn: Lsn) => void>();

  private constructor(
    readonly path: string,
    private readonly t: Tables,
    options: StoreOptions,
    private readonly unlock: () => void,
  ) {
    this.retentionMs = options.retentionMs ?? 7 * DAY_MS;
    this.now = options.now ?? Date.now;
    this.headCache = new HeadCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
    this.highWater = new IdHighWater(t.docs);
    this.compileFilter = options.compileFilter;
    this.compileValidator = options.compileValidator;
  }

  static async open(path: string, options: StoreOptions = {}): Promise<Store> {
    mkdirSync(path, { recursive: true });
    // Before LMDB opens anything: a second process on the directory must fail touching nothing.
    const unlock = lockStoreDir(path);
    let store: Store;
    try {
      store = new Store(path, openTables(path), options, unlock);
      await store.load();
    } catch (err) {
      unlock();
      throw err;
    }
    const interval = options.compactionIntervalMs ?? 60_000;
    if (interval > 0) {
      store.compactionTimer = setInterval(() => void store.compact().catch(() => undefined), interval);
      store.compactionTimer.unref();
    }
    return store;
  }

  private async load(): Promise<void> {
    const { meta, branches } = this.t;
    this.lsn = meta.get('lsn') ?? 0;
    this.durable = this.lsn;
    this.lastTs = meta.get('lastTs') ?? 0;
    this.counters = { nextNsId: meta.get('nextNsId') ?? 1, nextIndexId: meta.get('nextIndexId') ?? 1 };
    this.nextBranchId = meta.get('nextBranchId') ?? 1;
    for (const { value } of branches.getRange()) this.remember(value);
    if (this.branchesById.size === 0) {
      const root: BranchRecord = { id: this.nextBranchId++, name: DEFAULT_BRANCH, parentId: null, forkLsn: 0, created: this.now(), deleted: false, ownBytes: 0 };
      this.t.env.transactionSync(() => {
        branches.put(root.id, root);
        meta.put('nextBranchId', this.nextBranchId);
      });
      await this.t.env.flushed;
      this.remember(root);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    await this.compacting?.catch(() => undefined);
    await this.t.env.close();
    this.unlock();
  }

  /** The LSN of the newest committed batch. */
  /** A named table beside the engine's, for server-wide records that are not versioned (users, audit). */
  serverTable<V, K extends Key>(name: string): Database<V, K> {
    return this.t.env.openDB<V, K>(name, {});
  }

  /**
   * Resolves once everything committed so far is on disk. A server-table write's own promise
   * resolves at commit, before the flush: await this too before acknowledging it.
   */
  async flushed(): Promise<void> {
    await this.t.env.flushed;
  }

  get headLsn(): Lsn {
    return this.lsn;
  }

  /**
   * The newest LSN whose batch is durable and readable. Log readers that must not skip a batch
   * still being committed (change streams) read up to here, not to `headLsn`.
   */
  get durableLsn(): Lsn {
    return this.durable;
  }

  /**
   * Calls `listener` after each batch is durable, with the branch it was written on. Returns the
   * function that removes the listener. Lets waiters (change streams) sleep instead of polling.
   */
  onCommit(listener: (branch: string, lsn: Lsn) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  // ---- writes ------------------------------------------------------------------------

  /**
   * Runs `fn` as one atomic batch on `branch`: every change it makes gets the same LSN and
   * timestamp, and becomes visible and durable together. If `fn` throws, nothing is written.
   * The promise resolves once the batch is flushed to disk.
   */
  async transact<T>(branch: string, fn: (tx: WriteTx) => T, options: { asMerge?: boolean } = {}): Promise<CommitResult & { result: T }> {
    this.assertOpen();
    const record = this.branch(branch);
    if (record.protected && !options.asMerge) {
      throw new ArgonError('BranchProtected', `Branch '${branch}' is protected: change it by merging another branch into it`);
    }
    let outcome: { result: T; lsn: number; time: number } | undefined;
    let failure: { error: unknown } | undefined;
    // Read now: the child transaction's callback may run outside this async context.
    const author = writeAuthor.getStore();
    // A child transaction of lmdb-js's next write batch: concurrent batches share one commit and
    // one flush (group commit) off the main thread, while a batch that throws is rolled back alone.
    const committed = this.t.env.childTransaction(() => {
      try {
        outcome = this.applyBatch(record, fn, author);
        return undefined;
      } catch (error) {
        failure = { error };
        return ABORT;
      }
    });
    try {
      await committed;
    } catch (error) {
      // The shared commit itself failed: in-memory state may be ahead of the disk, so forget caches.
      this.headCache.clear();
      this.catalogCache.clear();
      throw error;
    }
    if (failure) throw failure.error;
    await this.t.env.flushed;
    const { result, lsn, time } = outcome!;
    if (lsn > this.durable) this.durable = lsn;
    // Batches of one group commit may resume in any order: each tells its own branch's waiters.
    const name = this.branchesById.get(record.id)!.name;
    for (const listener of this.commitListeners) listener(name, lsn);
    return { lsn, time: new Date(time), result };
  }

  /**
   * Runs one batch inside the current write transaction and, if it wrote anything, advances the
   * in-memory state at once: later batches of the same commit must see its LSN, counters and
   * cached documents.
   */
  private applyBatch<T>(record: BranchRecord, fn: (tx: WriteTx) => T, author?: string): { result: T; lsn: number; time: number } {
    const lsn = this.lsn + 1;
    const time = Math.max(this.now(), this.lastTs);
    const counters = { ...this.counters };
    const view = new View(this.ceilings(record), HEAD);
    const tx = new WriteTx(this.t, record, view, lsn, time, counters, (db, coll) => this.headCatalog(record, db, coll), this.highWater, (ix) => this.partialFilter(ix), (v) => this.validator(v));
    tx.author = author;
    const result = fn(tx);
    if (!tx.finish()) return { result, lsn: this.lsn, time: this.lastTs };
    this.t.meta.put('lsn', lsn);
    this.t.meta.put('lastTs', time);
    this.t.meta.put('nextNsId', counters.nextNsId);
    this.t.meta.put('nextIndexId', counters.nextIndexId);
    this.t.branches.put(record.id, { ...record, ownBytes: record.ownBytes + tx.ownBytes });
    this.lsn = lsn;
    this.lastTs = time;
    this.horizon.cutoff = NaN;
    this.counters = counters;
    record.ownBytes += tx.ownBytes;
    for (const [group, value] of tx.writtenDocs) this.headCache.set(HeadCache.key(record.id, group), value);
    if (tx.catalogChanged) this.catalogCache.clear();
    return { result, lsn, time };
  }

  /** Applies a list of operations atomically: if any fails, none is written. */
  async write(branch: string, ops: readonly WriteOp[]): Promise<CommitResult> {
    const { lsn, time } = await this.transact(branch, (tx) => {
      for (const op of ops) {
        if (op.op === 'insert') tx.insert(op.db, op.coll, op.doc);
        else if (op.op === 'replace') tx.replace(op.db, op.coll, op.doc, op.upsert);
        else tx.delete(op.db, op.coll, op.id);
      }
    });
    return { lsn, time };
  }

  // ---- branches and tags -------------------------------------------------------------

  async createBranch(name: string, from: BranchFrom = {}): Promise<BranchInfo> {
    this.assertOpen();
    validateBranchName(name);
    if (this.branchIdByName.has(name)) throw new ArgonError('BranchExists', `Branch '${name}' already exists`);
    const base = from.lsn !== undefined || from.time !== undefined ? { branch: from.from ?? DEFAULT_BRANCH, lsn: from.lsn, time: from.time } : this.resolveRef(from.from ?? DEFAULT_BRANCH);
    const parent = this.recordOf(base);
    const forkLsn = this.resolveLsn(parent, base.lsn, base.time);
    const record: BranchRecord = { id: this.nextBranchId++, name, parentId: parent.id, forkLsn, created: this.now(), deleted: false, ownBytes: 0 };
    this.t.env.transactionSync(() => {
      this.t.branches.put(record.id, record);
      this.t.meta.put('nextBranchId', this.nextBranchId);
    });
    this.remember(record);
    await this.t.env.flushed;
    return this.info(record);
  }

  listBranches(): BranchInfo[] {
    return [...this.branchIdByName.values()].map((id) => this.info(this.branchesById.get(id)!));
  }

  getBranch(name: string): BranchInfo {
    return this.info(this.branch(name));
  }

  /** Protects a branch (no direct writes, only merges) or lifts the protection. */
  async protectBranch(name: string, on: boolean): Promise<BranchInfo> {
    const record = this.branch(name);
    record.protected = on;
    this.t.env.transactionSync(() => this.t.branches.put(record.id, { ...record }));
    await this.t.env.flushed;
    return this.info(record);
  }

  /** The branch's merge gates as stored by vcs/gates.ts (BSON), or null. */
  gateConfig(name: string): Buffer | null {
    return this.branch(name).gates ?? null;
  }

  async setGateConfig(name: string, gates: Buffer | null): Promise<void> {
    const record = this.branch(name);
    record.gates = gates ?? undefined;
    this.t.env.transactionSync(() => this.t.branches.put(record.id, { ...record }));
    await this.t.env.flushed;
  }

  /**
   * Resets a branch to its parent's head, or to a past point of its own, in one step: the branch
   * name moves to a new timeline and the old one stays as `backup` (default `NAME-backup-LSN`).
   */
  async resetBranch(name: string, to: { parent: true } | { lsn?: Lsn; time?: Date }, backup?: string): Promise<{ branch: BranchInfo; backup: BranchInfo }> {
    const old = this.branch(name);
    let parentId: number;
    let forkLsn: number;
    if ('parent' in to) {
      if (old.parentId === null) throw new ArgonError('BadValue', `Branch '${name}' has no parent to reset to`);
      parentId = old.parentId;
      forkLsn = this.lsn;
    } else {
      parentId = old.id;
      forkLsn = this.resolveLsn(old, to.lsn, to.time);
    }
    const backupName = backup ?? `${name}-backup-${this.lsn}`;
    validateBranchName(backupName);
    if (this.branchIdByName.has(backupName)) throw new ArgonError('BranchExists', `Branch '${backupName}' already exists`);
    const kept: BranchRecord = { ...old, name: backupName, protected: false, gates: undefined };
    const fresh: BranchRecord = { id: this.nextBranchId++, name, parentId, forkLsn, created: this.now(), deleted: false, ownBytes: 0, protected: old.protected, gates: old.gates };
    this.t.env.transactionSync(() => {
      this.t.branches.put(kept.id, kept);
      this.t.branches.put(fresh.id, fresh);
      this.t.meta.put('nextBranchId', this.nextBranchId);
    });
    this.branchIdByName.delete(name);
    this.remember(kept);
    this.remember(fresh);
    await this.t.env.flushed;
    return { branch: this.info(fresh), backup: this.info(kept) };
  }

  async renameBranch(from: string, to: string): Promise<BranchInfo> {
    validateBranchName(to);
    const record = this.branch(from);
    if (this.branchIdByName.has(to)) throw new ArgonError('BranchExists', `Branch '${to}' already exists`);
    const renamed = { ...record, name: to };
    this.t.env.transactionSync(() => this.t.branches.put(record.id, renamed));
    this.branchIdByName.delete(from);
    this.remember(renamed);
    await this.t.env.flushed;
    return this.info(renamed);
  }

  /**
   * Deletes a branch name. Its history stays as long as child branches or tags need it
   * (they keep reading it through their lineage); compaction reclaims the rest.
   */
  async deleteBranch(name: string): Promise<void> {
    const record = this.branch(name);
    if (record.parentId === null) throw new ArgonError('BadValue', `Cannot delete the root branch '${name}'`);
    const deleted = { ...record, deleted: true };
    this.t.env.transactionSync(() => this.t.branches.put(record.id, deleted));
    this.branchIdByName.delete(name);
    this.branchesById.set(record.id, deleted);
    this.pinsVersion++;
    await this.t.env.flushed;
  }

  async createTag(name: string, point: ReadPoint): Promise<TagRecord> {
    validateBranchName(name);
    if (this.t.tags.get(name)) throw new ArgonError('BranchExists', `Tag '${name}' already exists`);
    const record = this.branch(point.branch);
    const tag: TagRecord = { name, branchId: record.id, lsn: this.resolveLsn(record, point.lsn, point.time), created: this.now() };
    this.t.env.transactionSync(() => this.t.tags.put(name, tag));
    await this.t.env.flushed;
    return tag;
  }

  /**
   * A ref as users write it: a branch (`dev`), a tag (`v1`), or a branch as of a past point
   * (`main@2026-11-21T10:00:00Z`, `main@42` for an LSN).
   */
  resolveRef(ref: string): ReadPoint {
    const at = ref.indexOf('@');
    if (at >= 0) {
      const branch = ref.slice(0, at);
      const when = ref.slice(at + 1);
      if (/^\d+$/.test(when)) return { branch, lsn: Number(when) };
      const time = new Date(when);
      if (Number.isNaN(time.getTime())) throw new ArgonError('BadValue', `'${when}' is neither an ISO 8601 time nor an LSN`);
      return { branch, time };
    }
    if (this.branchIdByName.has(ref)) return { branch: ref };
    const tag = this.t.tags.get(ref);
    if (tag) return { branch: this.branchesById.get(tag.branchId)!.name, branchId: tag.branchId, lsn: tag.lsn };
    throw new ArgonError('BranchNotFound', `No branch or tag named '${ref}'`);
  }

  listTags(): TagRecord[] {
    return [...this.t.tags.getRange()].map(({ value }) => value);
  }

  async deleteTag(name: string): Promise<void> {
    if (!this.t.tags.get(name)) throw new ArgonError('BranchNotFound', `Tag '${name}' not found`);
    this.t.env.transactionSync(() => this.t.tags.remove(name));
    this.pinsVersion++;
    await this.t.env.flushed;
  }

  /** The LSN in force at a wall-clock time: the last batch committed at or before it. */
  lsnAtTime(time: Date | number): Lsn {
    const ts = typeof time === 'number' ? time : time.getTime();
    for (const { key } of this.t.clock.getRange({ start: [ts, HEAD], end: [-Infinity, 0], reverse: true, limit: 1 })) {
      return key[1];
    }
    return 0;
  }

  // ---- reads -------------------------------------------------------------------------

  get(point: ReadPoint | string, db: string, coll: string, id: unknown): Document | null {
    const raw = this.getRaw(point, db, coll, id);
    return raw ? decodeBson(raw) : null;
  }

  /** The stored BSON of a document, undecoded: what the wire protocol sends as is. */
  getRaw(point: ReadPoint | string, db: string, coll: string, id: unknown): Buffer | null {
    const value = typeof point === 'string' || (point.lsn === undefined && point.time === undefined)
      ? this.headValue(typeof point === 'string' ? point : point.branch, db, coll, id)
      : this.pastValue(point, db, coll, id);
    return value && value[0] === LIVE ? value.subarray(1) : null;
  }

  private headValue(branch: string, db: string, coll: string, id: unknown): Buffer | null {
    this.assertOpen();
    const record = this.branch(branch);
    const entry = this.headCatalog(record, db, coll);
    if (!entry) return null;
    return this.cachedHeadValue(record, docGroup(entry.nsId, encodeValue(id)));
  }

  private cachedHeadValue(record: BranchRecord, group: Buffer): Buffer | null {
    const key = HeadCache.key(record.id, group);
    let value = this.headCache.get(key);
    if (value === undefined) {
      value = getVisible(this.t.docs, group, new View(this.ceilings(record), this.lsn))?.value ?? null;
      this.headCache.set(key, value);
    }
    return value;
  }

  private pastValue(point: ReadPoint, db: string, coll: string, id: unknown): Buffer | null {
    const { view, entry } = this.openRead(point, db, coll);
    return entry ? (getVisible(this.t.docs, docGroup(entry.nsId, encodeValue(id)), view)?.value ?? null) : null;
  }

  /** Documents in `_id` order (MongoDB's BSON order), optionally within an `_id` range. */
  *scan(point: ReadPoint | string, db: string, coll: string, range: IdRange = {}, options: ScanOptions = {}): Generator<Document> {
    for (const raw of this.scanRaw(point, db, coll, range, options)) yield decodeBson(raw);
  }

  /** Like `scan`, yielding each document's stored BSON undecoded. */
  *scanRaw(point: ReadPoint | string, db: string, coll: string, range: IdRange = {}, options: ScanOptions = {}): Generator<Buffer> {
    const { view, entry } = this.openRead(point, db, coll);
    if (!entry) return;
    const ns = u32(entry.nsId);
    const lower = range.lower ? boundKey(ns, encodeValue(range.lower.value), range.lower.inclusive, 'lower') : ns;
    const upper = range.upper ? boundKey(ns, encodeValue(range.upper.value), range.upper.inclusive, 'upper') : u32(entry.nsId + 1);
    let left = options.limit ?? Infinity;
    for (const version of scanVisible(this.t.docs, lower, upper, view, options.reverse)) {
      if (left <= 0) return;
      if (version.value[0] === LIVE) {
        left--;
        yield version.value.subarray(1);
      }
    }
  }

  /**
   * Documents through a secondary index, in index order, within bounds on the index's leading
   * fields. A document whose array field yields several keys in range is returned once.
   */
  *indexScan(point: ReadPoint | string, db: string, coll: string, indexName: string, range: IndexRange = {}, options: ScanOptions = {}): Generator<Document> {
    for (const raw of this.indexScanRaw(point, db, coll, indexName, range, options)) yield decodeBson(raw);
  }

  /** Like `indexScan`, yielding each document's stored BSON undecoded. */
  *indexScanRaw(point: ReadPoint | string, db: string, coll: string, indexName: string, range: IndexRange = {}, options: ScanOptions = {}): Generator<Buffer> {
    const { view, entry } = this.openRead(point, db, coll);
    const p = typeof point === 'string' ? { branch: point } : point;
    const head = p.lsn === undefined && p.time === undefined ? this.recordOf(p) : null;
    if (!entry) return;
    const index = entry.indexes.find((ix) => ix.name === indexName);
    if (!index) throw new ArgonError('IndexNotFound', `index not found with name [${indexName}]`);
    const prefix = u32(index.id);
    const dirs = indexDirections(index);
    const bound = (values: unknown[]) => encodeCompound(values, dirs.slice(0, values.length));
    const lower = range.lower ? boundKey(prefix, bound(range.lower.values), range.lower.inclusive, 'lower') : prefix;
    const upper = range.upper ? boundKey(prefix, bound(range.upper.values), range.upper.inclusive, 'upper') : u32(index.id + 1);
    const seen = new Set<string>();
    let left = options.limit ?? Infinity;
    for (const version of scanVisible(this.t.index, lower, upper, view, options.reverse)) {
      if (left <= 0) return;
      if (version.value[0] !== LIVE) continue;
      const encId = version.value.subarray(1);
      const hex = encId.toString('hex');
      if (seen.has(hex)) continue;
      seen.add(hex);
      const group = docGroup(entry.nsId, encId);
      const value = head ? this.cachedHeadValue(head, group) : getVisible(this.t.docs, group, view)?.value;
      if (value && value[0] === LIVE) {
        left--;
        yield value.subarray(1);
      }
    }
  }

  /** One collection's catalog entry (cached at head), or null if it does not exist. */
  collection(point: ReadPoint | string, db: string, coll: string): CollectionInfo | null {
    const { entry } = this.openRead(point, db, coll);
    return entry && toCollectionInfo(entry);
  }

  /** One collection's whole catalog entry (indexes with their ids, validation options), or null. */
  catalogEntry(point: ReadPoint | string, db: string, coll: string): CatalogEntry | null {
    return this.openRead(point, db, coll).entry;
  }

  listCollections(point: ReadPoint | string, db?: string): CollectionInfo[] {
    const view = this.view(point);
    return listCatalog(this.t.catalog, view, db).map(toCollectionInfo);
  }

  listDatabases(point: ReadPoint | string): string[] {
    return [...new Set(this.listCollections(point).map((c) => c.db))];
  }

  count(point: ReadPoint | string, db: string, coll: string): number {
    return this.collectionStats(point, db, coll).count;
  }

  /** Document count and BSON bytes of a collection. */
  collectionStats(point: ReadPoint | string, db: string, coll: string): { count: number; bytes: number } {
    const { view, entry } = this.openRead(point, db, coll);
    return entry ? decodeStats(getVisible(this.t.stats, u32(entry.nsId), view)?.value) : { count: 0, bytes: 0 };
  }

  /** The change log of a branch from an LSN on, including what it inherited before its fork point. */
  *log(branch: string, options: { fromLsn?: Lsn; toLsn?: Lsn } = {}): Generator<LogEntry> {
    const record = this.branch(branch);
    const from = options.fromLsn ?? 0;
    const to = options.toLsn ?? HEAD;
    const segments: { record: BranchRecord; hi: number }[] = [];
    for (let r: BranchRecord | undefined = record, hi = HEAD; r; ) {
      segments.unshift({ record: r, hi });
      hi = r.forkLsn;
      r = r.parentId === null ? undefined : this.branchesById.get(r.parentId);
    }
    for (const { record: r, hi } of segments) {
      const end = Math.min(hi, to);
      for (const { key, value } of this.t.log.getRange({ start: [r.id, from], end: [r.id, end + 1] })) {
        yield logEntry(key[1], r.name, value);
      }
    }
  }

  /**
   * What two read points do not share: the change-log entries each sees that the other does not,
   * and their merge base (the newest state both see). Its cost follows the number of changes
   * since the fork, not the data size. Throws SnapshotTooOld if that history was compacted.
   */
  divergence(a: ReadPoint | string, b: ReadPoint | string): Divergence {
    const va = this.view(a);
    const vb = this.view(b);
    const visible = (v: View, id: number) => Math.min(v.ceilings.get(id) ?? -1, v.readLsn);
    const horizon = this.horizonLsn();
    const sideOnly = (mine: View, other: View): LogEntry[] => {
      const out: LogEntry[] = [];
      for (const id of mine.ceilings.keys()) {
        const upTo = visible(mine, id);
        const record = this.branchesById.get(id)!;
        const from = Math.max(visible(other, id), record.forkLsn);
        if (upTo <= from) continue;
        // Log entries older than the retention horizon may be compacted: refuse a partial answer.
        if (from + 1 < horizon) throw new ArgonError('SnapshotTooOld', `the change log this comparison needs (from LSN ${from + 1}) has been compacted`);
        for (const { key, value } of this.t.log.getRange({ start: [id, from + 1], end: [id, upTo + 1] })) {
          out.push(logEntry(key[1], record.name, value));
        }
      }
      return out.sort((x, y) => x.lsn - y.lsn);
    };
    // The merge base: the deepest branch both lineages share, read as far as both see it.
    let baseId = -1;
    for (const id of va.ceilings.keys()) if (vb.ceilings.has(id) && id > baseId) baseId = id;
    const base: ReadPoint = { branch: this.branchesById.get(baseId)!.name, branchId: baseId, lsn: Math.min(visible(va, baseId), visible(vb, baseId)) };
    return { base, a: sideOnly(va, vb), b: sideOnly(vb, va) };
  }

  /** Marks the branch's current state with a message: a named point of its log. */
  async commit(branch: string, message: string, author = 'anonymous'): Promise<CommitInfo> {
    const record = this.branch(branch);
    if (typeof message !== 'string' || message.trim() === '') throw new ArgonError('BadValue', 'a commit needs a message');
    const lsn = this.lsn;
    const entry = { message, author, time: this.now() };
    this.t.env.transactionSync(() => this.t.commits.put([record.id, lsn], entry));
    await this.t.env.flushed;
    return { ref: `${record.name}@${lsn}`, branch: record.name, lsn, message, author, time: new Date(entry.time) };
  }

  /** Points that stay readable whatever their age: tags and named commits. */
  private pins(): TagRecord[] {
    const commits = [...this.t.commits.getRange()].map(({ key, value }) => ({ name: `commit:${key[0]}@${key[1]}`, branchId: key[0], lsn: key[1], created: value.time }));
    return [...this.listTags(), ...commits];
  }

  /** The named commits of a branch's own log, newest first. */
  commits(branch: string): CommitInfo[] {
    const record = this.branch(branch);
    return [...this.t.commits.getRange({ start: [record.id, Number.MAX_SAFE_INTEGER], end: [record.id, -1], reverse: true })].map(({ key, value }) => ({
      ref: `${record.name}@${key[1]}`,
      branch: record.name,
      lsn: key[1],
      message: value.message,
      author: value.author,
      time: new Date(value.time),
    }));
  }

  /** The id of a live branch (for merge records). */
  branchId(name: string): number {
    return this.branch(name).id;
  }

  /**
   * Where the last merge of `source` into `target` left off: the source's state it took. Changes
   * made on the source before that point are already in the target.
   */
  lastMerge(source: string, target: string): ReadPoint | null {
    const s = this.branch(source);
    const t = this.branch(target);
    for (const { value } of this.t.merges.getRange({ start: [t.id, Number.MAX_SAFE_INTEGER], end: [t.id, 0], reverse: true })) {
      if (value.sourceId === s.id) return { branch: s.name, branchId: s.id, lsn: value.sourceLsn };
    }
    return null;
  }

  /** Merges into `target`, newest first: the merge batch's LSN, the source and its LSN taken, the report (BSON). */
  merges(target: string, limit?: number): { lsn: Lsn; source: string; sourceLsn: Lsn; report?: Buffer }[] {
    const t = this.branch(target);
    return [...this.t.merges.getRange({ start: [t.id, Number.MAX_SAFE_INTEGER], end: [t.id, 0], reverse: true, ...(limit === undefined ? {} : { limit }) })].map(({ key, value }) => ({
      lsn: key[1],
      source: this.branchesById.get(value.sourceId)?.name ?? `#${value.sourceId}`,
      sourceLsn: value.sourceLsn,
      report: value.report,
    }));
  }

  /** The manual merge into `target` that waits for conflict resolutions, as stored by vcs/manual.ts (BSON), or null. */
  pendingMerge(target: string): Buffer | null {
    return this.t.pendingMerges.get(this.branch(target).id) ?? null;
  }

  async setPendingMerge(target: string, record: Buffer | null): Promise<void> {
    const id = this.branch(target).id;
    this.t.env.transactionSync(() => (record ? this.t.pendingMerges.put(id, record) : this.t.pendingMerges.remove(id)));
    await this.t.env.flushed;
  }

  branchStats(branch: string): BranchStats {
    const record = this.branch(branch);
    const view = this.view(branch);
    let documents = 0;
    let logicalBytes = 0;
    const collections = listCatalog(this.t.catalog, view);
    for (const entry of collections) {
      const stats = decodeStats(getVisible(this.t.stats, u32(entry.nsId), view)?.value);
      documents += stats.count;
      logicalBytes += stats.bytes;
    }
    return { branch, documents, ownBytes: record.ownBytes, logicalBytes, collections: collections.length };
  }

  /** Total bytes of the store's files on disk. */
  storageBytes(): number {
    const stat = this.t.env.getStats() as { treeBranchPageCount?: number; pageSize: number; lastPageNumber?: number };
    return (stat.lastPageNumber ?? 0) * stat.pageSize;
  }

  // ---- compaction --------------------------------------------------------------------

  /** Removes history older than the retention window that no branch, fork point or tag needs. */
  compact(): Promise<CompactionReport> {
    const horizonLsn = this.horizonLsn();
    // Garbage appears only when the horizon moves or a branch or tag goes away: otherwise skip the walk.
    if (this.closed || (horizonLsn === this.compactedAt.horizonLsn && this.compactedAt.pinsVersion === this.pinsVersion)) {
      return Promise.resolve({ removedVersions: 0, removedLogEntries: 0, horizonLsn });
    }
    const pinsVersion = this.pinsVersion;
    this.compacting ??= compact(this.t, {
      horizonLsn,
      branches: [...this.branchesById.values()],
      tags: this.pins(),
      isClosed: () => this.closed,
      onRemovedBytes: (branchId, bytes) => {
        const r = this.branchesById.get(branchId);
        if (r) r.ownBytes = Math.max(0, r.ownBytes - bytes);
      },
    })
      .then((report) => {
        this.compactedAt = { horizonLsn, pinsVersion };
        return report;
      })
      .finally(() => {
        this.compacting = null;
      });
    return this.compacting;
  }

  /** Reads as of LSNs below this are refused unless pinned by a fork point or a tag. */
  horizonLsn(): Lsn {
    // Every as-of read checks the horizon (a merge reads its base once per document): reads within
    // the same millisecond share one clock lookup. A commit can move it, so commits reset it.
    const cutoff = this.now() - this.retentionMs;
    if (cutoff !== this.horizon.cutoff) this.horizon = { cutoff, lsn: this.lsnAtTime(cutoff) };
    return this.horizon.lsn;
  }

  // ---- internals ---------------------------------------------------------------------

  private openRead(point: ReadPoint | string, db: string, coll: string): { view: View; entry: CatalogEntry | null } {
    const view = this.view(point);
    const p = typeof point === 'string' ? { branch: point } : point;
    const record = this.recordOf(p);
    const atHead = p.lsn === undefined && p.time === undefined;
    const entry = atHead ? this.headCatalog(record, db, coll) : this.pastCatalog(record, view, db, coll);
    return { view, entry };
  }

  /** Catalog lookups as of a past LSN never change (history is immutable), so they are cached too. */
  private pastCatalog(record: BranchRecord, view: View, db: string, coll: string): CatalogEntry | null {
    const key = `${record.id}\0${view.readLsn}\0${db}\0${coll}`;
    let entry = this.pastCatalogCache.get(key);
    if (entry === undefined) {
      if (this.pastCatalogCache.size >= PAST_CATALOG_CACHE_SIZE) this.pastCatalogCache.clear();
      entry = readCatalogEntry(this.t.catalog, view, db, coll);
      this.pastCatalogCache.set(key, entry);
    }
    return entry;
  }

  private headCatalog(record: BranchRecord, db: string, coll: string): CatalogEntry | null {
    const key = `${record.id}\0${db}\0${coll}`;
    let entry = this.catalogCache.get(key);
    if (entry === undefined) {
      entry = readCatalogEntry(this.t.catalog, new View(this.ceilings(record), this.lsn), db, coll);
      this.catalogCache.set(key, entry);
    }
    return entry;
  }

  /** The view of a read point; as-of reads are checked against retention. */
  view(point: ReadPoint | string): View {
    this.assertOpen();
    const p = typeof point === 'string' ? { branch: point } : point;
    const record = this.recordOf(p);
    if (p.lsn === undefined && p.time === undefined) return new View(this.ceilings(record), this.lsn);
    return new View(this.ceilings(record), this.resolveLsn(record, p.lsn, p.time));
  }

  /** Validates an as-of point on a branch: not in the future, not before its fork, not compacted. */
  private resolveLsn(record: BranchRecord, lsn: Lsn | undefined, time: Date | undefined): Lsn {
    if (lsn === undefined && time === undefined) return this.lsn;
    if (time !== undefined) this.checkTime(record, time);
    const target = lsn ?? this.lsnAtTime(time!);
    if (!Number.isInteger(target) || target < 0) throw new ArgonError('BadValue', `Invalid LSN ${lsn}`);
    if (target > this.lsn) throw new ArgonError('BadValue', `LSN ${target} is in the future (head is ${this.lsn})`);
    if (target < record.forkLsn) {
      throw new ArgonError('SnapshotTooOld', `Branch '${record.name}' starts at LSN ${record.forkLsn}; LSN ${target} is before it`);
    }
    if (target < this.horizonLsn() && !this.isPinned(record.id, target)) {
      throw new ArgonError('SnapshotTooOld', `LSN ${target} on '${record.name}' is older than the retention window and has been compacted`);
    }
    return target;
  }

  /** A time before a branch existed, or before the retention window, has no state to read: say so. */
  private checkTime(record: BranchRecord, time: Date): void {
    if (time.getTime() < record.created) {
      throw new ArgonError('SnapshotTooOld', `${time.toISOString()} is before the history of '${record.name}' began (it was created at ${new Date(record.created).toISOString()})`);
    }
    const cutoff = this.now() - this.retentionMs;
    if (time.getTime() < cutoff) {
      throw new ArgonError('SnapshotTooOld', `${time.toISOString()} is before the retention window of '${record.name}' began (${new Date(cutoff).toISOString()}): that history has been compacted`);
    }
  }

  private partialFilter(ix: IndexInfo): ((doc: Document) => boolean) | null {
    if (!ix.partialFilterExpression) return null;
    let predicate = this.partialFilters.get(ix.id);
    if (!predicate && this.compileFilter) {
      predicate = this.compileFilter(ix.partialFilterExpression);
      this.partialFilters.set(ix.id, predicate);
    }
    return predicate ?? null;
  }

  private validator(validator: Document): CompiledValidator | null {
    if (!this.compileValidator) return null;
    let compiled = this.validators.get(validator);
    if (!compiled) {
      compiled = this.compileValidator(validator);
      this.validators.set(validator, compiled);
    }
    return compiled;
  }

  private isPinned(branchId: number, lsn: Lsn): boolean {
    const tags = this.pins();
    if (tags.some((t) => t.branchId === branchId && t.lsn === lsn)) return true;
    const readable = readableBranches([...this.branchesById.values()], tags);
    for (const r of this.branchesById.values()) {
      if (r.parentId === branchId && r.forkLsn === lsn && readable.has(r.id)) return true;
    }
    return false;
  }

  /** For a branch's lineage, the newest LSN each ancestor contributes (its child's fork point). */
  private ceilings(record: BranchRecord): Map<number, number> {
    let map = this.ceilingsCache.get(record.id);
    if (!map) {
      map = new Map();
      let hi = HEAD;
      for (let r: BranchRecord | undefined = record; r; r = r.parentId === null ? undefined : this.branchesById.get(r.parentId)) {
        map.set(r.id, hi);
        hi = Math.min(hi, r.forkLsn);
      }
      this.ceilingsCache.set(record.id, map);
    }
    return map;
  }

  /** The branch of a read point: by id when given (a merge base may be a deleted branch), else by name. */
  private recordOf(p: ReadPoint): BranchRecord {
    if (p.branchId === undefined) return this.branch(p.branch);
    const record = this.branchesById.get(p.branchId);
    if (!record) throw new ArgonError('BranchNotFound', `Branch id ${p.branchId} not found`);
    return record;
  }

  private branch(name: string): BranchRecord {
    const id = this.branchIdByName.get(name);
    if (id === undefined) throw new ArgonError('BranchNotFound', `Branch '${name}' not found`);
    return this.branchesById.get(id)!;
  }

  private remember(record: BranchRecord): void {
    this.branchesById.set(record.id, record);
    if (!record.deleted) this.branchIdByName.set(record.name, record.id);
  }

  private info(record: BranchRecord): BranchInfo {
    const parent = record.parentId === null ? null : this.branchesById.get(record.parentId)!;
    return { name: record.name, id: record.id, parent: parent?.name ?? null, forkLsn: record.forkLsn, created: new Date(record.created), ownBytes: record.ownBytes, protected: !!record.protected };
  }

  private assertOpen(): void {
    if (this.closed) throw new ArgonError('StoreClosed', 'The store is closed');
  }
}

function toCollectionInfo(e: CatalogEntry): CollectionInfo {
  const info: CollectionInfo = { db: e.db, name: e.coll, indexes: [{ id: 0, name: '_id_', key: { _id: 1 } }, ...e.indexes] };
  if (e.validator) info.validator = e.validator;
  if (e.validationLevel) info.validationLevel = e.validationLevel;
  if (e.validationAction) info.validationAction = e.validationAction;
  return info;
}

/** Key bound for a prefix + encoded value: inclusive lower and exclusive upper start at the value's own keys. */
function boundKey(prefix: Buffer, encoded: Buffer, inclusive: boolean, side: 'lower' | 'upper'): Buffer {
  const base = Buffer.concat([prefix, encoded]);
  const includeEqual = side === 'lower' ? inclusive : !inclusive;
  return includeEqual ? base : (prefixSuccessor(base) ?? Buffer.alloc(base.length + 1, 0xff));
}

function logEntry(lsn: Lsn, branch: string, encoded: Buffer): LogEntry {
  const { time, author, changes } = decodeChanges(encoded);
  return { lsn, time: new Date(time), branch, ...(author === undefined ? {} : { who: author }), changes };
}
