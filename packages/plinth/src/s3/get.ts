import type { ReadRange } from '../block/types.js';
import type { Bucket, ObjectVersion } from '../meta/types.js';
import { S3Error } from './errors.js';
import { header, httpDate, utf8AsLatin1 } from './http.js';
import { checksumHeaders, checksumType, contentStream, evaluatePreconditions, findVersion, parseRange, preconditions, versionHeader, versionIdParam } from './object-read.js';
import { CONTENT_HEADERS } from './object-write.js';
import type { GatewayContext, Handler, S3Request, S3Response } from './types.js';

/** GetObject and HeadObject. */

/** S3's Content-Type for objects stored without one. */
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

const OVERRIDABLE = ['content-type', 'content-language', 'expires', 'cache-control', 'content-disposition', 'content-encoding'];

/** response-content-type=… and its siblings: headers the caller wants instead of the stored ones. */
function responseOverrides(req: S3Request): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const name of OVERRIDABLE) {
    const value = req.query.get(`response-${name}`);
    if (value !== null) overrides[name] = utf8AsLatin1(value);
  }
  if (Object.keys(overrides).length > 0 && !req.user) throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
  return overrides;
}

function objectHeaders(bucket: Bucket, version: ObjectVersion): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    etag: version.etag,
    'last-modified': httpDate(version.lastModified),
    'accept-ranges': 'bytes',
    'content-type': DEFAULT_CONTENT_TYPE,
    ...versionHeader(bucket, version.versionId),
  };
  for (const [field, name] of CONTENT_HEADERS) {
    const value = version[field];
    if (value !== undefined) headers[name] = value;
  }
  for (const [name, value] of Object.entries(version.userMetadata)) headers[`x-amz-meta-${name}`] = value;
  const tagCount = Object.keys(version.tags).length;
  if (tagCount > 0) headers['x-amz-tagging-count'] = tagCount;
  return headers;
}

/**
 * GetObject's partNumber: the byte range of that part of a multipart object (a one-part object
 * has only part 1, the whole object), and its index.
 */
function partRange(version: ObjectVersion, value: string): { range?: ReadRange; count: number; index: number } {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 10000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: value });
  }
  const sizes = version.parts?.map((p) => p.size) ?? [version.size];
  const index = Number(value) - 1;
  if (index >= sizes.length) throw new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: value, ActualPartCount: String(sizes.length) });
  const start = sizes.slice(0, index).reduce((sum, size) => sum + size, 0);
  return { range: sizes[index]! > 0 ? { start, end: start + sizes[index]! - 1 } : undefined, count: sizes.length, index };
}

/**
 * What x-amz-checksum-mode: ENABLED answers. A stored checksum describes the whole object, so it
 * is sent only with the whole object (a range that covers all of it too, as S3 does); a part of
 * a multipart object read by partNumber has a checksum of its own when its upload had an
 * algorithm. x-amz-checksum-type is the object's.
 */
function returnedChecksums(version: ObjectVersion, range: ReadRange | undefined, part: number | undefined): Record<string, string> {
  let checksums: Record<string, string> | undefined;
  if (part !== undefined && version.parts) checksums = version.parts[part]?.checksums;
  else if (!range || (range.start === 0 && range.end === version.size - 1)) checksums = version.checksums;
  const type = checksumType(version.checksums);
  if (checksums === undefined || Object.keys(checksums).length === 0 || type === undefined) return {};
  return { ...checksumHeaders(checksums), 'x-amz-checksum-type': type };
}


async function readObject(req: S3Request, ctx: GatewayContext, withBody: boolean): Promise<S3Response> {
  const overrides = responseOverrides(req);
  const { bucket, version } = await findVersion(req, ctx, { bucket: req.bucket!, key: req.key!, versionId: versionIdParam(req.query) }, 'read');
  await ctx.meta.addCost(bucket.name, { get: 1 });
  const headers = objectHeaders(bucket, version);

  const outcome = evaluatePreconditions(version, preconditions(req.headers));
  if (outcome === 'failed') throw new S3Error('PreconditionFailed');
  if (outcome === 'not-modified') {
    return { status: 304, headers: { etag: version.etag, 'last-modified': httpDate(version.lastModified), ...versionHeader(bucket, version.versionId) } };
  }

  const partNumber = req.query.get('partNumber');
  const rangeHeader = header(req.headers, 'range');
  let range: ReadRange | undefined;
  let part: number | undefined;
  if (partNumber !== null) {
    if (rangeHeader !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    const requested = partRange(version, partNumber);
    range = requested.range;
    part = requested.index;
    if (version.parts) headers['x-amz-mp-parts-count'] = requested.count;
  } else {
    range = parseRange(rangeHeader, version.size);
  }
  if (header(req.headers, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') Object.assign(headers, returnedChecksums(version, range, part));
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${version.size}`;
  headers['content-length'] = range ? range.end - range.start + 1 : version.size;
  Object.assign(headers, overrides);
  const status = range ? 206 : 200;
  if (!withBody) return { status, headers };
  return {
    status,
    headers,
    body: await contentStream(ctx, version, range),
    // Egress is what actually left, however the response ended.
    sent: (bytes) => {
      ctx.meta.addCost(bucket.name, { egressBytes: bytes }).catch((err: unknown) => ctx.log.warn({ err, bucket: bucket.name }, 'egress not counted'));
    },
  };
}

export const getObject: Handler = (req, ctx) => readObject(req, ctx, true);

export const headObject: Handler = (req, ctx) => readObject(req, ctx, false);
