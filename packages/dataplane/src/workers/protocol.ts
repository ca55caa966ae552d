import type { TaskAssignment, TaskOutcome } from '../types.js';

/**
 * What the server and a worker say to each other, as JSON messages over a channel: the IPC
 * channel of a local worker process (`dataplane serve --workers N` forks them), or a WebSocket
 * (`dataplane worker --server URL`). The same messages either way.
 */

/** Names one task attempt. */
export interface AttemptRef {
  runId: string;
  taskId: string;
  attempt: number;
}

export type ServerMessage =
  /** Run this attempt (the worker has a free slot: the server counts them). */
  | { type: 'assign'; assignment: TaskAssignment }
  /** Kill this attempt's process group; it ends as `cancelled` (or `timed_out` when `reason` says so). */
  | ({ type: 'cancel'; reason: string } & AttemptRef)
  /** The server is shutting down or dropped the worker: finish nothing more, exit. */
  | { type: 'stop' };

export type WorkerMessage =
  /** First message: who the worker is and how many attempts it runs at once. */
  | { type: 'hello'; workerId: string; group: string; environment: string; slots: number; host: string; pid: number }
  /** Every second: what it runs and how loaded its machine is. */
  | { type: 'heartbeat'; running: AttemptRef[]; cpu: number | null; memoryBytes: number | null; load: number | null }
  /** The attempt's process started. */
  | ({ type: 'started'; at: string } & AttemptRef)
  /** Output lines, batched; `seq` numbers the lines of one attempt from 0. */
  | ({ type: 'logs'; lines: { seq: number; stream: 'stdout' | 'stderr' | 'system'; at: string; text: string }[] } & AttemptRef)
  /** The attempt ended. */
  | ({ type: 'done'; outcome: TaskOutcome; at: string } & AttemptRef);

/** Either end of a connection. */
export interface Channel<In, Out> {
  send(message: Out): void;
  onMessage(listener: (message: In) => void): void;
  onClose(listener: () => void): void;
  close(): void;
}
