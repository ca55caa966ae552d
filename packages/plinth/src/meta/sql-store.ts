import { migrate, query, SqlStore, type Connection, type Steps } from '@argon/common/sql';
import type { Dialect } from './dialect.js';
import { listingPage, walkListing, prefixEnd, type ListCursor, type ListRow } from './listing.js';
import {
  blobsOf,
  bool,
  costColumns,
  OBJECT_COLUMNS,
  optionalValues,
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
  type Int,
  type NodeHealthRow,
  type ObjectPartRow,
  type ObjectRow,
  type Time,
  type UploadPartRow,
  type UploadRow,
  type UserRow,
} from './rows.js';
import { migrations } from './schema.js';
import {
  UploadGoneError,
  type Bucket,
  type CommitOptions,
  type CommittedContent,
  type CostRecord,
  type ListObjectsPage,
  type ListObjectsQuery,
  type ListVersionsQuery,
  type MetadataStore,
  type MultipartUpload,
  type NodeHealth,
  type ObjectVersion,
  type UploadPart,
  type User,
} from './types.js';

export type PartInput = { size: number; etag: string; blob: string; xxhash64: string; checksums?: Record<string, string> };

/** The first row, mapped; null when there is none. */
function first<R, T>(rows: R[], map: (row: R) => T): T | null {
  return rows[0] === undefined ? null : map(rows[0]);
}

/** `column = $n` for each change given, its value appended to `values` (which holds the earlier parameters). */
function assignments(values: unknown[], changes: [column: string, value: unknown][]): string[] {
  return changes
    .filter(([, value]) => value !== undefined)
    .map(([column, value]) => `${column} = $${values.push(value)}`);
}

/** A row of an object listing, with the key and version the walk pages by. */
interface Listed extends ListRow {
  row: ObjectRow;
}

function listed(row: ObjectRow): Listed {
  return { key: row.key, versionId: row.version_id, row };
}

/**
 * The metadata contract over SQL, for both SQLite and PostgreSQL: every operation's statements
 * and the order they run in. A store supplies the connection (run, transaction) and the few
 * queries that take a set of values at once, which only PostgreSQL can pass as an array.
 */
export abstract class SqlMetadataStore<C extends Connection = Connection> extends SqlStore<Dialect, C> implements MetadataStore {
  abstract readonly kind: 'sqlite' | 'postgres';

  /** The parts of these objects, in no particular order. */
  protected abstract partsOf(objectIds: Int[]): Steps<ObjectPartRow[]>;
  /** Records an object's parts, numbered from 1 in the order given. */
  protected abstract insertParts(objectId: Int, parts: PartInput[]): Steps<void>;
  /** The candidates nothing references any more (asked after the rows that held them are gone). */
  protected abstract unreferenced(blobs: string[]): Steps<string[]>;

  /** Brings the schema to the latest version; refuses a database a newer Plinth has migrated. */
  protected migrate(): Steps<void> {
    return migrate(this.dialect, {
      what: 'metadata',
      product: 'Plinth',
      lock: 'plinth_schema',
      steps: migrations(this.dialect),
      // One row holding the version.
      history: {
        create: `CREATE TABLE IF NOT EXISTS plinth_schema (version ${this.dialect.types.int} NOT NULL)`,
        *version() {
          const [current] = yield* query<{ version: number }>('SELECT version FROM plinth_schema');
          if (current === undefined) yield* query('INSERT INTO plinth_schema (version) VALUES (0)');
          return current?.version ?? 0;
        },
        *applied(version) {
          yield* query('UPDATE plinth_schema SET version = $1', [version]);
        },
      },
    });
  }

  /** Serializes the transactions that change one key's versions (bucket names have no '/'). */
  private lockKey(bucket: string, key: string): Steps<void> {
    return this.lock(`${bucket}/${key}`);
  }

  // Users

