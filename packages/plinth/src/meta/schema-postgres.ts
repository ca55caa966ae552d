/**
 * The PostgreSQL schema, as migrations: entry i takes a database from version i to i + 1, so a
 * later release appends a step instead of editing one that databases in the field already ran.
 *
 * Bucket names, keys and version ids are `COLLATE "C"`: compared byte by byte, which in a UTF8
 * database is S3's key order whatever the cluster's locale.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id text PRIMARY KEY,
    display_name text NOT NULL,
    access_key text NOT NULL UNIQUE,
    secret_key text NOT NULL
  );

  CREATE TABLE buckets (
    name text COLLATE "C" PRIMARY KEY,
    owner_id text NOT NULL,
    created timestamptz NOT NULL,
    acl text NOT NULL,
    versioning text NOT NULL CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended')),
    grants jsonb NOT NULL
  );

  -- One row per version. A pending row has no seq; several pending rows may share a version id
  -- ('null' written twice at once), committed ones may not.
  CREATE TABLE objects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket text COLLATE "C" NOT NULL REFERENCES buckets (name),
    key text COLLATE "C" NOT NULL,
    version_id text COLLATE "C" NOT NULL,
    seq bigint,
    state text NOT NULL CHECK (state IN ('pending', 'committed', 'tombstoned')),
    is_latest boolean NOT NULL,
    is_delete_marker boolean NOT NULL,
    size bigint NOT NULL,
    etag text NOT NULL,
    last_modified timestamptz NOT NULL,
    content_type text,
    content_encoding text,
    content_disposition text,
    content_language text,
    cache_control text,
    expires text,
    user_metadata jsonb NOT NULL,
    tags jsonb NOT NULL,
    acl text NOT NULL,
    owner_id text NOT NULL,
    checksums jsonb NOT NULL,
    xxhash64 text NOT NULL,
    placement_blob text NOT NULL,
    placement_nodes jsonb NOT NULL,
    part_count integer,
    pending_id text,
    created_at timestamptz NOT NULL
  );
  CREATE INDEX objects_by_version ON objects (bucket, key, version_id);
  CREATE UNIQUE INDEX objects_committed_version ON objects (bucket, key, version_id) WHERE state <> 'pending';
  CREATE UNIQUE INDEX objects_latest ON objects (bucket, key) WHERE is_latest;
  CREATE INDEX objects_listing ON objects (bucket, key) WHERE is_latest AND NOT is_delete_marker;
  CREATE INDEX objects_versions ON objects (bucket, key, seq DESC) WHERE state = 'committed';
  CREATE INDEX objects_blob ON objects (placement_blob);
  CREATE INDEX objects_pending ON objects (created_at) WHERE state = 'pending';

  -- The parts of a multipart object, in their own table so a blob reference is an index probe.
  CREATE TABLE object_parts (
    object_id bigint NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    part_number integer NOT NULL,
    size bigint NOT NULL,
    etag text NOT NULL,
    blob text NOT NULL,
    xxhash64 text NOT NULL,
    PRIMARY KEY (object_id, part_number)
  );
  CREATE INDEX object_parts_blob ON object_parts (blob);

  CREATE TABLE multipart_uploads (
    upload_id text PRIMARY KEY,
    bucket text COLLATE "C" NOT NULL REFERENCES buckets (name),
    key text COLLATE "C" NOT NULL,
    initiated timestamptz NOT NULL,
    owner_id text NOT NULL,
    template jsonb NOT NULL
  );
  CREATE INDEX multipart_uploads_listing ON multipart_uploads (bucket, key, initiated, upload_id);
  CREATE INDEX multipart_uploads_initiated ON multipart_uploads (initiated);

  CREATE TABLE upload_parts (
    upload_id text NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number integer NOT NULL,
    size bigint NOT NULL,
    etag text NOT NULL,
    last_modified timestamptz NOT NULL,
    blob text NOT NULL,
    xxhash64 text NOT NULL,
    PRIMARY KEY (upload_id, part_number)
  );
  CREATE INDEX upload_parts_blob ON upload_parts (blob);

  -- Not tied to buckets: the counters are billing history and outlive a deleted bucket.
  CREATE TABLE cost_tracking (
    bucket text COLLATE "C" NOT NULL,
    tier text NOT NULL,
    bytes_stored bigint NOT NULL DEFAULT 0,
    get_requests bigint NOT NULL DEFAULT 0,
    put_requests bigint NOT NULL DEFAULT 0,
    list_requests bigint NOT NULL DEFAULT 0,
    delete_requests bigint NOT NULL DEFAULT 0,
    egress_bytes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, tier)
  );

  CREATE TABLE node_health (
    node text PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('up', 'down')),
    checked timestamptz NOT NULL,
    bytes_used bigint NOT NULL
  );
  `,
];
