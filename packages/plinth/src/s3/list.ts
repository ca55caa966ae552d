import type { Bucket, ListObjectsQuery, ObjectVersion } from '../meta/types.js';
import { requireAccess } from './access.js';
import { S3Error } from './errors.js';
import { checksumType } from './object-read.js';
import type { GatewayContext, Handler, S3Request } from './types.js';
import { toXml, XmlSequence, type XmlObject } from './xml.js';

/** ListObjects (v1), ListObjectsV2 and ListObjectVersions. */

const MAX_KEYS = 1000;

function maxKeys(query: URLSearchParams): number {
  const value = query.get('max-keys');
  if (value === null) return MAX_KEYS;
  if (!/^\d+$/.test(value)) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: value });
  return Math.min(Number(value), MAX_KEYS);
}

/**
 * encoding-type=url: S3 percent-encodes the UTF-8 bytes of every character but unreserved ones
 * and '/', so a space is %20 and '+' is %2B.
 */
export function s3UrlEncode(text: string): string {
  return encodeURIComponent(text)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

type Encode = (text: string | undefined) => string | undefined;

function encoding(query: URLSearchParams): { encode: Encode; EncodingType?: string } {
  const type = query.get('encoding-type');
  if (type === null) return { encode: (text) => text };
  if (type.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: type });
  return { encode: (text) => (text === undefined ? undefined : s3UrlEncode(text)), EncodingType: 'url' };
}

/** What every listing reads from the query string: prefix, delimiter (empty means none), max-keys, encoding. */
function listing(req: S3Request, bucket: Bucket) {
  const delimiter = req.query.get('delimiter') || undefined;
  const query: ListObjectsQuery = { bucket: bucket.name, prefix: req.query.get('prefix') ?? '', delimiter, maxKeys: maxKeys(req.query) };
  return { query, ...encoding(req.query) };
}

async function listAccess(req: S3Request, ctx: GatewayContext): Promise<Bucket> {
  const bucket = await requireAccess(req, ctx, req.bucket!, 'read');
  await ctx.meta.addCost(bucket.name, { list: 1 });
  return bucket;
}

/** Owners as listings show them: the canonical id and the user's display name. */
export async function owners(ctx: GatewayContext): Promise<(id: string) => XmlObject> {
  const names = new Map((await ctx.meta.listUsers()).map((user) => [user.id, user.displayName]));
  return (id) => ({ ID: id, DisplayName: names.get(id) ?? id });
}

function checksumAlgorithms(version: ObjectVersion): string[] {
  return Object.keys(version.checksums).map((algorithm) => algorithm.toUpperCase());
}

function contents(version: ObjectVersion, encode: Encode, owner?: (id: string) => XmlObject): XmlObject {
  return {
    Key: encode(version.key),
    LastModified: version.lastModified,
    ETag: version.etag,
    ChecksumAlgorithm: checksumAlgorithms(version),
    ChecksumType: checksumType(version.checksums),
    Size: version.size,
    Owner: owner?.(version.ownerId),
    StorageClass: 'STANDARD',
  };
}

export const listObjects: Handler = async (req, ctx) => {
  const bucket = await listAccess(req, ctx);
  const { query, encode, EncodingType } = listing(req, bucket);
  const marker = req.query.get('marker') || undefined;
  const page = await ctx.meta.listObjects({ ...query, after: marker });
  const owner = await owners(ctx);
  return {
    body: toXml('ListBucketResult', {
      Name: bucket.name,
      Prefix: encode(query.prefix),
      Marker: encode(marker ?? ''),
      MaxKeys: query.maxKeys,
      Delimiter: encode(query.delimiter),
      IsTruncated: page.isTruncated,
      // S3 gives NextMarker only with a delimiter; without one the last Key is the next marker.
      NextMarker: query.delimiter !== undefined && page.isTruncated ? encode(page.nextMarker) : undefined,
      Contents: page.objects.map((version) => contents(version, encode, owner)),
      CommonPrefixes: page.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) })),
      EncodingType,
    }),
  };
};

/** V2's continuation token is opaque to clients: the base64url of the key to resume after. */
function continueAfter(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (key === '' || Buffer.from(key, 'utf8').toString('base64url') !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token', ArgumentValue: token });
  }
  return key;
}

export const listObjectsV2: Handler = async (req, ctx) => {
  const bucket = await listAccess(req, ctx);
  const { query, encode, EncodingType } = listing(req, bucket);
  const token = req.query.get('continuation-token') ?? undefined;
  const startAfter = req.query.get('start-after') || undefined;
  // A continuation token supersedes start-after, which only places the first page. An empty one
  // (what a client holding no token yet may send) starts from the beginning and is echoed, as S3
  // does (ceph/s3-tests test_bucket_listv2_continuationtoken_empty).
  const after = token ? continueAfter(token) : startAfter;
  const page = await ctx.meta.listObjects({ ...query, after });
  const owner = req.query.get('fetch-owner') === 'true' ? await owners(ctx) : undefined;
  return {
    body: toXml('ListBucketResult', {
      Name: bucket.name,
      Prefix: encode(query.prefix),
      MaxKeys: query.maxKeys,
      KeyCount: page.objects.length + page.commonPrefixes.length,
      Delimiter: encode(query.delimiter),
      IsTruncated: page.isTruncated,
      ContinuationToken: token,
      NextContinuationToken: page.isTruncated && page.nextMarker !== undefined ? Buffer.from(page.nextMarker, 'utf8').toString('base64url') : undefined,
      StartAfter: encode(startAfter),
      Contents: page.objects.map((version) => contents(version, encode, owner)),
      CommonPrefixes: page.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) })),
      EncodingType,
    }),
  };
};

export const listObjectVersions: Handler = async (req, ctx) => {
  const bucket = await listAccess(req, ctx);
  const { query, encode, EncodingType } = listing(req, bucket);
  const keyMarker = req.query.get('key-marker') || undefined;
  const versionIdMarker = req.query.get('version-id-marker') || undefined;
  if (versionIdMarker !== undefined && keyMarker === undefined) {
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
  }
  const page = await ctx.meta.listVersions({ ...query, after: keyMarker, afterVersionId: versionIdMarker });
  const owner = await owners(ctx);
  // Versions and delete markers are one sequence in listing order: each key's newest first.
  const entries = page.objects.map((version): [string, XmlObject] =>
    version.isDeleteMarker
      ? ['DeleteMarker', { Key: encode(version.key), VersionId: version.versionId, IsLatest: version.isLatest, LastModified: version.lastModified, Owner: owner(version.ownerId) }]
      : ['Version', { Key: encode(version.key), VersionId: version.versionId, IsLatest: version.isLatest, ...contents(version, encode, owner) }],
  );
  return {
    body: toXml('ListVersionsResult', {
      Name: bucket.name,
      Prefix: encode(query.prefix),
      KeyMarker: encode(keyMarker ?? ''),
      VersionIdMarker: versionIdMarker ?? '',
      MaxKeys: query.maxKeys,
      Delimiter: encode(query.delimiter),
      IsTruncated: page.isTruncated,
      NextKeyMarker: page.isTruncated ? encode(page.nextMarker) : undefined,
      NextVersionIdMarker: page.isTruncated ? page.nextVersionIdMarker : undefined,
      versions: new XmlSequence(entries),
      CommonPrefixes: page.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) })),
      EncodingType,
    }),
  };
};