  async putUser(user: User): Promise<void> {
    await this.rows(
      `INSERT INTO users (id, display_name, access_key, secret_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, access_key = EXCLUDED.access_key,
         secret_key = EXCLUDED.secret_key`,
      [user.id, user.displayName, user.accessKey, user.secretKey],
    );
  }

  async userByAccessKey(accessKey: string): Promise<User | null> {
    return first(await this.rows<UserRow>('SELECT * FROM users WHERE access_key = $1', [accessKey]), toUser);
  }

  async listUsers(): Promise<User[]> {
    return (await this.rows<UserRow>(`SELECT * FROM users ORDER BY ${this.dialect.bytewise('id')}`)).map(toUser);
  }

  async deleteUser(id: string): Promise<void> {
    await this.rows('DELETE FROM users WHERE id = $1', [id]);
  }

  // Buckets

  async createBucket(bucket: Bucket): Promise<boolean> {
    const created = await this.rows(
      `INSERT INTO buckets (name, owner_id, created, acl, versioning, grants) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO NOTHING RETURNING name`,
      [bucket.name, bucket.ownerId, this.dialect.time(bucket.created), bucket.acl, bucket.versioning, JSON.stringify(bucket.grants)],
    );
    return created.length === 1;
  }

  async getBucket(name: string): Promise<Bucket | null> {
    return first(await this.rows<BucketRow>('SELECT * FROM buckets WHERE name = $1', [name]), toBucket);
  }

  async listBuckets(): Promise<Bucket[]> {
    return (await this.rows<BucketRow>('SELECT * FROM buckets ORDER BY name')).map(toBucket);
  }

  async updateBucket(name: string, change: Partial<Pick<Bucket, 'acl' | 'versioning' | 'grants'>>): Promise<void> {
    const values: unknown[] = [name];
    const grants = change.grants === undefined ? undefined : JSON.stringify(change.grants);
    const sets = assignments(values, [
      ['acl', change.acl],
      ['versioning', change.versioning],
      ['grants', grants],
    ]);
    if (sets.length > 0) await this.rows(`UPDATE buckets SET ${sets.join(', ')} WHERE name = $1`, values);
  }

  async deleteBucket(name: string): Promise<boolean> {
    try {
      return await this.run(this.deleteEmptyBucket(name));
    } catch (err) {
      // PostgreSQL: a write into the bucket that had not committed when the emptiness check ran.
      if (this.dialect.isForeignKeyViolation(err)) return false;
      throw err;
    }
  }

  private *deleteEmptyBucket(name: string): Steps<boolean> {
    const deleted = yield* query(
      `DELETE FROM buckets WHERE name = $1
         AND NOT EXISTS (SELECT 1 FROM objects WHERE bucket = $1)
         AND NOT EXISTS (SELECT 1 FROM multipart_uploads WHERE bucket = $1)
       RETURNING name`,
      [name],
    );
    if (deleted.length === 1) return true;
    const [left] = yield* query('SELECT name FROM buckets WHERE name = $1', [name]);
    return left === undefined;
  }

  // Objects

  async insertPending(version: ObjectVersion): Promise<void> {
    await this.transaction(this.insertPendingRow(version));
  }

  private *insertPendingRow(version: ObjectVersion): Steps<void> {
    const d = this.dialect;
    const [row] = yield* query<{ id: Int }>(
      `INSERT INTO objects (bucket, key, version_id, seq, state, is_latest, is_delete_marker, size, etag,
         last_modified, content_type, content_encoding, content_disposition, content_language, cache_control,
         expires, user_metadata, tags, acl, owner_id, checksums, xxhash64, placement_blob, placement_nodes,
         part_count, pending_id, created_at)
       VALUES ($1, $2, $3, NULL, 'pending', ${d.false}, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
         $18, $19, $20, $21, $22, $23, $24)
       RETURNING id`,
      [
        version.bucket,
        version.key,
        version.versionId,
        d.bool(version.isDeleteMarker),
        version.size,
        version.etag,
        d.time(version.lastModified),
        ...optionalValues(version),
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
        d.time(new Date()),
      ],
    );
    if (version.parts !== undefined) yield* this.insertParts(row!.id, version.parts);
  }

