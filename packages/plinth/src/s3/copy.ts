import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { SUPPORTED_CHECKSUMS } from '../block/digests.js';
import type { BlobInfo, ReadRange } from '../block/types.js';
import type { Bucket, ObjectVersion } from '../meta/types.js';
import { cannedAcl, requireAccess } from './access.js';
import { computingChecksum, isChecksumAlgorithm } from './checksums.js';
import { S3Error } from './errors.js';
import { header, unquoteEtag } from './http.js';
import { contentStream, evaluatePreconditions, findVersion, preconditions, versionIdParam, writtenVersionHeader, type VersionRef } from './object-read.js';
import { CONTENT_HEADERS, contentAttributes, taggingHeader, writeCondition, writeVersion, type ContentAttributes, type ExistingContent, type ObjectAttributes } from './object-write.js';
import type { GatewayContext, Handler, S3Request } from './types.js';
import { toXml } from './xml.js';

/**
 * CopyObject, and the source side of UploadPartCopy. The store is content-addressed, so copying
 * a one-blob object records a new version pointing at the source's blob and moves no bytes. A
 * multipart source is rewritten as one blob: S3's copy of it is a single-part object, whose ETag
 * is the MD5 of its bytes (not the source's `-N` ETag).
 */

/** S3's limit on a CopyObject source; larger objects are copied with UploadPartCopy. */
const MAX_COPY_SOURCE = 5 * 1024 ** 3;

/** x-amz-copy-source: `[/]bucket/key[?versionId=…]`, the bucket and key URL-encoded. */
export function parseCopySource(headers: IncomingHttpHeaders): VersionRef {
  const value = header(headers, 'x-amz-copy-source');
  const malformed = new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source', ArgumentValue: value ?? '' });
  if (value === undefined) throw malformed;
  // The query is split off before decoding: a '?' inside a key arrives encoded as %3F.
  const question = value.indexOf('?');
  let path: string;
  try {
    path = decodeURIComponent(question < 0 ? value : value.slice(0, question));
  } catch {
    throw malformed;
  }
  if (path.startsWith('/')) path = path.slice(1);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw malformed;
  const versionId = question < 0 ? undefined : versionIdParam(new URLSearchParams(value.slice(question + 1)));
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1), versionId };
}

/**
 * The copy source once the caller may read it and its x-amz-copy-source-if-* conditions hold. A
 * copy answers 412 for every failed condition (a GET would say 304 for some).
 */
async function copySource(req: S3Request, ctx: GatewayContext): Promise<{ ref: VersionRef; bucket: Bucket; version: ObjectVersion }> {
  const ref = parseCopySource(req.headers);
  const { bucket, version } = await findVersion(req, ctx, ref, 'read').catch((err: unknown) => {
    if (err instanceof S3Error && err.code === 'MethodNotAllowed') throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
    throw err;
  });
  if (evaluatePreconditions(version, preconditions(req.headers, 'x-amz-copy-source-')) !== 'pass') throw new S3Error('PreconditionFailed');
  return { ref, bucket, version };
}

function directive(headers: IncomingHttpHeaders, name: string): 'COPY' | 'REPLACE' {
  const value = header(headers, name);
  if (value === undefined || value === 'COPY' || value === 'REPLACE') return value ?? 'COPY';
  throw new S3Error('InvalidArgument', `Unknown ${name}: ${value}`, { ArgumentName: name, ArgumentValue: value });
}

function copySourceHeaders(bucket: Bucket, version: ObjectVersion): Record<string, string> {
  return bucket.versioning === 'Unversioned' ? {} : { 'x-amz-copy-source-version-id': version.versionId };
}

function storedContentAttributes(version: ObjectVersion): ContentAttributes {
  const attributes: ContentAttributes = { userMetadata: version.userMetadata };
  for (const [field] of CONTENT_HEADERS) {
    const value = version[field];
    if (value !== undefined) attributes[field] = value;
  }
  return attributes;
}

/**
 * Writes copied bytes as a new blob with their flexible checksums in `algorithms`: the data node
 * computes those it can while it writes (block/digests.ts), the others (CRC64NVME) are computed
 * here on the way to it, as PutObject's are.
 */
async function writeCopy(ctx: GatewayContext, bytes: Readable, maxSize: number, algorithms: readonly string[]): Promise<BlobInfo> {
  const onNode = algorithms.filter((name) => (SUPPORTED_CHECKSUMS as readonly string[]).includes(name));
  const computed: Promise<Record<string, string>>[] = [];
  for (const name of algorithms) {
    if (onNode.includes(name) || !isChecksumAlgorithm(name)) continue;
    const computing = computingChecksum(bytes, name);
    bytes = computing.body;
    computed.push(computing.checksums);
  }
  const info = await ctx.node.put(bytes, { maxSize, checksums: onNode });
  // Resolved by now: the node has read the bytes to their end.
  return { ...info, checksums: Object.assign({}, info.checksums, ...(await Promise.all(computed))) };
}

/**
 * What a copy of `from` consists of: its own blob when it has one, else a function writing its
 * bytes as a new blob (run by writeVersion once the pending version is recorded), with the
 * flexible checksums the source carried recomputed over the whole object.
 */
