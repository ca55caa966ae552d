import type { WorkerInfo } from '../types.js';
import type { Channel, ServerMessage, WorkerMessage } from '../workers/protocol.js';

export type WorkerChannel = Channel<WorkerMessage, ServerMessage>;

/** A connected worker as the dispatcher sees it. */
export interface WorkerHandle {
  info: WorkerInfo;
  channel: WorkerChannel;
  /** Attempts assigned and not yet reported done: the worker's used slots, counted here. */
  running: Set<string>;
  /** Forked by this server (it dies with the server) rather than connected over WebSocket. */
  local: boolean;
}

export const attemptKey = (runId: string, taskId: string, attempt: number) => `${runId}\u0000${taskId}\u0000${attempt}`;

export function parseAttemptKey(key: string): { runId: string; taskId: string; attempt: number } {
  const [runId, taskId, attempt] = key.split('\u0000');
  return { runId: runId!, taskId: taskId!, attempt: Number(attempt) };
}

/**
 * The workers of this server, in memory: dispatch picks from here without touching the store.
 * Lost and stopped workers stay listed (for `dataplane worker list`) until they reconnect.
 */
export class WorkerPool {
  private readonly workers = new Map<string, WorkerHandle>();

  get(id: string): WorkerHandle | undefined {
    return this.workers.get(id);
  }

  set(handle: WorkerHandle): void {
    this.workers.set(handle.info.id, handle);
  }

  list(): WorkerHandle[] {
    return [...this.workers.values()];
  }

  up(): WorkerHandle[] {
    return this.list().filter((w) => w.info.state === 'up');
  }

  /**
   * The least-loaded worker (by share of slots in use, then fewest running) of a group and
   * environment with a free slot; null when all are busy or none serves them.
   */
  pick(environment: string, group: string): WorkerHandle | null {
    let best: WorkerHandle | null = null;
    for (const w of this.workers.values()) {
      const i = w.info;
      if (i.state !== 'up' || i.group !== group || i.environment !== environment || w.running.size >= i.slots) continue;
      if (!best || load(w) < load(best) || (load(w) === load(best) && w.running.size < best.running.size)) best = w;
    }
    return best;
  }

  /** Workers silent for longer than `timeoutMs` (no heartbeat, no message). */
  silent(now: number, timeoutMs: number): WorkerHandle[] {
    return this.up().filter((w) => now - w.info.lastSeen.getTime() > timeoutMs);
  }
}

const load = (w: WorkerHandle) => w.running.size / Math.max(1, w.info.slots);

export function workerView(w: WorkerHandle): WorkerInfo {
  return { ...w.info, running: w.running.size };
}
