import { mkdirSync } from 'node:fs';
import { databaseLocation, initialized } from '@argon/common/sql';
import { PostgresMetadataStore } from './postgres.js';
import { SqliteMetadataStore } from './sqlite.js';
import type { MetadataStore } from './types.js';

/** The embedded database's file name under the data directory. */
export const SQLITE_FILE = 'metadata.sqlite';

/**
 * Opens (and migrates) the metadata store a URL names:
 * - undefined, '' or 'sqlite:' → SQLite in `<dataDir>/metadata.sqlite`;
 * - 'sqlite:PATH' (or 'sqlite://PATH') → SQLite at PATH, relative to dataDir; 'sqlite::memory:' → in memory;
 * - 'postgres://…' or 'postgresql://…' → PostgreSQL (a UTF8 database; the schema is created if absent).
 */
export async function openMetadata(url: string | undefined, dataDir: string): Promise<MetadataStore> {
  return initialized(createStore(url, dataDir));
}

function createStore(url: string | undefined, dataDir: string): MetadataStore {
  const location = databaseLocation(url, { dataDir, file: SQLITE_FILE, what: 'metadata' });
  if (location.backend === 'postgres') return new PostgresMetadataStore(location.url);
  if (location.file !== ':memory:') mkdirSync(dataDir, { recursive: true });
  return new SqliteMetadataStore(location.file);
}
