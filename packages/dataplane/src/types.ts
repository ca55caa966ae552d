/**
 * Dataplane's vocabulary, shared by every layer: pipelines as applied (specs), runs and their task
 * attempts, workers, log lines. Layers: api/ and cli/ at the edges → runs/ (dispatch, state
 * machine) → queue/ (embedded, NATS) and store/ (SQLite, PostgreSQL) → workers/.
 */

/** How a task's code runs. */
export type TaskKind = 'python' | 'bash' | 'node';

/** Which upstream outcomes let a task run: all succeeded, any failed, or all ended whatever their outcome. */
export type TaskWhen = 'success' | 'failure' | 'always';

export interface RetryPolicy {
  /** Attempts after the first. */
  count: number;
  backoff: 'fixed' | 'exponential';
  /** Milliseconds before the first retry. */
  delayMs: number;
  /** Cap on any one delay, in milliseconds. */
  maxDelayMs: number;
}

export type ParamType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';

export interface ParamSpec {
  type: ParamType;
  default?: unknown;
  description?: string;
}

/** One task of a pipeline, as validated (durations in milliseconds, code resolved from `file`). */
export interface TaskSpec {
  id: string;
  run: TaskKind;
  code: string;
  /** The pipeline-relative path the code came from, when it came from a file. */
  file?: string;
  needs: string[];
  when: TaskWhen;
  retries: RetryPolicy;
  timeoutMs: number | null;
  secrets: string[];
  group: string;
}

/** A pipeline as applied: validated, with its tasks in a topological order. */
export interface PipelineSpec {
  name: string;
  description?: string;
  params: Record<string, ParamSpec>;
  tasks: TaskSpec[];
  /** Runs of this pipeline at once; more wait in the queue. */
  concurrency: number | null;
}

export interface PipelineVersion {
  name: string;
  version: number;
  spec: PipelineSpec;
  /** The file as the user wrote it (YAML or JSON). */
  source: string;
  created: Date;
  createdBy: string | null;
}

export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export type TaskState = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'skipped' | 'cancelled' | 'upstream_failed' | 'timed_out';

/** A state and when it was entered: every transition is kept. */
export interface Transition<S extends string> {
  state: S;
  at: Date;
  /** Why (an error message, "cancelled by ana", "worker w-2 lost"). */
  reason?: string;
}

export interface Run {
  id: string;
  pipeline: string;
  version: number;
  environment: string;
  params: Record<string, unknown>;
  state: RunState;
  /** Reruns of the same run: 1 for the first. */
  attempt: number;
  created: Date;
  started: Date | null;
  ended: Date | null;
  createdBy: string | null;
}

/** One attempt of one task of a run. */
export interface TaskAttempt {
  runId: string;
  taskId: string;
  /** 1 for the first try; retries and reruns count on. */
  attempt: number;
  state: TaskState;
  workerId: string | null;
  queued: Date | null;
  started: Date | null;
  ended: Date | null;
  /** When a retrying task may be queued again. */
  retryAt: Date | null;
  exitCode: number | null;
  error: string | null;
  /** The JSON the task wrote to $DATAPLANE_OUTPUT, if any. */
  output: unknown;
}

/** What a worker is handed to run one task attempt. */
export interface TaskAssignment {
  runId: string;
  taskId: string;
  attempt: number;
  pipeline: string;
  version: number;
  run: TaskKind;
  code: string;
  params: Record<string, unknown>;
  /** Upstream task id → its output. */
  inputs: Record<string, unknown>;
  /** Secret name → value, only those the task lists. */
  secrets: Record<string, string>;
  timeoutMs: number | null;
}

/** How an attempt ended, as the worker saw it. */
export interface TaskOutcome {
  state: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  exitCode: number | null;
  error: string | null;
  output: unknown;
}

export interface LogLine {
  runId: string;
  taskId: string;
  attempt: number;
  /** Order within the attempt. */
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  at: Date;
  text: string;
}

export interface WorkerInfo {
  id: string;
  group: string;
  environment: string;
  host: string;
  pid: number;
  slots: number;
  running: number;
  state: 'up' | 'lost' | 'stopped';
  lastSeen: Date;
  cpu: number | null;
  memoryBytes: number | null;
  load: number | null;
}
