import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadRange } from '../block/types.js';
import type { Bucket, ChecksumType, ObjectVersion } from '../meta/types.js';
import { requireAccess } from './access.js';
import { S3Error } from './errors.js';
import { etagMatches, header, httpDate } from './http.js';
import type { GatewayContext, S3Request } from './types.js';

/** The reading side shared by GetObject/HeadObject, CopyObject/UploadPartCopy and tagging. */

/** Version ids this gateway hands out (see newVersionId) and S3's literal 'null'. */
const VERSION_ID = /^(null|[0-9a-f]{32})$/;

/** A version id as a request gives it (query parameter, copy source, Delete list), checked as S3 does. */
export function checkVersionId(versionId: string): string {
  if (versionId === '') throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { ArgumentName: 'versionId', ArgumentValue: '' });
  if (!VERSION_ID.test(versionId)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: versionId });
  return versionId;
}

export function versionIdParam(query: URLSearchParams): string | undefined {
  const versionId = query.get('versionId');
  return versionId === null ? undefined : checkVersionId(versionId);
}

export interface VersionRef {
  bucket: string;
  key: string;
  versionId?: string;
}

/**
 * The latest version of a key, or the one asked for, once the caller may see it (the object's own
 * ACL may allow what the bucket's does not, so access is checked with the version in hand, and
 * before anything about the key is revealed). As S3 answers: a missing key or version is
 * NoSuchKey/NoSuchVersion, a key whose latest version is a delete marker is NoSuchKey flagged with
 * x-amz-delete-marker, and naming a delete marker's version is 405 MethodNotAllowed.
 */
export async function findVersion(req: S3Request, ctx: GatewayContext, ref: VersionRef, mode: 'read' | 'write'): Promise<{ bucket: Bucket; version: ObjectVersion }> {
  const { key, versionId } = ref;
  const version = await ctx.meta.getObject(ref.bucket, key, versionId);
  // A delete marker has no ACL of its own: whether its key shows as absent is the bucket's call.
  const bucket = await requireAccess(req, ctx, ref.bucket, mode, version && !version.isDeleteMarker ? version : undefined);
  if (!version) {
    throw versionId === undefined
      ? new S3Error('NoSuchKey', undefined, { Key: key })
      : new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });
  }
  if (!version.isDeleteMarker) return { bucket, version };
  const markerHeaders = { 'x-amz-delete-marker': 'true', 'x-amz-version-id': version.versionId };
  if (versionId === undefined) throw new S3Error('NoSuchKey', undefined, { Key: key }, markerHeaders);
  throw new S3Error('MethodNotAllowed', undefined, { Method: req.method, ResourceType: 'DeleteMarker' }, {
    ...markerHeaders,
    'last-modified': httpDate(version.lastModified),
  });
}

/** x-amz-version-id, which S3 sends once a bucket has had versioning turned on. */
export function versionHeader(bucket: Bucket, versionId: string): Record<string, string> {
  return bucket.versioning === 'Unversioned' ? {} : { 'x-amz-version-id': versionId };
}

/**
 * x-amz-version-id on the answer to a write (PutObject, CopyObject, CompleteMultipartUpload): only
 * for a real version. S3 leaves it out when the write made the 'null' version (versioning
 * suspended), though reads of that version then say 'null' (the PutObject reference's
 * "versioning suspended" example; ceph/s3-tests test_versioning_bucket_atomic_upload_return_version_id).
 */
export function writtenVersionHeader(bucket: Bucket, versionId: string): Record<string, string> {
  return versionId === 'null' ? {} : versionHeader(bucket, versionId);
}

export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

/** GetObject's If-* headers, or CopyObject's x-amz-copy-source-if-* ones with that prefix. */
export function preconditions(headers: IncomingHttpHeaders, prefix = ''): Preconditions {
  return {
    ifMatch: header(headers, `${prefix}if-match`),
    ifNoneMatch: header(headers, `${prefix}if-none-match`),
    ifModifiedSince: header(headers, `${prefix}if-modified-since`),
    ifUnmodifiedSince: header(headers, `${prefix}if-unmodified-since`),
  };
}

/** Whole seconds since the epoch; unparsable dates are ignored, as HTTP says. */
function httpSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * RFC 7232's evaluation order, which is the precedence S3 documents: when If-Match holds,
 * If-Unmodified-Since is not looked at; when If-None-Match is present, If-Modified-Since is not.
 * Times compare in whole seconds because Last-Modified is sent in whole seconds.
 */
