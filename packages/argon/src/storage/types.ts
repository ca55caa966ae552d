/** Public types of the versioned storage engine. */

export type Document = Record<string, unknown>;

/** A log sequence number: one per committed write batch, strictly increasing store-wide. */
export type Lsn = number;

export type Direction = 1 | -1;

/** Where a read looks: a branch at its head, or as of a past LSN or wall-clock time. */
export interface ReadPoint {
  branch: string;
  /** Identifies the branch instead of its name: merge bases may lie on deleted branches. */
  branchId?: number;
  lsn?: Lsn;
  time?: Date;
}

export interface BranchInfo {
  name: string;
  id: number;
  parent: string | null;
  /** Name of the parent at the time of the call, or null for the root. */
  forkLsn: Lsn;
  created: Date;
  /** Bytes of the versions this branch wrote itself (copy-on-write cost). */
  ownBytes: number;
  /** No direct writes: changes arrive only by merge. */
  protected: boolean;
}

export interface BranchStats {
  branch: string;
  documents: number;
  /** Bytes of this branch's own changes. */
  ownBytes: number;
  /** BSON bytes of every document visible at head. */
  logicalBytes: number;
  collections: number;
}

export interface IndexSpec {
  name: string;
  key: Record<string, Direction>;
  unique?: boolean;
  sparse?: boolean;
  /** TTL: documents whose indexed date is older than this are deleted by the server's expirer. */
  expireAfterSeconds?: number;
  /** Partial index: only documents matching this filter are indexed (needs StoreOptions.compileFilter). */
  partialFilterExpression?: Document;
}

export interface IndexInfo extends IndexSpec {
  /** Internal id of this incarnation of the index (dropping and re-creating gives a new one). */
  id: number;
}

export interface CollectionInfo extends ValidationOptions {
  db: string;
  name: string;
  indexes: IndexInfo[];
}

export type WriteOp =
  | { op: 'insert'; db: string; coll: string; doc: Document }
  | { op: 'replace'; db: string; coll: string; doc: Document; upsert?: boolean }
  | { op: 'delete'; db: string; coll: string; id: unknown };

export interface CommitResult {
  lsn: Lsn;
  time: Date;
}

export type ChangeKind = 'insert' | 'update' | 'delete' | 'createCollection' | 'dropCollection' | 'createIndex' | 'dropIndex' | 'renameCollection' | 'collMod';

export type ValidationLevel = 'off' | 'strict' | 'moderate';
export type ValidationAction = 'error' | 'warn';

/**
 * A collection's document validation, as MongoDB's `create` and `collMod` take it. A field left
 * out is unset (mongod then applies `strict` and `error`, and does not list the field).
 */
export interface ValidationOptions {
  /** A query filter (`$jsonSchema` included) every written document must match. */
  validator?: Document;
  validationLevel?: ValidationLevel;
  validationAction?: ValidationAction;
}

/** A compiled validator: null when the document passes, else mongod's `errInfo.details` of the failure. */
export type CompiledValidator = (doc: Document) => Document | null;

export interface Change {
  op: ChangeKind;
  db: string;
  coll: string;
  /** Document id for document changes; index name for index changes; new name for renames; none for collMod. */
  id?: unknown;
  /** On an `update`: the document was replaced whole (MongoDB reports a replace, not an update). */
  replacement?: boolean;
  /** On a `dropCollection`: one of the drops of a dropDatabase. */
  dropDatabase?: boolean;
}

/** A named commit; `ref` (`branch@lsn`) can be used wherever a ref is. */
export interface CommitInfo {
  ref: string;
  branch: string;
  lsn: Lsn;
  message: string;
  author: string;
  time: Date;
}

export interface LogEntry {
  lsn: Lsn;
  time: Date;
  branch: string;
  /** Who wrote the batch, when the server knew (authentication on). */
  who?: string;
  changes: Change[];
}

/** What two read points do not share (see Store.divergence). */
export interface Divergence {
  /** The newest state both points see. */
  base: ReadPoint;
  /** Change-log entries only the first point sees, oldest first. */
  a: LogEntry[];
  /** Change-log entries only the second point sees, oldest first. */
  b: LogEntry[];
}

export interface RangeBound {
  value: unknown;
  inclusive: boolean;
}

export interface IdRange {
  lower?: RangeBound;
  upper?: RangeBound;
}

/** Bounds on an index's leading fields, in index order (descending fields already reversed). */
export interface IndexRange {
  lower?: { values: unknown[]; inclusive: boolean };
  upper?: { values: unknown[]; inclusive: boolean };
}

export interface ScanOptions {
  reverse?: boolean;
  limit?: number;
}

export interface StoreOptions {
  /** History older than this is compacted away unless something still needs it. Default 7 days. */
  retentionMs?: number;
  /** How often the background compactor runs; 0 disables it. Default 60 s. */
  compactionIntervalMs?: number;
  /** Bytes of head documents kept in memory for point reads; 0 disables the cache. Default 64 MiB. */
  cacheBytes?: number;
  /**
   * Compiles a query filter to a predicate, for partial indexes. The storage layer does not know
   * MQL; the server passes the query layer's compiler in.
   */
  compileFilter?: (filter: Document) => (doc: Document) => boolean;
  /**
   * Compiles a collection validator, for the same reason. Without it collections cannot be given
   * validators, and writes to collections that have one are not validated.
   */
  compileValidator?: (validator: Document) => CompiledValidator;
  /** Injectable clock for tests. */
  now?: () => number;
}
