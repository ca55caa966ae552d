import { open, type FileHandle } from 'node:fs/promises';

/**
 * Group commit for SQLite in WAL mode with synchronous=NORMAL: a commit only write()s its frames
 * to the WAL, and a writer then awaits an fdatasync of the WAL file, run in the thread pool,
 * before it resolves. Concurrent writers share one fsync: each waits for the first fsync that
 * started after its commit. That is what synchronous=FULL guarantees (FULL is NORMAL plus an
 * fsync of the WAL at every commit) without the event loop standing still for each commit. A
 * checkpoint cannot undo it: under NORMAL, SQLite syncs the WAL before copying frames into the
 * database, and the WAL file (the inode our handle syncs) is only removed when the last
 * connection closes, which ours is not while the store is open.
 */
export class WalSync {
  /** Changes committed so far, and how many of them an fsync has covered. */
  private written = 0;
  private synced = 0;
  /** The fsync in flight, if any. */
  private syncing: Promise<void> | undefined;
  private wal: FileHandle | undefined;

  /** Starts syncing `walPath` (it exists once the connection has run a transaction in WAL mode). */
  async open(walPath: string): Promise<void> {
    this.wal = await open(walPath, 'r');
  }

  /** Counts a committed (or autocommitted) change. */
  wrote(): void {
    this.written++;
  }

  get count(): number {
    return this.written;
  }

  /** Resolves once an fsync that started after every change counted so far has finished. */
  async durable(): Promise<void> {
    const target = this.written;
    while (this.wal !== undefined && this.synced < target) {
      this.syncing ??= this.syncNow(this.wal);
      await this.syncing;
    }
  }

  private syncNow(wal: FileHandle): Promise<void> {
    const covers = this.written;
    return wal
      .datasync()
      .then(() => {
        this.synced = Math.max(this.synced, covers);
      })
      .finally(() => {
        this.syncing = undefined;
      });
  }

  async close(): Promise<void> {
    await this.syncing?.catch(() => undefined);
    await this.wal?.close();
    this.wal = undefined;
  }
}
