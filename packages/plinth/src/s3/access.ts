import type { IncomingHttpHeaders } from 'node:http';
import type { Acl, Bucket, ObjectVersion, User } from '../meta/types.js';
import { S3Error } from './errors.js';
import type { GatewayContext, S3Request } from './types.js';

/**
 * Who may do what. A bucket's owner may do everything in it, and an object's owner everything to
 * that object. A user granted read or write on a bucket may read (list and read objects) or also
 * write there: Plinth's per-user grants act as a bucket policy would, since objects carry no
 * per-user grants of their own. Canned ACLs work as S3's: a bucket's decides who may list it and
 * write objects into it, an object's who may read that object. So a public-read bucket lists
 * its keys to anyone, but only its public-read objects can be read anonymously.
 */

export type Access = 'read' | 'write';

const CANNED_ACLS: readonly Acl[] = ['private', 'public-read', 'public-read-write', 'authenticated-read'];

/** What a canned ACL lets someone who is neither owner nor grantee do. */
function aclAllows(acl: Acl, user: User | null, access: Access): boolean {
  switch (acl) {
    case 'public-read-write':
      return true;
    case 'public-read':
      return access === 'read';
    case 'authenticated-read':
      return access === 'read' && user !== null;
    case 'private':
      return false;
  }
}

/**
 * Whether the user may read or write in the bucket, or, with `object`, read or write that object
 * (a read of an object is decided by its ACL, not the bucket's).
 */
export function allowed(user: User | null, bucket: Bucket, access: Access, object?: Pick<ObjectVersion, 'ownerId' | 'acl'>): boolean {
  if (user && user.id === bucket.ownerId) return true;
  if (user && object && object.ownerId === user.id) return true;
  // A write grant includes reading: Plinth keeps one grant level per user.
  const grant = user ? bucket.grants[user.id] : undefined;
  if (grant === 'write' || (grant === 'read' && access === 'read')) return true;
  if (access === 'read' && object !== undefined) return aclAllows(object.acl, user, 'read');
  return aclAllows(bucket.acl, user, access);
}

async function getBucketOrThrow(ctx: GatewayContext, name: string): Promise<Bucket> {
  const bucket = await ctx.meta.getBucket(name);
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
  return bucket;
}

/**
 * The bucket, once the request may read or write in it (and in `object` when given); throws
 * NoSuchBucket or AccessDenied. Families call this before touching anything:
 *
 *   const bucket = await requireAccess(req, ctx, req.bucket!, 'write');
 *   const version = await ctx.meta.getObject(...);
 *   await requireAccess(req, ctx, bucket, 'read', version);
 */
export async function requireAccess(req: S3Request, ctx: GatewayContext, bucket: string | Bucket, access: Access, object?: Pick<ObjectVersion, 'ownerId' | 'acl'>): Promise<Bucket> {
  const found = typeof bucket === 'string' ? await getBucketOrThrow(ctx, bucket) : bucket;
  if (!allowed(req.user, found, access, object)) throw new S3Error('AccessDenied');
  return found;
}

/**
 * Bucket configuration (ACLs, versioning, location, deletion) is the owner's alone; for an
 * object's ACL its owner counts as well.
 */
export async function requireOwner(req: S3Request, ctx: GatewayContext, bucket: string | Bucket, object?: Pick<ObjectVersion, 'ownerId'>): Promise<Bucket> {
  const found = typeof bucket === 'string' ? await getBucketOrThrow(ctx, bucket) : bucket;
  const id = req.user?.id;
  if (id === undefined || (id !== found.ownerId && id !== object?.ownerId)) throw new S3Error('AccessDenied');
  return found;
}

/**
 * The x-amz-acl header of CreateBucket and Put*Acl (undefined when absent). The bucket-owner-*
 * ACLs mean "the bucket owner has full control", which a bucket owner always has here, and
 * aws-exec-read only adds an AWS service account: all three store as private (as
 * object-write.ts's aclHeader does for object writes).
 */
export function cannedAcl(headers: IncomingHttpHeaders): Acl | undefined {
  const value = headers['x-amz-acl'];
  if (value === undefined) return undefined;
  const acl = (Array.isArray(value) ? value.join(',') : value).trim();
  if ((CANNED_ACLS as readonly string[]).includes(acl)) return acl as Acl;
  if (acl === 'bucket-owner-read' || acl === 'bucket-owner-full-control' || acl === 'aws-exec-read') return 'private';
  if (acl === 'log-delivery-write') throw new S3Error('NotImplemented', `The canned ACL ${acl} is not supported.`);
  throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: acl });
}
