import { requireAccess } from './access.js';
import { checksumHeaders, checksumType, writtenVersionHeader } from './object-read.js';
import { objectAttributes, storeBody, writeCondition, writeVersion } from './object-write.js';
import type { Handler } from './types.js';

/** PutObject. */

export const putObject: Handler = async (req, ctx) => {
  const bucket = await requireAccess(req, ctx, req.bucket!, 'write');
  await ctx.meta.addCost(bucket.name, { put: 1 });
  // Every header is checked before the body is read, so a doomed upload costs no bytes.
  const target = { bucket, key: req.key!, ownerId: req.user?.id ?? bucket.ownerId, attributes: objectAttributes(req.headers), condition: writeCondition(req.headers) };
  const version = await writeVersion(ctx, target, () => storeBody(ctx, req));
  const type = checksumType(version.checksums);
  // S3 names the checksum's type (always the whole object's here) beside the checksum it verified.
  const checksums = type ? { ...checksumHeaders(version.checksums), 'x-amz-checksum-type': type } : {};
  return { headers: { etag: version.etag, ...writtenVersionHeader(bucket, version.versionId), ...checksums } };
};
