import { mkdirSync } from 'node:fs';
import { databaseLocation, initialized } from '@argon/common/sql';
import { PostgresDataStore } from './postgres.js';
import { SqliteDataStore } from './sqlite.js';
import type { DataStore } from './types.js';

/** The embedded database's file name under the data directory. */
export const SQLITE_FILE = 'dataplane.db';

export interface StoreOptions {
  /** The data directory: holds the SQLite database unless `database` names a server. */
  dataDir: string;
  /**
   * 'postgres://…' or 'postgresql://…'; 'sqlite:PATH' (relative to dataDir) or 'sqlite::memory:';
   * absent or empty: SQLite in `<dataDir>/dataplane.db`.
   */
  database?: string;
}

/** Opens the store and brings its schema up to date. */
export async function openStore(options: StoreOptions): Promise<DataStore> {
  return initialized(createStore(options));
}

function createStore({ dataDir, database }: StoreOptions): SqliteDataStore | PostgresDataStore {
  const location = databaseLocation(database, { dataDir, file: SQLITE_FILE, what: 'database' });
  if (location.backend === 'postgres') return new PostgresDataStore(location.url);
  // 0700: the database holds password hashes and encrypted secrets. An existing directory keeps its mode.
  if (location.file !== ':memory:') mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return new SqliteDataStore(location.file);
}