  /** Versions from their rows, multipart ones with their parts. */
  private *versions(rows: ObjectRow[]): Steps<ObjectVersion[]> {
    const parts = yield* this.partsOf(rows.filter((row) => row.part_count !== null).map((row) => row.id));
    const byObject = new Map<string, ObjectPartRow[]>();
    for (const part of parts) {
      const id = String(part.object_id);
      const siblings = byObject.get(id);
      if (siblings === undefined) byObject.set(id, [part]);
      else siblings.push(part);
    }
    return rows.map((row) => toVersion(row, byObject.get(String(row.id)) ?? []));
  }

  private *selectVersions(sql: string, values: unknown[]): Steps<ObjectVersion[]> {
    return yield* this.versions(yield* query<ObjectRow>(sql, values));
  }

  /** The row a commit or abort is about: the writer's own when it named it, else the oldest. */
  private *pendingRow(bucket: string, key: string, versionId: string, pendingId: string | undefined): Steps<{ id: Int } | undefined> {
    const [row] = yield* query<{ id: Int }>(
      `SELECT id FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'pending'
         AND (CAST($4 AS text) IS NULL OR pending_id = $4)
       ORDER BY id LIMIT 1`,
      [bucket, key, versionId, pendingId ?? null],
    );
    return row;
  }

  private *addBytes(bucket: string, bytes: number): Steps<void> {
    if (bytes !== 0) yield* this.upsertCost(bucket, { bytesStored: bytes });
  }

  async commit(bucket: string, key: string, versionId: string, written: CommittedContent, options: CommitOptions = {}): Promise<{ orphaned: string[] }> {
    return this.transaction(this.commitPending(bucket, key, versionId, written, options));
  }

  private *commitPending(bucket: string, key: string, versionId: string, written: CommittedContent, options: CommitOptions): Steps<{ orphaned: string[] }> {
    const d = this.dialect;
    yield* this.lockKey(bucket, key);
    const pending = yield* this.pendingRow(bucket, key, versionId, options.pendingId);
    if (pending === undefined) throw new Error(`no pending version ${versionId} of ${bucket}/${key} to commit`);
    if (options.precondition) {
      const [current] = yield* query<{ etag: string; is_delete_marker: ObjectRow['is_delete_marker'] }>(
        `SELECT etag, is_delete_marker FROM objects WHERE bucket = $1 AND key = $2 AND ${d.isTrue('is_latest')}`,
        [bucket, key],
      );
      options.precondition(current && !bool(current.is_delete_marker) ? { etag: current.etag } : null);
    }
    // The upload goes first: its parts' rows must be gone before asking which blobs are unused.
    let uploadBlobs: string[] = [];
    if (options.completesUpload !== undefined) {
      const removed = yield* this.removeUpload(options.completesUpload);
      if (!removed.found) throw new UploadGoneError(options.completesUpload);
      uploadBlobs = removed.candidates;
    }

    let candidates: string[] = [];
    let freed = 0;
    if (versionId === 'null') {
      const [replaced] = yield* query<{ id: Int; size: Int; placement_blob: string }>(
        `SELECT id, size, placement_blob FROM objects
         WHERE bucket = $1 AND key = $2 AND version_id = 'null' AND state = 'committed'`,
        [bucket, key],
      );
      if (replaced !== undefined) {
        candidates = blobsOf(replaced.placement_blob, yield* this.partsOf([replaced.id]));
        freed = Number(replaced.size);
        yield* query('DELETE FROM objects WHERE id = $1', [replaced.id]);
      }
    }

    yield* query(`UPDATE objects SET is_latest = ${d.false} WHERE bucket = $1 AND key = $2 AND ${d.isTrue('is_latest')}`, [bucket, key]);
    yield* query(
      `UPDATE objects SET state = 'committed', is_latest = ${d.true},
         seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM objects WHERE bucket = $2 AND key = $3 AND state = 'committed'),
         size = $4, etag = $5, last_modified = $6, checksums = $7, xxhash64 = $8, placement_blob = $9,
         placement_nodes = $10, part_count = $11, pending_id = NULL
       WHERE id = $1`,
      [
        pending.id,
        bucket,
        key,
        written.size,
        written.etag,
        d.time(written.lastModified),
        JSON.stringify(written.checksums),
        written.xxhash64,
        written.placement.blob,
        JSON.stringify(written.placement.nodes),
        written.parts?.length ?? null,
      ],
    );
    yield* query('DELETE FROM object_parts WHERE object_id = $1', [pending.id]);
    if (written.parts !== undefined) yield* this.insertParts(pending.id, written.parts);
    if (options.completesUpload !== undefined) {
      yield* query('INSERT INTO completed_uploads (upload_id, object_id, completed_at) VALUES ($1, $2, $3)', [options.completesUpload, pending.id, d.time(new Date())]);
    }
    // Last, so the bucket's counter row (shared by all its writers) is locked only briefly.
    yield* this.addBytes(bucket, written.size - freed);
    return { orphaned: yield* this.unreferenced([...candidates, ...uploadBlobs]) };
  }

