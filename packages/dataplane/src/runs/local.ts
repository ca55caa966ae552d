import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { DataStore } from '../store/types.js';
import { forkWorker } from '../workers/local.js';
import type { ServerMessage, WorkerMessage } from '../workers/protocol.js';
import type { EngineLog } from './log.js';
import type { WorkerChannel } from './pool.js';

export interface LocalWorkerOptions {
  count: number;
  slots: number;
  dataDir: string;
  log: EngineLog;
}
/** How long a stopping worker gets to kill its tasks and exit before it is killed. */
const STOP_GRACE_MS = 5000;

/**
 * The worker processes `dataplane serve --workers N` forks: group 'default', environment
 * 'development', talking over the IPC channel. One that dies unexpectedly is replaced; its
 * attempts are retried by the scheduler (the channel's close marks it lost).
 */
export class LocalWorkers {
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;

  constructor(
    private readonly options: LocalWorkerOptions,
    private readonly attach: (channel: WorkerChannel) => void,
  ) {}

  /** Forks every worker and resolves once each said hello (or died trying). */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.count }, (_, i) => this.spawn(i + 1)));
  }

  private spawn(index: number): Promise<void> {
    const id = `local-${index}`;
    const { child, channel } = forkWorker({ workerId: id, group: 'default', environment: 'development', slots: this.options.slots, workRoot: join(this.options.dataDir, 'work') });
    this.children.set(index, child);
    child.once('exit', (code, signal) => this.exited(index, id, code, signal));
    const hello = new Promise<void>((resolve) => {
      channel.onMessage((m: WorkerMessage) => m.type === 'hello' && resolve());
      child.once('exit', () => resolve());
    });
    this.attach(channel);
    return hello;
  }

  private exited(index: number, id: string, code: number | null, signal: NodeJS.Signals | null): void {
    this.children.delete(index);
    if (this.stopping) return;
    this.options.log.error({ worker: id, code, signal }, 'local worker exited; starting another in 1 s');
    setTimeout(() => {
      if (!this.stopping) void this.spawn(index);
    }, 1000).unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.children.values()].map((child) => stopChild(child)));
  }

  /**
   * Waits for the local workers of a server that died (kill -9, a crash) to exit: they notice the
   * lost IPC channel and kill their tasks. Until they are gone, retrying those tasks could run a
   * task twice at once. Only processes running the worker entry are waited for (a pid may be reused).
   */
  static async awaitOrphans(store: DataStore, log: EngineLog): Promise<void> {
    const orphans = (await store.listWorkers()).filter((w) => w.state === 'up' && w.host === hostname() && w.pid !== process.pid && isLocalWorker(w.pid));
    if (orphans.length === 0) return;
    log.info({ pids: orphans.map((w) => w.pid) }, "waiting for the previous server's workers to exit");
    const deadline = Date.now() + STOP_GRACE_MS;
    while (orphans.some((w) => isLocalWorker(w.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const w of orphans) if (isLocalWorker(w.pid)) kill(w.pid);
    await Promise.all(orphans.map((w) => store.upsertWorker({ ...w, state: 'lost', running: 0 })));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ type: 'stop' } satisfies ServerMessage, () => {});
    else child.kill('SIGTERM');
  });
}

function isLocalWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('workers/main');
  } catch {
    return false;
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
}
