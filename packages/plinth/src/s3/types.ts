import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { DataNode } from '../block/types.js';
import type { MetadataStore, User } from '../meta/types.js';

/**
 * The contract between the router and the operation families (bucket, get, put, list,
 * multipart, copy, delete, tagging, versioning): the router authenticates and parses the
 * request, picks the handler, and turns its response or S3Error into HTTP.
 */

export interface S3Request {
  method: string;
  /** Undefined for service-level requests (ListBuckets). */
  bucket?: string;
  /** The object key, URL-decoded; undefined for bucket-level requests. */
  key?: string;
  query: URLSearchParams;
  /**
   * Lower-case names, as Node gives them. For an aws-chunked body, content-length is the decoded
   * length (x-amz-decoded-content-length; absent when the client did not give it) and
   * 'aws-chunked' is taken out of content-encoding, so families see the object's own headers.
   */
  headers: IncomingHttpHeaders;
  /**
   * The payload, already decoded from aws-chunked framing and checked against its signature as
   * it streams: a bad chunk signature makes the stream error with S3Error SignatureDoesNotMatch.
   * Its end is checked too, before the stream ends: x-amz-content-sha256 as a digest
   * (XAmzContentSHA256Mismatch), Content-MD5 and a flexible checksum (x-amz-checksum-* header or
   * aws-chunked trailer: BadDigest). A write that saw the body end cleanly may commit.
   */
  body: Readable;
  /**
   * The flexible checksum the client sent (header or trailer) and the body matched, e.g.
   * `{ crc32: 'base64' }` (empty when none was sent): resolves once `body` has ended cleanly, for
   * ObjectVersion.checksums. Stays pending if the body failed (the body's error says why).
   * Optional so hand-built requests in tests need not give it.
   */
  checksums?: Promise<Record<string, string>>;
  /** The signed-in user; null for an anonymous request. */
  user: User | null;
  requestId: string;
}

export interface S3Response {
  status?: number;
  headers?: Record<string, string | number>;
  /** XML text (sent as application/xml), bytes, or a stream (object data). */
  body?: string | Buffer | Readable;
  /** Called once a stream body's response has ended, however it ended, with the bytes sent. */
  sent?: (bytes: number) => void;
}

export interface GatewayConfig {
  region: string;
  /** S3's single-PUT limit: 5 GiB. */
  maxObjectSize: number;
  /** Allowed clock skew for signed requests: 15 minutes, as S3. */
  maxSkewMs: number;
}

export interface GatewayContext {
  meta: MetadataStore;
  /** The data node objects are written to (one today; placement picks among several later). */
  node: DataNode;
  log: Logger;
  config: GatewayConfig;
  /**
   * The garbage collector, for blobs a commit or delete reported orphaned: it re-checks they are
   * unreferenced before deleting and never rejects. Absent (e.g. in unit tests), the periodic
   * sweep finds them.
   */
  gc?: { collect(blobs: Iterable<string>): Promise<number> };
}

export type Handler = (req: S3Request, ctx: GatewayContext) => Promise<S3Response>;
