import type { VersioningState } from '../meta/types.js';
import { requireAccess, requireOwner } from './access.js';
import { aclDocument, aclFromHeaders, aclFromRequest } from './acl.js';
import { S3Error } from './errors.js';
import { readBody } from './http.js';
import type { Handler } from './types.js';
import { escapeXml, parseXml, S3_NAMESPACE, toXml } from './xml.js';

/**
 * Bucket-level operations: create, list, head, delete, location, versioning state and ACLs. Like
 * every family, each handler counts its request in the bucket's cost record once access is
 * granted (DeleteBucket does not: the record goes with the bucket).
 */

/**
 * Names the gateway answers itself on GET without credentials (/health, /metrics): a bucket so
 * named could never be listed anonymously, so they are refused outright.
 */
const RESERVED_BUCKET_NAMES = ['health', 'metrics'];

const FORBIDDEN_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const FORBIDDEN_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** Why a name breaks S3's general-purpose bucket naming rules (or Plinth's reserved names); null when it is fine. */
function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return 'Bucket names must be between 3 and 63 characters long.';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'Bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-).';
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return 'Bucket names must begin and end with a letter or number.';
  if (name.includes('..')) return 'Bucket names must not contain two adjacent periods.';
  // Each period-separated label is a DNS label, which starts and ends with a letter or digit: S3
  // refuses 'foo.-bar' and 'foo-.bar' (ceph/s3-tests test_bucket_create_naming_dns_dot_dash).
  if (name.includes('.-') || name.includes('-.')) return 'Bucket names must not contain a period next to a hyphen.';
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return 'Bucket names must not be formatted as an IP address.';
  if (FORBIDDEN_PREFIXES.some((p) => name.startsWith(p))) return 'Bucket names must not start with a reserved prefix.';
  if (FORBIDDEN_SUFFIXES.some((s) => name.endsWith(s))) return 'Bucket names must not end with a reserved suffix.';
  if (RESERVED_BUCKET_NAMES.includes(name)) return `The bucket name '${name}' is reserved by Plinth for its own endpoints.`;
  return null;
}

/** CreateBucketConfiguration and the versioning document are tiny. */
const MAX_CONFIG_BYTES = 64 * 1024;

export const listBuckets: Handler = async (req, ctx) => {
  if (!req.user) throw new S3Error('AccessDenied');
  const prefix = req.query.get('prefix') ?? '';
  const maxText = req.query.get('max-buckets');
  const max = maxText === null ? Infinity : Number(maxText);
  if (maxText !== null && (!/^\d+$/.test(maxText) || max < 1 || max > 10000)) {
    throw new S3Error('InvalidArgument', 'max-buckets must be between 1 and 10000', { ArgumentName: 'max-buckets', ArgumentValue: maxText });
  }
  const token = req.query.get('continuation-token');
  const after = token === null ? '' : Buffer.from(token, 'base64url').toString('utf8');
  const userId = req.user.id;
  const mine = (await ctx.meta.listBuckets())
    .filter((b) => b.ownerId === userId && b.name.startsWith(prefix) && b.name > after)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const page = mine.slice(0, max);
  const truncated = page.length < mine.length;
  return {
    body: toXml('ListAllMyBucketsResult', {
      Owner: { ID: userId, DisplayName: req.user.displayName },
      Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: b.created, BucketRegion: ctx.config.region })) },
      ContinuationToken: truncated ? Buffer.from(page[page.length - 1]!.name).toString('base64url') : undefined,
      Prefix: req.query.has('prefix') ? prefix : undefined,
    }),
  };
};

