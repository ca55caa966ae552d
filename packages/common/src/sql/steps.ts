/**
 * Statements as data, so one piece of work is written once for both backends: a generator yields
 * each statement and is handed back its rows. better-sqlite3 runs it synchronously (nothing
 * interleaves, which is what makes a SQLite transaction cheap), pg awaits every statement.
 * Parameters are `$1, $2…` in both: pg binds them by position, better-sqlite3 by name (SQLite
 * reads `$1` as the parameter named "1"). Both bind undefined as NULL.
 */
export interface Statement {
  sql: string;
  values: unknown[];
  /** Several statements without parameters (a migration), which SQLite runs through exec. */
  script?: boolean;
}

export type Steps<T> = Generator<Statement, T, unknown[]>;

export function* query<R>(sql: string, values: unknown[] = []): Steps<R[]> {
  return (yield { sql, values }) as R[];
}

export function* script(sql: string): Steps<void> {
  yield { sql, values: [], script: true };
}

/** `$n, $n+1…` for each value, appended to `values` (which holds the earlier parameters). */
export function placeholders(values: unknown[], list: readonly unknown[]): string {
  return list.map((value) => `$${values.push(value)}`).join(', ');
}

/** What a store needs of its database: the same on both backends. */
export interface Connection {
  /** Runs the steps outside a transaction; resolves once their writes are durable. */
  run<T>(steps: Steps<T>): Promise<T>;
  /** Runs the steps in one transaction, rolled back when they throw; resolves once it is durable. */
  transaction<T>(steps: Steps<T>): Promise<T>;
  close(): Promise<void>;
}
