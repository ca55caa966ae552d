import type { LogLine, PipelineSpec, PipelineVersion, Run, RunState, TaskAttempt, TaskState, Transition, WorkerInfo } from '../types.js';

/**
 * The metadata store: one interface over SQLite (embedded, the default) and PostgreSQL. Every
 * method that writes resolves once the write is durable (committed and synced). The embedded
 * queue lives here too: a task attempt in state `queued` is a queue entry, taken by `claimTask`.
 */
export interface DataStore {
  readonly backend: 'sqlite' | 'postgres';
  close(): Promise<void>;

  // ---- pipelines (versioned) ----
  /** Saves a new version when `source` differs from the latest one; otherwise returns the latest (created: false). */
  savePipeline(name: string, spec: PipelineSpec, source: string, createdBy: string | null): Promise<{ version: PipelineVersion; created: boolean }>;
  /** The latest version, or a given one; null when none. Deleted pipelines are not found. */
  getPipeline(name: string, version?: number): Promise<PipelineVersion | null>;
  /** The latest version of every pipeline, by name. */
  listPipelines(): Promise<PipelineVersion[]>;
  /** Deletes a pipeline (its runs stay readable); false when there was none. */
  deletePipeline(name: string): Promise<boolean>;

  // ---- runs and task attempts ----
  /**
   * Creates a run and its first task attempts in one transaction, keeping their initial states as
   * the first transitions (the run's at `created`, each attempt's at `queued`, else `created`).
   */
  createRun(run: Run, tasks: TaskAttempt[]): Promise<void>;
  getRun(id: string): Promise<Run | null>;
  /** Newest first. */
  listRuns(filter: { pipeline?: string; states?: RunState[]; limit?: number; before?: Date }): Promise<Run[]>;
  /** Runs not in a final state: what a restarted server continues. */
  activeRuns(): Promise<Run[]>;
  /** Changes a run's state (with the transition kept) and any other fields given. */
  updateRun(id: string, patch: Partial<Omit<Run, 'id'>>, transition?: Transition<RunState>): Promise<void>;
  /** Every attempt of every task of a run, by task then attempt. */
  taskAttempts(runId: string): Promise<TaskAttempt[]>;
  /** Inserts or replaces one attempt (key: runId, taskId, attempt), keeping the transition if given. */
  putTaskAttempt(attempt: TaskAttempt, transition?: Transition<TaskState>): Promise<void>;
  /** Several at once, in one transaction (a run's skips, a cancel). */
  putTaskAttempts(attempts: { attempt: TaskAttempt; transition?: Transition<TaskState> }[]): Promise<void>;
  /** Every transition of a run and its tasks, oldest first. */
  transitions(runId: string): Promise<{ taskId: string | null; attempt: number | null; state: string; at: Date; reason?: string }[]>;

  // ---- the embedded queue ----
  /**
   * Takes the oldest queued attempt of one of `groups` (in `environment`) for `workerId`: sets it
   * running on that worker in the same transaction, so two workers never take the same attempt.
   * Sets `started` to the claim time and keeps the 'running' transition. An attempt's group is its
   * task's group in the run's pipeline version ('default' when that version was never saved).
   */
  claimTask(workerId: string, environment: string, groups: string[]): Promise<TaskAttempt | null>;

  // ---- logs ----
  /** One transaction per batch; a line already stored (same run, task, attempt, seq) is skipped. */
  appendLogs(lines: LogLine[]): Promise<void>;
  /** Lines of a run (optionally one task), in order; `afterSeq` pages within one task attempt. */
  logs(runId: string, options?: { taskId?: string; attempt?: number; afterSeq?: number; limit?: number }): Promise<LogLine[]>;

  // ---- secrets (values encrypted by the caller: see secrets.ts) ----
  /** Inserts or replaces a secret's ciphertext; created: false when it replaced one. */
  putSecret(environment: string, name: string, ciphertext: Buffer, nonce: Buffer): Promise<{ created: boolean }>;
  /** false when there was none. */
  deleteSecret(environment: string, name: string): Promise<boolean>;
  /** Names and times only, never ciphertexts; every environment when none is given. By environment, then name. */
  listSecrets(environment?: string): Promise<SecretInfo[]>;
  /** The ciphertexts of those of `names` that exist in `environment`. */
  getSecretCiphertexts(environment: string, names: string[]): Promise<{ name: string; ciphertext: Buffer; nonce: Buffer }[]>;

  // ---- workers ----
  upsertWorker(worker: WorkerInfo): Promise<void>;
  listWorkers(): Promise<WorkerInfo[]>;
}

/** A secret as listed: never its value. */
export interface SecretInfo {
  environment: string;
  name: string;
  created: Date;
  updated: Date;
}