  async abortPending(bucket: string, key: string, versionId: string, pendingId?: string): Promise<void> {
    await this.transaction(this.dropPending(bucket, key, versionId, pendingId));
  }

  private *dropPending(bucket: string, key: string, versionId: string, pendingId: string | undefined): Steps<void> {
    yield* this.lockKey(bucket, key);
    const pending = yield* this.pendingRow(bucket, key, versionId, pendingId);
    if (pending !== undefined) yield* query('DELETE FROM objects WHERE id = $1', [pending.id]);
  }

  async getObject(bucket: string, key: string, versionId?: string): Promise<ObjectVersion | null> {
    const [version] = await this.run(
      versionId === undefined
        ? this.selectVersions(`SELECT ${OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND key = $2 AND ${this.dialect.isTrue('is_latest')}`, [bucket, key])
        : this.selectVersions(
            `SELECT ${OBJECT_COLUMNS} FROM objects
             WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
            [bucket, key, versionId],
          ),
    );
    return version ?? null;
  }

  async deleteVersion(bucket: string, key: string, versionId: string): Promise<{ removed: 'version' | 'deleteMarker' | null; orphaned: string[] }> {
    return this.transaction(this.removeVersion(bucket, key, versionId));
  }

  private *removeVersion(bucket: string, key: string, versionId: string): Steps<{ removed: 'version' | 'deleteMarker' | null; orphaned: string[] }> {
    const d = this.dialect;
    yield* this.lockKey(bucket, key);
    const [row] = yield* query<{ id: Int; size: Int; placement_blob: string; is_latest: ObjectRow['is_latest']; is_delete_marker: ObjectRow['is_delete_marker'] }>(
      `SELECT id, size, placement_blob, is_latest, is_delete_marker FROM objects
       WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
      [bucket, key, versionId],
    );
    if (row === undefined) return { removed: null, orphaned: [] };
    const candidates = blobsOf(row.placement_blob, yield* this.partsOf([row.id]));
    yield* query('DELETE FROM objects WHERE id = $1', [row.id]);
    if (bool(row.is_latest)) {
      yield* query(
        `UPDATE objects SET is_latest = ${d.true} WHERE id = (SELECT id FROM objects
           WHERE bucket = $1 AND key = $2 AND state = 'committed' ORDER BY seq DESC LIMIT 1)`,
        [bucket, key],
      );
    }
    yield* this.addBytes(bucket, -Number(row.size));
    return { removed: bool(row.is_delete_marker) ? 'deleteMarker' : 'version', orphaned: yield* this.unreferenced(candidates) };
  }

  async updateObject(bucket: string, key: string, versionId: string, change: Partial<Pick<ObjectVersion, 'tags' | 'acl'>>): Promise<void> {
    const values: unknown[] = [bucket, key, versionId];
    const tags = change.tags === undefined ? undefined : JSON.stringify(change.tags);
    const sets = assignments(values, [
      ['tags', tags],
      ['acl', change.acl],
    ]);
    if (sets.length === 0) return;
    await this.rows(
      `UPDATE objects SET ${sets.join(', ')}
       WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
      values,
    );
  }

  async listObjects(q: ListObjectsQuery): Promise<ListObjectsPage> {
    const d = this.dialect;
    const fetch = async (cursor: ListCursor, limit: number) => {
      const rows = await this.rows<ObjectRow>(
        `SELECT ${OBJECT_COLUMNS} FROM objects
         WHERE bucket = $1 AND ${d.isTrue('is_latest')} AND ${d.isFalse('is_delete_marker')} AND key ${cursor.inclusive ? '>=' : '>'} $2
         ORDER BY key LIMIT $3`,
        [q.bucket, cursor.key, limit],
      );
      return rows.map(listed);
    };
    const walk = await walkListing(q, fetch);
    return listingPage(walk, await this.run(this.versions(walk.rows.map((r) => r.row))));
  }

  async listVersions(q: ListVersionsQuery): Promise<ListObjectsPage & { nextVersionIdMarker?: string }> {
    let afterSeq: number | undefined;
    if (q.after !== undefined && q.afterVersionId !== undefined) {
      const [marker] = await this.rows<{ seq: Int }>(
        `SELECT seq FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3 AND state = 'committed'`,
        [q.bucket, q.after, q.afterVersionId],
      );
      if (marker !== undefined) afterSeq = Number(marker.seq);
    }
    const walk = await walkListing(q, (cursor, limit) => this.run(this.versionRows(q.bucket, cursor, limit)), afterSeq);
    return {
      ...listingPage(walk, await this.run(this.versions(walk.rows.map((r) => r.row)))),
      ...(walk.nextVersionIdMarker !== undefined && { nextVersionIdMarker: walk.nextVersionIdMarker }),
    };
  }

  /** Committed versions in listing order after the cursor: the rest of its key first (older than belowSeq), then later keys. */
  private *versionRows(bucket: string, cursor: ListCursor, limit: number): Steps<Listed[]> {
    const rows: ObjectRow[] = [];
    if (cursor.belowSeq !== undefined) {
      rows.push(
        ...(yield* query<ObjectRow>(
          `SELECT ${OBJECT_COLUMNS} FROM objects
           WHERE bucket = $1 AND key = $2 AND state = 'committed' AND seq < $3
           ORDER BY seq DESC LIMIT $4`,
          [bucket, cursor.key, cursor.belowSeq, limit],
        )),
      );
    }
    if (rows.length < limit) {
      rows.push(
        ...(yield* query<ObjectRow>(
          `SELECT ${OBJECT_COLUMNS} FROM objects
           WHERE bucket = $1 AND state = 'committed' AND key ${cursor.inclusive ? '>=' : '>'} $2
           ORDER BY key, seq DESC LIMIT $3`,
          [bucket, cursor.key, limit - rows.length],
        )),
      );
    }
    return rows.map((row) => ({ ...listed(row), seq: Number(row.seq) }));
  }

  async stalePending(olderThan: Date): Promise<ObjectVersion[]> {
    return this.run(
      this.selectVersions(`SELECT ${OBJECT_COLUMNS} FROM objects WHERE state = 'pending' AND created_at < $1 ORDER BY created_at`, [
        this.dialect.time(olderThan),
      ]),
    );
  }

  async blobReferenced(blob: string): Promise<boolean> {
    return (await this.run(this.unreferenced([blob]))).length === 0;
  }

  async stats(): Promise<{ objects: number; bytes: number }> {
    const [row] = await this.rows<{ objects: Int; bytes: Int }>(
      `SELECT COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects
       WHERE state = 'committed' AND ${this.dialect.isFalse('is_delete_marker')}`,
    );
    return { objects: Number(row!.objects), bytes: Number(row!.bytes) };
  }

  // Multipart uploads

  async createUpload(upload: MultipartUpload): Promise<void> {
    await this.rows(
      `INSERT INTO multipart_uploads (upload_id, bucket, key, initiated, owner_id, template, checksum_algorithm, checksum_type)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        upload.uploadId,
        upload.bucket,
        upload.key,
        this.dialect.time(upload.initiated),
        upload.ownerId,
        JSON.stringify(upload.template),
        upload.checksum?.algorithm ?? null,
        upload.checksum?.type ?? null,
      ],
    );
  }

