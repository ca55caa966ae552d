import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SQLITE_FILE } from '../../src/meta/open.js';
import type { MetadataTestEnv } from './postgres.js';

/** Direct access to a test store's database, behind the metadata contract's back. */

/** Runs SQL statements (no parameters) on the store's database, SQLite or PostgreSQL. */
export async function execOnStore(env: MetadataTestEnv, sql: string): Promise<void> {
  if (env.url === undefined) {
    const db = new Database(join(env.dataDir, SQLITE_FILE));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: env.url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** What undoes each migration after the first: UNDO[v] takes a database from version v + 1 back to v. */
const UNDO: Record<number, string> = {
  // Multipart checksums.
  1: `ALTER TABLE multipart_uploads DROP COLUMN checksum_algorithm;
      ALTER TABLE multipart_uploads DROP COLUMN checksum_type;
      ALTER TABLE upload_parts DROP COLUMN checksums;
      ALTER TABLE object_parts DROP COLUMN checksums;`,
  // Completed uploads.
  2: 'DROP TABLE completed_uploads;',
};

/**
 * Turns a closed store of the current schema back into what a Plinth of schema `version` left:
 * what the later migrations added is dropped and the version set, so opening it again runs those
 * migrations on existing rows as an upgrade in the field would.
 */
export function downgradeToSchema(env: MetadataTestEnv, version: number): Promise<void> {
  const undo = Object.entries(UNDO)
    .filter(([from]) => Number(from) >= version)
    .sort(([a], [b]) => Number(b) - Number(a))
    .map(([, sql]) => sql);
  return execOnStore(env, `${undo.join('\n')}\nUPDATE plinth_schema SET version = ${Number(version)};`);
}
