import type { DataStore } from '../store/types.js';
import type { LogLine } from '../types.js';
import type { WorkerMessage } from '../workers/protocol.js';
import type { EngineEmitter } from './events.js';
import type { EngineLog } from './log.js';
import type { LogWriter } from './logs.js';
import { attemptKey, workerView, type WorkerChannel, type WorkerHandle, type WorkerPool } from './pool.js';
import type { Scheduler } from './scheduler.js';

type Hello = Extract<WorkerMessage, { type: 'hello' }>;

export interface WorkerLinkDeps {
  pool: WorkerPool;
  scheduler: Scheduler;
  store: DataStore;
  events: EngineEmitter;
  logs: LogWriter;
  log: EngineLog;
  timeoutMs: number;
}

/**
 * The server's end of every worker connection: registers workers on hello, routes their messages
 * to the scheduler, and declares a worker lost when its channel closes or it has been silent for
 * `timeoutMs` (heartbeats come every second, so a few missed in a row).
 */
export class WorkerLink {
  private monitor: NodeJS.Timeout | null = null;
  private ticks = 0;

  constructor(private readonly deps: WorkerLinkDeps) {}

  start(): void {
    // Once a second is plenty for a 5 s deadline; unref: it never keeps the process alive alone.
    this.monitor = setInterval(() => this.check(), 1000);
    this.monitor.unref();
  }

  attach(channel: WorkerChannel, local: boolean): void {
    let handle: WorkerHandle | undefined;
    channel.onMessage((message) => {
      if (handle) this.receive(handle, message);
      else if (message.type === 'hello') handle = this.register(channel, message, local);
    });
    channel.onClose(() => {
      if (handle && handle.info.state === 'up' && this.deps.pool.get(handle.info.id) === handle) this.lose(handle, `worker ${handle.info.id} disconnected`);
    });
  }

  private register(channel: WorkerChannel, hello: Hello, local: boolean): WorkerHandle {
    const previous = this.deps.pool.get(hello.workerId);
    // The same worker reconnecting (or an id reused): what the old connection ran is lost.
    if (previous?.info.state === 'up') this.lose(previous, `worker ${hello.workerId} reconnected`);
    const handle: WorkerHandle = {
      channel,
      local,
      running: new Set(),
      info: { id: hello.workerId, group: hello.group, environment: hello.environment, host: hello.host, pid: hello.pid, slots: hello.slots, running: 0, state: 'up', lastSeen: new Date(), cpu: null, memoryBytes: null, load: null },
    };
    this.deps.pool.set(handle);
    this.deps.log.info({ worker: hello.workerId, group: hello.group, environment: hello.environment, slots: hello.slots, local }, 'worker connected');
    this.deps.events.emit('worker', workerView(handle));
    this.save(handle);
    this.deps.scheduler.dispatch();
    return handle;
  }

  private receive(w: WorkerHandle, message: WorkerMessage): void {
    w.info.lastSeen = new Date();
    switch (message.type) {
      case 'heartbeat':
        Object.assign(w.info, { cpu: message.cpu, memoryBytes: message.memoryBytes, load: message.load });
        this.reconcile(w, message.running);
        return;
      case 'started':
        return this.deps.scheduler.started(w, message, new Date(message.at));
      case 'logs':
        return this.lines(message);
      case 'done':
        return this.deps.scheduler.done(w, message, message.outcome, new Date(message.at));
      case 'hello':
        return;
    }
  }

  /**
   * What the worker runs that the server no longer counts as its (cancelled, or retried elsewhere
   * while the worker was unreachable) is killed: one attempt of a task runs at a time.
   */
  private reconcile(w: WorkerHandle, running: { runId: string; taskId: string; attempt: number }[]): void {
    for (const ref of running) {
      if (!w.running.has(attemptKey(ref.runId, ref.taskId, ref.attempt))) w.channel.send({ type: 'cancel', reason: 'superseded: the server no longer expects this attempt', ...ref });
    }
  }

  private lines(message: Extract<WorkerMessage, { type: 'logs' }>): void {
    const lines: LogLine[] = message.lines.map((l) => ({ runId: message.runId, taskId: message.taskId, attempt: message.attempt, seq: l.seq, stream: l.stream, at: new Date(l.at), text: l.text }));
    this.deps.logs.append(lines);
    for (const line of lines) this.deps.events.emit('log', line);
  }

  private check(): void {
    for (const w of this.deps.pool.silent(Date.now(), this.deps.timeoutMs)) {
      this.lose(w, `worker ${w.info.id} missed heartbeats for ${Math.round(this.deps.timeoutMs / 1000)} s`);
      // If it comes back it must say hello again: this connection is done.
      w.channel.send({ type: 'stop' });
      w.channel.close();
    }
    // Load figures reach the store every 10 s; connects and losses are saved as they happen.
    if (++this.ticks % 10 === 0) void this.saveAll();
  }

  private lose(w: WorkerHandle, why: string): void {
    this.deps.log.warn({ worker: w.info.id, running: w.running.size }, why);
    this.deps.scheduler.workerLost(w, why);
    this.save(w);
  }

  /** Tells every worker to stop; their closing channels then change nothing (the scheduler is stopping). */
  stop(): void {
    if (this.monitor) clearInterval(this.monitor);
    for (const w of this.deps.pool.up()) {
      w.channel.send({ type: 'stop' });
      if (!w.local) w.channel.close();
      w.info.state = 'stopped';
    }
  }

  private save(w: WorkerHandle): void {
    this.deps.store.upsertWorker(workerView(w)).catch((err: unknown) => this.deps.log.warn({ err, worker: w.info.id }, 'could not save worker'));
  }

  async saveAll(): Promise<void> {
    await Promise.all(this.deps.pool.list().map((w) => this.deps.store.upsertWorker(workerView(w)).catch(() => {})));
  }
}
