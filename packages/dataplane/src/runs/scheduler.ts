import { retryDelay } from '../pipelines/retry.js';
import type { Run, RunState, TaskAssignment, TaskAttempt, TaskOutcome, TaskState } from '../types.js';
import type { AttemptRef } from '../workers/protocol.js';
import { newAttempt, type RunContext } from './context.js';
import type { EngineEmitter } from './events.js';
import { attemptKey, type WorkerHandle, type WorkerPool } from './pool.js';
import { decide, isTaskEnded, runOutcome } from './rules.js';

/** The reason given to attempts retried because they were cut off rather than failed. */
export const INTERRUPTED = 'interrupted: ';
/** Interruptions of one task in a row after which it fails: a task that kills its worker every time. */
export const MAX_INTERRUPTIONS = 3;

/** Values for the secrets a task lists; the secrets store plugs in here. */
export type SecretSource = (names: string[], run: Run) => Promise<Record<string, string>>;

export interface SchedulerDeps {
  pool: WorkerPool;
  events: EngineEmitter;
  secrets: SecretSource;
}

interface Ready {
  ctx: RunContext;
  taskId: string;
  attempt: number;
}

/**
 * The state machine and the dispatcher, in memory and synchronous: every decision is made in the
 * handler of the event that caused it (a task ended, a worker freed a slot, a timer fired),
 * staged on the run's writes, and acted on once durable. No polling: a task starts as soon as
 * its upstreams end and a slot is free.
 */
export class Scheduler {
  /** Runs not ended, in arrival order (queued runs are admitted oldest first). */
  readonly active = new Map<string, RunContext>();
  /** Queued attempts waiting for a slot, oldest first. */
  private ready: Ready[] = [];
  /** Set while the server shuts down: lost workers then interrupt nothing (a restart recovers). */
  stopping = false;

  constructor(private readonly deps: SchedulerDeps) {}

  queueDepth(): number {
    return this.ready.length;
  }

  // ---- runs ----

  /** Starts queued runs while their pipeline's concurrency allows, oldest first. */
  admit(): void {
    for (const ctx of this.active.values()) {
      if (ctx.run.state !== 'queued') continue;
      const limit = ctx.spec.concurrency;
      if (limit !== null && limit !== undefined && this.runningOf(ctx.run.pipeline) >= limit) continue;
      this.stageRun(ctx, { state: 'running', started: new Date() }, 'running');
      this.advance(ctx);
    }
    this.dispatch();
  }

  private runningOf(pipeline: string): number {
    let n = 0;
    for (const ctx of this.active.values()) if (ctx.run.pipeline === pipeline && ctx.run.state === 'running') n++;
    return n;
  }

  /** Decides every pending task its upstreams now allow (tasks are in topological order: one pass). */
  advance(ctx: RunContext): void {
    if (ctx.run.state !== 'running') return;
    for (const task of ctx.spec.tasks) {
      const a = ctx.attempt(task.id);
      if (a.state !== 'pending') continue;
      const decision = decide(task.when, task.needs.map((id) => ctx.attempt(id).state));
      if (decision === 'run') this.enqueue(ctx, a);
      else if (decision !== 'wait') {
        a.ended = new Date();
        this.stageTask(ctx, a, decision, decision === 'skipped' ? `when: ${task.when} does not hold` : 'an upstream task failed');
      }
    }
    if (ctx.allEnded()) this.finish(ctx, runOutcome([...ctx.latest.values()].map((a) => a.state)));
  }

  private finish(ctx: RunContext, state: RunState, reason?: string): void {
    ctx.clearTimers();
    this.active.delete(ctx.run.id);
    this.stageRun(ctx, { state, ended: new Date() }, state, reason);
    // Its slot in the pipeline's concurrency is free now: the next queued run may start.
    this.admit();
  }

  /** Cancels every task not ended (running ones are killed once the cancel is durable), then the run. */
  cancel(ctx: RunContext, reason: string): void {
    const now = new Date();
    for (const a of ctx.latest.values()) {
      if (isTaskEnded(a.state)) continue;
      const worker = a.state === 'running' && a.workerId ? this.deps.pool.get(a.workerId) : undefined;
      a.ended = now;
      this.stageTask(ctx, a, 'cancelled', reason);
      if (worker) this.tellCancel(ctx, worker, a, reason);
    }
    this.finish(ctx, 'cancelled', reason);
  }

