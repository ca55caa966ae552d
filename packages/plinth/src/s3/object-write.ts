import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Bucket, CommittedContent, MultipartUpload, ObjectVersion } from '../meta/types.js';
import { cannedAcl } from './access.js';
import { S3Error } from './errors.js';
import { etagMatches, header } from './http.js';
import { tagSet } from './tagging.js';
import type { GatewayContext, S3Request } from './types.js';

/**
 * The write path shared by PutObject, CopyObject and CompleteMultipartUpload:
 * insertPending → bytes to the data node → commit, with the pending version dropped on any
 * failure. Also the object headers a write takes (content headers, user metadata, tags, ACL).
 */

/** S3's limits: keys up to 1024 UTF-8 bytes, user metadata up to 2 KB (names and values). */
const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;

export function checkKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', undefined, { MaxSizeAllowed: String(MAX_KEY_BYTES), Size: String(Buffer.byteLength(key, 'utf8')) });
}

/** The headers a write stores with the object, as CreateMultipartUpload keeps them for completion. */
export type ObjectAttributes = MultipartUpload['template'];
export type ContentAttributes = Omit<ObjectAttributes, 'tags' | 'acl'>;

export const CONTENT_HEADERS = [
  ['contentType', 'content-type'],
  ['contentEncoding', 'content-encoding'],
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
  ['cacheControl', 'cache-control'],
  ['expires', 'expires'],
] as const;

/**
 * Content-* headers, Cache-Control, Expires and x-amz-meta-* (names lower-cased, values as sent;
 * the router has already taken aws-chunked out of Content-Encoding).
 */
export function contentAttributes(headers: IncomingHttpHeaders): ContentAttributes {
  const attributes: ContentAttributes = { userMetadata: {} };
  for (const [field, name] of CONTENT_HEADERS) {
    const value = header(headers, name);
    if (value !== undefined) attributes[field] = value;
  }
  const metadata: [string, string][] = [];
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const entry: [string, string] = [name.slice('x-amz-meta-'.length), Array.isArray(value) ? value.join(',') : value];
    metadata.push(entry);
    // Node decodes header bytes as Latin-1, so a value's length is its byte count.
    size += entry[0].length + entry[1].length;
  }
  if (size > MAX_METADATA_BYTES) throw new S3Error('MetadataTooLarge', undefined, { Size: String(size), MaxSizeAllowed: String(MAX_METADATA_BYTES) });
  // fromEntries defines own properties, so a name like __proto__ is stored rather than swallowed.
  attributes.userMetadata = Object.fromEntries(metadata);
  return attributes;
}

/** x-amz-tagging: a URL query string of tags. */
export function taggingHeader(headers: IncomingHttpHeaders): Record<string, string> {
  const value = header(headers, 'x-amz-tagging');
  return value === undefined ? {} : tagSet([...new URLSearchParams(value)]);
}

export function objectAttributes(headers: IncomingHttpHeaders): ObjectAttributes {
  return { ...contentAttributes(headers), tags: taggingHeader(headers), acl: cannedAcl(headers) ?? 'private' };
}

let lastVersionTime = 0;
let versionSequence = 0;

/**
 * A new version id: 12 hex digits of milliseconds, a 4-digit sequence within the millisecond and
 * 16 random digits, so ids sort by creation within a gateway and never collide across gateways.
 * The clock is not allowed to step back, or a later version could sort first.
 */
export function newVersionId(): string {
  const now = Math.max(Date.now(), lastVersionTime);
  versionSequence = now === lastVersionTime ? versionSequence + 1 : 0;
  lastVersionTime = now;
  return now.toString(16).padStart(12, '0') + (versionSequence & 0xffff).toString(16).padStart(4, '0') + randomBytes(8).toString('hex');
}

/** With versioning Enabled every write is a new version; otherwise S3's single 'null' version. */
export function versionIdFor(bucket: Bucket): string {
  return bucket.versioning === 'Enabled' ? newVersionId() : 'null';
}

/**
 * Blobs no version references any more go to the garbage collector, which re-checks references
 * before deleting (content addressing means another version may share a blob). Without a
 * collector in the context the periodic sweep finds them.
 */
export function releaseBlobs(ctx: GatewayContext, blobs: string[]): void {
  if (blobs.length > 0) void ctx.gc?.collect(blobs);
}

