import Database from 'better-sqlite3';
import type { Connection, Statement, Steps } from './steps.js';
import { WalSync } from './wal-sync.js';

/**
 * An embedded database file. better-sqlite3 is synchronous, so each piece of work runs to its end
 * without interleaving with others in this process; transactions are still IMMEDIATE (they take
 * the write lock at BEGIN), so another process sharing the file (a CLI, a second server) never
 * reads what one is about to change, and a crash rolls them back. Durability: WAL,
 * synchronous=NORMAL and group commit (wal-sync.ts).
 */
export class SqliteConnection implements Connection {
  private database: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly sync = new WalSync();

  /** `file` is the database path, or ':memory:' (no WAL: nothing there outlives the process). */
  constructor(readonly file: string) {}

  /** Opens the file and runs `migrate` in a transaction, durable before this resolves. */
  async open(migrate: Steps<void>): Promise<void> {
    try {
      const db = new Database(this.file);
      this.database = db;
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Another process's write transaction: wait for it rather than fail.
      db.pragma('busy_timeout = 5000');
      this.commitNow(migrate);
      // The WAL exists from the first transaction in WAL mode on; the migration is counted in it.
      if (this.file !== ':memory:') await this.sync.open(`${this.file}-wal`);
      await this.sync.durable();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  get isOpen(): boolean {
    return this.database !== undefined;
  }

  async close(): Promise<void> {
    await this.sync.close();
    this.statements.clear();
    this.database?.close();
    this.database = undefined;
  }

  private get db(): Database.Database {
    if (this.database === undefined) throw new Error(`SQLite database ${this.file} is not open (open() not called, or close() was)`);
    return this.database;
  }

  private execute({ sql, values, script }: Statement): unknown[] {
    if (script) {
      this.db.exec(sql);
      this.sync.wrote();
      return [];
    }
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    const params = Object.fromEntries(values.map((value, i) => [i + 1, value]));
    let rows: unknown[] = [];
    if (statement.reader) rows = statement.all(params);
    else statement.run(params);
    // readonly, not reader: an INSERT/UPDATE/DELETE … RETURNING both returns rows and writes.
    if (!statement.readonly) this.sync.wrote();
    return rows;
  }

  private complete<T>(steps: Steps<T>): T {
    let step = steps.next();
    while (!step.done) step = steps.next(this.execute(step.value));
    return step.value;
  }

  async run<T>(steps: Steps<T>): Promise<T> {
    const before = this.sync.count;
    const result = this.complete(steps);
    if (this.sync.count !== before) await this.sync.durable();
    return result;
  }

  /**
   * Waits for durability even when the steps wrote nothing: what they read may be another
   * writer's change not yet synced (a delete that found the row already deleted must not answer
   * before that delete is on disk). `deferDurability`: the caller knows a later commit that
   * waits will cover this one, and that losing it alone is harmless.
   */
  async transaction<T>(steps: Steps<T>, options: { deferDurability?: boolean } = {}): Promise<T> {
    const result = this.commitNow(steps);
    if (options.deferDurability !== true) await this.sync.durable();
    return result;
  }

  /** Runs the steps in an IMMEDIATE transaction and returns without waiting for the disk. */
  commitNow<T>(steps: Steps<T>): T {
    return this.db.transaction(() => this.complete(steps)).immediate();
  }
}
