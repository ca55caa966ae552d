/** Hand-written types of postgres.js (no build step: see ../README.md). */

export interface SqlTestEnv {
  /** A PostgreSQL URL (a fresh database), or undefined for SQLite under dataDir. */
  url: string | undefined;
  /** A fresh temporary directory, removed by cleanup(). */
  dataDir: string;
  /** Drops the database (PostgreSQL) and removes dataDir. */
  cleanup(): Promise<void>;
}

export interface SqlBackend {
  name: 'sqlite' | 'postgres';
  open(): Promise<SqlTestEnv>;
}

/**
 * SQLite, then PostgreSQL unless $<PROJECT>_SKIP_POSTGRES is '1'. `project` (lower case) names
 * the environment variables (<PROJECT>_TEST_POSTGRES_URL, <PROJECT>_SKIP_POSTGRES), the test
 * databases (<project>_test_<random>) and the temporary directories.
 */
export function sqlBackends(project: string): SqlBackend[];

/** Stops the throwaway cluster, if this process started one. */
export function stopTestPostgres(): Promise<void>;