  private tellCancel(ctx: RunContext, worker: WorkerHandle, a: TaskAttempt, reason: string): void {
    const ref: AttemptRef = { runId: a.runId, taskId: a.taskId, attempt: a.attempt };
    // Only if the assignment went out: an attempt cancelled before that never reached the worker.
    ctx.writes.then(() => {
      if (worker.running.has(attemptKey(ref.runId, ref.taskId, ref.attempt))) worker.channel.send({ type: 'cancel', reason, ...ref });
    });
  }

  // ---- tasks ----

  private enqueue(ctx: RunContext, a: TaskAttempt): void {
    a.queued = new Date();
    this.stageTask(ctx, a, 'queued');
    this.ready.push({ ctx, taskId: a.taskId, attempt: a.attempt });
  }

  /** Puts back an attempt the store has as queued (recovery): no state change, nothing to write. */
  requeue(ctx: RunContext, a: TaskAttempt): void {
    this.ready.push({ ctx, taskId: a.taskId, attempt: a.attempt });
  }

  /** Hands queued attempts to the least-loaded worker of their group with a free slot, oldest first. */
  dispatch(): void {
    const waiting: Ready[] = [];
    for (const entry of this.ready) {
      const a = entry.ctx.latest.get(entry.taskId);
      // Cancelled, or replaced by a newer attempt, since it was queued.
      if (!a || a.attempt !== entry.attempt || a.state !== 'queued' || !this.active.has(entry.ctx.run.id)) continue;
      const task = entry.ctx.tasks.get(entry.taskId)!;
      const worker = this.deps.pool.pick(entry.ctx.run.environment, task.group);
      if (worker) this.assign(entry.ctx, a, worker);
      else waiting.push(entry);
    }
    this.ready = waiting;
  }

  private assign(ctx: RunContext, a: TaskAttempt, worker: WorkerHandle): void {
    const task = ctx.tasks.get(a.taskId)!;
    const key = attemptKey(a.runId, a.taskId, a.attempt);
    worker.running.add(key);
    a.workerId = worker.info.id;
    a.started = new Date();
    this.stageTask(ctx, a, 'running', `on worker ${worker.info.id}`);
    const assignment: TaskAssignment = {
      runId: a.runId,
      taskId: a.taskId,
      attempt: a.attempt,
      pipeline: ctx.run.pipeline,
      version: ctx.run.version,
      run: task.run,
      code: task.code,
      params: ctx.run.params,
      inputs: ctx.inputs(task),
      secrets: {},
      timeoutMs: task.timeoutMs,
    };
    ctx.writes.then(() => this.send(ctx, worker, assignment, task.secrets));
  }

  /** Sends an assignment made durable, unless it was cancelled or its worker lost meanwhile. */
  private send(ctx: RunContext, worker: WorkerHandle, assignment: TaskAssignment, secrets: string[]): void {
    const a = ctx.latest.get(assignment.taskId);
    const key = attemptKey(assignment.runId, assignment.taskId, assignment.attempt);
    if (a?.attempt !== assignment.attempt || a.state !== 'running' || worker.info.state !== 'up') {
      worker.running.delete(key);
      this.dispatch();
      return;
    }
    if (secrets.length === 0) {
      worker.channel.send({ type: 'assign', assignment });
      return;
    }
    this.deps.secrets(secrets, ctx.run).then(
      (values) => worker.channel.send({ type: 'assign', assignment: { ...assignment, secrets: values } }),
      (err: Error) => this.done(worker, assignment, { state: 'failed', exitCode: null, error: `secrets: ${err.message}`, output: null }, new Date()),
    );
  }

  /** The worker's process started: not a state change (running was written at assignment). */
  started(worker: WorkerHandle, ref: AttemptRef, at: Date): void {
    const a = this.current(worker, ref);
    if (!a) return;
    a.started = at;
    this.deps.events.emit('task', { ...a });
  }

  /** An attempt ended on its worker. Stale reports (cancelled, lost, superseded) only free the slot. */
  done(worker: WorkerHandle, ref: AttemptRef, outcome: TaskOutcome, at: Date): void {
    worker.running.delete(attemptKey(ref.runId, ref.taskId, ref.attempt));
    // Stopping: workers cancel what they run. That is not the task's failure: the attempt stays
    // running in the store, and the next start retries it.
    if (this.stopping) return;
    const a = this.current(worker, ref);
    if (a) {
      const ctx = this.active.get(ref.runId)!;
      Object.assign(a, { ended: at, exitCode: outcome.exitCode, error: outcome.error, output: outcome.output ?? null });
      if (outcome.state === 'succeeded') this.stageTask(ctx, a, 'succeeded');
      // A cancel the server did not ask for (a kill from outside) is a failure of the task.
      else this.failed(ctx, a, outcome.state === 'timed_out' ? 'timed_out' : 'failed', outcome.error ?? undefined);
      this.advance(ctx);
    }
    this.dispatch();
  }

