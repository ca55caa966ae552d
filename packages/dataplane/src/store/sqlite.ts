import Database from 'better-sqlite3';
import type { LogLine } from '../types.js';
import { SQLITE } from './dialect.js';
import { query, type Statement, type Steps } from './sql.js';
import { SqlDataStore } from './sql-store.js';
import { WalSync } from './wal-sync.js';

/**
 * The embedded store. better-sqlite3 is synchronous, so each piece of work runs to its end
 * without interleaving with others in this process; writes still run in IMMEDIATE transactions,
 * which take the database's write lock at BEGIN, so another process sharing the file (a CLI, a
 * second server) never reads what a transaction is about to change. That is what makes
 * claimTask atomic here. Durability: WAL, synchronous=NORMAL and group commit (wal-sync.ts).
 */
export class SqliteDataStore extends SqlDataStore {
  readonly backend = 'sqlite' as const;
  private database: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly sync = new WalSync();

  constructor(private readonly file: string) {
    super(SQLITE);
  }

  async init(): Promise<void> {
    try {
      const db = new Database(this.file);
      this.database = db;
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Another process's write transaction: wait for it rather than fail.
      db.pragma('busy_timeout = 5000');
      this.db.transaction(() => this.complete(this.migrate())).immediate();
      await this.sync.open(`${this.file}-wal`);
      this.sync.wrote(); // the migration, which ran before the WAL could be synced
      await this.sync.durable();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.sync.close();
    this.statements.clear();
    this.database?.close();
    this.database = undefined;
  }

  private get db(): Database.Database {
    if (this.database === undefined) throw new Error('SqliteDataStore: not open (init() not called, or close() was)');
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
    // readonly, not reader: an UPDATE … RETURNING both reads and writes.
    if (!statement.readonly) this.sync.wrote();
    if (statement.reader) return statement.all(params);
    statement.run(params);
    return [];
  }

  private complete<T>(steps: Steps<T>): T {
    let step = steps.next();
    while (!step.done) step = steps.next(this.execute(step.value));
    return step.value;
  }

  protected async run<T>(steps: Steps<T>): Promise<T> {
    const before = this.sync.count;
    const result = this.complete(steps);
    if (this.sync.count !== before) await this.sync.durable();
    return result;
  }

  protected async transaction<T>(steps: Steps<T>): Promise<T> {
    const before = this.sync.count;
    const result = this.db.transaction(() => this.complete(steps)).immediate();
    if (this.sync.count !== before) await this.sync.durable();
    return result;
  }

  /** One prepared statement run per line, inside the caller's transaction (appendLogs). */
  protected *insertLogs(lines: LogLine[]): Steps<void> {
    for (const l of lines) {
      yield* query('INSERT INTO logs (run_id, task_id, attempt, seq, stream, at, text) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING', [
        l.runId, l.taskId, l.attempt, l.seq, l.stream, l.at.getTime(), l.text,
      ]);
    }
  }
}
