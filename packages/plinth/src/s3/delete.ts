import type { Bucket } from '../meta/types.js';
import { requireAccess } from './access.js';
import { S3Error } from './errors.js';
import { readBody, requireBodyDigest } from './http.js';
import { checkVersionId, versionIdParam } from './object-read.js';
import { noContent, releaseBlobs, writeVersion } from './object-write.js';
import type { GatewayContext, Handler, S3Request } from './types.js';
import { asArray, parseXml, toXml, XmlSequence, type XmlObject } from './xml.js';

/** DeleteObject and DeleteObjects. */

const MAX_KEYS = 1000;
/** 1000 keys of up to 1024 bytes each, with room for version ids and markup. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** DeleteObjects works on this many keys at once. */
const PARALLEL_DELETES = 8;

interface Deletion {
  /** The version removed, or the delete marker added; undefined for an unversioned bucket. */
  versionId?: string;
  /** A delete marker was added, or the version removed was one. */
  deleteMarker: boolean;
}

/**
 * Removes one version for good and resolves whether it was a delete marker. A version that does
 * not exist is not an error: S3 answers a delete of a missing key or version as a success.
 */
async function removeVersion(ctx: GatewayContext, bucket: Bucket, key: string, versionId: string): Promise<boolean> {
  const { removed, orphaned } = await ctx.meta.deleteVersion(bucket.name, key, versionId);
  releaseBlobs(ctx, orphaned);
  return removed === 'deleteMarker';
}

/**
 * S3's delete: with a version id, that version goes; without one, an unversioned bucket loses the
 * key's 'null' version, and a bucket that has had versioning gets a delete marker (the 'null' one
 * when versioning is suspended, which replaces the 'null' version).
 */
async function deleteKey(req: S3Request, ctx: GatewayContext, bucket: Bucket, key: string, versionId: string | undefined): Promise<Deletion> {
  if (versionId !== undefined) return { versionId, deleteMarker: await removeVersion(ctx, bucket, key, versionId) };
  if (bucket.versioning === 'Unversioned') {
    await removeVersion(ctx, bucket, key, 'null');
    return { deleteMarker: false };
  }
  const marker = await writeVersion(
    ctx,
    { bucket, key, ownerId: req.user?.id ?? bucket.ownerId, attributes: { userMetadata: {}, tags: {}, acl: 'private' }, deleteMarker: true },
    noContent(),
  );
  return { versionId: marker.versionId, deleteMarker: true };
}

export const deleteObject: Handler = async (req, ctx) => {
  const bucket = await requireAccess(req, ctx, req.bucket!, 'write');
  await ctx.meta.addCost(bucket.name, { delete: 1 });
  const { versionId, deleteMarker } = await deleteKey(req, ctx, bucket, req.key!, versionIdParam(req.query));
  const headers: Record<string, string> = {};
  if (versionId !== undefined) headers['x-amz-version-id'] = versionId;
  if (deleteMarker) headers['x-amz-delete-marker'] = 'true';
  return { status: 204, headers };
};

/** Quiet is an xs:boolean. */
function quietFlag(value: unknown): boolean {
  if (value === undefined) return false;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new S3Error('MalformedXML');
}

function parseDeleteList(xml: string): { quiet: boolean; objects: { key: string; versionId?: string }[] } {
  const doc = parseXml(xml, 'Delete');
  const objects = asArray(doc.Object as unknown).map((entry) => {
    const { Key, VersionId } = (entry ?? {}) as { Key?: unknown; VersionId?: unknown };
    if (typeof Key !== 'string' || (VersionId !== undefined && typeof VersionId !== 'string')) throw new S3Error('MalformedXML');
    return { key: Key, versionId: VersionId };
  });
  if (objects.length === 0 || objects.length > MAX_KEYS) throw new S3Error('MalformedXML');
  const quiet = quietFlag(doc.Quiet);
  // An empty key names no object: deleting it would leave a marker no request could address.
  if (objects.some((o) => o.key === '')) throw new S3Error('UserKeyMustBeSpecified');
  return { quiet, objects };
}

export const deleteObjects: Handler = async (req, ctx) => {
  const bucket = await requireAccess(req, ctx, req.bucket!, 'write');
  await ctx.meta.addCost(bucket.name, { delete: 1 });
  requireBodyDigest(req.headers);
  const { quiet, objects } = parseDeleteList(await readBody(req.body, MAX_BODY_BYTES));

  const entries: [string, XmlObject][] = new Array(objects.length);
  const deleteOne = async (index: number): Promise<void> => {
    const { key, versionId } = objects[index]!;
    try {
      const done = await deleteKey(req, ctx, bucket, key, versionId === undefined ? undefined : checkVersionId(versionId));
      const marker = done.deleteMarker ? { DeleteMarker: true, DeleteMarkerVersionId: done.versionId } : {};
      entries[index] = ['Deleted', { Key: key, VersionId: versionId, ...marker }];
    } catch (err) {
      if (!(err instanceof S3Error)) ctx.log.error({ err, bucket: bucket.name, key }, 'delete failed');
      const failure = err instanceof S3Error ? err : new S3Error('InternalError');
      entries[index] = ['Error', { Key: key, VersionId: versionId, Code: failure.code, Message: failure.message }];
    }
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < objects.length) await deleteOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, objects.length) }, worker));

  const reported = quiet ? entries.filter(([name]) => name === 'Error') : entries;
  return { body: toXml('DeleteResult', { results: new XmlSequence(reported) }) };
};
