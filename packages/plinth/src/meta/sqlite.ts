import Database from 'better-sqlite3';
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
import { SQLITE_MIGRATIONS } from './schema-sqlite.js';
import type {
  Bucket,
  CommittedContent,
  ListObjectsPage,
  ListObjectsQuery,
  ListVersionsQuery,
  MetadataStore,
  MultipartUpload,
  NodeHealth,
  ObjectVersion,
  UploadPart,
  User,
  CostRecord,
} from './types.js';

type Params = Record<string, string | number | null>;
type PartInput = { size: number; etag: string; blob: string; xxhash64: string };

/**
 * The embedded metadata store. better-sqlite3 is synchronous, so each method body runs without
 * interleaving with other requests; multi-statement changes still run in IMMEDIATE transactions
 * so another process sharing the file (a CLI) never sees half of one and a crash rolls them back.
 * WAL with synchronous=FULL: a commit has reached the disk when the call returns.
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly kind = 'sqlite' as const;
  private database: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement<[Params] | []>>();

  /** `file` is the database path, or ':memory:'. */
  constructor(private readonly file: string) {}

  async init(): Promise<void> {
    const db = new Database(this.file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.database = db;
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.database?.close();
    this.database = undefined;
  }

  private get db(): Database.Database {
    if (this.database === undefined) throw new Error('SqliteMetadataStore: init() has not been called (or close() has)');
    return this.database;
  }

  private statement(sql: string): Database.Statement<[Params] | []> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<[Params] | []>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private get<T>(sql: string, params: Params = {}): T | undefined {
    return this.statement(sql).get(params) as T | undefined;
  }

  private all<T>(sql: string, params: Params = {}): T[] {
    return this.statement(sql).all(params) as T[];
  }

  private run(sql: string, params: Params = {}): number {
    return this.statement(sql).run(params).changes;
  }

  private transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // Users

  async putUser(user: User): Promise<void> {
    this.run(
      `INSERT INTO users (id, display_name, access_key, secret_key) VALUES (@id, @displayName, @accessKey, @secretKey)
       ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, access_key = excluded.access_key,
         secret_key = excluded.secret_key`,
      { id: user.id, displayName: user.displayName, accessKey: user.accessKey, secretKey: user.secretKey },
    );
  }

  async userByAccessKey(accessKey: string): Promise<User | null> {
    const row = this.get<UserRow>('SELECT * FROM users WHERE access_key = @accessKey', { accessKey });
    return row === undefined ? null : toUser(row);
  }

  async listUsers(): Promise<User[]> {
    return this.all<UserRow>('SELECT * FROM users ORDER BY id').map(toUser);
  }

  async deleteUser(id: string): Promise<void> {
    this.run('DELETE FROM users WHERE id = @id', { id });
  }

  // Buckets

  async createBucket(bucket: Bucket): Promise<boolean> {
    const changes = this.run(
      `INSERT INTO buckets (name, owner_id, created, acl, versioning, grants)
       VALUES (@name, @ownerId, @created, @acl, @versioning, @grants) ON CONFLICT (name) DO NOTHING`,
      {
        name: bucket.name,
        ownerId: bucket.ownerId,
        created: bucket.created.getTime(),
        acl: bucket.acl,
        versioning: bucket.versioning,
        grants: JSON.stringify(bucket.grants),
      },
    );
    return changes === 1;
  }

  async getBucket(name: string): Promise<Bucket | null> {
    const row = this.get<BucketRow>('SELECT * FROM buckets WHERE name = @name', { name });
    return row === undefined ? null : toBucket(row);
  }

  async listBuckets(): Promise<Bucket[]> {
    return this.all<BucketRow>('SELECT * FROM buckets ORDER BY name').map(toBucket);
  }

  async updateBucket(name: string, change: Partial<Pick<Bucket, 'acl' | 'versioning' | 'grants'>>): Promise<void> {
    const params: Params = { name };
    if (change.acl !== undefined) params.acl = change.acl;
    if (change.versioning !== undefined) params.versioning = change.versioning;
    if (change.grants !== undefined) params.grants = JSON.stringify(change.grants);
    const sets = Object.keys(params)
      .filter((column) => column !== 'name')
      .map((column) => `${column} = @${column}`);
    if (sets.length > 0) this.run(`UPDATE buckets SET ${sets.join(', ')} WHERE name = @name`, params);
  }

  async deleteBucket(name: string): Promise<boolean> {
    return this.transaction(() => {
      const inUse = this.get(
        `SELECT 1 WHERE EXISTS (SELECT 1 FROM objects WHERE bucket = @name)
           OR EXISTS (SELECT 1 FROM multipart_uploads WHERE bucket = @name)`,
        { name },
      );
      if (inUse !== undefined) return false;
      this.run('DELETE FROM buckets WHERE name = @name', { name });
      return true;
    });
  }

  // Objects

  async insertPending(version: ObjectVersion): Promise<void> {
    this.transaction(() => {
      const { lastInsertRowid } = this.statement(
        `INSERT INTO objects (bucket, key, version_id, seq, state, is_latest, is_delete_marker, size, etag,
           last_modified, content_type, content_encoding, content_disposition, content_language, cache_control,
           expires, user_metadata, tags, acl, owner_id, checksums, xxhash64, placement_blob, placement_nodes,
           part_count, pending_id, created_at)
         VALUES (@bucket, @key, @versionId, NULL, 'pending', 0, @isDeleteMarker, @size, @etag, @lastModified,
           @content_type, @content_encoding, @content_disposition, @content_language, @cache_control, @expires,
           @userMetadata, @tags, @acl, @ownerId, @checksums, @xxhash64, @placementBlob, @placementNodes,
           @partCount, @pendingId, @createdAt)`,
      ).run({
        bucket: version.bucket,
        key: version.key,
        versionId: version.versionId,
        isDeleteMarker: version.isDeleteMarker ? 1 : 0,
        size: version.size,
        etag: version.etag,
        lastModified: version.lastModified.getTime(),
        ...optionalColumns(version),
        userMetadata: JSON.stringify(version.userMetadata),
        tags: JSON.stringify(version.tags),
        acl: version.acl,
        ownerId: version.ownerId,
        checksums: JSON.stringify(version.checksums),
        xxhash64: version.xxhash64,
        placementBlob: version.placement.blob,
        placementNodes: JSON.stringify(version.placement.nodes),
        partCount: version.parts?.length ?? null,
        pendingId: version.pendingId ?? null,
        createdAt: Date.now(),
      });
      if (version.parts !== undefined) this.insertParts(Number(lastInsertRowid), version.parts);
    });
  }

  private insertParts(objectId: number, parts: PartInput[]): void {
    parts.forEach((part, index) =>
      this.run(
        `INSERT INTO object_parts (object_id, part_number, size, etag, blob, xxhash64)
         VALUES (@objectId, @partNumber, @size, @etag, @blob, @xxhash64)`,
        { objectId, partNumber: index + 1, size: part.size, etag: part.etag, blob: part.blob, xxhash64: part.xxhash64 },
      ),
    );
  }

  private partsOf(objectId: number): ObjectPartRow[] {
    return this.all<ObjectPartRow>('SELECT * FROM object_parts WHERE object_id = @objectId ORDER BY part_number', {
      objectId,
    });
  }

  private referenced(blob: string): boolean {
    return (
      this.get(
        `SELECT 1 WHERE EXISTS (SELECT 1 FROM objects WHERE placement_blob = @blob)
           OR EXISTS (SELECT 1 FROM object_parts WHERE blob = @blob)
           OR EXISTS (SELECT 1 FROM upload_parts WHERE blob = @blob)`,
        { blob },
      ) !== undefined
    );
  }

  /** The candidates nothing references any more (called after the rows that held them are gone). */
  private unreferenced(blobs: string[]): string[] {
    return [...new Set(blobs)].filter((blob) => !this.referenced(blob));
  }

  private addBytes(bucket: string, bytes: number): void {
    if (bytes !== 0) this.upsertCost(bucket, { bytesStored: bytes });
  }

  /** The row a commit or abort is about: the writer's own when it named it, else the oldest. */
  private pendingRow(bucket: string, key: string, versionId: string, pendingId: string | undefined): { id: number } | undefined {
    return this.get<{ id: number }>(
      `SELECT id FROM objects WHERE bucket = @bucket AND key = @key AND version_id = @versionId AND state = 'pending'
         AND (@pendingId IS NULL OR pending_id = @pendingId)
       ORDER BY id LIMIT 1`,
      { bucket, key, versionId, pendingId: pendingId ?? null },
    );
  }

  async commit(
    bucket: string,
    key: string,
    versionId: string,
    written: CommittedContent,
    pendingId?: string,
  ): Promise<{ orphaned: string[] }> {
    return this.transaction(() => {
      const where = { bucket, key, versionId };
      const pending = this.pendingRow(bucket, key, versionId, pendingId);
      if (pending === undefined) throw new Error(`no pending version ${versionId} of ${bucket}/${key} to commit`);

      let candidates: string[] = [];
      let freed = 0;
      if (versionId === 'null') {
        const replaced = this.get<{ id: number; size: number; placement_blob: string }>(
          `SELECT id, size, placement_blob FROM objects
           WHERE bucket = @bucket AND key = @key AND version_id = 'null' AND state = 'committed'`,
          where,
        );
        if (replaced !== undefined) {
          candidates = blobsOf(replaced.placement_blob, this.partsOf(replaced.id));
          freed = replaced.size;
          this.run('DELETE FROM objects WHERE id = @id', { id: replaced.id });
        }
      }

      const { seq } = this.get<{ seq: number }>(
        `SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM objects WHERE bucket = @bucket AND key = @key AND state = 'committed'`,
        where,
      )!;
      this.run('UPDATE objects SET is_latest = 0 WHERE bucket = @bucket AND key = @key AND is_latest = 1', where);
      this.run(
        `UPDATE objects SET state = 'committed', is_latest = 1, seq = @seq, size = @size, etag = @etag,
           last_modified = @lastModified, checksums = @checksums, xxhash64 = @xxhash64, placement_blob = @placementBlob,
           placement_nodes = @placementNodes, part_count = @partCount, pending_id = NULL
         WHERE id = @id`,
        {
          id: pending.id,
          seq,
          size: written.size,
          etag: written.etag,
          lastModified: written.lastModified.getTime(),
          checksums: JSON.stringify(written.checksums),
          xxhash64: written.xxhash64,
          placementBlob: written.placement.blob,
          placementNodes: JSON.stringify(written.placement.nodes),
          partCount: written.parts?.length ?? null,
        },
      );
      this.run('DELETE FROM object_parts WHERE object_id = @id', { id: pending.id });
      if (written.parts !== undefined) this.insertParts(pending.id, written.parts);
      this.addBytes(bucket, written.size - freed);
      return { orphaned: this.unreferenced(candidates) };
    });
  }

  async abortPending(bucket: string, key: string, versionId: string, pendingId?: string): Promise<void> {
    this.transaction(() => {
      const pending = this.pendingRow(bucket, key, versionId, pendingId);
      if (pending !== undefined) this.run('DELETE FROM objects WHERE id = @id', pending);
    });
  }

  private versions(rows: ObjectRow[]): ObjectVersion[] {
    return rows.map((row) => toVersion(row, row.part_count === null ? [] : this.partsOf(Number(row.id))));
  }

  async getObject(bucket: string, key: string, versionId?: string): Promise<ObjectVersion | null> {
    const row =
      versionId === undefined
        ? this.get<ObjectRow>(
            `SELECT ${OBJECT_COLUMNS} FROM objects WHERE bucket = @bucket AND key = @key AND is_latest = 1`,
            { bucket, key },
          )
        : this.get<ObjectRow>(
            `SELECT ${OBJECT_COLUMNS} FROM objects
             WHERE bucket = @bucket AND key = @key AND version_id = @versionId AND state = 'committed'`,
            { bucket, key, versionId },
          );
    return row === undefined ? null : this.versions([row])[0]!;
  }

  async deleteVersion(bucket: string, key: string, versionId: string): Promise<{ orphaned: string[] }> {
    return this.transaction(() => {
      const where = { bucket, key, versionId };
      const row = this.get<{ id: number; size: number; placement_blob: string; is_latest: number }>(
        `SELECT id, size, placement_blob, is_latest FROM objects
         WHERE bucket = @bucket AND key = @key AND version_id = @versionId AND state = 'committed'`,
        where,
      );
      if (row === undefined) return { orphaned: [] };
      const candidates = blobsOf(row.placement_blob, this.partsOf(row.id));
      this.run('DELETE FROM objects WHERE id = @id', { id: row.id });
      if (row.is_latest === 1) {
        this.run(
          `UPDATE objects SET is_latest = 1 WHERE id = (SELECT id FROM objects
             WHERE bucket = @bucket AND key = @key AND state = 'committed' ORDER BY seq DESC LIMIT 1)`,
          where,
        );
      }
      this.addBytes(bucket, -row.size);
      return { orphaned: this.unreferenced(candidates) };
    });
  }

  async updateObject(
    bucket: string,
    key: string,
    versionId: string,
    change: Partial<Pick<ObjectVersion, 'tags' | 'acl'>>,
  ): Promise<void> {
    const params: Params = { bucket, key, versionId };
    const sets: string[] = [];
    if (change.tags !== undefined) {
      params.tags = JSON.stringify(change.tags);
      sets.push('tags = @tags');
    }
    if (change.acl !== undefined) {
      params.acl = change.acl;
      sets.push('acl = @acl');
    }
    if (sets.length === 0) return;
    this.run(
      `UPDATE objects SET ${sets.join(', ')}
       WHERE bucket = @bucket AND key = @key AND version_id = @versionId AND state = 'committed'`,
      params,
    );
  }

  async listObjects(q: ListObjectsQuery): Promise<ListObjectsPage> {
    const fetch = async (cursor: ListCursor, limit: number) =>
      this.all<ObjectRow>(
        `SELECT ${OBJECT_COLUMNS} FROM objects
         WHERE bucket = @bucket AND is_latest = 1 AND is_delete_marker = 0 AND key ${cursor.inclusive ? '>=' : '>'} @key
         ORDER BY key LIMIT @limit`,
        { bucket: q.bucket, key: cursor.key, limit },
      ).map((row) => ({ key: row.key, versionId: row.version_id, row }));
    const walk = await walkListing(q, fetch);
    return {
      objects: this.versions(walk.rows.map((r) => r.row)),
      commonPrefixes: walk.commonPrefixes,
      isTruncated: walk.isTruncated,
      ...(walk.nextMarker !== undefined && { nextMarker: walk.nextMarker }),
    };
  }

  async listVersions(q: ListVersionsQuery): Promise<ListObjectsPage & { nextVersionIdMarker?: string }> {
    const fetch = async (cursor: ListCursor, limit: number) => {
      const params = { bucket: q.bucket, key: cursor.key, limit };
      const rows: ObjectRow[] = [];
      if (cursor.belowSeq !== undefined) {
        rows.push(
          ...this.all<ObjectRow>(
            `SELECT ${OBJECT_COLUMNS} FROM objects
             WHERE bucket = @bucket AND key = @key AND state = 'committed' AND seq < @seq
             ORDER BY seq DESC LIMIT @limit`,
            { ...params, seq: cursor.belowSeq },
          ),
        );
      }
      if (rows.length < limit) {
        rows.push(
          ...this.all<ObjectRow>(
            `SELECT ${OBJECT_COLUMNS} FROM objects
             WHERE bucket = @bucket AND state = 'committed' AND key ${cursor.inclusive ? '>=' : '>'} @key
             ORDER BY key, seq DESC LIMIT @limit`,
            { ...params, limit: limit - rows.length },
          ),
        );
      }
      return rows.map((row) => ({ key: row.key, versionId: row.version_id, seq: Number(row.seq), row }));
    };
    const afterSeq =
      q.after === undefined || q.afterVersionId === undefined
        ? undefined
        : this.get<{ seq: number }>(
            `SELECT seq FROM objects
             WHERE bucket = @bucket AND key = @key AND version_id = @versionId AND state = 'committed'`,
            { bucket: q.bucket, key: q.after, versionId: q.afterVersionId },
          )?.seq;
    const walk = await walkListing(q, fetch, afterSeq);
    return {
      objects: this.versions(walk.rows.map((r) => r.row)),
      commonPrefixes: walk.commonPrefixes,
      isTruncated: walk.isTruncated,
      ...(walk.nextMarker !== undefined && { nextMarker: walk.nextMarker }),
      ...(walk.nextVersionIdMarker !== undefined && { nextVersionIdMarker: walk.nextVersionIdMarker }),
    };
  }

  async stalePending(olderThan: Date): Promise<ObjectVersion[]> {
    return this.versions(
      this.all<ObjectRow>(
        `SELECT ${OBJECT_COLUMNS} FROM objects WHERE state = 'pending' AND created_at < @cutoff ORDER BY created_at`,
        { cutoff: olderThan.getTime() },
      ),
    );
  }

  async blobReferenced(blob: string): Promise<boolean> {
    return this.referenced(blob);
  }

  async stats(): Promise<{ objects: number; bytes: number }> {
    return this.get<{ objects: number; bytes: number }>(
      `SELECT COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects
       WHERE state = 'committed' AND is_delete_marker = 0`,
    )!;
  }

  // Multipart uploads

  async createUpload(upload: MultipartUpload): Promise<void> {
    this.run(
      `INSERT INTO multipart_uploads (upload_id, bucket, key, initiated, owner_id, template)
       VALUES (@uploadId, @bucket, @key, @initiated, @ownerId, @template)`,
      {
        uploadId: upload.uploadId,
        bucket: upload.bucket,
        key: upload.key,
        initiated: upload.initiated.getTime(),
        ownerId: upload.ownerId,
        template: JSON.stringify(upload.template),
      },
    );
  }

  async getUpload(uploadId: string): Promise<MultipartUpload | null> {
    const row = this.get<UploadRow>('SELECT * FROM multipart_uploads WHERE upload_id = @uploadId', { uploadId });
    return row === undefined ? null : toUpload(row);
  }

  async putPart(part: UploadPart): Promise<{ replaced?: string }> {
    return this.transaction(() => {
      const where = { uploadId: part.uploadId, partNumber: part.partNumber };
      const previous = this.get<{ blob: string }>(
        'SELECT blob FROM upload_parts WHERE upload_id = @uploadId AND part_number = @partNumber',
        where,
      );
      this.run(
        `INSERT INTO upload_parts (upload_id, part_number, size, etag, last_modified, blob, xxhash64)
         VALUES (@uploadId, @partNumber, @size, @etag, @lastModified, @blob, @xxhash64)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag,
           last_modified = excluded.last_modified, blob = excluded.blob, xxhash64 = excluded.xxhash64`,
        {
          ...where,
          size: part.size,
          etag: part.etag,
          lastModified: part.lastModified.getTime(),
          blob: part.blob,
          xxhash64: part.xxhash64,
        },
      );
      const [replaced] = previous === undefined ? [] : this.unreferenced([previous.blob]);
      return replaced === undefined ? {} : { replaced };
    });
  }

  async listParts(uploadId: string, afterPart: number, maxParts: number): Promise<UploadPart[]> {
    return this.all<UploadPartRow>(
      `SELECT * FROM upload_parts WHERE upload_id = @uploadId AND part_number > @afterPart
       ORDER BY part_number LIMIT @maxParts`,
      { uploadId, afterPart, maxParts },
    ).map(toUploadPart);
  }

  async listUploads(
    bucket: string,
    prefix: string,
    afterKey?: string,
    afterUploadId?: string,
    maxUploads = 1000,
  ): Promise<MultipartUpload[]> {
    const params: Params = { bucket, prefix, maxUploads };
    const conditions = ['bucket = @bucket', 'key >= @prefix'];
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    if (end !== undefined) {
      params.end = end;
      conditions.push('key < @end');
    }
    if (afterKey !== undefined) {
      params.afterKey = afterKey;
      const marker =
        afterUploadId === undefined
          ? undefined
          : this.get<{ initiated: number }>(
              'SELECT initiated FROM multipart_uploads WHERE upload_id = @afterUploadId AND bucket = @bucket AND key = @afterKey',
              { afterUploadId, bucket, afterKey },
            );
      if (marker === undefined) {
        conditions.push('key > @afterKey');
      } else {
        Object.assign(params, { afterInitiated: marker.initiated, afterUploadId: afterUploadId! });
        conditions.push('(key, initiated, upload_id) > (@afterKey, @afterInitiated, @afterUploadId)');
      }
    }
    return this.all<UploadRow>(
      `SELECT * FROM multipart_uploads WHERE ${conditions.join(' AND ')}
       ORDER BY key, initiated, upload_id LIMIT @maxUploads`,
      params,
    ).map(toUpload);
  }

  async deleteUpload(uploadId: string): Promise<{ blobs: string[] }> {
    return this.transaction(() => {
      const parts = this.all<{ blob: string }>('SELECT blob FROM upload_parts WHERE upload_id = @uploadId', { uploadId });
      this.run('DELETE FROM multipart_uploads WHERE upload_id = @uploadId', { uploadId });
      return { blobs: this.unreferenced(parts.map((p) => p.blob)) };
    });
  }

  async staleUploads(olderThan: Date): Promise<MultipartUpload[]> {
    return this.all<UploadRow>('SELECT * FROM multipart_uploads WHERE initiated < @cutoff ORDER BY initiated', {
      cutoff: olderThan.getTime(),
    }).map(toUpload);
  }

  // Costs and node health

  private upsertCost(bucket: string, delta: CostDelta): void {
    const [bytesStored, get, put, list, del, egress] = costColumns(delta);
    this.run(
      `INSERT INTO cost_tracking (bucket, tier, bytes_stored, get_requests, put_requests, list_requests,
         delete_requests, egress_bytes)
       VALUES (@bucket, @tier, @bytesStored, @get, @put, @list, @del, @egress)
       ON CONFLICT (bucket, tier) DO UPDATE SET
         bytes_stored = bytes_stored + excluded.bytes_stored,
         get_requests = get_requests + excluded.get_requests,
         put_requests = put_requests + excluded.put_requests,
         list_requests = list_requests + excluded.list_requests,
         delete_requests = delete_requests + excluded.delete_requests,
         egress_bytes = egress_bytes + excluded.egress_bytes`,
      { bucket, tier: STANDARD_TIER, bytesStored: bytesStored!, get: get!, put: put!, list: list!, del: del!, egress: egress! },
    );
  }

  async addCost(bucket: string, delta: CostDelta): Promise<void> {
    this.upsertCost(bucket, delta);
  }

  async costs(bucket?: string): Promise<CostRecord[]> {
    const rows =
      bucket === undefined
        ? this.all<CostRow>('SELECT * FROM cost_tracking ORDER BY bucket, tier')
        : this.all<CostRow>('SELECT * FROM cost_tracking WHERE bucket = @bucket ORDER BY tier', { bucket });
    return rows.map(toCost);
  }

  async setNodeHealth(health: NodeHealth): Promise<void> {
    this.run(
      `INSERT INTO node_health (node, status, checked, bytes_used) VALUES (@node, @status, @checked, @bytesUsed)
       ON CONFLICT (node) DO UPDATE SET status = excluded.status, checked = excluded.checked,
         bytes_used = excluded.bytes_used`,
      { node: health.node, status: health.status, checked: health.checked.getTime(), bytesUsed: health.bytesUsed },
    );
  }

  async nodeHealth(): Promise<NodeHealth[]> {
    return this.all<NodeHealthRow>('SELECT * FROM node_health ORDER BY node').map(toNodeHealth);
  }
}

/** Brings the schema to the latest version; refuses a database a newer Plinth has migrated. */
function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS plinth_schema (version INTEGER NOT NULL)');
  db.transaction(() => {
    const row = db.prepare('SELECT version FROM plinth_schema').get() as { version: number } | undefined;
    const from = row?.version ?? 0;
    if (from > SQLITE_MIGRATIONS.length) {
      throw new Error(
        `metadata schema version ${from} is newer than this Plinth supports (${SQLITE_MIGRATIONS.length}): upgrade Plinth`,
      );
    }
    if (row === undefined) db.prepare('INSERT INTO plinth_schema (version) VALUES (0)').run();
    for (let version = from; version < SQLITE_MIGRATIONS.length; version++) db.exec(SQLITE_MIGRATIONS[version]!);
    db.prepare('UPDATE plinth_schema SET version = ?').run(SQLITE_MIGRATIONS.length);
  }).immediate();
}
