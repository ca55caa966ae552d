import { mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
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
  const store = createStore(url, dataDir);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

function createStore(url: string | undefined, dataDir: string): MetadataStore {
  if (url === undefined || url === '' || url.startsWith('sqlite:')) {
    const path = (url ?? '').replace(/^sqlite:(\/\/)?/, '');
    if (path === ':memory:') return new SqliteMetadataStore(path);
    mkdirSync(dataDir, { recursive: true });
    if (path === '') return new SqliteMetadataStore(join(dataDir, SQLITE_FILE));
    return new SqliteMetadataStore(isAbsolute(path) ? path : join(dataDir, path));
  }
  if (/^postgres(ql)?:\/\//.test(url)) return new PostgresMetadataStore(url);
  // Only the scheme: the rest of a URL may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(no scheme)';
  throw new Error(`unsupported metadata URL scheme ${scheme}: use sqlite:[PATH] or postgres://…`);
}
