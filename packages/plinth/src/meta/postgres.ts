import pg from 'pg';
import { POSTGRES } from './dialect.js';
import type { Int, ObjectPartRow } from './rows.js';
import { query, SqlMetadataStore, type PartInput, type Steps } from './sql-store.js';

/**
 * The metadata store on PostgreSQL, for deployments with several gateways or an existing
 * database. Changes to a key's versions (commit, abort, deleteVersion) run in a transaction that
 * first takes a transaction-scoped advisory lock on the key, so concurrent writers of one key are
 * serialized, each sees the one before it, and exactly one version stays latest (the partial
 * unique index objects_latest would reject a second one anyway). Work outside a transaction runs
 * statement by statement on the pool.
 */
export class PostgresMetadataStore extends SqlMetadataStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connection: string | pg.PoolConfig) {
    super(POSTGRES);
    this.pool = new pg.Pool(typeof connection === 'string' ? { connectionString: connection } : connection);
    // An idle connection the server drops makes the pool emit 'error'. The pool has already
    // discarded it and the next query opens a new one: nothing to do but not crash the process.
    this.pool.on('error', () => {});
  }

  async init(): Promise<void> {
    const [row] = await this.rows<{ server_encoding: string }>('SHOW server_encoding');
    // Byte order is UTF-8 order only if the bytes are UTF-8.
    if (row?.server_encoding !== 'UTF8') throw new Error(`the metadata database must be encoded in UTF8 (it is ${row?.server_encoding})`);
    await this.transaction(this.migrate());
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async complete<T>(client: pg.Pool | pg.PoolClient, steps: Steps<T>): Promise<T> {
    let step = steps.next();
    while (!step.done) step = steps.next((await client.query(step.value.sql, step.value.values)).rows);
    return step.value;
  }

  protected run<T>(steps: Steps<T>): Promise<T> {
    return this.complete(this.pool, steps);
  }

  protected async transaction<T>(steps: Steps<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await this.complete(client, steps);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  protected *partsOf(objectIds: Int[]): Steps<ObjectPartRow[]> {
    if (objectIds.length === 0) return [];
    return yield* query<ObjectPartRow>('SELECT * FROM object_parts WHERE object_id = ANY($1::bigint[])', [objectIds]);
  }

  protected *insertParts(objectId: Int, parts: PartInput[]): Steps<void> {
    if (parts.length === 0) return;
    yield* query(
      `INSERT INTO object_parts (object_id, part_number, size, etag, blob, xxhash64, checksums)
       SELECT $1, n, size, etag, blob, xxhash64, checksums::jsonb
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS p (size, etag, blob, xxhash64, checksums, n)`,
      [
        objectId,
        parts.map((p) => p.size),
        parts.map((p) => p.etag),
        parts.map((p) => p.blob),
        parts.map((p) => p.xxhash64),
        parts.map((p) => JSON.stringify(p.checksums ?? {})),
      ],
    );
  }

  protected *unreferenced(blobs: string[]): Steps<string[]> {
    if (blobs.length === 0) return [];
    const rows = yield* query<{ blob: string }>(
      `SELECT blob FROM unnest($1::text[]) AS candidate (blob)
       WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.placement_blob = candidate.blob)
         AND NOT EXISTS (SELECT 1 FROM object_parts p WHERE p.blob = candidate.blob)
         AND NOT EXISTS (SELECT 1 FROM upload_parts u WHERE u.blob = candidate.blob)`,
      [[...new Set(blobs)]],
    );
    return rows.map((r) => r.blob);
  }
}
