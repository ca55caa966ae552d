import pg from 'pg';
import { walkListing, prefixEnd, type ListCursor } from './listing.js';
import {
  blobsOf,
  costColumns,
  OBJECT_COLUMNS,
  optionalColumns,
  STANDARD_TIER,
  toBucket,
  toCost,
  toNodeHealth,
  toUpload,
  toUploadPart,
  toUser,
  toVersion,
  type BucketRow,
  type CostDelta,
  type CostRow,
  type NodeHealthRow,
  type ObjectPartRow,
  type ObjectRow,
  type UploadPartRow,
  type UploadRow,
  type UserRow,
} from './rows.js';
import { POSTGRES_MIGRATIONS } from './schema-postgres.js';
import type {
  Bucket,
  CommittedContent,
  CostRecord,
  ListObjectsPage,
  ListObjectsQuery,
  ListVersionsQuery,
  MetadataStore,
  MultipartUpload,
  NodeHealth,
  ObjectVersion,
  UploadPart,
  User,
} from './types.js';

type Queryable = pg.Pool | pg.PoolClient;
type PartInput = { size: number; etag: string; blob: string; xxhash64: string };

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * The metadata store on PostgreSQL, for deployments with several gateways or an existing
 * database. Changes to a key's versions (commit, abort, deleteVersion) run in a transaction that
 * first takes a transaction-scoped advisory lock on the key, so concurrent writers of one key are
 * serialized, each sees the one before it, and exactly one version stays latest (the partial
 * unique index objects_latest would reject a second one anyway).
 */