  async getUpload(uploadId: string): Promise<MultipartUpload | null> {
    return first(await this.rows<UploadRow>('SELECT * FROM multipart_uploads WHERE upload_id = $1', [uploadId]), toUpload);
  }

  async putPart(part: UploadPart): Promise<{ replaced?: string }> {
    return this.transaction(this.replacePart(part));
  }

  private *replacePart(part: UploadPart): Steps<{ replaced?: string }> {
    // Two uploads of one part number at once must each see the blob the other replaced.
    const previous = yield* query<{ blob: string }>(
      `SELECT blob FROM upload_parts WHERE upload_id = $1 AND part_number = $2${this.dialect.forUpdate}`,
      [part.uploadId, part.partNumber],
    );
    yield* query(
      `INSERT INTO upload_parts (upload_id, part_number, size, etag, last_modified, blob, xxhash64, checksums)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (upload_id, part_number) DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag,
         last_modified = EXCLUDED.last_modified, blob = EXCLUDED.blob, xxhash64 = EXCLUDED.xxhash64,
         checksums = EXCLUDED.checksums`,
      [part.uploadId, part.partNumber, part.size, part.etag, this.dialect.time(part.lastModified), part.blob, part.xxhash64, JSON.stringify(part.checksums ?? {})],
    );
    const [replaced] = yield* this.unreferenced(previous.map((r) => r.blob));
    return replaced === undefined ? {} : { replaced };
  }

