import { isAbsolute, join } from 'node:path';

export type DatabaseLocation = { backend: 'sqlite'; file: string } | { backend: 'postgres'; url: string };

export interface LocationDefaults {
  /** Relative SQLite paths are under it, and the default file. */
  dataDir: string;
  /** The SQLite file's name in dataDir when the URL names none. */
  file: string;
  /** For the error about an unknown scheme ('metadata'). */
  what: string;
}

/**
 * Where a database URL points:
 * - undefined, '' or 'sqlite:' → SQLite in `<dataDir>/<file>`;
 * - 'sqlite:PATH' (or 'sqlite://PATH') → SQLite at PATH, relative to dataDir; 'sqlite::memory:' → in memory;
 * - 'postgres://…' or 'postgresql://…' → PostgreSQL.
 */
export function databaseLocation(url: string | undefined, defaults: LocationDefaults): DatabaseLocation {
  if (url === undefined || url === '' || url.startsWith('sqlite:')) {
    const path = (url ?? '').replace(/^sqlite:(\/\/)?/, '');
    if (path === ':memory:') return { backend: 'sqlite', file: path };
    return { backend: 'sqlite', file: path === '' ? join(defaults.dataDir, defaults.file) : isAbsolute(path) ? path : join(defaults.dataDir, path) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { backend: 'postgres', url };
  // Only the scheme: the rest of a URL may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(no scheme)';
  throw new Error(`unsupported ${defaults.what} URL scheme ${scheme}: use sqlite:[PATH] or postgres://… (or none, for SQLite in the data directory)`);
}

/** Initialises (opens and migrates) a store; closes what it opened when that fails. */
export async function initialized<S extends { init(): Promise<void>; close(): Promise<void> }>(store: S): Promise<S> {
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}
