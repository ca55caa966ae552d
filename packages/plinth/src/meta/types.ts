/**
 * The metadata service's contract: buckets, objects (every version), multipart uploads and their
 * parts, users, cost counters and node health. Two implementations pass the same test suite:
 * SQLite (embedded default, better-sqlite3) and PostgreSQL (pg). The gateway only talks to this
 * interface.
 */

export type Acl = 'private' | 'public-read' | 'public-read-write' | 'authenticated-read';
export type VersioningState = 'Unversioned' | 'Enabled' | 'Suspended';
export type ObjectState = 'pending' | 'committed' | 'tombstoned';

export interface User {
  /** Canonical id (the Owner ID in listings). */
  id: string;
  displayName: string;
  accessKey: string;
  secretKey: string;
}

export interface Bucket {
  name: string;
  ownerId: string;
  created: Date;
  acl: Acl;
  versioning: VersioningState;
  /** Users other than the owner granted access: user id → 'read' | 'write'. */
  grants: Record<string, 'read' | 'write'>;
}

/** Where an object's bytes live: a content hash on data nodes (an interface that may become remote). */
export interface Placement {
  /** Content address (hex SHA-256 of the bytes) on the data node. */
  blob: string;
  /** The data nodes holding it (one today: 'local'). */
  nodes: string[];
}

export interface ObjectVersion {
  bucket: string;
  key: string;
  /** 'null' for objects written while versioning was never enabled or is suspended, as S3 says. */
  versionId: string;
  /** Newest committed version of its key (delete markers included). */
  isLatest: boolean;
  isDeleteMarker: boolean;
  state: ObjectState;
  size: number;
  /** Quoted as S3 returns it: `"<md5 hex>"` or `"<md5 of md5s>-<parts>"`. */
  etag: string;
  lastModified: Date;
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  /** `x-amz-meta-*` without the prefix, names lower-cased. */
  userMetadata: Record<string, string>;
  tags: Record<string, string>;
  acl: Acl;
  ownerId: string;
  /** Checksums the client sent and we verified (`x-amz-checksum-crc32` etc.), by algorithm. */
  checksums: Record<string, string>;
  /** xxHash64 (hex) of the whole object's bytes, verified on every read. */
  xxhash64: string;
  /**
   * For multipart objects: part sizes, in order (for ranged reads and GetObject partNumber), and
   * each part's checksum when its upload had a checksum algorithm (absent otherwise).
   */
  parts?: { size: number; blob: string; xxhash64: string; etag: string; checksums?: Record<string, string> }[];
  placement: Placement;
  /**
   * Optional, chosen by the writer for its pending version (unique, e.g. random hex): passed back
   * to commit/abortPending it names this write's row when several writes of one 'null' version
   * are pending at once. Set on what stalePending returns; absent on committed versions.
   */
  pendingId?: string;
}

/** What step 2 of a write learned: the bytes' size, digests and where they are. */
export type CommittedContent = Pick<ObjectVersion, 'size' | 'etag' | 'xxhash64' | 'checksums' | 'placement' | 'parts'> & { lastModified: Date };

/**
 * How S3 makes a multipart object's checksum from its parts': COMPOSITE, a checksum of the
 * parts' checksums; FULL_OBJECT, the checksum of the whole object (CRCs only).
 */
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** The checksum a multipart upload was created with (x-amz-checksum-algorithm and -type). */
export interface UploadChecksum {
  /** Lower-case, as in ObjectVersion.checksums: 'crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'. */
  algorithm: string;
  type: ChecksumType;
}

export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: Date;
  ownerId: string;
  /** Headers given at CreateMultipartUpload, applied to the completed object. */
  template: Pick<ObjectVersion, 'contentType' | 'contentEncoding' | 'contentDisposition' | 'contentLanguage' | 'cacheControl' | 'expires' | 'userMetadata' | 'tags' | 'acl'>;
  /** Absent for an upload created without a checksum algorithm. */
  checksum?: UploadChecksum;
}

export interface UploadPart {
  uploadId: string;
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
  blob: string;
  xxhash64: string;
  /** The part's checksum in its upload's algorithm, by algorithm; absent when the upload has none. */
  checksums?: Record<string, string>;
}

export interface ListObjectsQuery {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  /** Exclusive: keys (UTF-8 binary order) strictly after this one. */
  after?: string;
  maxKeys: number;
}

export interface ListObjectsPage {
  objects: ObjectVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** When truncated, the last key or common prefix returned: the next page starts after it. */
  nextMarker?: string;
}

export interface ListVersionsQuery extends ListObjectsQuery {
  /** With `after`: resume after this version of that key. */
  afterVersionId?: string;
}

export interface CostRecord {
  bucket: string;
  /** 'standard' today; the design's tiers are kept as a dimension. */
  tier: string;
  bytesStored: number;
  requests: { get: number; put: number; list: number; delete: number };
  egressBytes: number;
}

export interface NodeHealth {
  node: string;
  status: 'up' | 'down';
  checked: Date;
  bytesUsed: number;
}

/**
 * How a commit is made conditional. Everything here is decided inside the commit's transaction,
 * under the key's lock, so it holds across gateways sharing one database.
 */
export interface CommitOptions {
  /** Names the writer's pending row among concurrent pending writes of the same version id. */
  pendingId?: string;
  /**
   * Called with the key's current latest version, unless that is absent or a delete marker
   * (null); throwing refuses the commit and the error reaches the caller (S3's conditional
   * writes: If-None-Match: *, If-Match).
   */
  precondition?: (current: { etag: string } | null) => void;
  /**
   * The multipart upload this commit completes: it is removed in the same transaction, and the
   * commit is refused with UploadGoneError when it is already gone (completed or aborted
   * elsewhere). Its parts' blobs that the new version does not use are returned as orphaned.
   * The same transaction records the upload id with the committed version (completedUpload).
   */
  completesUpload?: string;
}