  async listParts(uploadId: string, afterPart: number, maxParts: number): Promise<UploadPart[]> {
    const rows = await this.rows<UploadPartRow>(
      'SELECT * FROM upload_parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3',
      [uploadId, afterPart, maxParts],
    );
    return rows.map(toUploadPart);
  }

  async listUploads(bucket: string, prefix: string, afterKey?: string, afterUploadId?: string, maxUploads = 1000): Promise<MultipartUpload[]> {
    return (await this.run(this.uploadRows(bucket, prefix, afterKey, afterUploadId, maxUploads))).map(toUpload);
  }

  private *uploadRows(bucket: string, prefix: string, afterKey: string | undefined, afterUploadId: string | undefined, maxUploads: number): Steps<UploadRow[]> {
    const values: unknown[] = [bucket, prefix];
    const conditions = ['bucket = $1', 'key >= $2'];
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    if (end !== undefined) conditions.push(`key < $${values.push(end)}`);
    if (afterKey !== undefined) {
      const [marker] =
        afterUploadId === undefined
          ? []
          : yield* query<{ initiated: Time }>('SELECT initiated FROM multipart_uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3', [
              afterUploadId,
              bucket,
              afterKey,
            ]);
      if (marker === undefined) {
        conditions.push(`key > $${values.push(afterKey)}`);
      } else {
        const n = values.push(afterKey, marker.initiated, afterUploadId);
        conditions.push(`(key, initiated, upload_id) > ($${n - 2}, $${n - 1}, $${n})`);
      }
    }
    return yield* query<UploadRow>(
      `SELECT * FROM multipart_uploads WHERE ${conditions.join(' AND ')}
       ORDER BY key, initiated, upload_id LIMIT $${values.push(maxUploads)}`,
      values,
    );
  }

