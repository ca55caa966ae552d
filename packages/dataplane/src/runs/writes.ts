import type { DataStore } from '../store/types.js';
import type { Run, RunState, TaskAttempt, TaskState, Transition } from '../types.js';

type Op =
  | { kind: 'tasks'; items: { attempt: TaskAttempt; transition?: Transition<TaskState> }[] }
  | { kind: 'run'; patch: Partial<Omit<Run, 'id'>>; transition?: Transition<RunState> };

/**
 * The write-ahead rule of the engine: a state change is staged (synchronously, while the engine
 * decides), written to the store, and only then acted on (a task sent to a worker, a kill, an
 * event to subscribers). Changes staged in the same tick go out as one transaction, so finishing a
 * task, queueing its downstream and assigning it to a worker cost one store write: that is what
 * keeps per-task overhead at a few milliseconds. Writes of one run are applied in staging order.
 */
export class RunWrites {
  private ops: Op[] = [];
  private after: (() => void)[] = [];
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(
    private readonly store: DataStore,
    private readonly runId: string,
    private readonly onError: (err: unknown, runId: string) => void,
  ) {}

  /** Stages one attempt as it is now (copied: the engine keeps mutating its own). */
  task(attempt: TaskAttempt, state: TaskState, reason?: string, at = new Date()): void {
    const item = { attempt: { ...attempt }, transition: { state, at, ...(reason ? { reason } : {}) } };
    const last = this.ops.at(-1);
    if (last?.kind === 'tasks') last.items.push(item);
    else this.ops.push({ kind: 'tasks', items: [item] });
    this.schedule();
  }

  run(patch: Partial<Omit<Run, 'id'>>, transition?: Transition<RunState>): void {
    this.ops.push({ kind: 'run', patch: { ...patch }, transition });
    this.schedule();
  }

  /** Runs once everything staged so far is durable. */
  then(fn: () => void): void {
    this.after.push(fn);
    this.schedule();
  }

  /** Resolves once everything staged so far is written (or failed). */
  settled(): Promise<void> {
    this.flush();
    return this.chain;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // A microtask: everything the engine stages while handling one message joins one write.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.ops.length === 0 && this.after.length === 0) return;
    const ops = this.ops;
    const after = this.after;
    this.ops = [];
    this.after = [];
    this.chain = this.chain.then(async () => {
      try {
        for (const op of ops) {
          if (op.kind === 'tasks') await this.store.putTaskAttempts(op.items);
          else await this.store.updateRun(this.runId, op.patch, op.transition);
        }
      } catch (err) {
        // Not acting on a change that is not durable: the run resumes from the store after a restart.
        this.onError(err, this.runId);
        return;
      }
      for (const fn of after) {
        try {
          fn();
        } catch (err) {
          this.onError(err, this.runId);
        }
      }
    });
  }
}