export function evaluatePreconditions(version: Pick<ObjectVersion, 'etag' | 'lastModified'>, p: Preconditions): 'pass' | 'failed' | 'not-modified' {
  const modified = Math.floor(version.lastModified.getTime() / 1000);
  if (p.ifMatch !== undefined) {
    if (!etagMatches(version.etag, p.ifMatch)) return 'failed';
  } else {
    const since = httpSeconds(p.ifUnmodifiedSince);
    if (since !== undefined && modified > since) return 'failed';
  }
  if (p.ifNoneMatch !== undefined) {
    if (etagMatches(version.etag, p.ifNoneMatch)) return 'not-modified';
  } else {
    const since = httpSeconds(p.ifModifiedSince);
    if (since !== undefined && modified <= since) return 'not-modified';
  }
  return 'pass';
}

/**
 * A Range header against an object of `size` bytes. Like S3, only one `bytes=` range is served:
 * anything else (several ranges, other units, a malformed or backwards range) is ignored and the
 * whole object is returned. A well-formed range that starts past the end is 416 InvalidRange.
 */
export function parseRange(value: string | undefined, size: number): ReadRange | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(value);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let range: ReadRange | undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix > 0 && size > 0) range = { start: Math.max(0, size - suffix), end: size - 1 };
  } else {
    const start = Number(match[1]);
    const end = match[2] === '' ? Infinity : Number(match[2]);
    if (end < start) return undefined;
    if (start < size) range = { start, end: Math.min(end, size - 1) };
  }
  if (range) return range;
  throw new S3Error('InvalidRange', undefined, { RangeRequested: value, ActualObjectSize: String(size) }, { 'content-range': `bytes */${size}` });
}

interface Segment {
  blob: string;
  xxhash64: string;
  size: number;
}

/**
 * A multipart object is read through its parts' blobs, each checked against its own xxHash64;
 * any other object is one blob.
 */
function segments(version: ObjectVersion): Segment[] {
  if (version.parts && version.parts.length > 0) return version.parts;
  return [{ blob: version.placement.blob, xxhash64: version.xxhash64, size: version.size }];
}

async function* segmentBytes(ctx: GatewayContext, parts: Segment[], range: ReadRange): AsyncGenerator<Buffer> {
  let offset = 0;
  for (const part of parts) {
    const first = offset;
    const last = offset + part.size - 1;
    offset += part.size;
    if (last < range.start || first > range.end) continue;
    const within = { start: Math.max(range.start, first) - first, end: Math.min(range.end, last) - first };
    const whole = within.start === 0 && within.end === part.size - 1;
    yield* await ctx.node.get(part.blob, part.xxhash64, whole ? undefined : within);
  }
}

/**
 * The object's bytes (or a range of them) from the data node. The stream errors instead of
 * ending if stored bytes fail their checksum, so a response built on it is cut short, never
 * completed with bad data. A one-blob object opens its blob before returning, so a missing blob
 * is an error answer rather than a broken body.
 */
export async function contentStream(ctx: GatewayContext, version: ObjectVersion, range?: ReadRange): Promise<Readable> {
  const parts = segments(version);
  if (parts.length === 1) return ctx.node.get(parts[0]!.blob, parts[0]!.xxhash64, range);
  return Readable.from(segmentBytes(ctx, parts, range ?? { start: 0, end: version.size - 1 }), { objectMode: false });
}

/** x-amz-checksum-<algorithm> headers for the checksums a version was stored with. */
export function checksumHeaders(checksums: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(checksums).map(([algorithm, value]) => [`x-amz-checksum-${algorithm}`, value]));
}

/** ChecksumCRC32 and its siblings: a version's or a part's checksums as S3's XML elements name them. */
export function checksumElements(checksums: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(checksums).map(([algorithm, value]) => [`Checksum${algorithm.toUpperCase()}`, value]));
}

/**
 * The checksum type of a version's stored checksum (undefined without one). A COMPOSITE checksum
 * is S3's checksum of the parts' checksums with `-<part count>` appended, which base64 never
 * holds; any other (PutObject, a FULL_OBJECT upload) is the checksum of the whole object. Derived
 * rather than stored, so a copy of a multipart object, which takes the source's checksums as they
 * are, keeps the right type.
 */
export function checksumType(checksums: Record<string, string>): ChecksumType | undefined {
  const value = Object.values(checksums)[0];
  if (value === undefined) return undefined;
  return /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
}
