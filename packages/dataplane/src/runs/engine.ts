import { parsePipeline, PipelineError, resolveParams } from '../pipelines/index.js';
import type { DataStore } from '../store/types.js';
import type { LogLine, PipelineSpec, PipelineVersion, Run, RunState, TaskAttempt, WorkerInfo } from '../types.js';
import { newAttempt, RunContext } from './context.js';
import { EngineError, pipelineNotFound, runNotFound } from './errors.js';
import { EngineEmitter } from './events.js';
import { newRunId } from './ids.js';
import { silentLog, type EngineLog } from './log.js';
import { LocalWorkers, type LocalWorkerOptions } from './local.js';
import { LogWriter } from './logs.js';
import { WorkerPool, workerView, type WorkerChannel } from './pool.js';
import { recoverRuns } from './recovery.js';
import { isRunEnded } from './rules.js';
import { Scheduler, type SecretSource } from './scheduler.js';
import type { SecretVault } from '../store/secrets.js';
import { WorkerLink } from './link.js';
import { pipelineReader, type ApplyOptions } from './apply.js';

export interface EngineOptions {
  store: DataStore;
  dataDir: string;
  /** Local worker processes to fork (group 'default', environment 'development'); 0 for none. */
  workers?: number;
  /** Attempts each local worker runs at once. */
  slots?: number;
  log?: EngineLog;
  /** The secrets store: the API's secret routes, and the values of the secrets tasks list. */
  vault?: SecretVault;
  /** Values of the secrets tasks list (default: the vault's); with neither, tasks that list secrets fail. */
  secrets?: SecretSource;
  /** A worker silent this long is lost and its attempts run elsewhere. */
  heartbeatTimeoutMs?: number;
}

export interface StartRunOptions {
  params?: Record<string, unknown>;
  user?: string | null;
  environment?: string;
}

/** A run as `getRun` shows it: the latest attempt of each task, every attempt, every transition. */
export interface RunDetails {
  run: Run;
  tasks: TaskAttempt[];
  attempts: TaskAttempt[];
  transitions: { taskId: string | null; attempt: number | null; state: string; at: Date; reason?: string }[];
}

const noSecrets: SecretSource = async (names) => {
  throw new Error(`no secrets store is configured, so ${names.join(', ')} cannot be provided`);
};

/**
 * Dataplane's engine: pipelines applied, runs started, dispatched to workers and followed through
 * their state machine (see scheduler.ts and rules.ts), every change written to the store before
 * anything acts on it, so that a restarted engine continues where the last one stopped.
 */
export class Engine {
  readonly events = new EngineEmitter();
  private readonly pool = new WorkerPool();
  private store!: DataStore;
  private scheduler!: Scheduler;
  private logWriter!: LogWriter;
  private link!: WorkerLink;
  private locals: LocalWorkers | null = null;
  private log: EngineLog = silentLog;
  private state: 'new' | 'started' | 'stopped' = 'new';
  private vault: SecretVault | null = null;

  async start(options: EngineOptions): Promise<void> {
    this.store = options.store;
    this.log = options.log ?? silentLog;
    const onError = (err: unknown, runId?: string) => this.log.error({ err, runId }, 'store write failed; the change is not acted on');
    this.vault = options.vault ?? null;
    this.scheduler = new Scheduler({ pool: this.pool, events: this.events, secrets: options.secrets ?? this.vault?.source ?? noSecrets });
    this.logWriter = new LogWriter(this.store, (err) => this.log.error({ err }, 'log write failed'));
    this.link = new WorkerLink({ pool: this.pool, scheduler: this.scheduler, store: this.store, events: this.events, logs: this.logWriter, log: this.log, timeoutMs: options.heartbeatTimeoutMs ?? 5000 });
    this.state = 'started';
    const local: LocalWorkerOptions = { count: options.workers ?? 2, slots: options.slots ?? 4, dataDir: options.dataDir, log: this.log };
    // Workers of a previous server that died still finish killing their tasks: wait, so nothing runs twice.
    await LocalWorkers.awaitOrphans(this.store, this.log);
    const recovered = await recoverRuns(this.store, this.scheduler, onError);
    if (recovered > 0) this.log.info({ runs: recovered }, 'continuing runs of the previous server');
    this.link.start();
    if (local.count > 0) {
      this.locals = new LocalWorkers(local, (channel) => this.attachWorker(channel, true));
      await this.locals.start();
    }
  }

