import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresDataStore } from './postgres.js';
import { SqliteDataStore } from './sqlite.js';
import type { DataStore } from './types.js';

/** The embedded database's file name under the data directory. */
export const SQLITE_FILE = 'dataplane.db';

export interface StoreOptions {
  /** The data directory: holds the SQLite database unless `database` names a server. */
  dataDir: string;
  /** 'postgres://…' or 'postgresql://…'; absent or empty: SQLite in `<dataDir>/dataplane.db`. */
  database?: string;
}

/** Opens the store and brings its schema up to date. */
export async function openStore(options: StoreOptions): Promise<DataStore> {
  const store = createStore(options);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

function createStore({ dataDir, database }: StoreOptions): SqliteDataStore | PostgresDataStore {
  if (database === undefined || database === '') {
    // 0700: the database holds password hashes and encrypted secrets. An existing directory keeps its mode.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return new SqliteDataStore(join(dataDir, SQLITE_FILE));
  }
  if (/^postgres(ql)?:\/\//.test(database)) return new PostgresDataStore(database);
  // Only the scheme: the rest of a URL may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(database)?.[0] ?? '(no scheme)';
  throw new Error(`unsupported database URL scheme ${scheme}: use postgres://… (or none, for SQLite in the data directory)`);
}
