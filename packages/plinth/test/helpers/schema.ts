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

/**
 * Turns a closed store back into what a Plinth of schema version 1 left (before multipart
 * checksums): the columns migration 2 adds are dropped and the version set to 1, so opening it
 * again runs that migration on existing rows as an upgrade in the field would.
 */
export function downgradeToSchema1(env: MetadataTestEnv): Promise<void> {
  return execOnStore(
    env,
    `ALTER TABLE multipart_uploads DROP COLUMN checksum_algorithm;
     ALTER TABLE multipart_uploads DROP COLUMN checksum_type;
     ALTER TABLE upload_parts DROP COLUMN checksums;
     ALTER TABLE object_parts DROP COLUMN checksums;
     UPDATE plinth_schema SET version = 1;`,
  );
}