  /** Connects a worker: the local ones over IPC, remote ones over the WebSocket at /ws/worker. */
  attachWorker(channel: WorkerChannel, local = false): void {
    this.link.attach(channel, local);
  }

  // ---- pipelines ----

  validate(source: string, options: ApplyOptions = {}): PipelineSpec {
    return parsePipeline(source, { filename: options.filename, ...pipelineReader(options) });
  }

  async applyPipeline(source: string, options: ApplyOptions = {}): Promise<{ version: PipelineVersion; created: boolean }> {
    const spec = this.validate(source, options);
    return this.store.savePipeline(spec.name, spec, source, options.user ?? null);
  }

  async getPipeline(name: string, version?: number): Promise<PipelineVersion> {
    const found = await this.store.getPipeline(name, version);
    if (!found) throw pipelineNotFound(name, version);
    return found;
  }

  listPipelines(): Promise<PipelineVersion[]> {
    return this.store.listPipelines();
  }

  /** Deletes a pipeline; its runs stay readable and active ones finish (they hold their spec). */
  async deletePipeline(name: string): Promise<void> {
    if (!(await this.store.deletePipeline(name))) throw pipelineNotFound(name);
  }

  // ---- runs ----

  async startRun(name: string, options: StartRunOptions = {}): Promise<Run> {
    this.assertStarted();
    const version = await this.getPipeline(name);
    const params = this.params(version.spec, options.params ?? {});
    const run: Run = {
      id: newRunId(),
      pipeline: name,
      version: version.version,
      environment: options.environment ?? 'development',
      params,
      state: 'queued',
      attempt: 1,
      created: new Date(),
      started: null,
      ended: null,
      createdBy: options.user ?? null,
    };
    const attempts = version.spec.tasks.map((t) => newAttempt(run.id, t.id, 1));
    await this.store.createRun(run, attempts);
    const ctx = this.context(run, version.spec, attempts);
    this.events.emit('run', { ...run });
    this.scheduler.admit();
    await ctx.writes.settled();
    return { ...ctx.run };
  }

  private params(spec: PipelineSpec, given: Record<string, unknown>): Record<string, unknown> {
    try {
      return resolveParams(spec, given);
    } catch (err) {
      if (err instanceof PipelineError) throw new EngineError('InvalidParams', err.message, { issues: err.issues });
      throw err;
    }
  }

  private context(run: Run, spec: PipelineSpec, attempts: TaskAttempt[]): RunContext {
    const ctx = new RunContext(run, spec, this.store, (err, runId) => this.log.error({ err, runId }, 'store write failed; the change is not acted on'));
    for (const a of attempts) ctx.latest.set(a.taskId, a);
    this.scheduler.active.set(run.id, ctx);
    return ctx;
  }

  /** Cancels a queued or running run: tasks not ended are cancelled, running processes killed. */
  async cancelRun(id: string, options: { user?: string | null } = {}): Promise<Run> {
    const ctx = this.scheduler.active.get(id);
    if (!ctx) {
      const run = await this.store.getRun(id);
      if (!run) throw runNotFound(id);
      throw new EngineError('RunNotActive', `run ${id} already ended (${run.state})`, { state: run.state });
    }
    this.scheduler.cancel(ctx, options.user ? `cancelled by ${options.user}` : 'cancelled');
    await ctx.writes.settled();
    return { ...ctx.run };
  }

  /**
   * Runs a failed or cancelled run again as its next attempt: tasks that succeeded keep their
   * attempt and output; every other task gets a new attempt, decided again by its upstreams.
   */
  async rerun(id: string, options: { user?: string | null } = {}): Promise<Run> {
    this.assertStarted();
    if (this.scheduler.active.has(id)) throw new EngineError('RunNotRerunnable', `run ${id} has not ended yet`);
    const run = await this.store.getRun(id);
    if (!run) throw runNotFound(id);
    if (run.state === 'succeeded') throw new EngineError('RunNotRerunnable', `run ${id} succeeded: start a new run instead`, { state: run.state });
    const version = await this.getPipeline(run.pipeline, run.version);
    const latest = latestAttempts(await this.store.taskAttempts(id));
    const attempts = version.spec.tasks.map((t) => {
      const a = latest.get(t.id);
      return a?.state === 'succeeded' ? a : newAttempt(id, t.id, (a?.attempt ?? 0) + 1);
    });
    const ctx = this.context({ ...run }, version.spec, attempts);
    for (const a of attempts) if (a.state === 'pending') ctx.writes.task(a, 'pending', `rerun ${run.attempt + 1}`);
    const by = options.user ? ` by ${options.user}` : '';
    this.scheduler.stageRun(ctx, { state: 'queued', attempt: run.attempt + 1, started: null, ended: null }, 'queued', `rerun${by}`);
    this.scheduler.admit();
    await ctx.writes.settled();
    return { ...ctx.run };
  }

