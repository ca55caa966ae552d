import type {
  Acl,
  Bucket,
  CostRecord,
  MetadataStore,
  MultipartUpload,
  NodeHealth,
  ObjectState,
  ObjectVersion,
  UploadChecksum,
  UploadPart,
  User,
  VersioningState,
} from './types.js';

/**
 * Rows as either driver returns them, turned into the contract's types in one place. better-sqlite3
 * gives numbers (times in ms, booleans as 0/1) and JSON as TEXT; pg gives bigint as strings,
 * timestamptz as Date, booleans and parsed jsonb.
 */
export type Int = number | string;
type Bool = number | boolean;
export type Time = number | Date;
type Json = string | object;

export interface ObjectRow {
  id: Int;
  bucket: string;
  key: string;
  version_id: string;
  seq: Int | null;
  state: ObjectState;
  is_latest: Bool;
  is_delete_marker: Bool;
  size: Int;
  etag: string;
  last_modified: Time;
  content_type: string | null;
  content_encoding: string | null;
  content_disposition: string | null;
  content_language: string | null;
  cache_control: string | null;
  expires: string | null;
  user_metadata: Json;
  tags: Json;
  acl: Acl;
  owner_id: string;
  checksums: Json;
  xxhash64: string;
  placement_blob: string;
  placement_nodes: Json;
  part_count: number | null;
  pending_id: string | null;
}

export const OBJECT_COLUMNS =
  'id, bucket, key, version_id, seq, state, is_latest, is_delete_marker, size, etag, last_modified, ' +
  'content_type, content_encoding, content_disposition, content_language, cache_control, expires, ' +
  'user_metadata, tags, acl, owner_id, checksums, xxhash64, placement_blob, placement_nodes, part_count, pending_id';

export interface ObjectPartRow {
  object_id: Int;
  part_number: number;
  size: Int;
  etag: string;
  blob: string;
  xxhash64: string;
  checksums: Json;
}

export interface UserRow {
  id: string;
  display_name: string;
  access_key: string;
  secret_key: string;
}

export interface BucketRow {
  name: string;
  owner_id: string;
  created: Time;
  acl: Acl;
  versioning: VersioningState;
  grants: Json;
}

export interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  initiated: Time;
  owner_id: string;
  template: Json;
  checksum_algorithm: string | null;
  checksum_type: UploadChecksum['type'] | null;
}

export interface UploadPartRow {
  upload_id: string;
  part_number: number;
  size: Int;
  etag: string;
  last_modified: Time;
  blob: string;
  xxhash64: string;
  checksums: Json;
}

export interface CostRow {
  bucket: string;
  tier: string;
  bytes_stored: Int;
  get_requests: Int;
  put_requests: Int;
  list_requests: Int;
  delete_requests: Int;
  egress_bytes: Int;
}

export interface NodeHealthRow {
  node: string;
  status: 'up' | 'down';
  checked: Time;
  bytes_used: Int;
}

const int = (value: Int): number => Number(value);
export const bool = (value: Bool): boolean => value === true || value === 1;
const time = (value: Time): Date => (value instanceof Date ? value : new Date(value));
const json = <T>(value: Json): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

/** The optional header fields, omitted rather than undefined when absent (callers compare objects). */
const OPTIONAL_FIELDS = [
  ['content_type', 'contentType'],
  ['content_encoding', 'contentEncoding'],
  ['content_disposition', 'contentDisposition'],
  ['content_language', 'contentLanguage'],
  ['cache_control', 'cacheControl'],
  ['expires', 'expires'],
] as const;

