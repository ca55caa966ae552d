import pg from 'pg';
import type { LogLine } from '../types.js';
import { POSTGRES } from './dialect.js';
import { query, type Steps } from './sql.js';
import { SqlDataStore } from './sql-store.js';

/**
 * The store on PostgreSQL, for several servers sharing one database. Work outside a transaction
 * runs statement by statement on the pool; a transaction holds one pooled connection. Commits
 * are durable when COMMIT returns (synchronous_commit, the server's default).
 */
export class PostgresDataStore extends SqlDataStore {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connectionString: string) {
    super(POSTGRES);
    this.pool = new pg.Pool({ connectionString });
    // An idle connection the server drops makes the pool emit 'error'. The pool has already
    // discarded it and the next query opens a new one: nothing to do but not crash the process.
    this.pool.on('error', () => {});
  }

  init(): Promise<void> {
    return this.transaction(this.migrate());
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async complete<T>(client: pg.Pool | pg.PoolClient, steps: Steps<T>): Promise<T> {
    let step = steps.next();
    while (!step.done) step = steps.next((await client.query(step.value.sql, step.value.values)).rows);
    return step.value;
  }

  protected run<T>(steps: Steps<T>): Promise<T> {
    return this.complete(this.pool, steps);
  }

  protected async transaction<T>(steps: Steps<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await this.complete(client, steps);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      client.release(broken);
    }
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
