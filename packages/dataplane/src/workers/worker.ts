import { hostname } from 'node:os';
import type { TaskAssignment, TaskOutcome } from '../types.js';
import { executeTask, prewarm, type Execution } from './executor.js';
import { machineSampler } from './machine.js';
import type { AttemptRef, Channel, ServerMessage, WorkerMessage } from './protocol.js';

/**
 * A worker: takes assignments from the server over a channel and runs them, up to `slots` at
 * once, reporting started/logs/done, with a heartbeat every second.
 */

export interface WorkerOptions {
  workerId: string;
  group: string;
  environment: string;
  slots: number;
  workRoot: string;
  /** Passed on to executeTask. */
  python?: string;
  node?: string;
  env?: Record<string, string>;
  warm?: boolean;
  maxOutputBytes?: number;
  killGraceMs?: number;
  /** Default 1000. */
  heartbeatMs?: number;
  /** Stops the worker as a `stop` message would (a local worker's SIGTERM). */
  signal?: AbortSignal;
}

interface Running {
  ref: AttemptRef;
  execution: Execution;
  /** Settles once its `done` was sent. */
  reported: Promise<void>;
}

/** Resolves once the worker has stopped: on `stop` (running attempts cancelled and reported) or when the channel closes. */
export function runWorker(channel: Channel<ServerMessage, WorkerMessage>, options: WorkerOptions): Promise<void> {
  return new Worker(channel, options).run();
}

class Worker {
  private readonly running = new Map<string, Running>();
  private readonly queue: TaskAssignment[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private connected = true;
  private readonly sample = machineSampler();

  constructor(private readonly channel: Channel<ServerMessage, WorkerMessage>, private readonly options: WorkerOptions) {}

  /** Listens at once (nothing awaited first): a message sent right away must not be missed. */
  run(): Promise<void> {
    if (this.options.warm !== false) prewarm({ python: this.options.python, env: this.options.env });
    let stopped!: () => void;
    const done = new Promise<void>((resolve) => (stopped = resolve));
    this.channel.onMessage((m) => this.handle(m, stopped));
    this.options.signal?.addEventListener('abort', () => this.handle({ type: 'stop' }, stopped), { once: true });
    this.channel.onClose(() => {
      this.connected = false;
      void this.stop().then(stopped);
    });
    const { workerId, group, environment, slots } = this.options;
    this.send({ type: 'hello', workerId, group, environment, slots, host: hostname(), pid: process.pid });
    this.beat();
    // The channel, not the heartbeat, is what keeps a worker process alive.
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs ?? 1000).unref();
    return done;
  }

  private handle(m: ServerMessage, stopped: () => void): void {
    if (m.type === 'assign') this.assign(m.assignment);
    else if (m.type === 'cancel') this.cancel(m, m.reason === 'timed_out' ? 'timed_out' : 'cancelled');
    else if (m.type === 'stop')
      void this.stop().then(() => {
        this.channel.close();
        stopped();
      });
  }

  private assign(a: TaskAssignment): void {
    const key = keyOf(a);
    if (this.running.has(key) || this.queue.some((q) => keyOf(q) === key)) return; // a repeat
    if (this.stopping) return this.report(refOf(a), cancelledOutcome('the worker is stopping'));
    this.queue.push(a);
    this.pump();
  }

  private cancel(ref: AttemptRef, reason: 'cancelled' | 'timed_out'): void {
    const key = keyOf(ref);
    const queued = this.queue.findIndex((q) => keyOf(q) === key);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return this.report(ref, cancelledOutcome(reason === 'timed_out' ? 'timed out' : 'cancelled', reason));
    }
    this.running.get(key)?.execution.cancel(reason);
  }

  /** Cancels everything; resolves once every attempt has ended and been reported. */
  private stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const a of this.queue.splice(0)) this.report(refOf(a), cancelledOutcome('the worker stopped'));
    const reported = [...this.running.values()].map((r) => {
      r.execution.cancel('cancelled');
      return r.reported;
    });
    this.stopping = Promise.all(reported).then(() => undefined);
    return this.stopping;
  }

  private pump(): void {
    while (this.running.size < this.options.slots && this.queue.length > 0) this.start(this.queue.shift()!);
  }

  private start(a: TaskAssignment): void {
    const ref = refOf(a);
    const { workRoot, python, node, env, warm, maxOutputBytes, killGraceMs } = this.options;
    const execution = executeTask(a, {
      workRoot, python, node, env, warm, maxOutputBytes, killGraceMs,
      onStarted: ({ at }) => this.send({ type: 'started', ...ref, at: at.toISOString() }),
      onLines: (lines) => this.send({ type: 'logs', ...ref, lines: lines.map((l) => ({ ...l, at: l.at.toISOString() })) }),
    });
    const reported = execution.done
      .catch((error: Error) => ({ state: 'failed', exitCode: null, error: `worker error: ${error.message}`, output: null }) as TaskOutcome)
      .then((outcome) => {
        this.running.delete(keyOf(ref));
        this.report(ref, outcome);
        if (!this.stopping) this.pump();
      });
    this.running.set(keyOf(ref), { ref, execution, reported });
  }

  private report(ref: AttemptRef, outcome: TaskOutcome): void {
    this.send({ type: 'done', ...refOf(ref), outcome, at: new Date().toISOString() });
  }

  private beat(): void {
    const running = [...this.running.values()].map((r) => r.ref);
    this.send({ type: 'heartbeat', running, ...this.sample() });
  }

  private send(message: WorkerMessage): void {
    if (this.connected) this.channel.send(message);
  }
}

function refOf(a: AttemptRef): AttemptRef {
  return { runId: a.runId, taskId: a.taskId, attempt: a.attempt };
}

function keyOf(a: AttemptRef): string {
  return `${a.runId}\0${a.taskId}\0${a.attempt}`;
}

function cancelledOutcome(error: string, state: 'cancelled' | 'timed_out' = 'cancelled'): TaskOutcome {
  return { state, exitCode: null, error, output: null };
}
