import type { LogLine, PipelineSpec, PipelineVersion, Run, RunState, TaskAttempt, TaskState, WorkerInfo } from '../types.js';
import type { Dialect } from './dialect.js';

/**
 * Rows as the drivers return them, and their mapping to Dataplane's types. Times come back as
 * Date (pg) or epoch milliseconds (SQLite); JSON through Dialect.readJson; bigint columns as
 * strings from pg.
 */
export type Time = Date | number;

export interface PipelineRow {
  name: string;
  version: number;
  spec: unknown;
  source: string;
  created: Time;
  created_by: string | null;
  deleted: Time | null;
}

export interface RunRow {
  id: string;
  pipeline: string;
  version: number;
  environment: string;
  params: unknown;
  state: RunState;
  attempt: number;
  created: Time;
  started: Time | null;
  ended: Time | null;
  created_by: string | null;
}

export interface TaskRow {
  run_id: string;
  task_id: string;
  attempt: number;
  state: TaskState;
  worker_id: string | null;
  queued: Time | null;
  started: Time | null;
  ended: Time | null;
  retry_at: Time | null;
  exit_code: number | null;
  error: string | null;
  output: unknown;
}

export interface TransitionRow {
  task_id: string | null;
  attempt: number | null;
  state: string;
  at: Time;
  reason: string | null;
}

export interface LogRow {
  run_id: string;
  task_id: string;
  attempt: number;
  seq: number;
  stream: LogLine['stream'];
  at: Time;
  text: string;
}

export interface WorkerRow {
  id: string;
  worker_group: string;
  environment: string;
  host: string;
  pid: number;
  slots: number;
  running: number;
  state: WorkerInfo['state'];
  last_seen: Time;
  cpu: number | null;
  memory_bytes: number | string | null;
  load: number | null;
}

export const toDate = (value: Time): Date => (value instanceof Date ? value : new Date(Number(value)));
const maybeDate = (value: Time | null): Date | null => (value === null ? null : toDate(value));
const maybeNumber = (value: number | string | null): number | null => (value === null ? null : Number(value));

/** A JSON column's parameter: SQL NULL for null and undefined, else the JSON text. */
export const jsonValue = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

export function toPipeline(d: Dialect, row: PipelineRow): PipelineVersion {
  return {
    name: row.name,
    version: row.version,
    spec: d.readJson(row.spec) as PipelineSpec,
    source: row.source,
    created: toDate(row.created),
    createdBy: row.created_by,
  };
}

export function toRun(d: Dialect, row: RunRow): Run {
  return {
    id: row.id,
    pipeline: row.pipeline,
    version: row.version,
    environment: row.environment,
    params: d.readJson(row.params) as Record<string, unknown>,
    state: row.state,
    attempt: row.attempt,
    created: toDate(row.created),
    started: maybeDate(row.started),
    ended: maybeDate(row.ended),
    createdBy: row.created_by,
  };
}

export function toAttempt(d: Dialect, row: TaskRow): TaskAttempt {
  return {
    runId: row.run_id,
    taskId: row.task_id,
    attempt: row.attempt,
    state: row.state,
    workerId: row.worker_id,
    queued: maybeDate(row.queued),
    started: maybeDate(row.started),
    ended: maybeDate(row.ended),
    retryAt: maybeDate(row.retry_at),
    exitCode: row.exit_code,
    error: row.error,
    output: d.readJson(row.output),
  };
}

export function toTransition(row: TransitionRow): { taskId: string | null; attempt: number | null; state: string; at: Date; reason?: string } {
  const transition = { taskId: row.task_id, attempt: row.attempt, state: row.state, at: toDate(row.at) };
  return row.reason === null ? transition : { ...transition, reason: row.reason };
}

export function toLogLine(row: LogRow): LogLine {
  return { runId: row.run_id, taskId: row.task_id, attempt: row.attempt, seq: row.seq, stream: row.stream, at: toDate(row.at), text: row.text };
}

export function toWorker(row: WorkerRow): WorkerInfo {
  return {
    id: row.id,
    group: row.worker_group,
    environment: row.environment,
    host: row.host,
    pid: row.pid,
    slots: row.slots,
    running: row.running,
    state: row.state,
    lastSeen: toDate(row.last_seen),
    cpu: row.cpu,
    memoryBytes: maybeNumber(row.memory_bytes),
    load: row.load,
  };
}
