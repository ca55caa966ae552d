import { query, SqliteConnection, type Steps } from '@argon/common/sql';
import type { LogLine } from '../types.js';
import { SQLITE } from './dialect.js';
import { SqlDataStore } from './sql-store.js';

/**
 * The embedded store, on the shared SQLite connection (@argon/common/sql). Its IMMEDIATE
 * transactions take the database's write lock at BEGIN, so another process sharing the file (a
 * CLI, a second server) never reads what a transaction is about to change: that is what makes
 * claimTask atomic here. Every write resolves after an fsync of the WAL that covers it.
 */
export class SqliteDataStore extends SqlDataStore<SqliteConnection> {
  readonly backend = 'sqlite' as const;

  constructor(file: string) {
    super(SQLITE, new SqliteConnection(file));
  }

  init(): Promise<void> {
    return this.db.open(this.migrate());
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