export function toVersion(row: ObjectRow, parts: ObjectPartRow[]): ObjectVersion {
  const version: ObjectVersion = {
    bucket: row.bucket,
    key: row.key,
    versionId: row.version_id,
    isLatest: bool(row.is_latest),
    isDeleteMarker: bool(row.is_delete_marker),
    state: row.state,
    size: int(row.size),
    etag: row.etag,
    lastModified: time(row.last_modified),
    userMetadata: json(row.user_metadata),
    tags: json(row.tags),
    acl: row.acl,
    ownerId: row.owner_id,
    checksums: json(row.checksums),
    xxhash64: row.xxhash64,
    placement: { blob: row.placement_blob, nodes: json(row.placement_nodes) },
  };
  for (const [column, field] of OPTIONAL_FIELDS) {
    const value = row[column];
    if (value !== null) version[field] = value;
  }
  if (row.pending_id !== null) version.pendingId = row.pending_id;
  if (row.part_count !== null) {
    version.parts = parts
      .slice()
      .sort((a, b) => a.part_number - b.part_number)
      .map((p) => ({ size: int(p.size), blob: p.blob, xxhash64: p.xxhash64, etag: p.etag, ...partChecksums(p.checksums) }));
  }
  return version;
}

/** A part's checksums, left out when it has none (parts of uploads without a checksum algorithm). */
function partChecksums(value: Json): { checksums?: Record<string, string> } {
  const checksums = json<Record<string, string>>(value);
  return Object.keys(checksums).length === 0 ? {} : { checksums };
}

/** The header columns' values, in OPTIONAL_FIELDS order, null when absent. */
export function optionalValues(version: ObjectVersion): (string | null)[] {
  return OPTIONAL_FIELDS.map(([, field]) => version[field] ?? null);
}

/** Every blob a version's bytes live in (a delete marker has none). */
export function blobsOf(placementBlob: string, parts: { blob: string }[]): string[] {
  return [placementBlob, ...parts.map((p) => p.blob)].filter((blob) => blob !== '');
}

export const toUser = (row: UserRow): User => ({
  id: row.id,
  displayName: row.display_name,
  accessKey: row.access_key,
  secretKey: row.secret_key,
});

export const toBucket = (row: BucketRow): Bucket => ({
  name: row.name,
  ownerId: row.owner_id,
  created: time(row.created),
  acl: row.acl,
  versioning: row.versioning,
  grants: json(row.grants),
});

export const toUpload = (row: UploadRow): MultipartUpload => ({
  uploadId: row.upload_id,
  bucket: row.bucket,
  key: row.key,
  initiated: time(row.initiated),
  ownerId: row.owner_id,
  template: json(row.template),
  ...(row.checksum_algorithm !== null && row.checksum_type !== null && { checksum: { algorithm: row.checksum_algorithm, type: row.checksum_type } }),
});

export const toUploadPart = (row: UploadPartRow): UploadPart => ({
  uploadId: row.upload_id,
  partNumber: row.part_number,
  size: int(row.size),
  etag: row.etag,
  lastModified: time(row.last_modified),
  blob: row.blob,
  xxhash64: row.xxhash64,
  ...partChecksums(row.checksums),
});

export const toCost = (row: CostRow): CostRecord => ({
  bucket: row.bucket,
  tier: row.tier,
  bytesStored: int(row.bytes_stored),
  requests: {
    get: int(row.get_requests),
    put: int(row.put_requests),
    list: int(row.list_requests),
    delete: int(row.delete_requests),
  },
  egressBytes: int(row.egress_bytes),
});

export const toNodeHealth = (row: NodeHealthRow): NodeHealth => ({
  node: row.node,
  status: row.status,
  checked: time(row.checked),
  bytesUsed: int(row.bytes_used),
});

export type CostDelta = Parameters<MetadataStore['addCost']>[1];

/** A cost delta as cost_tracking's counters, in column order. */
export function costColumns(delta: CostDelta): number[] {
  return [delta.bytesStored ?? 0, delta.get ?? 0, delta.put ?? 0, delta.list ?? 0, delta.delete ?? 0, delta.egressBytes ?? 0];
}

/** The tier every write is accounted to today. */
export const STANDARD_TIER = 'standard';
