import type { LogLine, PipelineSpec, PipelineVersion, Run, TaskAttempt, WorkerInfo } from '../types.js';
import type { PipelineIssue } from '../pipelines/index.js';

/**
 * The REST API's JSON shapes, shared by the server (src/api/*) and the typed client (client.ts).
 * Dates travel as ISO 8601 strings: `Wire<T>` is a type as the client receives it.
 */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** Every error: `{ error: { code, message, ...details } }`. */
export interface ApiErrorBody {
  error: { code: string; message: string; issues?: PipelineIssue[]; hint?: string; [key: string]: unknown };
}

export interface PipelineSummary {
  name: string;
  version: number;
  description: string | null;
  created: Date;
  createdBy: string | null;
  tasks: number;
  concurrency: number | null;
}

export interface ApplyResult {
  /** false when the source equals the latest version's: nothing new was saved. */
  created: boolean;
  pipeline: PipelineSummary;
}

/** POST /v1/pipelines as JSON (text/yaml bodies are the source alone). */
export interface ApplyRequest {
  source: string;
  filename?: string;
  /** Files that `file:` names (path as written → content). */
  files?: Record<string, string>;
}

export type PipelineDetail = Omit<PipelineVersion, 'spec'> & { spec: PipelineSpec };

export interface RunDetail {
  run: Run;
  tasks: TaskAttempt[];
  attempts: TaskAttempt[];
  transitions: { taskId: string | null; attempt: number | null; state: string; at: Date; reason?: string }[];
}

export interface LogPage {
  lines: LogLine[];
  /** Pass as `after` for the next page of one task attempt; null when the page was not full. */
  next: number | null;
}

export interface Health {
  status: 'ok';
  version: string;
  uptimeSeconds: number;
  store: 'sqlite' | 'postgres';
  workers: { up: number; total: number };
  queueDepth: number;
  activeRuns: number;
}

/** PUT /v1/secrets/:name: what was written, never the value. */
export interface SecretPutResult {
  name: string;
  environment: string;
  /** false when it replaced a value. */
  created: boolean;
}

/** GET /v1/secrets: names and times, never values. */
export type { SecretInfo } from '../store/types.js';

/** What /ws sends to a client that subscribed to a run: the log backlog, `subscribed`, then live events. */
export type RunEvent =
  | { type: 'subscribed'; run: Run }
  | { type: 'run'; run: Run }
  | { type: 'task'; task: TaskAttempt }
  | { type: 'log'; line: LogLine }
  | { type: 'error'; error: { code: string; message: string } };

export type { LogLine, PipelineVersion, Run, TaskAttempt, WorkerInfo };

export function summarize(v: PipelineVersion): PipelineSummary {
  return {
    name: v.name,
    version: v.version,
    description: v.spec.description ?? null,
    created: v.created,
    createdBy: v.createdBy,
    tasks: v.spec.tasks.length,
    concurrency: v.spec.concurrency,
  };
}
