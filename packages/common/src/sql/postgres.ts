import pg from 'pg';
import type { Connection, Steps } from './steps.js';

/**
 * A PostgreSQL database through a pool. Work outside a transaction runs statement by statement
 * on the pool; a transaction holds one pooled connection. Commits are durable when COMMIT
 * returns (synchronous_commit, the server's default).
 */
export class PostgresConnection implements Connection {
  private readonly pool: pg.Pool;

  constructor(connection: string | pg.PoolConfig) {
    this.pool = new pg.Pool(typeof connection === 'string' ? { connectionString: connection } : connection);
    // An idle connection the server drops makes the pool emit 'error'. The pool has already
    // discarded it and the next query opens a new one: nothing to do but not crash the process.
    this.pool.on('error', () => {});
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async complete<T>(client: pg.Pool | pg.PoolClient, steps: Steps<T>): Promise<T> {
    let step = steps.next();
    while (!step.done) step = steps.next((await client.query(step.value.sql, step.value.values)).rows);
    return step.value;
  }

  run<T>(steps: Steps<T>): Promise<T> {
    return this.complete(this.pool, steps);
  }

  async transaction<T>(steps: Steps<T>): Promise<T> {
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
}
