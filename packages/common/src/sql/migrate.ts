import type { Dialect } from './dialect.js';
import { query, script, type Steps } from './steps.js';

/** Where a package records its schema version: each keeps the table its databases already have. */
export interface SchemaHistory {
  /** `CREATE TABLE IF NOT EXISTS …` for the table. */
  create: string;
  /** The version the database is at; 0 for a new one. */
  version(): Steps<number>;
  /** Records that the step taking the database to `version` has run (in the same transaction). */
  applied(version: number): Steps<void>;
}

export interface Schema {
  /** For the error that asks for an upgrade: "metadata schema version 5 is newer than this Plinth supports". */
  what: string;
  product: string;
  /** The name of the lock migrations take (PostgreSQL), so servers starting together wait in turn. */
  lock: string;
  history: SchemaHistory;
  /** Entry i takes a database from version i to i + 1: releases append, never edit. */
  steps: readonly string[];
}

/**
 * Brings the schema to the latest version, in the caller's transaction; refuses a database a
 * newer release has migrated, whose rows this one may misread.
 */
export function* migrate(dialect: Dialect, schema: Schema): Steps<void> {
  if (dialect.lock !== undefined) yield* query(dialect.lock, [schema.lock]);
  yield* query(schema.history.create);
  const from = yield* schema.history.version();
  const latest = schema.steps.length;
  if (from > latest) throw new Error(`${schema.what} schema version ${from} is newer than this ${schema.product} supports (${latest}): upgrade ${schema.product}`);
  for (let version = from; version < latest; version++) {
    yield* script(schema.steps[version]!);
    yield* schema.history.applied(version + 1);
  }
}
