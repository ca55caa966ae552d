import { POSTGRES as BASE_POSTGRES, SQLITE as BASE_SQLITE, type Dialect as BaseDialect } from '@argon/common/sql';

/**
 * What SQLite and PostgreSQL spell differently for Plinth's schema (schema.ts) and statements
 * (sql-store.ts), on top of what every store needs (@argon/common/sql).
 */
export interface Dialect extends BaseDialect {
  readonly types: BaseDialect['types'] & {
    /** Bucket names, keys and version ids: compared byte by byte, which for UTF-8 is S3's key order. */
    key: string;
    bool: string;
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
  /** Ends a SELECT whose rows the transaction is about to replace, so concurrent ones wait. */
  readonly forUpdate: string;
  /** A parameter value for a boolean column. */
  bool(value: boolean): boolean | number;
  isForeignKeyViolation(err: unknown): boolean;
}

const errorCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/** SQLite: TEXT compares with the BINARY collation (the stored UTF-8 bytes), booleans are 0/1. */
export const SQLITE: Dialect = {
  ...BASE_SQLITE,
  types: { ...BASE_SQLITE.types, key: 'TEXT', bool: 'INTEGER' },
  true: '1',
  false: '0',
  isTrue: (column) => `${column} = 1`,
  isFalse: (column) => `${column} = 0`,
  bytewise: (column) => column,
  forUpdate: '',
  bool: (value) => (value ? 1 : 0),
  isForeignKeyViolation: (err) => errorCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY',
};

/**
 * PostgreSQL: `COLLATE "C"` compares bytes, which in a UTF8 database is S3's key order whatever
 * the cluster's locale. Writers of one key serialise on the advisory lock.
 */
export const POSTGRES: Dialect = {
  ...BASE_POSTGRES,
  types: { ...BASE_POSTGRES.types, key: 'text COLLATE "C"', bool: 'boolean' },
  true: 'true',
  false: 'false',
  isTrue: (column) => column,
  isFalse: (column) => `NOT ${column}`,
  bytewise: (column) => `${column} COLLATE "C"`,
  forUpdate: ' FOR UPDATE',
  bool: (value) => value,
  isForeignKeyViolation: (err) => errorCode(err) === '23503',
};
