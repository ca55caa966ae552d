/**
 * The SQLite schema, as migrations: entry i takes a database from version i to i + 1, so a later
 * release appends a step instead of editing one that databases in the field already ran.
 *
 * Keys are TEXT with SQLite's default BINARY collation, which compares the stored UTF-8 bytes:
 * exactly S3's key order. Times are milliseconds since the epoch; JSON columns are TEXT.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    access_key TEXT NOT NULL UNIQUE,
    secret_key TEXT NOT NULL
  );

  CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    created INTEGER NOT NULL,
    acl TEXT NOT NULL,
    versioning TEXT NOT NULL CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended')),
    grants TEXT NOT NULL
  );

  -- One row per version. A pending row has no seq; several pending rows may share a version id
  -- ('null' written twice at once), committed ones may not.
  CREATE TABLE objects (
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES buckets (name),
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    seq INTEGER,
    state TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'tombstoned')),
    is_latest INTEGER NOT NULL,
    is_delete_marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    content_type TEXT,
    content_encoding TEXT,
    content_disposition TEXT,
    content_language TEXT,
    cache_control TEXT,
    expires TEXT,
    user_metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    acl TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    checksums TEXT NOT NULL,
    xxhash64 TEXT NOT NULL,
    placement_blob TEXT NOT NULL,
    placement_nodes TEXT NOT NULL,
    part_count INTEGER,
    pending_id TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX objects_by_version ON objects (bucket, key, version_id);
  CREATE UNIQUE INDEX objects_committed_version ON objects (bucket, key, version_id) WHERE state <> 'pending';
  CREATE UNIQUE INDEX objects_latest ON objects (bucket, key) WHERE is_latest = 1;
  CREATE INDEX objects_listing ON objects (bucket, key) WHERE is_latest = 1 AND is_delete_marker = 0;
  CREATE INDEX objects_versions ON objects (bucket, key, seq DESC) WHERE state = 'committed';
  CREATE INDEX objects_blob ON objects (placement_blob);
  CREATE INDEX objects_pending ON objects (created_at) WHERE state = 'pending';

  -- The parts of a multipart object, in their own table so a blob reference is an index probe.
  CREATE TABLE object_parts (
    object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    blob TEXT NOT NULL,
    xxhash64 TEXT NOT NULL,
    PRIMARY KEY (object_id, part_number)
  );
  CREATE INDEX object_parts_blob ON object_parts (blob);

  CREATE TABLE multipart_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES buckets (name),
    key TEXT NOT NULL,
    initiated INTEGER NOT NULL,
    owner_id TEXT NOT NULL,
    template TEXT NOT NULL
  );
  CREATE INDEX multipart_uploads_listing ON multipart_uploads (bucket, key, initiated, upload_id);
  CREATE INDEX multipart_uploads_initiated ON multipart_uploads (initiated);

  CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    blob TEXT NOT NULL,
    xxhash64 TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
  );
  CREATE INDEX upload_parts_blob ON upload_parts (blob);

  -- Not tied to buckets: the counters are billing history and outlive a deleted bucket.
  CREATE TABLE cost_tracking (
    bucket TEXT NOT NULL,
    tier TEXT NOT NULL,
    bytes_stored INTEGER NOT NULL DEFAULT 0,
    get_requests INTEGER NOT NULL DEFAULT 0,
    put_requests INTEGER NOT NULL DEFAULT 0,
    list_requests INTEGER NOT NULL DEFAULT 0,
    delete_requests INTEGER NOT NULL DEFAULT 0,
    egress_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, tier)
  );

  CREATE TABLE node_health (
    node TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('up', 'down')),
    checked INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL
  );
  `,
];