/** Conditional writes: `If-None-Match: *` (the key must not exist) and `If-Match: <etag>`. */
export interface WriteCondition {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export function writeCondition(headers: IncomingHttpHeaders): WriteCondition | undefined {
  const ifMatch = header(headers, 'if-match');
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on a write only supports *.', { Header: 'If-None-Match' });
  return ifMatch === undefined && ifNoneMatch === undefined ? undefined : { ifMatch, ifNoneMatch };
}

/** Throws S3's error when the key's live version (null: none, or a delete marker) fails the condition. */
function enforce(condition: WriteCondition, key: string, live: { etag: string } | null): void {
  if (condition.ifNoneMatch !== undefined && live) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  if (condition.ifMatch !== undefined) {
    if (!live) throw new S3Error('NoSuchKey', undefined, { Key: key });
    if (!etagMatches(live.etag, condition.ifMatch)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

async function checkCondition(ctx: GatewayContext, bucket: string, key: string, condition: WriteCondition | undefined): Promise<void> {
  if (!condition) return;
  const current = await ctx.meta.getObject(bucket, key);
  enforce(condition, key, current && !current.isDeleteMarker ? current : null);
}

export interface WriteTarget {
  bucket: Bucket;
  key: string;
  ownerId: string;
  attributes: ObjectAttributes;
  condition?: WriteCondition;
  /** A delete marker instead of an object (DeleteObject on a versioned bucket). */
  deleteMarker?: boolean;
  /** The multipart upload this write completes: removed by the same commit (UploadGoneError if already gone). */
  completesUpload?: string;
}

/** Content already on the data node (a copy's source, completed parts): nothing is rewritten. */
export type ExistingContent = Omit<CommittedContent, 'lastModified'>;

/** A delete marker's content, and a pending version's until its bytes are written. */
export function noContent(): ExistingContent {
  return { size: 0, etag: '', xxhash64: '', checksums: {}, placement: { blob: '', nodes: [] } };
}

/**
 * Writes one version. `content` is either content already on the data node, or a function that
 * writes the bytes there (after the pending version is recorded) and returns what it wrote, all
 * checks done. Returns the committed version.
 */
export async function writeVersion(
  ctx: GatewayContext,
  target: WriteTarget,
  content: ExistingContent | (() => Promise<ExistingContent>),
): Promise<ObjectVersion> {
  const { bucket, key } = target;
  checkKey(key);
  // Checked before any byte is written, so a doomed upload is refused without reading its body,
  // and again inside the commit, where no other writer of the key can come in between.
  await checkCondition(ctx, bucket.name, key, target.condition);
  const versionId = versionIdFor(bucket);
  // Names this write's row among concurrent pending writes of the same 'null' version.
  const pendingId = randomBytes(8).toString('hex');
  const known = typeof content === 'function' ? undefined : content;
  const version: ObjectVersion = {
    bucket: bucket.name,
    key,
    versionId,
    isLatest: false,
    isDeleteMarker: target.deleteMarker ?? false,
    state: 'pending',
    ...target.attributes,
    ownerId: target.ownerId,
    lastModified: new Date(),
    // Known content is recorded at once: a pending version referencing a blob keeps the garbage
    // collector off it while this write completes.
    ...(known ?? noContent()),
  };
  await ctx.meta.insertPending({ ...version, pendingId });
  let written: ExistingContent | undefined;
  let committed: CommittedContent;
  let orphaned: string[];
  try {
    written = known ?? (await (content as () => Promise<ExistingContent>)());
    committed = { ...written, lastModified: new Date() };
    const condition = target.condition;
    ({ orphaned } = await ctx.meta.commit(bucket.name, key, versionId, committed, {
      pendingId,
      precondition: condition && ((live) => enforce(condition, key, live)),
      completesUpload: target.completesUpload,
    }));
  } catch (err) {
    await ctx.meta.abortPending(bucket.name, key, versionId, pendingId).catch((abortErr: unknown) => ctx.log.warn({ err: abortErr, bucket: bucket.name, key, versionId }, 'abortPending failed'));
    if (written && !known) releaseBlobs(ctx, [written.placement.blob]);
    throw err;
  }
  releaseBlobs(ctx, orphaned);
  return { ...version, ...committed, state: 'committed', isLatest: true };
}

function declaredSize(headers: IncomingHttpHeaders, maxSize: number): number {
  const value = header(headers, 'content-length');
  if (value === undefined) throw new S3Error('MissingContentLength');
  if (!/^\d+$/.test(value)) throw new S3Error('InvalidArgument', 'Content-Length is not a number.', { ArgumentName: 'Content-Length', ArgumentValue: value });
  const size = Number(value);
  if (size > maxSize) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: value, MaxSizeAllowed: String(maxSize) });
  return size;
}

/**
 * Streams a request body to the data node. The router has already made the body error on a bad
 * signature, Content-MD5 or flexible checksum (and resolves `checksums` with the ones that
 * matched), so what is left is the size: a body shorter than its Content-Length (the decoded
 * length, for aws-chunked) is IncompleteBody.
 */
export async function storeBody(ctx: GatewayContext, { body, headers, checksums }: Pick<S3Request, 'body' | 'headers' | 'checksums'>): Promise<ExistingContent> {
  const size = declaredSize(headers, ctx.config.maxObjectSize);
  // The node's EntityTooLarge (a body past maxSize) reaches the router, which answers it as S3's.
  const info = await ctx.node.put(body, { maxSize: ctx.config.maxObjectSize });
  if (info.size !== size) {
    releaseBlobs(ctx, [info.blob]);
    throw new S3Error('IncompleteBody', undefined, { NumberBytesExpected: String(size), NumberBytesProvided: String(info.size) });
  }
  return { size, etag: `"${info.md5}"`, xxhash64: info.xxhash64, checksums: (await checksums) ?? {}, placement: { blob: info.blob, nodes: [ctx.node.id] } };
}