export class PostgresMetadataStore implements MetadataStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connection: string | pg.PoolConfig) {
    this.pool = new pg.Pool(typeof connection === 'string' ? { connectionString: connection } : connection);
    // An idle connection the server drops makes the pool emit 'error'. The pool has already
    // discarded it and the next query opens a new one: nothing to do but not crash the process.
    this.pool.on('error', () => {});
  }

  async init(): Promise<void> {
    const { rows } = await this.pool.query<{ server_encoding: string }>('SHOW server_encoding');
    // Byte order is UTF-8 order only if the bytes are UTF-8.
    if (rows[0]?.server_encoding !== 'UTF8') {
      throw new Error(`the metadata database must be encoded in UTF8 (it is ${rows[0]?.server_encoding})`);
    }
    await this.transaction(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtextextended('plinth_schema', 0))");
      await c.query('CREATE TABLE IF NOT EXISTS plinth_schema (version integer NOT NULL)');
      const current = await c.query<{ version: number }>('SELECT version FROM plinth_schema');
      const from = current.rows[0]?.version ?? 0;
      if (from > POSTGRES_MIGRATIONS.length) {
        throw new Error(
          `metadata schema version ${from} is newer than this Plinth supports (${POSTGRES_MIGRATIONS.length}): upgrade Plinth`,
        );
      }
      if (current.rows.length === 0) await c.query('INSERT INTO plinth_schema (version) VALUES (0)');
      for (let version = from; version < POSTGRES_MIGRATIONS.length; version++) await c.query(POSTGRES_MIGRATIONS[version]!);
      await c.query('UPDATE plinth_schema SET version = $1', [POSTGRES_MIGRATIONS.length]);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
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

  /** Serializes the transactions that change one key's versions (bucket names have no '/'). */
  private async lockKey(c: pg.PoolClient, bucket: string, key: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${bucket}/${key}`]);
  }

  // Users

  async putUser(user: User): Promise<void> {
    await this.pool.query(
      `INSERT INTO users (id, display_name, access_key, secret_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, access_key = EXCLUDED.access_key,
         secret_key = EXCLUDED.secret_key`,
      [user.id, user.displayName, user.accessKey, user.secretKey],
    );
  }

  async userByAccessKey(accessKey: string): Promise<User | null> {
    const { rows } = await this.pool.query<UserRow>('SELECT * FROM users WHERE access_key = $1', [accessKey]);
    return rows[0] === undefined ? null : toUser(rows[0]);
  }

  async listUsers(): Promise<User[]> {
    const { rows } = await this.pool.query<UserRow>('SELECT * FROM users ORDER BY id COLLATE "C"');
    return rows.map(toUser);
  }

  async deleteUser(id: string): Promise<void> {
    await this.pool.query('DELETE FROM users WHERE id = $1', [id]);
  }

  // Buckets

  async createBucket(bucket: Bucket): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO buckets (name, owner_id, created, acl, versioning, grants) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO NOTHING`,
      [bucket.name, bucket.ownerId, bucket.created, bucket.acl, bucket.versioning, JSON.stringify(bucket.grants)],
    );
    return result.rowCount === 1;
  }

  async getBucket(name: string): Promise<Bucket | null> {
    const { rows } = await this.pool.query<BucketRow>('SELECT * FROM buckets WHERE name = $1', [name]);
    return rows[0] === undefined ? null : toBucket(rows[0]);
  }

  async listBuckets(): Promise<Bucket[]> {
    const { rows } = await this.pool.query<BucketRow>('SELECT * FROM buckets ORDER BY name');
    return rows.map(toBucket);
  }

  async updateBucket(name: string, change: Partial<Pick<Bucket, 'acl' | 'versioning' | 'grants'>>): Promise<void> {
    const values: unknown[] = [name];
    const sets: string[] = [];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (change.acl !== undefined) set('acl', change.acl);
    if (change.versioning !== undefined) set('versioning', change.versioning);
    if (change.grants !== undefined) set('grants', JSON.stringify(change.grants));
    if (sets.length > 0) await this.pool.query(`UPDATE buckets SET ${sets.join(', ')} WHERE name = $1`, values);
  }

  async deleteBucket(name: string): Promise<boolean> {
    try {
      const deleted = await this.pool.query(
        `DELETE FROM buckets WHERE name = $1
           AND NOT EXISTS (SELECT 1 FROM objects WHERE bucket = $1)
           AND NOT EXISTS (SELECT 1 FROM multipart_uploads WHERE bucket = $1)`,
        [name],
      );
      if (deleted.rowCount === 1) return true;
    } catch (err) {
      // A write into the bucket that had not committed when the emptiness check ran.
      if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) return false;
      throw err;
    }
    return (await this.getBucket(name)) === null;
  }

  // Objects

  async insertPending(version: ObjectVersion): Promise<void> {
    const optional = optionalColumns(version);
    await this.transaction(async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `INSERT INTO objects (bucket, key, version_id, seq, state, is_latest, is_delete_marker, size, etag,
           last_modified, content_type, content_encoding, content_disposition, content_language, cache_control,
           expires, user_metadata, tags, acl, owner_id, checksums, xxhash64, placement_blob, placement_nodes,
           part_count, pending_id, created_at)
         VALUES ($1, $2, $3, NULL, 'pending', false, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
           $18, $19, $20, $21, $22, $23, $24)
         RETURNING id`,
        [
          version.bucket,
          version.key,
          version.versionId,
          version.isDeleteMarker,
          version.size,
          version.etag,
          version.lastModified,
          optional.content_type,
          optional.content_encoding,
          optional.content_disposition,
          optional.content_language,
          optional.cache_control,
          optional.expires,
          JSON.stringify(version.userMetadata),
          JSON.stringify(version.tags),
          version.acl,
          version.ownerId,
          JSON.stringify(version.checksums),
          version.xxhash64,
          version.placement.blob,
          JSON.stringify(version.placement.nodes),
          version.parts?.length ?? null,
          version.pendingId ?? null,
          new Date(),
        ],
      );
      if (version.parts !== undefined) await this.insertParts(c, rows[0]!.id, version.parts);
    });
  }

  private async insertParts(c: pg.PoolClient, objectId: string, parts: PartInput[]): Promise<void> {
    if (parts.length === 0) return;
    await c.query(
      `INSERT INTO object_parts (object_id, part_number, size, etag, blob, xxhash64)
       SELECT $1, n, size, etag, blob, xxhash64
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS p (size, etag, blob, xxhash64, n)`,
      [objectId, parts.map((p) => p.size), parts.map((p) => p.etag), parts.map((p) => p.blob), parts.map((p) => p.xxhash64)],
    );
  }

  private async partsOf(c: Queryable, objectIds: string[]): Promise<Map<string, ObjectPartRow[]>> {
    const byObject = new Map<string, ObjectPartRow[]>();
    if (objectIds.length === 0) return byObject;
    const { rows } = await c.query<ObjectPartRow>('SELECT * FROM object_parts WHERE object_id = ANY($1::bigint[])', [
      objectIds,
    ]);
    for (const row of rows) {
      const id = String(row.object_id);
      byObject.set(id, [...(byObject.get(id) ?? []), row]);
    }
    return byObject;
  }

  /** The candidates nothing references any more (asked after the rows that held them are gone). */
  private async unreferenced(c: Queryable, blobs: string[]): Promise<string[]> {
    if (blobs.length === 0) return [];
    const { rows } = await c.query<{ blob: string }>(
      `SELECT blob FROM unnest($1::text[]) AS candidate (blob)
       WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.placement_blob = candidate.blob)
         AND NOT EXISTS (SELECT 1 FROM object_parts p WHERE p.blob = candidate.blob)
         AND NOT EXISTS (SELECT 1 FROM upload_parts u WHERE u.blob = candidate.blob)`,
      [[...new Set(blobs)]],
    );
    return rows.map((r) => r.blob);
  }

  private async versions(c: Queryable, rows: ObjectRow[]): Promise<ObjectVersion[]> {
    const parts = await this.partsOf(
      c,
      rows.filter((row) => row.part_count !== null).map((row) => String(row.id)),
    );
    return rows.map((row) => toVersion(row, parts.get(String(row.id)) ?? []));
  }

  /** The row a commit or abort is about: the writer's own when it named it, else the oldest. */
  private async pendingRow(
    c: pg.PoolClient,
    bucket: string,
    key: string,
    versionId: string,
    pendingId: string | undefined,
  ): Promise<string | undefined> {
    const { rows } = await c.query<{ id: string }>(
      `SELECT id FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'pending'
         AND ($4::text IS NULL OR pending_id = $4)
       ORDER BY id LIMIT 1`,
      [bucket, key, versionId, pendingId ?? null],
    );
    return rows[0]?.id;
  }

  async commit(
    bucket: string,
    key: string,
    versionId: string,
    written: CommittedContent,
    pendingId?: string,
  ): Promise<{ orphaned: string[] }> {
    return this.transaction(async (c) => {
      await this.lockKey(c, bucket, key);
      const id = await this.pendingRow(c, bucket, key, versionId, pendingId);
      if (id === undefined) throw new Error(`no pending version ${versionId} of ${bucket}/${key} to commit`);

      let candidates: string[] = [];
      let freed = 0;
      if (versionId === 'null') {
        const replaced = await c.query<{ id: string; size: string; placement_blob: string }>(
          `SELECT id, size, placement_blob FROM objects
           WHERE bucket = $1 AND key = $2 AND version_id = 'null' AND state = 'committed'`,
          [bucket, key],
        );
        const row = replaced.rows[0];
        if (row !== undefined) {
          const parts = await this.partsOf(c, [row.id]);
          candidates = blobsOf(row.placement_blob, parts.get(row.id) ?? []);
          freed = Number(row.size);
          await c.query('DELETE FROM objects WHERE id = $1', [row.id]);
        }
      }

      await c.query('UPDATE objects SET is_latest = false WHERE bucket = $1 AND key = $2 AND is_latest', [bucket, key]);
      await c.query(
        `UPDATE objects SET state = 'committed', is_latest = true,
           seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM objects WHERE bucket = $2 AND key = $3 AND state = 'committed'),
           size = $4, etag = $5, last_modified = $6, checksums = $7, xxhash64 = $8, placement_blob = $9,
           placement_nodes = $10, part_count = $11, pending_id = NULL
         WHERE id = $1`,
        [
          id,
          bucket,
          key,
          written.size,
          written.etag,
          written.lastModified,
          JSON.stringify(written.checksums),
          written.xxhash64,
          written.placement.blob,
          JSON.stringify(written.placement.nodes),
          written.parts?.length ?? null,
        ],
      );
      await c.query('DELETE FROM object_parts WHERE object_id = $1', [id]);
      if (written.parts !== undefined) await this.insertParts(c, id, written.parts);
      // Last, so the bucket's counter row (shared by all its writers) is locked only briefly.
      await this.addBytes(c, bucket, written.size - freed);
      return { orphaned: await this.unreferenced(c, candidates) };
    });
  }

  async abortPending(bucket: string, key: string, versionId: string, pendingId?: string): Promise<void> {
    await this.transaction(async (c) => {
      await this.lockKey(c, bucket, key);
      const id = await this.pendingRow(c, bucket, key, versionId, pendingId);
      if (id !== undefined) await c.query('DELETE FROM objects WHERE id = $1', [id]);
    });
  }

  async getObject(bucket: string, key: string, versionId?: string): Promise<ObjectVersion | null> {
    const { rows } =
      versionId === undefined
        ? await this.pool.query<ObjectRow>(
            `SELECT ${OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND key = $2 AND is_latest`,
            [bucket, key],
          )
        : await this.pool.query<ObjectRow>(
            `SELECT ${OBJECT_COLUMNS} FROM objects
             WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
            [bucket, key, versionId],
          );
    return rows[0] === undefined ? null : (await this.versions(this.pool, rows))[0]!;
  }

  async deleteVersion(bucket: string, key: string, versionId: string): Promise<{ orphaned: string[] }> {
    return this.transaction(async (c) => {
      await this.lockKey(c, bucket, key);
      const found = await c.query<{ id: string; size: string; placement_blob: string; is_latest: boolean }>(
        `SELECT id, size, placement_blob, is_latest FROM objects
         WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
        [bucket, key, versionId],
      );
      const row = found.rows[0];
      if (row === undefined) return { orphaned: [] };
      const parts = await this.partsOf(c, [row.id]);
      const candidates = blobsOf(row.placement_blob, parts.get(row.id) ?? []);
      await c.query('DELETE FROM objects WHERE id = $1', [row.id]);
      if (row.is_latest) {
        await c.query(
          `UPDATE objects SET is_latest = true WHERE id = (SELECT id FROM objects
             WHERE bucket = $1 AND key = $2 AND state = 'committed' ORDER BY seq DESC LIMIT 1)`,
          [bucket, key],
        );
      }
      await this.addBytes(c, bucket, -Number(row.size));
      return { orphaned: await this.unreferenced(c, candidates) };
    });
  }

  async updateObject(
    bucket: string,
    key: string,
    versionId: string,
    change: Partial<Pick<ObjectVersion, 'tags' | 'acl'>>,
  ): Promise<void> {
    const values: unknown[] = [bucket, key, versionId];
    const sets: string[] = [];
    if (change.tags !== undefined) {
      values.push(JSON.stringify(change.tags));
      sets.push(`tags = $${values.length}`);
    }
    if (change.acl !== undefined) {
      values.push(change.acl);
      sets.push(`acl = $${values.length}`);
    }
    if (sets.length === 0) return;
    await this.pool.query(
      `UPDATE objects SET ${sets.join(', ')}
       WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
      values,
    );
  }

  async listObjects(q: ListObjectsQuery): Promise<ListObjectsPage> {
    const fetch = async (cursor: ListCursor, limit: number) => {
      const { rows } = await this.pool.query<ObjectRow>(
        `SELECT ${OBJECT_COLUMNS} FROM objects
         WHERE bucket = $1 AND is_latest AND NOT is_delete_marker AND key ${cursor.inclusive ? '>=' : '>'} $2
         ORDER BY key LIMIT $3`,
        [q.bucket, cursor.key, limit],
      );
      return rows.map((row) => ({ key: row.key, versionId: row.version_id, row }));
    };
    const walk = await walkListing(q, fetch);
    return {
      objects: await this.versions(
        this.pool,
        walk.rows.map((r) => r.row),
      ),
      commonPrefixes: walk.commonPrefixes,
      isTruncated: walk.isTruncated,
      ...(walk.nextMarker !== undefined && { nextMarker: walk.nextMarker }),
    };
  }

  async listVersions(q: ListVersionsQuery): Promise<ListObjectsPage & { nextVersionIdMarker?: string }> {
    const fetch = async (cursor: ListCursor, limit: number) => {
      const rows: ObjectRow[] = [];
      if (cursor.belowSeq !== undefined) {
        const older = await this.pool.query<ObjectRow>(
          `SELECT ${OBJECT_COLUMNS} FROM objects
           WHERE bucket = $1 AND key = $2 AND state = 'committed' AND seq < $3
           ORDER BY seq DESC LIMIT $4`,
          [q.bucket, cursor.key, cursor.belowSeq, limit],
        );
        rows.push(...older.rows);
      }
      if (rows.length < limit) {
        const later = await this.pool.query<ObjectRow>(
          `SELECT ${OBJECT_COLUMNS} FROM objects
           WHERE bucket = $1 AND state = 'committed' AND key ${cursor.inclusive ? '>=' : '>'} $2
           ORDER BY key, seq DESC LIMIT $3`,
          [q.bucket, cursor.key, limit - rows.length],
        );
        rows.push(...later.rows);
      }
      return rows.map((row) => ({ key: row.key, versionId: row.version_id, seq: Number(row.seq), row }));
    };
    let afterSeq: number | undefined;
    if (q.after !== undefined && q.afterVersionId !== undefined) {
      const marker = await this.pool.query<{ seq: string }>(
        `SELECT seq FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
        [q.bucket, q.after, q.afterVersionId],
      );
      if (marker.rows[0] !== undefined) afterSeq = Number(marker.rows[0].seq);
    }
    const walk = await walkListing(q, fetch, afterSeq);
    return {
      objects: await this.versions(
        this.pool,
        walk.rows.map((r) => r.row),
      ),
      commonPrefixes: walk.commonPrefixes,
      isTruncated: walk.isTruncated,
      ...(walk.nextMarker !== undefined && { nextMarker: walk.nextMarker }),
      ...(walk.nextVersionIdMarker !== undefined && { nextVersionIdMarker: walk.nextVersionIdMarker }),
    };
  }

  async stalePending(olderThan: Date): Promise<ObjectVersion[]> {
    const { rows } = await this.pool.query<ObjectRow>(
      `SELECT ${OBJECT_COLUMNS} FROM objects WHERE state = 'pending' AND created_at < $1 ORDER BY created_at`,
      [olderThan],
    );
    return this.versions(this.pool, rows);
  }

  async blobReferenced(blob: string): Promise<boolean> {
    return (await this.unreferenced(this.pool, [blob])).length === 0;
  }

  async stats(): Promise<{ objects: number; bytes: number }> {
    const { rows } = await this.pool.query<{ objects: string; bytes: string }>(
      `SELECT COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects
       WHERE state = 'committed' AND NOT is_delete_marker`,
    );
    return { objects: Number(rows[0]!.objects), bytes: Number(rows[0]!.bytes) };
  }

  // Multipart uploads

  async createUpload(upload: MultipartUpload): Promise<void> {
    await this.pool.query(
      `INSERT INTO multipart_uploads (upload_id, bucket, key, initiated, owner_id, template)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [upload.uploadId, upload.bucket, upload.key, upload.initiated, upload.ownerId, JSON.stringify(upload.template)],
    );
  }

  async getUpload(uploadId: string): Promise<MultipartUpload | null> {
    const { rows } = await this.pool.query<UploadRow>('SELECT * FROM multipart_uploads WHERE upload_id = $1', [uploadId]);
    return rows[0] === undefined ? null : toUpload(rows[0]);
  }

  async putPart(part: UploadPart): Promise<{ replaced?: string }> {
    return this.transaction(async (c) => {
      // FOR UPDATE: two uploads of one part number at once each see the blob the other replaced.
      const previous = await c.query<{ blob: string }>(
        'SELECT blob FROM upload_parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE',
        [part.uploadId, part.partNumber],
      );
      await c.query(
        `INSERT INTO upload_parts (upload_id, part_number, size, etag, last_modified, blob, xxhash64)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag,
           last_modified = EXCLUDED.last_modified, blob = EXCLUDED.blob, xxhash64 = EXCLUDED.xxhash64`,
        [part.uploadId, part.partNumber, part.size, part.etag, part.lastModified, part.blob, part.xxhash64],
      );
      const [replaced] = await this.unreferenced(
        c,
        previous.rows.map((r) => r.blob),
      );
      return replaced === undefined ? {} : { replaced };
    });
  }

  async listParts(uploadId: string, afterPart: number, maxParts: number): Promise<UploadPart[]> {
    const { rows } = await this.pool.query<UploadPartRow>(
      'SELECT * FROM upload_parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3',
      [uploadId, afterPart, maxParts],
    );
    return rows.map(toUploadPart);
  }

  async listUploads(
    bucket: string,
    prefix: string,
    afterKey?: string,
    afterUploadId?: string,
    maxUploads = 1000,
  ): Promise<MultipartUpload[]> {
    const values: unknown[] = [bucket, prefix];
    const conditions = ['bucket = $1', 'key >= $2'];
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    if (end !== undefined) {
      values.push(end);
      conditions.push(`key < $${values.length}`);
    }
    if (afterKey !== undefined) {
      const marker =
        afterUploadId === undefined
          ? undefined
          : (
              await this.pool.query<{ initiated: Date }>(
                'SELECT initiated FROM multipart_uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3',
                [afterUploadId, bucket, afterKey],
              )
            ).rows[0];
      if (marker === undefined) {
        values.push(afterKey);
        conditions.push(`key > $${values.length}`);
      } else {
        values.push(afterKey, marker.initiated, afterUploadId);
        const n = values.length;
        conditions.push(`(key, initiated, upload_id) > ($${n - 2}, $${n - 1}, $${n})`);
      }
    }
    values.push(maxUploads);
    const { rows } = await this.pool.query<UploadRow>(
      `SELECT * FROM multipart_uploads WHERE ${conditions.join(' AND ')}
       ORDER BY key, initiated, upload_id LIMIT $${values.length}`,
      values,
    );
    return rows.map(toUpload);
  }

  async deleteUpload(uploadId: string): Promise<{ blobs: string[] }> {
    return this.transaction(async (c) => {
      const parts = await c.query<{ blob: string }>('DELETE FROM upload_parts WHERE upload_id = $1 RETURNING blob', [
        uploadId,
      ]);
      await c.query('DELETE FROM multipart_uploads WHERE upload_id = $1', [uploadId]);
      return { blobs: await this.unreferenced(c, parts.rows.map((p) => p.blob)) };
    });
  }

  async staleUploads(olderThan: Date): Promise<MultipartUpload[]> {
    const { rows } = await this.pool.query<UploadRow>(
      'SELECT * FROM multipart_uploads WHERE initiated < $1 ORDER BY initiated',
      [olderThan],
    );
    return rows.map(toUpload);
  }

  // Costs and node health

  private async upsertCost(c: Queryable, bucket: string, delta: CostDelta): Promise<void> {
    await c.query(
      `INSERT INTO cost_tracking (bucket, tier, bytes_stored, get_requests, put_requests, list_requests,
         delete_requests, egress_bytes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (bucket, tier) DO UPDATE SET
         bytes_stored = cost_tracking.bytes_stored + EXCLUDED.bytes_stored,
         get_requests = cost_tracking.get_requests + EXCLUDED.get_requests,
         put_requests = cost_tracking.put_requests + EXCLUDED.put_requests,
         list_requests = cost_tracking.list_requests + EXCLUDED.list_requests,
         delete_requests = cost_tracking.delete_requests + EXCLUDED.delete_requests,
         egress_bytes = cost_tracking.egress_bytes + EXCLUDED.egress_bytes`,
      [bucket, STANDARD_TIER, ...costColumns(delta)],
    );
  }

  private async addBytes(c: pg.PoolClient, bucket: string, bytes: number): Promise<void> {
    if (bytes !== 0) await this.upsertCost(c, bucket, { bytesStored: bytes });
  }

  async addCost(bucket: string, delta: CostDelta): Promise<void> {
    await this.upsertCost(this.pool, bucket, delta);
  }

  async costs(bucket?: string): Promise<CostRecord[]> {
    const { rows } =
      bucket === undefined
        ? await this.pool.query<CostRow>('SELECT * FROM cost_tracking ORDER BY bucket, tier')
        : await this.pool.query<CostRow>('SELECT * FROM cost_tracking WHERE bucket = $1 ORDER BY tier', [bucket]);
    return rows.map(toCost);
  }

  async setNodeHealth(health: NodeHealth): Promise<void> {
    await this.pool.query(
      `INSERT INTO node_health (node, status, checked, bytes_used) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node) DO UPDATE SET status = EXCLUDED.status, checked = EXCLUDED.checked,
         bytes_used = EXCLUDED.bytes_used`,
      [health.node, health.status, health.checked, health.bytesUsed],
    );
  }

  async nodeHealth(): Promise<NodeHealth[]> {
    const { rows } = await this.pool.query<NodeHealthRow>('SELECT * FROM node_health ORDER BY node COLLATE "C"');
    return rows.map(toNodeHealth);
  }
}