  async getRun(id: string): Promise<RunDetails> {
    const run = await this.store.getRun(id);
    if (!run) throw runNotFound(id);
    const [attempts, transitions] = await Promise.all([this.store.taskAttempts(id), this.store.transitions(id)]);
    const order = this.scheduler.active.get(id)?.spec ?? (await this.store.getPipeline(run.pipeline, run.version))?.spec;
    const latest = latestAttempts(attempts);
    const ids = order ? order.tasks.map((t) => t.id) : [...latest.keys()];
    return { run, tasks: ids.flatMap((t) => latest.get(t) ?? []), attempts, transitions };
  }

  listRuns(filter: { pipeline?: string; states?: RunState[]; limit?: number; before?: Date } = {}): Promise<Run[]> {
    return this.store.listRuns(filter);
  }

  /** A run's log lines, including every line received so far (the buffer is flushed first). */
  async logs(runId: string, options: { taskId?: string; attempt?: number; afterSeq?: number; limit?: number } = {}): Promise<LogLine[]> {
    if (!(await this.store.getRun(runId))) throw runNotFound(runId);
    await this.logWriter.flush();
    return this.store.logs(runId, options);
  }

  /** Resolves when the run ends (for `--wait` in-process and tests); the run as it ended. */
  async waitForRun(id: string, timeoutMs = 60_000): Promise<Run> {
    return new Promise<Run>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`run ${id} did not end within ${timeoutMs} ms`)), timeoutMs);
      const onRun = (run: Run) => {
        if (run.id === id && isRunEnded(run.state)) finish(null, run);
      };
      const finish = (err: Error | null, run?: Run) => {
        clearTimeout(timer);
        this.events.off('run', onRun);
        if (err) reject(err);
        else resolve(run!);
      };
      this.events.on('run', onRun);
      // It may have ended before we listened.
      this.store.getRun(id).then((run) => {
        if (!run) finish(runNotFound(id));
        else if (isRunEnded(run.state) && !this.scheduler.active.has(id)) finish(null, run);
      }, finish);
    });
  }

  // ---- workers and health ----

  listWorkers(): WorkerInfo[] {
    return this.pool.list().map(workerView);
  }

  /** The secrets store, or null when the engine was started without one (the API answers 503). */
  secrets(): SecretVault | null {
    return this.vault;
  }

  backend(): 'sqlite' | 'postgres' {
    return this.store.backend;
  }

  queueDepth(): number {
    return this.scheduler?.queueDepth() ?? 0;
  }

  activeRuns(): number {
    return this.scheduler?.active.size ?? 0;
  }

  /**
   * Stops cleanly: local workers are told to stop (their running tasks are killed, and retried by
   * the next start), pending writes and log lines are written, then the store may be closed.
   */
  async stop(): Promise<void> {
    if (this.state !== 'started') return;
    this.state = 'stopped';
    this.scheduler.stopping = true;
    for (const ctx of this.scheduler.active.values()) ctx.clearTimers();
    this.link.stop();
    await this.locals?.stop();
    await Promise.all([...this.scheduler.active.values()].map((ctx) => ctx.writes.settled()));
    await this.logWriter.flush();
    await this.link.saveAll();
  }

  private assertStarted(): void {
    if (this.state !== 'started') throw new EngineError('EngineStopped', 'the engine is not running');
  }
}

export function latestAttempts(attempts: TaskAttempt[]): Map<string, TaskAttempt> {
  const latest = new Map<string, TaskAttempt>();
  for (const a of attempts) if ((latest.get(a.taskId)?.attempt ?? 0) < a.attempt) latest.set(a.taskId, a);
  return latest;
}

