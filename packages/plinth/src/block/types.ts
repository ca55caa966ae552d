import type { Readable } from 'node:stream';

/**
 * A data node's contract: content-addressed blobs. The gateway reaches data nodes only through
 * this interface, so a node can later be a network service (the replication issue) without the
 * gateway changing.
 */

export interface BlobInfo {
  /** Hex SHA-256 of the bytes: the blob's address (`ab/cd/abcd…` on disk). */
  blob: string;
  size: number;
  /** Hex xxHash64 of the bytes, verified on every read. */
  xxhash64: string;
  /** Hex MD5 of the bytes (S3's ETag of a single-part object). */
  md5: string;
  /** Other digests computed while streaming, when asked: 'crc32', 'crc32c', 'sha1', 'sha256' → base64. */
  checksums: Record<string, string>;
}

export interface ReadRange {
  /** Inclusive start and end byte offsets. */
  start: number;
  end: number;
}

export interface DataNode {
  readonly id: string;
  /**
   * Streams the bytes to a temporary file, hashing as they pass (never buffering the whole
   * object), fsyncs, and renames into place under the content hash. `maxSize` aborts early.
   * Idempotent: writing bytes that already exist keeps one copy.
   */
  put(source: Readable, options?: { maxSize?: number; checksums?: string[] }): Promise<BlobInfo>;
  /**
   * Streams a blob or a range of it. The whole blob's xxHash64 is checked as it is read; on a
   * mismatch the stream errors (ChecksumMismatch) instead of ending normally, so corrupt bytes
   * never complete a response. (A node may check a range through per-chunk hashes bound to that
   * same value instead of hashing the whole blob.) Rejects with NoSuchBlob when the blob is absent
   * and InvalidRange when the range does not lie within it.
   */
  get(blob: string, expectedXxhash64: string, range?: ReadRange): Promise<Readable>;
  has(blob: string): Promise<boolean>;
  /**
   * Resolves whether a blob was removed. With `ifOlderThan`, a blob modified at or after the
   * cutoff is kept: a put of the same bytes refreshes the modification time, so the collector's
   * "unreferenced and old" decision cannot race with a write that is about to commit a reference.
   */
  delete(blob: string, options?: { ifOlderThan?: Date }): Promise<boolean>;
  /** Every blob on the node with its file's modification time (the GC spares young blobs: a write may not be committed yet). */
  list(): AsyncIterable<{ blob: string; modified: Date }>;
  /** Temporary files older than the cutoff (left by a crash mid-write) are removed. */
  cleanTemp(olderThan: Date): Promise<number>;
  usage(): Promise<{ blobs: number; bytes: number }>;
}
