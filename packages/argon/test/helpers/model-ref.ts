/**
 * A deliberately naive reference model of the versioned store, for model-based tests.
 *
 * It copies everything: every branch keeps a list of full snapshots (one per batch it
 * committed, plus the state it forked from), and creating a branch deep-copies the parent's
 * snapshot at the fork LSN. Nothing is shared between branches, so the model cannot have the
 * lineage bugs the real store could have.
 */
import { compareBson } from '../../src/storage/keys.js';

export type Doc = Record<string, unknown>;

export interface IndexDef {
  name: string;
  field: string;
  dir: 1 | -1;
  unique: boolean;
  sparse: boolean;
}

export interface CollState {
  docs: Map<string, Doc>;
  indexes: Map<string, IndexDef>;
}

/** Collection name → collection (one database only). */
export type DbState = Map<string, CollState>;

export interface Snapshot {
  lsn: number;
  state: DbState;
}

export interface ModelBranch {
  name: string;
  /** The branch it forked from (even if that one was deleted since); null for the root. */
  parent: ModelBranch | null;
  forkLsn: number;
  deleted: boolean;
  /** Ascending by LSN; the first one is the fork point. */
  snaps: Snapshot[];
}

export type ModelOp =
  | { op: 'insert'; coll: string; doc: Doc }
  | { op: 'replace'; coll: string; doc: Doc; upsert: boolean }
  | { op: 'delete'; coll: string; id: unknown };

/** An error the model predicts, with the MongoDB/Argon code the store should throw. */
export class ModelError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const DUPLICATE_KEY = 11000;
export const INDEX_KEY_SPECS_CONFLICT = 86;
export const SNAPSHOT_TOO_OLD = 239;
export const BAD_VALUE = 2;
export const INDEX_NOT_FOUND = 27;
export const BRANCH_NOT_FOUND = 50001;
export const BRANCH_EXISTS = 50002;
export const NAMESPACE_NOT_FOUND = 26;

export function idKey(id: unknown): string {
  if (typeof id === 'number') return `n:${id}`;
  if (typeof id === 'string') return `s:${id}`;
  throw new Error(`model supports only number and string ids, got ${typeof id}`);
}

function cloneDoc(d: Doc): Doc {
  return structuredClone(d);
}

export function cloneState(s: DbState): DbState {
  const out: DbState = new Map();
  for (const [name, c] of s) {
    out.set(name, {
      docs: new Map([...c.docs].map(([k, d]) => [k, cloneDoc(d)])),
      indexes: new Map([...c.indexes].map(([k, ix]) => [k, { ...ix }])),
    });
  }
  return out;
}

/** Distinct values of an array (by BSON equality). */
function distinct(values: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of values) if (!out.some((o) => compareBson(o, v) === 0)) out.push(v);
  return out;
}

/**
 * MongoDB's index keys of one top-level field: missing → null (or nothing if sparse),
 * an array → each distinct element, an empty array → undefined.
 */
export function indexKeysOf(doc: Doc, ix: IndexDef): unknown[] {
  const v = doc[ix.field];
  if (v === undefined) return ix.sparse ? [] : [null];
  if (Array.isArray(v)) return v.length === 0 ? [undefined] : distinct(v);
  return [v];
}

export function sortedDocs(c: CollState | undefined): Doc[] {
  if (!c) return [];
  return [...c.docs.values()].sort((x, y) => compareBson(x._id, y._id));
}

export interface ModelBound {
  value: unknown;
  inclusive: boolean;
}

function withinBounds(cmp: (v: unknown, b: unknown) => number, v: unknown, lower?: ModelBound, upper?: ModelBound): boolean {
  if (lower) {
    const c = cmp(v, lower.value);
    if (c < 0 || (c === 0 && !lower.inclusive)) return false;
  }
  if (upper) {
    const c = cmp(v, upper.value);
    if (c > 0 || (c === 0 && !upper.inclusive)) return false;
  }
  return true;
}

/** What `scan` should return: documents in `_id` order within the bounds. */
export function expectedScan(c: CollState | undefined, lower?: ModelBound, upper?: ModelBound, reverse = false, limit?: number): Doc[] {
  let docs = sortedDocs(c).filter((d) => withinBounds(compareBson, d._id, lower, upper));
  if (reverse) docs.reverse();
  if (limit !== undefined) docs = docs.slice(0, limit);
  return docs;
}

/**
 * What `indexScan` should return. Bounds are in index order (for a descending index "lower"
 * is the larger value). Entries sort by (key in index order, _id ascending); a document with
 * several keys in range appears once, at the first of them in scan direction.
 */