  async deleteUpload(uploadId: string): Promise<{ found: boolean; blobs: string[] }> {
    return this.transaction(this.abandonUpload(uploadId));
  }

  private *abandonUpload(uploadId: string): Steps<{ found: boolean; blobs: string[] }> {
    const { found, candidates } = yield* this.removeUpload(uploadId);
    return { found, blobs: yield* this.unreferenced(candidates) };
  }

  /**
   * Removes an upload and its parts, the upload's row first: a completion and an abort of one
   * upload then queue on that one row (never on each other's part rows in opposite orders), and
   * whichever comes second finds nothing. Returns the parts' blobs as candidates for orphaning.
   */
  private *removeUpload(uploadId: string): Steps<{ found: boolean; candidates: string[] }> {
    const [upload] = yield* query(`SELECT upload_id FROM multipart_uploads WHERE upload_id = $1${this.dialect.forUpdate}`, [uploadId]);
    if (upload === undefined) return { found: false, candidates: [] };
    const parts = yield* query<{ blob: string }>('DELETE FROM upload_parts WHERE upload_id = $1 RETURNING blob', [uploadId]);
    yield* query('DELETE FROM multipart_uploads WHERE upload_id = $1', [uploadId]);
    return { found: true, candidates: parts.map((p) => p.blob) };
  }

  async staleUploads(olderThan: Date): Promise<MultipartUpload[]> {
    const rows = await this.rows<UploadRow>('SELECT * FROM multipart_uploads WHERE initiated < $1 ORDER BY initiated', [this.dialect.time(olderThan)]);
    return rows.map(toUpload);
  }

  async completedUpload(uploadId: string): Promise<ObjectVersion | null> {
    const [version] = await this.run(
      this.selectVersions(
        `SELECT ${OBJECT_COLUMNS} FROM objects
         WHERE id = (SELECT object_id FROM completed_uploads WHERE upload_id = $1) AND state = 'committed'`,
        [uploadId],
      ),
    );
    return version ?? null;
  }

  async pruneCompletedUploads(olderThan: Date): Promise<number> {
    return (await this.rows('DELETE FROM completed_uploads WHERE completed_at < $1 RETURNING upload_id', [this.dialect.time(olderThan)])).length;
  }

  // Costs and node health

  protected *upsertCost(bucket: string, delta: CostDelta): Steps<void> {
    yield* query(
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

  async addCost(bucket: string, delta: CostDelta): Promise<void> {
    await this.run(this.upsertCost(bucket, delta));
  }

  async costs(bucket?: string): Promise<CostRecord[]> {
    const rows =
      bucket === undefined
        ? await this.rows<CostRow>('SELECT * FROM cost_tracking ORDER BY bucket, tier')
        : await this.rows<CostRow>('SELECT * FROM cost_tracking WHERE bucket = $1 ORDER BY tier', [bucket]);
    return rows.map(toCost);
  }

  async setNodeHealth(health: NodeHealth): Promise<void> {
    await this.rows(
      `INSERT INTO node_health (node, status, checked, bytes_used) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node) DO UPDATE SET status = EXCLUDED.status, checked = EXCLUDED.checked,
         bytes_used = EXCLUDED.bytes_used`,
      [health.node, health.status, this.dialect.time(health.checked), health.bytesUsed],
    );
  }

  async nodeHealth(): Promise<NodeHealth[]> {
    return (await this.rows<NodeHealthRow>(`SELECT * FROM node_health ORDER BY ${this.dialect.bytewise('node')}`)).map(toNodeHealth);
  }
}
