import type { Dialect } from './dialect.js';

/**
 * The metadata schema of both stores, as migrations: entry i takes a database from version i to
 * i + 1, so a later release appends a step instead of editing one that databases in the field
 * already ran. Column types and boolean conditions come from the dialect (see dialect.ts for how
 * each one orders keys and stores times, booleans and JSON).
 */
export function migrations(d: Dialect): readonly string[] {
  const t = d.types;
  return [
    `
  CREATE TABLE users (
    id ${t.text} PRIMARY KEY,
    display_name ${t.text} NOT NULL,
    access_key ${t.text} NOT NULL UNIQUE,
    secret_key ${t.text} NOT NULL
  );

  CREATE TABLE buckets (
    name ${t.key} PRIMARY KEY,
    owner_id ${t.text} NOT NULL,
    created ${t.time} NOT NULL,
    acl ${t.text} NOT NULL,
    versioning ${t.text} NOT NULL CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended')),
    grants ${t.json} NOT NULL
  );

  -- One row per version. A pending row has no seq; several pending rows may share a version id
  -- ('null' written twice at once), committed ones may not.
  CREATE TABLE objects (
    id ${t.rowId},
    bucket ${t.key} NOT NULL REFERENCES buckets (name),
    key ${t.key} NOT NULL,
    version_id ${t.key} NOT NULL,
    seq ${t.bigint},
    state ${t.text} NOT NULL CHECK (state IN ('pending', 'committed', 'tombstoned')),
    is_latest ${t.bool} NOT NULL,
    is_delete_marker ${t.bool} NOT NULL,
    size ${t.bigint} NOT NULL,
    etag ${t.text} NOT NULL,
    last_modified ${t.time} NOT NULL,
    content_type ${t.text},
    content_encoding ${t.text},
    content_disposition ${t.text},
    content_language ${t.text},
    cache_control ${t.text},
    expires ${t.text},
    user_metadata ${t.json} NOT NULL,
    tags ${t.json} NOT NULL,
    acl ${t.text} NOT NULL,
    owner_id ${t.text} NOT NULL,
    checksums ${t.json} NOT NULL,
    xxhash64 ${t.text} NOT NULL,
    placement_blob ${t.text} NOT NULL,
    placement_nodes ${t.json} NOT NULL,
    part_count ${t.int},
    pending_id ${t.text},
    created_at ${t.time} NOT NULL
  );
  CREATE INDEX objects_by_version ON objects (bucket, key, version_id);
  CREATE UNIQUE INDEX objects_committed_version ON objects (bucket, key, version_id) WHERE state <> 'pending';
  CREATE UNIQUE INDEX objects_latest ON objects (bucket, key) WHERE ${d.isTrue('is_latest')};
  CREATE INDEX objects_listing ON objects (bucket, key) WHERE ${d.isTrue('is_latest')} AND ${d.isFalse('is_delete_marker')};
  CREATE INDEX objects_versions ON objects (bucket, key, seq DESC) WHERE state = 'committed';
  CREATE INDEX objects_blob ON objects (placement_blob);
  CREATE INDEX objects_pending ON objects (created_at) WHERE state = 'pending';

  -- The parts of a multipart object, in their own table so a blob reference is an index probe.
  CREATE TABLE object_parts (
    object_id ${t.bigint} NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    part_number ${t.int} NOT NULL,
    size ${t.bigint} NOT NULL,
    etag ${t.text} NOT NULL,
    blob ${t.text} NOT NULL,
    xxhash64 ${t.text} NOT NULL,
    PRIMARY KEY (object_id, part_number)
  );
  CREATE INDEX object_parts_blob ON object_parts (blob);

  CREATE TABLE multipart_uploads (
    upload_id ${t.text} PRIMARY KEY,
    bucket ${t.key} NOT NULL REFERENCES buckets (name),
    key ${t.key} NOT NULL,
    initiated ${t.time} NOT NULL,
    owner_id ${t.text} NOT NULL,
    template ${t.json} NOT NULL
  );
  CREATE INDEX multipart_uploads_listing ON multipart_uploads (bucket, key, initiated, upload_id);
  CREATE INDEX multipart_uploads_initiated ON multipart_uploads (initiated);

  CREATE TABLE upload_parts (
    upload_id ${t.text} NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number ${t.int} NOT NULL,
    size ${t.bigint} NOT NULL,
    etag ${t.text} NOT NULL,
    last_modified ${t.time} NOT NULL,
    blob ${t.text} NOT NULL,
    xxhash64 ${t.text} NOT NULL,
    PRIMARY KEY (upload_id, part_number)
  );
  CREATE INDEX upload_parts_blob ON upload_parts (blob);

  -- Not tied to buckets: the counters are billing history and outlive a deleted bucket.
  CREATE TABLE cost_tracking (
    bucket ${t.key} NOT NULL,
    tier ${t.text} NOT NULL,
    bytes_stored ${t.bigint} NOT NULL DEFAULT 0,
    get_requests ${t.bigint} NOT NULL DEFAULT 0,
    put_requests ${t.bigint} NOT NULL DEFAULT 0,
    list_requests ${t.bigint} NOT NULL DEFAULT 0,
    delete_requests ${t.bigint} NOT NULL DEFAULT 0,
    egress_bytes ${t.bigint} NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, tier)
  );

  CREATE TABLE node_health (
    node ${t.text} PRIMARY KEY,
    status ${t.text} NOT NULL CHECK (status IN ('up', 'down')),
    checked ${t.time} NOT NULL,
    bytes_used ${t.bigint} NOT NULL
  );
  `,
    // 2: multipart checksums. An upload's algorithm and type (NULL: created without one), and each
    // part's checksum, kept by a completed object's parts too (GetObject partNumber answers it).
    // Existing rows get no algorithm and no part checksums: exactly what they were uploaded with.
    `
  ALTER TABLE multipart_uploads ADD COLUMN checksum_algorithm ${t.text};
  ALTER TABLE multipart_uploads ADD COLUMN checksum_type ${t.text} CHECK (checksum_type IN ('COMPOSITE', 'FULL_OBJECT'));
  ALTER TABLE upload_parts ADD COLUMN checksums ${t.json} NOT NULL DEFAULT '{}';
  ALTER TABLE object_parts ADD COLUMN checksums ${t.json} NOT NULL DEFAULT '{}';
  `,
    // 3: completed multipart uploads, so a Complete retried after its upload is gone is recognised
    // exactly (see MetadataStore.completedUpload). A table rather than a column on objects: the
    // records are pruned after a day, which here is a DELETE on a small table instead of an
    // UPDATE of object rows. The version is named by its row, not by (bucket, key, version_id):
    // the 'null' version id is taken again by the next unversioned write of the key, and the
    // record must not then name that other object. ON DELETE CASCADE drops the record with its
    // version (a DELETE by version id, a replaced 'null' version), so a retry can never bring a
    // deleted version back. Uploads completed before this migration have no record.
    `
  CREATE TABLE completed_uploads (
    upload_id ${t.text} PRIMARY KEY,
    object_id ${t.bigint} NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    completed_at ${t.time} NOT NULL
  );
  -- Every delete of an object row looks for its record (the cascade), and the GC prunes by age.
  CREATE INDEX completed_uploads_object ON completed_uploads (object_id);
  CREATE INDEX completed_uploads_completed ON completed_uploads (completed_at);
  `,
  ];
}
