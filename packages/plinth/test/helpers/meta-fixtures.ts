import type { Bucket, CommittedContent, MetadataStore, ObjectVersion, VersioningState } from '../../src/meta/types.js';

/** Builders for metadata records, shared by the contract suite, the process it kills mid-run and the GC tests. */

export const OWNER = 'owner-1';

export function bucket(name: string, versioning: VersioningState = 'Unversioned'): Bucket {
  return { name, ownerId: OWNER, created: new Date('2024-01-02T03:04:05.678Z'), acl: 'private', versioning, grants: {} };
}

/** A version as the gateway records it before any byte is written: content fields are placeholders. */
export function pending(bucketName: string, key: string, versionId: string, extra: Partial<ObjectVersion> = {}): ObjectVersion {
  return {
    bucket: bucketName,
    key,
    versionId,
    isLatest: false,
    isDeleteMarker: false,
    state: 'pending',
    size: 0,
    etag: '',
    lastModified: new Date(),
    userMetadata: {},
    tags: {},
    acl: 'private',
    ownerId: OWNER,
    checksums: {},
    xxhash64: '',
    placement: { blob: '', nodes: [] },
    ...extra,
  };
}

export function content(blob: string, size: number, extra: Partial<CommittedContent> = {}): CommittedContent {
  return {
    size,
    etag: `"etag-${blob}"`,
    xxhash64: `xx-${blob}`,
    checksums: {},
    placement: { blob, nodes: ['local'] },
    lastModified: new Date(),
    ...extra,
  };
}

/** Both steps of a write (the bytes are imaginary). */
export async function put(meta: MetadataStore, b: string, key: string, versionId: string, blob: string, size = 10) {
  await meta.insertPending(pending(b, key, versionId));
  return meta.commit(b, key, versionId, content(blob, size));
}

export async function putDeleteMarker(meta: MetadataStore, b: string, key: string, versionId: string) {
  await meta.insertPending(pending(b, key, versionId, { isDeleteMarker: true }));
  return meta.commit(b, key, versionId, content('', 0));
}

/**
 * A multipart upload of one part, completed into `versionId` of the key as the gateway does it
 * (commit with completesUpload). Resolves the completed version's ETag.
 */
export async function completeUpload(meta: MetadataStore, b: string, key: string, versionId: string, uploadId: string): Promise<string> {
  await meta.createUpload({ uploadId, bucket: b, key, initiated: new Date(), ownerId: OWNER, template: { userMetadata: {}, tags: {}, acl: 'private' } });
  const part = { size: 5, blob: `part-${uploadId}`, xxhash64: `xx-${uploadId}`, etag: `"e-${uploadId}"` };
  await meta.putPart({ ...part, uploadId, partNumber: 1, lastModified: new Date() });
  await meta.insertPending(pending(b, key, versionId));
  const etag = `"m-${uploadId}-1"`;
  await meta.commit(b, key, versionId, content('', 5, { etag, parts: [part] }), { completesUpload: uploadId });
  return etag;
}
