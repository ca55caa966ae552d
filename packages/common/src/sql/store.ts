import type { Dialect } from './dialect.js';
import { query, type Connection, type Steps } from './steps.js';

/**
 * What a package's store over SQL starts from: its dialect and its connection. The package's
 * subclass holds every operation's statements, written once as steps for both backends.
 */
export abstract class SqlStore<D extends Dialect, C extends Connection = Connection> {
  constructor(
    protected readonly dialect: D,
    protected readonly db: C,
  ) {}

  /** Opens the database and brings its schema up to date. */
  abstract init(): Promise<void>;

  close(): Promise<void> {
    return this.db.close();
  }

  /** Runs the steps outside a transaction; resolves once their writes are durable. */
  protected run<T>(steps: Steps<T>): Promise<T> {
    return this.db.run(steps);
  }

  /** Runs the steps in one transaction, rolled back when they throw; resolves once it is durable. */
  protected transaction<T>(steps: Steps<T>): Promise<T> {
    return this.db.transaction(steps);
  }

  protected rows<R>(sql: string, values: unknown[] = []): Promise<R[]> {
    return this.run(query<R>(sql, values));
  }

  /** Takes the dialect's lock on `name` until the transaction ends (nothing where writers are serial anyway). */
  protected *lock(name: string): Steps<void> {
    if (this.dialect.lock !== undefined) yield* query(this.dialect.lock, [name]);
  }
}