function copiedContent(ctx: GatewayContext, from: ObjectVersion): ExistingContent | (() => Promise<ExistingContent>) {
  if (!from.parts) return { size: from.size, etag: from.etag, xxhash64: from.xxhash64, checksums: from.checksums, placement: from.placement };
  return async () => {
    const info = await writeCopy(ctx, await contentStream(ctx, from), MAX_COPY_SOURCE, Object.keys(from.checksums));
    return { size: info.size, etag: `"${info.md5}"`, xxhash64: info.xxhash64, checksums: info.checksums, placement: { blob: info.blob, nodes: [ctx.node.id] } };
  };
}

export const copyObject: Handler = async (req, ctx) => {
  const destination = await requireAccess(req, ctx, req.bucket!, 'write');
  await ctx.meta.addCost(destination.name, { put: 1 });
  const metadata = directive(req.headers, 'x-amz-metadata-directive');
  const tagging = directive(req.headers, 'x-amz-tagging-directive');
  const source = await copySource(req, ctx);
  if (source.bucket.name === destination.name && source.ref.key === req.key && metadata === 'COPY' && (source.ref.versionId === undefined || source.version.isLatest)) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const from = source.version;
  if (from.size > MAX_COPY_SOURCE) {
    throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_SOURCE}`);
  }
  const attributes: ObjectAttributes = {
    ...(metadata === 'REPLACE' ? contentAttributes(req.headers) : storedContentAttributes(from)),
    tags: tagging === 'REPLACE' ? taggingHeader(req.headers) : from.tags,
    acl: cannedAcl(req.headers) ?? 'private',
  };
  const target = { bucket: destination, key: req.key!, ownerId: req.user?.id ?? destination.ownerId, attributes, condition: writeCondition(req.headers) };
  const version = await writeVersion(ctx, target, copiedContent(ctx, from));
  const checksums = Object.fromEntries(Object.entries(version.checksums).map(([algorithm, value]) => [`Checksum${algorithm.toUpperCase()}`, value]));
  return {
    headers: { ...writtenVersionHeader(destination, version.versionId), ...copySourceHeaders(source.bucket, from) },
    body: toXml('CopyObjectResult', { ETag: version.etag, LastModified: version.lastModified, ...checksums }),
  };
};

/** x-amz-copy-source-range: exactly `bytes=first-last`, within the source. */
function copyRange(headers: IncomingHttpHeaders, size: number): ReadRange | undefined {
  const value = header(headers, 'x-amz-copy-source-range');
  if (value === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  if (!match || Number(match[1]) > Number(match[2])) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      ArgumentName: 'x-amz-copy-source-range',
      ArgumentValue: value,
    });
  }
  if (Number(match[2]) >= size) throw new S3Error('InvalidRange', undefined, { RangeRequested: value, ActualObjectSize: String(size) });
  return { start: Number(match[1]), end: Number(match[2]) };
}

export interface PartCopy {
  /** The source bucket and version, for x-amz-copy-source-version-id. */
  sourceBucket: Bucket;
  source: ObjectVersion;
  /** The part's bytes on the data node; `md5` gives the part's ETag. */
  content: BlobInfo;
  /** Headers UploadPartCopy answers with (x-amz-copy-source-version-id). */
  headers: Record<string, string>;
}

/**
 * The part checksum a whole one-blob source gives without being read: none when none is asked
 * for, else the one it keeps in that algorithm; undefined when it has to be computed.
 */
function keptChecksum(version: ObjectVersion, algorithm: string | undefined): Record<string, string> | undefined {
  if (algorithm === undefined) return {};
  const value = version.checksums[algorithm];
  return value === undefined ? undefined : { [algorithm]: value };
}

/**
 * UploadPartCopy's source side: checks read access and x-amz-copy-source-if-*, then gives the
 * part's content, with its checksum in `algorithm` when the upload has one. A whole one-blob
 * source is reused as is when that needs no computing: no algorithm, or the source keeps a
 * checksum in it (of its whole bytes: PutObject verified it, a copy kept or recomputed it).
 * Otherwise (a range, a multipart source, a checksum to compute) the bytes are read through the
 * data node and written as a new blob, computing the checksum as they pass; for a whole source
 * that stores nothing new, the same bytes being kept once. The caller checks access to the
 * destination upload, records the part and counts the request.
 */
export async function copyPart(req: S3Request, ctx: GatewayContext, algorithm?: string): Promise<PartCopy> {
  const { bucket, version } = await copySource(req, ctx);
  const range = copyRange(req.headers, version.size);
  const headers = copySourceHeaders(bucket, version);
  const whole = !range || (range.start === 0 && range.end === version.size - 1);
  const kept = keptChecksum(version, algorithm);
  if (whole && !version.parts && kept) {
    const content = { blob: version.placement.blob, size: version.size, xxhash64: version.xxhash64, md5: unquoteEtag(version.etag), checksums: kept };
    return { sourceBucket: bucket, source: version, content, headers };
  }
  const content = await writeCopy(ctx, await contentStream(ctx, version, range), ctx.config.maxObjectSize, algorithm === undefined ? [] : [algorithm]);
  return { sourceBucket: bucket, source: version, content, headers };
}
