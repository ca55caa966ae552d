/**
 * What SQLite and PostgreSQL spell differently. The schema (schema.ts) and the statements both
 * stores run (sql-store.ts) are written once with these hooks; everything else is the same text.
 * Parameters are `$1, $2…` in both: pg binds them by position, better-sqlite3 by name.
 */
export interface Dialect {
  readonly types: {
    text: string;
    /** Bucket names, keys and version ids: compared byte by byte, which for UTF-8 is S3's key order. */
    key: string;
    int: string;
    bigint: string;
    bool: string;
    time: string;
    json: string;
    /** An auto-numbered primary key. */
    rowId: string;
  };
  /** Boolean literals. */
  readonly true: string;
  readonly false: string;
  /**
   * A boolean column as a condition, and its negation. Queries spell them as the partial indexes
   * do: SQLite only uses a partial index whose condition the query repeats.
   */
  isTrue(column: string): string;
  isFalse(column: string): string;
  /** A text column in ORDER BY, ordered by its bytes whatever the database's locale. */
  bytewise(column: string): string;
  /**
   * Takes a lock on `$1` (a name) until the transaction ends; undefined where a write transaction
   * already excludes every other writer.
   */
  readonly lock?: string;
  /** Ends a SELECT whose rows the transaction is about to replace, so concurrent ones wait. */
  readonly forUpdate: string;
  /** Parameter values for time and boolean columns. */
  time(date: Date): Date | number;
  bool(value: boolean): boolean | number;
  isForeignKeyViolation(err: unknown): boolean;
}

const errorCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/**
 * SQLite: TEXT compares with the BINARY collation (the stored UTF-8 bytes), times are
 * milliseconds since the epoch, booleans 0/1 and JSON is TEXT. Transactions are IMMEDIATE.
 */
export const SQLITE: Dialect = {
  types: { text: 'TEXT', key: 'TEXT', int: 'INTEGER', bigint: 'INTEGER', bool: 'INTEGER', time: 'INTEGER', json: 'TEXT', rowId: 'INTEGER PRIMARY KEY' },
  true: '1',
  false: '0',
  isTrue: (column) => `${column} = 1`,
  isFalse: (column) => `${column} = 0`,
  bytewise: (column) => column,
  forUpdate: '',
  time: (date) => date.getTime(),
  bool: (value) => (value ? 1 : 0),
  isForeignKeyViolation: (err) => errorCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY',
};

/**
 * PostgreSQL: `COLLATE "C"` compares bytes, which in a UTF8 database is S3's key order whatever
 * the cluster's locale. Writers of one key serialise on a transaction-scoped advisory lock.
 */
export const POSTGRES: Dialect = {
  types: {
    text: 'text',
    key: 'text COLLATE "C"',
    int: 'integer',
    bigint: 'bigint',
    bool: 'boolean',
    time: 'timestamptz',
    json: 'jsonb',
    rowId: 'bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
  },
  true: 'true',
  false: 'false',
  isTrue: (column) => column,
  isFalse: (column) => `NOT ${column}`,
  bytewise: (column) => `${column} COLLATE "C"`,
  lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  forUpdate: ' FOR UPDATE',
  time: (date) => date,
  bool: (value) => value,
  isForeignKeyViolation: (err) => errorCode(err) === '23503',
};