  private current(worker: WorkerHandle, ref: AttemptRef): TaskAttempt | null {
    const a = this.active.get(ref.runId)?.latest.get(ref.taskId);
    return a && a.attempt === ref.attempt && a.state === 'running' && a.workerId === worker.info.id ? a : null;
  }

  /** A failed or timed-out attempt: retried after the policy's delay while retries are left. */
  private failed(ctx: RunContext, a: TaskAttempt, state: TaskState, error?: string): void {
    const task = ctx.tasks.get(a.taskId)!;
    const used = ctx.failures.get(a.taskId) ?? 0;
    if (used >= task.retries.count) {
      this.stageTask(ctx, a, state, error);
      return;
    }
    ctx.failures.set(a.taskId, used + 1);
    const delay = retryDelay(task.retries, used + 1);
    a.retryAt = new Date(Date.now() + delay);
    this.stageTask(ctx, a, 'retrying', `${state}${error ? `: ${error}` : ''}; retry ${used + 1} of ${task.retries.count} in ${delay} ms`);
    this.retryAt(ctx, a.taskId, delay);
  }

  /** Queues the task's next attempt after `delayMs` (a retry's backoff). */
  retryAt(ctx: RunContext, taskId: string, delayMs: number): void {
    const timer = setTimeout(() => {
      ctx.retryTimers.delete(taskId);
      const a = ctx.latest.get(taskId);
      if (!this.active.has(ctx.run.id) || a?.state !== 'retrying') return;
      this.next(ctx, a);
      this.dispatch();
    }, Math.max(0, delayMs));
    ctx.retryTimers.set(taskId, timer);
  }

  /** A new attempt of a task, queued at once (its upstreams already allowed it). */
  private next(ctx: RunContext, previous: TaskAttempt): void {
    const a = newAttempt(previous.runId, previous.taskId, previous.attempt + 1);
    ctx.latest.set(a.taskId, a);
    this.enqueue(ctx, a);
  }

  /**
   * An attempt cut off by its worker's loss or the server's restart: retried at once as a new
   * attempt, without using up the task's retries, up to MAX_INTERRUPTIONS times in a row.
   */
  interrupt(ctx: RunContext, a: TaskAttempt, why: string): void {
    const count = (ctx.interruptions.get(a.taskId) ?? 0) + 1;
    ctx.interruptions.set(a.taskId, count);
    a.ended = new Date();
    a.error = `${INTERRUPTED}${why}`;
    if (count > MAX_INTERRUPTIONS) {
      this.stageTask(ctx, a, 'failed', `${a.error} (${count} times in a row: giving up)`);
      this.advance(ctx);
      return;
    }
    this.stageTask(ctx, a, 'retrying', a.error);
    this.next(ctx, a);
  }

  // ---- workers ----

  /** A worker went away: its attempts run again elsewhere (unless the server is stopping). */
  workerLost(worker: WorkerHandle, why: string): void {
    worker.info.state = this.stopping ? 'stopped' : 'lost';
    const keys = [...worker.running];
    worker.running.clear();
    this.deps.events.emit('worker', { ...worker.info, running: 0 });
    if (this.stopping) return;
    for (const key of keys) {
      const [runId, taskId, attempt] = key.split('\u0000');
      const ctx = this.active.get(runId!);
      const a = ctx?.latest.get(taskId!);
      if (ctx && a && a.attempt === Number(attempt) && a.state === 'running' && a.workerId === worker.info.id) this.interrupt(ctx, a, why);
    }
    this.dispatch();
  }

  // ---- staging ----

  private stageTask(ctx: RunContext, a: TaskAttempt, state: TaskState, reason?: string): void {
    a.state = state;
    ctx.writes.task(a, state, reason);
    const snapshot = { ...a };
    ctx.writes.then(() => this.deps.events.emit('task', snapshot));
  }

  stageRun(ctx: RunContext, patch: Partial<Omit<Run, 'id'>>, state?: RunState, reason?: string): void {
    Object.assign(ctx.run, patch);
    ctx.writes.run(patch, state ? { state, at: new Date(), ...(reason ? { reason } : {}) } : undefined);
    const snapshot = { ...ctx.run };
    ctx.writes.then(() => this.deps.events.emit('run', snapshot));
  }
}
