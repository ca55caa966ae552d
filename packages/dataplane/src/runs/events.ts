import { EventEmitter } from 'node:events';
import type { LogLine, Run, TaskAttempt, WorkerInfo } from '../types.js';

/** What the engine announces, each after it is durable: the WebSocket, metrics and `--follow` listen. */
export interface EngineEvents {
  run: [run: Run];
  task: [attempt: TaskAttempt];
  log: [line: LogLine];
  worker: [worker: WorkerInfo];
}

export class EngineEmitter extends EventEmitter<EngineEvents> {
  constructor() {
    super();
    // One listener per WebSocket subscriber: many are normal, not a leak.
    this.setMaxListeners(0);
  }
}
