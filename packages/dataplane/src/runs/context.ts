import type { DataStore } from '../store/types.js';
import type { PipelineSpec, Run, TaskAttempt, TaskSpec } from '../types.js';
import { isTaskEnded } from './rules.js';
import { RunWrites } from './writes.js';

/** A fresh attempt of a task, pending until its upstreams allow it. */
export function newAttempt(runId: string, taskId: string, attempt: number): TaskAttempt {
  return { runId, taskId, attempt, state: 'pending', workerId: null, queued: null, started: null, ended: null, retryAt: null, exitCode: null, error: null, output: null };
}

/**
 * One active run in memory: its spec, the latest attempt of each task (what the state machine
 * looks at), and its ordered writes. The store holds the same, written ahead of every action.
 */
export class RunContext {
  readonly tasks = new Map<string, TaskSpec>();
  readonly latest = new Map<string, TaskAttempt>();
  /** Failed attempts retried under the task's retry policy since the run (re)started. */
  readonly failures = new Map<string, number>();
  /** Attempts retried because their worker or the server went away (they do not use up retries). */
  readonly interruptions = new Map<string, number>();
  readonly retryTimers = new Map<string, NodeJS.Timeout>();
  readonly writes: RunWrites;

  constructor(
    public run: Run,
    readonly spec: PipelineSpec,
    store: DataStore,
    onError: (err: unknown, runId: string) => void,
  ) {
    for (const task of spec.tasks) this.tasks.set(task.id, task);
    this.writes = new RunWrites(store, run.id, onError);
  }

  attempt(taskId: string): TaskAttempt {
    return this.latest.get(taskId)!;
  }

  allEnded(): boolean {
    for (const a of this.latest.values()) if (!isTaskEnded(a.state)) return false;
    return true;
  }

  /** Upstream id → its output, for the task's inputs (null for an upstream that wrote none or did not run). */
  inputs(task: TaskSpec): Record<string, unknown> {
    const inputs: Record<string, unknown> = {};
    for (const id of task.needs) inputs[id] = this.latest.get(id)?.output ?? null;
    return inputs;
  }

  clearTimers(): void {
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
  }
}
