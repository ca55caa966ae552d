import { Long, type Document } from 'bson';
import { ArgonError } from '../errors.js';
import { cursorBatchEntrySize } from '../wire/cursor-reply.js';

/** What getMore resumes: the rest of a result as stored BSON buffers, produced lazily. */
export interface OpenCursor {
  id: Long;
  ns: string;
  source: Iterator<Buffer>;
  /** A value pulled from `source` that did not fit in the previous batch. */
  pending?: Buffer;
  lastUsed: number;
  connectionId: number;
}

/**
 * A cursor that makes its own batches and may wait for them (a change stream's awaitData getMore)
 * instead of draining a fixed result.
 */
export interface AwaitableCursor {
  /** The next batch, waiting up to `maxTimeMS` for one; `done` means the cursor is finished. */
  next(batchSize: number | undefined, maxTimeMS: number | undefined): Promise<AwaitedBatch>;
  /** Killed or reaped: stop waiting and release what it holds. */
  close(): void;
}

export interface AwaitedBatch {
  docs: Document[];
  /** Extra fields of the reply's cursor document (postBatchResumeToken). */
  fields: Document;
  done: boolean;
}

interface AwaitableEntry {
  id: Long;
  ns: string;
  cursor: AwaitableCursor;
  lastUsed: number;
}

/** MongoDB's default: idle cursors die after 10 minutes. */
export const CURSOR_TIMEOUT_MS = 10 * 60 * 1000;
/**
 * Bytes of documents a batch may hold: mongod fills a batch up to 16 MiB and never beyond, so the
 * whole reply (envelope included) stays within the 16 MiB + 16 KiB a reply may take.
 */
const BATCH_BYTE_LIMIT = 16 * 1024 * 1024;
const DEFAULT_FIRST_BATCH = 101;

export class CursorManager {
  private readonly cursors = new Map<string, OpenCursor>();
  private readonly awaitables = new Map<string, AwaitableEntry>();
  private nextId = BigInt(Date.now()) * 1000n;
  private readonly reaper: NodeJS.Timeout;

  constructor(private readonly timeoutMs = CURSOR_TIMEOUT_MS) {
    this.reaper = setInterval(() => this.reap(), Math.min(60_000, timeoutMs)).unref();
  }

  /**
   * Takes the first batch from `source`; if more remains, keeps a cursor and returns its id
   * (0 when the result is exhausted).
   */
  open(ns: string, source: Iterator<Buffer>, batchSize: number | undefined, connectionId: number, singleBatch = false): { id: Long; batch: Buffer[] } {
    const cursor: OpenCursor = { id: Long.ZERO, ns, source, lastUsed: Date.now(), connectionId };
    const batch = this.fill(cursor, batchSize ?? DEFAULT_FIRST_BATCH);
    if (singleBatch || !this.hasMore(cursor)) return { id: Long.ZERO, batch };
    cursor.id = Long.fromBigInt(this.nextId++);
    this.cursors.set(cursor.id.toString(), cursor);
    return { id: cursor.id, batch };
  }

  getMore(id: Long, ns: string, batchSize: number | undefined): { id: Long; batch: Buffer[] } {
    const cursor = this.cursors.get(id.toString());
    if (!cursor) throw new ArgonError('CursorNotFound', `cursor id ${id.toString()} not found`);
    if (cursor.ns !== ns) {
      throw new ArgonError('Unauthorized', `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${cursor.ns}`);
    }
    cursor.lastUsed = Date.now();
    const batch = this.fill(cursor, batchSize ?? Infinity);
    if (!this.hasMore(cursor)) {
      this.cursors.delete(id.toString());
      return { id: Long.ZERO, batch };
    }
    return { id: cursor.id, batch };
  }

  /** Keeps an awaitable cursor under a new id (never 0: it stays open until killed or done). */
  openAwaitable(ns: string, cursor: AwaitableCursor): Long {
    const id = Long.fromBigInt(this.nextId++);
    this.awaitables.set(id.toString(), { id, ns, cursor, lastUsed: Date.now() });
    return id;
  }

  /** getMore on an awaitable cursor; undefined when `id` names none (an ordinary or unknown cursor). */
  awaitMore(id: Long, ns: string, batchSize: number | undefined, maxTimeMS: number | undefined): Promise<AwaitedBatch & { id: Long }> | undefined {
    const entry = this.awaitables.get(id.toString());
    if (!entry) return undefined;
    if (entry.ns !== ns) {
      throw new ArgonError('Unauthorized', `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${entry.ns}`);
    }
    entry.lastUsed = Date.now();
    return entry.cursor.next(batchSize, maxTimeMS).then((batch) => {
      entry.lastUsed = Date.now();
      if (!batch.done) return { ...batch, id: entry.id };
      this.awaitables.delete(id.toString());
      return { ...batch, id: Long.ZERO };
    });
  }

  /** Returns the ids that were killed and those that were not found. */
  kill(ids: Long[]): { killed: Long[]; notFound: Long[] } {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) {
      const cursor = this.cursors.get(id.toString());
      const awaitable = this.awaitables.get(id.toString());
      if (awaitable) {
        awaitable.cursor.close();
        this.awaitables.delete(id.toString());
        killed.push(id);
      } else if (cursor) {
        cursor.source.return?.();
        this.cursors.delete(id.toString());
        killed.push(id);
      } else {
        notFound.push(id);
      }
    }
    return { killed, notFound };
  }

  get size(): number {
    return this.cursors.size + this.awaitables.size;
  }

  close(): void {
    clearInterval(this.reaper);
    this.kill([...this.cursors.values(), ...this.awaitables.values()].map((c) => c.id));
  }

  private fill(cursor: OpenCursor, batchSize: number): Buffer[] {
    const batch: Buffer[] = [];
    let bytes = 0;
    const limit = batchSize <= 0 ? Infinity : batchSize;
    while (batch.length < limit) {
      const next = cursor.pending ?? this.pull(cursor);
      cursor.pending = undefined;
      if (next === undefined) break;
      const size = cursorBatchEntrySize(batch.length, next.length);
      if (batch.length > 0 && bytes + size > BATCH_BYTE_LIMIT) {
        cursor.pending = next;
        break;
      }
      batch.push(next);
      bytes += size;
    }
    return batch;
  }

  private hasMore(cursor: OpenCursor): boolean {
    if (cursor.pending) return true;
    const next = this.pull(cursor);
    if (next === undefined) return false;
    cursor.pending = next;
    return true;
  }

  private pull(cursor: OpenCursor): Buffer | undefined {
    const r = cursor.source.next();
    return r.done ? undefined : r.value;
  }

  private reap(): void {
    const cutoff = Date.now() - this.timeoutMs;
    for (const cursor of [...this.cursors.values(), ...this.awaitables.values()]) if (cursor.lastUsed < cutoff) this.kill([cursor.id]);
  }
}
