/**
 * Statements as data, so one piece of work is written once for both backends: a generator yields
 * each statement and is handed back its rows. better-sqlite3 runs it synchronously (nothing
 * interleaves, which is what makes a SQLite transaction cheap), pg awaits every statement.
 *
 * Twin of the Statement/Steps/query part of plinth's src/meta/sql-store.ts: a candidate for a
 * shared module.
 */
export interface Statement {
  sql: string;
  values: unknown[];
  /** Several statements without parameters (a migration), which SQLite runs through exec. */
  script?: boolean;
}

export type Steps<T> = Generator<Statement, T, unknown[]>;

export function* query<R>(sql: string, values: unknown[] = []): Steps<R[]> {
  return (yield { sql, values: values.map((v) => (v === undefined ? null : v)) }) as R[];
}

export function* script(sql: string): Steps<void> {
  yield { sql, values: [], script: true };
}

/** `$n, $n+1…` for each value, appended to `values` (which holds the earlier parameters). */
export function placeholders(values: unknown[], list: readonly unknown[]): string {
  return list.map((value) => `$${values.push(value)}`).join(', ');
}
