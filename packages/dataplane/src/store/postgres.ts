import { PostgresConnection, query, type Steps } from '@argon/common/sql';
import type { LogLine } from '../types.js';
import { POSTGRES } from './dialect.js';
import { SqlDataStore } from './sql-store.js';

/** The store on PostgreSQL (the shared connection of @argon/common/sql), for several servers sharing one database. */
export class PostgresDataStore extends SqlDataStore<PostgresConnection> {
  readonly backend = 'postgres' as const;

  constructor(connectionString: string) {
    super(POSTGRES, new PostgresConnection(connectionString));
  }

  init(): Promise<void> {
    return this.transaction(this.migrate());
  }

  /** The whole batch in one statement (one round trip), as arrays unnested into rows. */
  protected *insertLogs(lines: LogLine[]): Steps<void> {
    yield* query(
      `INSERT INTO logs (run_id, task_id, attempt, seq, stream, at, text)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::timestamptz[], $7::text[])
       ON CONFLICT DO NOTHING`,
      [
        lines.map((l) => l.runId),
        lines.map((l) => l.taskId),
        lines.map((l) => l.attempt),
        lines.map((l) => l.seq),
        lines.map((l) => l.stream),
        lines.map((l) => l.at),
        lines.map((l) => l.text),
      ],
    );
  }
}
