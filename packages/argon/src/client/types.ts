/**
 * Requests and responses of the REST API (/v1 on the HTTP port), as ArgonRestClient sends and
 * returns them. Shapes the engine already defines (diff, merge, log, commits) are reused, so the
 * client follows them when they grow; dates arrive as Extended JSON and come back as Date.
 */
import type { EndpointStatus } from '../server/server.js';
import type { CommitInfo, LogEntry } from '../storage/types.js';
import type { RefDiff } from '../vcs/diff.js';
import type { MergeResult, MergeStrategy } from '../vcs/merge.js';
import type { Gate, GateReport } from '../vcs/gates.js';
import type { PendingMerge, Take } from '../vcs/manual.js';
import type { AuditRecord } from '../auth/audit.js';
import type { ApiKeyInfo } from '../auth/apikeys.js';
import type { Role } from '../auth/roles.js';

export type { ApiKeyInfo, CommitInfo, EndpointStatus, Gate, GateReport, LogEntry, MergeResult, MergeStrategy, RefDiff, Role, Take };

export interface RestClientOptions {
  /** Where the server's HTTP port answers, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` when the server requires keys. */
  apiKey?: string;
  /** A fetch to use instead of the global one (proxies, tests, retries). */
  fetch?: typeof fetch;
}

/** A past point of a branch: an ISO 8601 time (or Date) or an LSN. */
export type PointInTime = Date | string | number;

export interface Branch {
  name: string;
  parent: string | null;
  forkLsn: number;
  created: Date;
  ownBytes: number;
  protected: boolean;
}

export interface CreateBranchRequest {
  name: string;
  /** A branch, a tag or `branch@time|lsn`; default `main`. */
  from?: string;
  at?: PointInTime;
}

export interface ResetBranchRequest {
  /** `parent` (default): the parent's head; else a past point of the branch itself. */
  to?: 'parent' | PointInTime;
  /** Name of the branch that keeps the old state; default `NAME-backup-LSN`. */
  backup?: string;
}

export interface ResetBranchResponse {
  branch: Branch;
  backup: Branch;
}

export interface EndpointResponse {
  branch: string;
  port: number;
}

export interface LogResponse {
  entries: LogEntry[];
  commits: CommitInfo[];
}

export interface CommitRequest {
  message: string;
  author?: string;
}

export interface MergeRequest {
  source: string;
  into: string;
  strategy?: MergeStrategy;
  dryRun?: boolean;
}

export interface RevertRequest {
  branch: string;
  fromLsn: number;
  /** Last LSN of the range to undo; default `fromLsn` alone. */
  toLsn?: number;
  strategy?: MergeStrategy;
  dryRun?: boolean;
}

export interface Tag {
  name: string;
  /** The tagged branch; null once it is deleted. */
  branch: string | null;
  lsn: number;
  created: Date;
}

export interface Health {
  status: 'ok';
  headLsn: number;
  branches: number;
}

/** What the server sends with a 4xx/5xx status. */
export interface ApiErrorBody {
  /** MongoDB-style code name, e.g. `BranchNotFound`. */
  error: string;
  /** Argon's numeric MongoDB code; the HTTP framework's own errors carry a string code instead. */
  code?: number | string;
  message: string;
}

/** Log and history filters: `ns` is `db` or `db.collection`; `id` an `_id` (needs `ns` as db.collection). */
export interface HistoryQuery {
  limit?: number;
  ns?: string;
  id?: unknown;
}

/** One version of a document: who made it, how, and the document then (null once deleted). */
export interface DocumentVersion {
  lsn: number;
  time: Date;
  who: string | null;
  op: 'insert' | 'update' | 'delete';
  document?: Record<string, unknown> | null;
  /** Older than the retention window: the version's content is gone. */
  compacted?: true;
}

/** A merge into a branch, with its report (strategy, counts, gate verdicts) when it has one. */
export interface MergeRecordView extends Record<string, unknown> {
  gates?: GateReport[];
}

/** A pending manual merge as listed: its conflicts and how many are still open. */
export type PendingMergeView = Omit<PendingMerge, 'sourceId' | 'nextConflictId'> & { unresolved: number };

export interface ResolveConflictRequest {
  take?: Take | 'value';
  value?: unknown;
}

export interface ResolveConflictResult {
  /** Whether that was the last conflict and the merge applied. */
  completed: boolean;
  merge: PendingMergeView | null;
  result?: MergeResult;
}

export type AuditEntry = Omit<AuditRecord, 'time'> & { time: Date };

export interface AuditQuery {
  limit?: number;
  command?: string;
  who?: string;
  after?: number;
}

export interface UserInfo {
  _id: string;
  user: string;
  db: string;
  roles: { role: string; db: string }[];
  mechanisms: string[];
  customData?: Record<string, unknown>;
}

export interface CreateUserRequest {
  user: string;
  password: string;
  roles: (string | { role: string; db: string })[];
  customData?: Record<string, unknown>;
}
