/**
 * What SQLite and PostgreSQL spell differently. The schema (schema.ts) and the statements
 * (sql-store.ts) are written once with these hooks. Parameters are `$1, $2…` in both: pg binds
 * them by position, better-sqlite3 by name (SQLite reads `$1` as the parameter named "1").
 *
 * Twin of plinth's src/meta/dialect.ts (same idea, different column set): a candidate for a
 * shared module.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  readonly types: {
    text: string;
    /** Names and ids: compared and ordered byte by byte whatever the database's locale. */
    id: string;
    int: string;
    bigint: string;
    real: string;
    time: string;
    json: string;
    bytes: string;
    /** An auto-numbered primary key, increasing in insertion order. */
    rowId: string;
  };
  /** The current time as a SQL expression of the time type (for seed rows in migrations). */
  readonly now: string;
  /**
   * Takes a lock on `$1` (a name) until the transaction ends; undefined where a write
   * transaction already excludes every other writer (SQLite's IMMEDIATE transactions).
   */
  readonly lock?: string;
  /** Ends the SELECT that picks a queue entry: rows other transactions are taking are passed over. */
  readonly skipLocked: string;
  /** A parameter value for a time column. */
  time(date: Date): Date | number;
  /** A JSON column's value as read back (the JSON text in SQLite, already parsed by pg). */
  readJson(value: unknown): unknown;
}

/** SQLite: times are milliseconds since the epoch, JSON is TEXT; transactions are IMMEDIATE. */
export const SQLITE: Dialect = {
  name: 'sqlite',
  types: { text: 'TEXT', id: 'TEXT', int: 'INTEGER', bigint: 'INTEGER', real: 'REAL', time: 'INTEGER', json: 'TEXT', bytes: 'BLOB', rowId: 'INTEGER PRIMARY KEY' },
  now: "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
  skipLocked: '',
  time: (date) => date.getTime(),
  readJson: (value) => (typeof value === 'string' ? JSON.parse(value) : null),
};

/**
 * PostgreSQL: `COLLATE "C"` orders ids by their bytes, as SQLite's BINARY collation does, so
 * both backends list in the same order. Queue claims skip rows another claimer has locked.
 */
export const POSTGRES: Dialect = {
  name: 'postgres',
  types: {
    text: 'text',
    id: 'text COLLATE "C"',
    int: 'integer',
    bigint: 'bigint',
    real: 'double precision',
    time: 'timestamptz',
    json: 'jsonb',
    bytes: 'bytea',
    rowId: 'bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
  },
  now: 'now()',
  lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  time: (date) => date,
  readJson: (value) => (value === undefined ? null : value),
};
