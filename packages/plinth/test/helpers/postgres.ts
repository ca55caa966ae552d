/**
 * Metadata backends for Plinth's tests: every suite that touches metadata runs once per backend,
 * SQLite and PostgreSQL, so both implementations keep passing the same cases.
 *
 *   import { after, before, describe, it } from 'node:test';
 *   import { metadataBackends, stopTestPostgres, type MetadataTestEnv } from './helpers/postgres.js';
 *
 *   after(stopTestPostgres); // top level: stops the throwaway cluster once the file is done
 *   for (const backend of metadataBackends()) {
 *     describe(`gateway (${backend.name})`, () => {
 *       let env: MetadataTestEnv;
 *       before(async () => (env = await backend.open()));
 *       after(() => env.cleanup());
 *       it('…', async () => {
 *         const meta = await openMetadata(env.url, env.dataDir); // or give env.url to the server
 *       });
 *     });
 *   }
 *
 * The throwaway PostgreSQL cluster lives in the workspace's @argon/testing (shared with
 * Dataplane's tests): $PLINTH_TEST_POSTGRES_URL names an existing server instead,
 * PLINTH_SKIP_POSTGRES=1 leaves the PostgreSQL backend out, and each `open()` gives a fresh data
 * directory and database (`plinth_test_<random>`) that `cleanup()` removes.
 */
import { sqlBackends, type SqlBackend, type SqlTestEnv } from '@argon/testing';

export { stopTestPostgres } from '@argon/testing';

/** `url` is for openMetadata() or the server's metadata setting: undefined means SQLite under dataDir. */
export type MetadataTestEnv = SqlTestEnv;
export type MetadataBackend = SqlBackend;

export function metadataBackends(): MetadataBackend[] {
  return sqlBackends('plinth');
}