export const createBucket: Handler = async (req, ctx) => {
  if (!req.user) throw new S3Error('AccessDenied');
  const name = req.bucket!;
  const problem = bucketNameProblem(name);
  if (problem) throw new S3Error('InvalidBucketName', problem, { BucketName: name });
  if (String(req.headers['x-amz-bucket-object-lock-enabled']).toLowerCase() === 'true') throw new S3Error('NotImplemented', 'Object Lock is not supported.');
  const body = await readBody(req.body, MAX_CONFIG_BYTES);
  if (body.trim() !== '') {
    const config = parseXml(body, 'CreateBucketConfiguration');
    const location = typeof config.LocationConstraint === 'string' ? config.LocationConstraint.trim() : '';
    if (location !== '' && location !== ctx.config.region) {
      throw new S3Error('InvalidLocationConstraint', `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to (${ctx.config.region}).`, { LocationConstraint: location });
    }
  }
  const setting = (await aclFromHeaders(ctx, req.headers, req.user.id, 'bucket')) ?? { acl: 'private', grants: {} };
  const created = await ctx.meta.createBucket({ name, ownerId: req.user.id, created: new Date(), acl: setting.acl, versioning: 'Unversioned', grants: setting.grants });
  if (!created) {
    const existing = await ctx.meta.getBucket(name);
    throw new S3Error(existing?.ownerId === req.user.id ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists', undefined, { BucketName: name });
  }
  await ctx.meta.addCost(name, { put: 1 });
  return { headers: { location: `/${name}` } };
};

export const headBucket: Handler = async (req, ctx) => {
  const bucket = await requireAccess(req, ctx, req.bucket!, 'read');
  await ctx.meta.addCost(bucket.name, { get: 1 });
  return { headers: { 'x-amz-bucket-region': ctx.config.region } };
};

export const deleteBucket: Handler = async (req, ctx) => {
  const bucket = await requireOwner(req, ctx, req.bucket!);
  if (!(await ctx.meta.deleteBucket(bucket.name))) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket.name });
  return { status: 204 };
};

export const getBucketLocation: Handler = async (req, ctx) => {
  const bucket = await requireOwner(req, ctx, req.bucket!);
  await ctx.meta.addCost(bucket.name, { get: 1 });
  // S3 answers an empty constraint for us-east-1, its original region.
  const region = ctx.config.region === 'us-east-1' ? '' : escapeXml(ctx.config.region);
  return { body: `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NAMESPACE}">${region}</LocationConstraint>` };
};

export const getBucketVersioning: Handler = async (req, ctx) => {
  const bucket = await requireOwner(req, ctx, req.bucket!);
  await ctx.meta.addCost(bucket.name, { get: 1 });
  // A bucket that never had versioning turned on has no Status at all.
  return { body: toXml('VersioningConfiguration', { Status: bucket.versioning === 'Unversioned' ? undefined : bucket.versioning }) };
};

export const putBucketVersioning: Handler = async (req, ctx) => {
  const bucket = await requireOwner(req, ctx, req.bucket!);
  const config = parseXml(await readBody(req.body, MAX_CONFIG_BYTES), 'VersioningConfiguration');
  const status = typeof config.Status === 'string' ? config.Status.trim() : undefined;
  if (status !== 'Enabled' && status !== 'Suspended') throw new S3Error('IllegalVersioningConfigurationException', 'The Versioning element must be specified as Enabled or Suspended.');
  const mfa = config.MfaDelete === undefined ? undefined : typeof config.MfaDelete === 'string' ? config.MfaDelete.trim() : null;
  if (mfa === 'Enabled') throw new S3Error('NotImplemented', 'MFA Delete is not supported.');
  if (mfa !== undefined && mfa !== 'Disabled') throw new S3Error('MalformedXML');
  const versioning: VersioningState = status;
  await ctx.meta.updateBucket(bucket.name, { versioning });
  await ctx.meta.addCost(bucket.name, { put: 1 });
  return {};
};

export const getBucketAcl: Handler = async (req, ctx) => {
  const bucket = await requireOwner(req, ctx, req.bucket!);
  await ctx.meta.addCost(bucket.name, { get: 1 });
  return { body: await aclDocument(ctx, bucket.ownerId, bucket.acl, bucket.grants) };
};

export const putBucketAcl: Handler = async (req, ctx) => {
  const bucket = await requireOwner(req, ctx, req.bucket!);
  const setting = await aclFromRequest(req, ctx, bucket.ownerId, 'bucket');
  await ctx.meta.updateBucket(bucket.name, setting);
  await ctx.meta.addCost(bucket.name, { put: 1 });
  return {};
};
