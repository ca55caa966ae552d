/**
 * What SQLite and PostgreSQL spell differently, as far as every store on them needs it. A
 * package's schema and statements are written once with these hooks; a package extends the
 * interface with its own (spreading SQLITE and POSTGRES into its constants).
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  readonly types: {
    text: string;
    int: string;
    bigint: string;
    time: string;
    json: string;
    /** An auto-numbered primary key, increasing in insertion order. */
    rowId: string;
  };
  /**
   * Takes a lock on `$1` (a name) until the transaction ends; undefined where a write
   * transaction already excludes every other writer (SQLite's IMMEDIATE transactions).
   */
  readonly lock?: string;
  /** A parameter value for a time column. */
  time(date: Date): Date | number;
}

/** SQLite: times are milliseconds since the epoch, JSON is TEXT; transactions are IMMEDIATE. */
export const SQLITE = {
  name: 'sqlite',
  types: { text: 'TEXT', int: 'INTEGER', bigint: 'INTEGER', time: 'INTEGER', json: 'TEXT', rowId: 'INTEGER PRIMARY KEY' },
  time: (date: Date): Date | number => date.getTime(),
} as const satisfies Dialect;

/** PostgreSQL: writers of one name serialise on a transaction-scoped advisory lock. */
export const POSTGRES = {
  name: 'postgres',
  types: { text: 'text', int: 'integer', bigint: 'bigint', time: 'timestamptz', json: 'jsonb', rowId: 'bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY' },
  lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  time: (date: Date): Date | number => date,
} as const satisfies Dialect;
