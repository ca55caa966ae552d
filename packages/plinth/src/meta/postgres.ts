import { PostgresConnection, query, type Steps } from '@argon/common/sql';
import type { PoolConfig } from 'pg';
import { POSTGRES } from './dialect.js';
import type { Int, ObjectPartRow } from './rows.js';
import { SqlMetadataStore, type PartInput } from './sql-store.js';

/**
 * The metadata store on PostgreSQL, for deployments with several gateways or an existing
 * database. Changes to a key's versions (commit, abort, deleteVersion) run in a transaction that
 * first takes a transaction-scoped advisory lock on the key, so concurrent writers of one key are
 * serialized, each sees the one before it, and exactly one version stays latest (the partial
 * unique index objects_latest would reject a second one anyway).
 */
export class PostgresMetadataStore extends SqlMetadataStore<PostgresConnection> {
  readonly kind = 'postgres' as const;

  constructor(connection: string | PoolConfig) {
    super(POSTGRES, new PostgresConnection(connection));
  }

  async init(): Promise<void> {
    const [row] = await this.rows<{ server_encoding: string }>('SHOW server_encoding');
    // Byte order is UTF-8 order only if the bytes are UTF-8.
    if (row?.server_encoding !== 'UTF8') throw new Error(`the metadata database must be encoded in UTF8 (it is ${row?.server_encoding})`);
    await this.transaction(this.migrate());
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
