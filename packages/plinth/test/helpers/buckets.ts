import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type BucketCannedACL, type S3Client } from '@aws-sdk/client-s3';

/**
 * A new bucket with a unique name (`prefix-<random>`), optionally versioned, public, or holding
 * objects (each key stored with itself as the body).
 */
export async function newBucket(
  s3: S3Client,
  prefix: string,
  { versioning, acl, keys = [] }: { versioning?: 'Enabled' | 'Suspended'; acl?: BucketCannedACL; keys?: string[] } = {},
): Promise<string> {
  const Bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket, ACL: acl }));
  if (versioning) await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: versioning } }));
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  return Bucket;
}
