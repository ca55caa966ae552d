import { POSTGRES as BASE_POSTGRES, SQLITE as BASE_SQLITE, type Dialect as BaseDialect } from '@argon/common/sql';

/**
 * What SQLite and PostgreSQL spell differently for Dataplane's schema (schema.ts) and statements
 * (sql-store.ts), on top of what every store needs (@argon/common/sql).
 */
export interface Dialect extends BaseDialect {
  readonly types: BaseDialect['types'] & {
    /** Names and ids: compared and ordered byte by byte whatever the database's locale. */
    id: string;
    real: string;
    bytes: string;
  };
  /** The current time as a SQL expression of the time type (for seed rows in migrations). */
  readonly now: string;
  /** Ends the SELECT that picks a queue entry: rows other transactions are taking are passed over. */
  readonly skipLocked: string;
  /** A JSON column's value as read back (the JSON text in SQLite, already parsed by pg). */
  readJson(value: unknown): unknown;
}

/** SQLite: ids compare with the BINARY collation (their bytes); one writer at a time, so nothing to skip. */
export const SQLITE: Dialect = {
  ...BASE_SQLITE,
  types: { ...BASE_SQLITE.types, id: 'TEXT', real: 'REAL', bytes: 'BLOB' },
  now: "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
  skipLocked: '',
  readJson: (value) => (typeof value === 'string' ? JSON.parse(value) : null),
};

/**
 * PostgreSQL: `COLLATE "C"` orders ids by their bytes, as SQLite's BINARY collation does, so
 * both backends list in the same order. Queue claims skip rows another claimer has locked.
 */
export const POSTGRES: Dialect = {
  ...BASE_POSTGRES,
  types: { ...BASE_POSTGRES.types, id: 'text COLLATE "C"', real: 'double precision', bytes: 'bytea' },
  now: 'now()',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  readJson: (value) => (value === undefined ? null : value),
};