export function expectedIndexScan(
  c: CollState,
  ix: IndexDef,
  lower?: ModelBound,
  upper?: ModelBound,
  reverse = false,
  limit?: number,
): Doc[] {
  const keyCmp = (x: unknown, y: unknown) => ix.dir * compareBson(x, y);
  const entries: { key: unknown; doc: Doc }[] = [];
  for (const doc of c.docs.values()) {
    const keys = indexKeysOf(doc, ix).filter((k) => withinBounds(keyCmp, k, lower, upper));
    if (keys.length === 0) continue;
    keys.sort(keyCmp);
    entries.push({ key: reverse ? keys[keys.length - 1] : keys[0], doc });
  }
  entries.sort((x, y) => keyCmp(x.key, y.key) || compareBson(x.doc._id, y.doc._id));
  if (reverse) entries.reverse();
  let docs = entries.map((e) => e.doc);
  if (limit !== undefined) docs = docs.slice(0, limit);
  return docs;
}

export class RefModel {
  /** Newest LSN committed store-wide. */
  lsn = 0;
  /** Live branches by name, in creation order. */
  readonly branches = new Map<string, ModelBranch>();
  /** Every branch ever created, deleted ones included (their fork points still pin history). */
  readonly all: ModelBranch[] = [];
  /** Commit time of each LSN (index = LSN). */
  private readonly times: number[] = [0];
  private lastTs = 0;

  /**
   * `now` and `retentionMs` mirror the store's options: as-of reads older than the retention
   * horizon are refused unless a child branch forked exactly there. Without retention the
   * horizon stays at 0.
   */
  constructor(
    private readonly now: () => number = () => 0,
    private readonly retentionMs = Infinity,
  ) {
    const main: ModelBranch = { name: 'main', parent: null, forkLsn: 0, deleted: false, snaps: [{ lsn: 0, state: new Map() }] };
    this.branches.set('main', main);
    this.all.push(main);
  }

  /** The newest LSN committed at or before now - retention (0 if none). */
  horizon(): number {
    if (this.retentionMs === Infinity) return 0;
    const limit = this.now() - this.retentionMs;
    let h = 0;
    for (let lsn = 1; lsn < this.times.length; lsn++) if (this.times[lsn]! <= limit) h = lsn;
    return h;
  }

  /**
   * Whether someone can still read a branch's history: it is live, or a live branch descends
   * from it (a deleted branch nobody reads through no longer pins its fork point).
   */
  private readable(b: ModelBranch): boolean {
    return this.all.some((d) => {
      if (d.deleted) return false;
      for (let x: ModelBranch | null = d; x; x = x.parent) if (x === b) return true;
      return false;
    });
  }

  /** A past point stays readable beyond the horizon if a readable child forked exactly there. */
  private pinned(b: ModelBranch, lsn: number): boolean {
    return this.all.some((c) => c.parent === b && c.forkLsn === lsn && this.readable(c));
  }

  branch(name: string): ModelBranch {
    const b = this.branches.get(name);
    if (!b) throw new ModelError(BRANCH_NOT_FOUND, `no branch ${name}`);
    return b;
  }

  head(name: string): DbState {
    const b = this.branch(name);
    return b.snaps[b.snaps.length - 1]!.state;
  }

  /** The branch's state right after the batch with LSN `lsn` (whichever branch wrote it). */
  stateAt(name: string, lsn: number): DbState {
    const b = this.branch(name);
    if (lsn > this.lsn) throw new ModelError(BAD_VALUE, `LSN ${lsn} is in the future`);
    if (lsn < b.forkLsn) throw new ModelError(SNAPSHOT_TOO_OLD, `LSN ${lsn} before fork ${b.forkLsn}`);
    if (lsn < this.horizon() && !this.pinned(b, lsn)) throw new ModelError(SNAPSHOT_TOO_OLD, `LSN ${lsn} older than the horizon ${this.horizon()}`);
    let found = b.snaps[0]!;
    for (const s of b.snaps) if (s.lsn <= lsn) found = s;
    return found.state;
  }

  private commit(name: string, state: DbState): number {
    this.lsn += 1;
    this.lastTs = Math.max(this.now(), this.lastTs);
    this.times.push(this.lastTs);
    this.branch(name).snaps.push({ lsn: this.lsn, state });
    return this.lsn;
  }

