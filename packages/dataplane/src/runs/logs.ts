import type { DataStore } from '../store/types.js';
import type { LogLine } from '../types.js';

/**
 * Log lines reach subscribers at once and the store in batches: every line of a busy second
 * becomes one insert, written off the dispatch path (a task's end never waits for its logs).
 * `flush()` is what readers await so that what they read includes everything received.
 */
export class LogWriter {
  private buffer: LogLine[] = [];
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(
    private readonly store: DataStore,
    private readonly onError: (err: unknown) => void,
  ) {}

  append(lines: LogLine[]): void {
    for (const line of lines) this.buffer.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: lines arriving in the same I/O phase join one insert.
    setImmediate(() => this.write());
  }

  flush(): Promise<void> {
    this.write();
    return this.chain;
  }

  private write(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const lines = this.buffer;
    this.buffer = [];
    this.chain = this.chain.then(() => this.store.appendLogs(lines)).catch(this.onError);
  }
}