/** A commit named an upload that another completion or an abort has already removed. */
export class UploadGoneError extends Error {
  constructor(readonly uploadId: string) {
    super(`multipart upload ${uploadId} is gone`);
    this.name = 'UploadGoneError';
  }
}

export interface MetadataStore {
  readonly kind: 'sqlite' | 'postgres';
  init(): Promise<void>;
  close(): Promise<void>;

  putUser(user: User): Promise<void>;
  userByAccessKey(accessKey: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  deleteUser(id: string): Promise<void>;

  /** Resolves false when the name is taken. */
  createBucket(bucket: Bucket): Promise<boolean>;
  getBucket(name: string): Promise<Bucket | null>;
  listBuckets(): Promise<Bucket[]>;
  updateBucket(name: string, change: Partial<Pick<Bucket, 'acl' | 'versioning' | 'grants'>>): Promise<void>;
  /** Resolves false when the bucket still holds objects (any version, pending included) or uploads; true once it is gone. */
  deleteBucket(name: string): Promise<boolean>;

  /**
   * Step 1 of a write: the version is recorded as pending (invisible; its content fields are not
   * known yet and may be placeholders) before any byte is written.
   */
  insertPending(version: ObjectVersion): Promise<void>;
  /**
   * Step 3, after the bytes are written and checksummed: records what was written and makes the
   * version visible and the latest of its key, atomically. With versioning not Enabled the
   * previous 'null' version is replaced. Returns the blobs no version references any more (for
   * the garbage collector). Also adds the size (less the replaced version's) to bytesStored.
   * Without `pendingId` it takes the oldest pending row of that version id. See CommitOptions
   * for conditional writes and multipart completion, both decided inside the commit.
   */
  commit(bucket: string, key: string, versionId: string, written: CommittedContent, options?: CommitOptions): Promise<{ orphaned: string[] }>;
  /** Drops a pending version that will never commit (failed upload); `pendingId` as for commit. */
  abortPending(bucket: string, key: string, versionId: string, pendingId?: string): Promise<void>;
  /** The latest committed version, or a given one; null when absent (a delete marker is returned as such). */
  getObject(bucket: string, key: string, versionId?: string): Promise<ObjectVersion | null>;
  /**
   * Removes one version for good (DELETE with versionId, or an unversioned DELETE). Returns what
   * it removed (null when there was no such version) and the orphaned blobs; subtracts its size
   * from bytesStored.
   */
  deleteVersion(bucket: string, key: string, versionId: string): Promise<{ removed: 'version' | 'deleteMarker' | null; orphaned: string[] }>;
  updateObject(bucket: string, key: string, versionId: string, change: Partial<Pick<ObjectVersion, 'tags' | 'acl'>>): Promise<void>;
  listObjects(q: ListObjectsQuery): Promise<ListObjectsPage>;
  listVersions(q: ListVersionsQuery): Promise<ListObjectsPage & { nextVersionIdMarker?: string }>;
  /** Pending versions older than the cutoff: left by a crash mid-write. */
  stalePending(olderThan: Date): Promise<ObjectVersion[]>;
  /** Whether any version or part still references the blob (the GC checks before deleting). */
  blobReferenced(blob: string): Promise<boolean>;

  createUpload(upload: MultipartUpload): Promise<void>;
  getUpload(uploadId: string): Promise<MultipartUpload | null>;
  /** Replaces a part with the same number; returns the replaced part's blob, if nothing references it any more. */
  putPart(part: UploadPart): Promise<{ replaced?: string }>;
  listParts(uploadId: string, afterPart: number, maxParts: number): Promise<UploadPart[]>;
  listUploads(bucket: string, prefix: string, afterKey?: string, afterUploadId?: string, maxUploads?: number): Promise<MultipartUpload[]>;
  /**
   * Removes the upload and its parts; returns whether it was there and the parts' blobs nothing
   * references any more (a completed object keeps its parts').
   */
  deleteUpload(uploadId: string): Promise<{ found: boolean; blobs: string[] }>;
  staleUploads(olderThan: Date): Promise<MultipartUpload[]>;
  /**
   * The version a commit with `completesUpload: uploadId` made, while that very version exists
   * (deleted or replaced, it is never answered, even when its version id is used again) and the
   * record has not been pruned; null otherwise, as for an aborted or unknown upload id. Lets a
   * Complete retried after its upload is gone be answered as the first one was.
   */
  completedUpload(uploadId: string): Promise<ObjectVersion | null>;
  /** Forgets the completions recorded before the cutoff (the GC's retention); resolves how many. */
  pruneCompletedUploads(olderThan: Date): Promise<number>;

  /** Adds to the bucket's counters (tier 'standard'). commit and deleteVersion keep bytesStored themselves: don't add it for them. */
  addCost(bucket: string, delta: { bytesStored?: number; get?: number; put?: number; list?: number; delete?: number; egressBytes?: number }): Promise<void>;
  costs(bucket?: string): Promise<CostRecord[]>;

  setNodeHealth(health: NodeHealth): Promise<void>;
  nodeHealth(): Promise<NodeHealth[]>;

  /**
   * Committed object versions (delete markers left out) and their bytes, across all buckets:
   * the plinth_objects_total and plinth_bytes_stored gauges.
   */
  stats(): Promise<{ objects: number; bytes: number }>;
}