  /** Applies an atomic batch; throws ModelError (and changes nothing) when the store should refuse it. */
  write(branch: string, ops: readonly ModelOp[]): { changed: boolean; lsn: number } {
    const state = cloneState(this.head(branch));
    let changed = false;
    for (const op of ops) {
      if (op.op === 'insert') {
        let c = state.get(op.coll);
        if (!c) {
          c = { docs: new Map(), indexes: new Map() };
          state.set(op.coll, c);
        }
        const key = idKey(op.doc._id);
        if (c.docs.has(key)) throw new ModelError(DUPLICATE_KEY, `duplicate _id ${key}`);
        checkUnique(c, op.doc, key);
        c.docs.set(key, cloneDoc(op.doc));
        changed = true;
      } else if (op.op === 'replace') {
        const key = idKey(op.doc._id);
        let c = state.get(op.coll);
        if (!c?.docs.has(key)) {
          if (!op.upsert) continue;
          if (!c) {
            c = { docs: new Map(), indexes: new Map() };
            state.set(op.coll, c);
          }
        }
        checkUnique(c!, op.doc, key);
        c!.docs.set(key, cloneDoc(op.doc));
        changed = true;
      } else {
        const c = state.get(op.coll);
        const key = idKey(op.id);
        if (c?.docs.delete(key)) changed = true;
      }
    }
    if (!changed) return { changed: false, lsn: this.lsn };
    return { changed: true, lsn: this.commit(branch, state) };
  }

  /** Creates an index (and the collection if needed); a no-op if the same index exists. */
  createIndex(branch: string, coll: string, def: IndexDef): { changed: boolean; lsn: number } {
    const state = cloneState(this.head(branch));
    let c = state.get(coll);
    if (!c) {
      c = { docs: new Map(), indexes: new Map() };
      state.set(coll, c);
    }
    const same = c.indexes.get(def.name);
    if (same) {
      if (same.field === def.field && same.dir === def.dir && same.unique === def.unique && same.sparse === def.sparse) {
        return { changed: false, lsn: this.lsn };
      }
      throw new ModelError(INDEX_KEY_SPECS_CONFLICT, `index ${def.name} exists with another spec`);
    }
    if (def.unique) {
      const seen: unknown[] = [];
      for (const doc of c.docs.values()) {
        const keys = indexKeysOf(doc, def);
        for (const k of keys) if (seen.some((s) => compareBson(s, k) === 0)) throw new ModelError(DUPLICATE_KEY, `duplicate key building ${def.name}`);
        seen.push(...keys);
      }
    }
    c.indexes.set(def.name, { ...def });
    return { changed: true, lsn: this.commit(branch, state) };
  }

  /** Drops a collection with its documents and indexes; a no-op if it does not exist. */
  dropCollection(branch: string, coll: string): { changed: boolean; lsn: number } {
    const state = cloneState(this.head(branch));
    if (!state.delete(coll)) return { changed: false, lsn: this.lsn };
    return { changed: true, lsn: this.commit(branch, state) };
  }

  dropIndex(branch: string, coll: string, name: string): { changed: boolean; lsn: number } {
    const state = cloneState(this.head(branch));
    const c = state.get(coll);
    if (!c) throw new ModelError(NAMESPACE_NOT_FOUND, `no collection ${coll}`);
    if (!c.indexes.delete(name)) throw new ModelError(INDEX_NOT_FOUND, `no index ${name}`);
    return { changed: true, lsn: this.commit(branch, state) };
  }

  createBranch(name: string, from: string, lsn?: number): ModelBranch {
    if (this.branches.has(name)) throw new ModelError(BRANCH_EXISTS, `branch ${name} exists`);
    const at = lsn ?? this.lsn;
    const state = cloneState(lsn === undefined ? this.head(from) : this.stateAt(from, at));
    const b: ModelBranch = { name, parent: this.branch(from), forkLsn: at, deleted: false, snaps: [{ lsn: at, state }] };
    this.branches.set(name, b);
    this.all.push(b);
    return b;
  }

  renameBranch(from: string, to: string): void {
    const b = this.branch(from);
    if (this.branches.has(to)) throw new ModelError(BRANCH_EXISTS, `branch ${to} exists`);
    this.branches.delete(from);
    b.name = to;
    this.branches.set(to, b);
  }

  deleteBranch(name: string): void {
    this.branch(name).deleted = true;
    this.branches.delete(name);
  }
}

/** Throws DuplicateKey if `doc` shares a key of a unique index with another document. */
function checkUnique(c: CollState, doc: Doc, selfKey: string): void {
  for (const ix of c.indexes.values()) {
    if (!ix.unique) continue;
    const keys = indexKeysOf(doc, ix);
    for (const [otherKey, other] of c.docs) {
      if (otherKey === selfKey) continue;
      const otherKeys = indexKeysOf(other, ix);
      if (keys.some((k) => otherKeys.some((o) => compareBson(k, o) === 0))) {
        throw new ModelError(DUPLICATE_KEY, `duplicate key on ${ix.name}`);
      }
    }
  }
}
