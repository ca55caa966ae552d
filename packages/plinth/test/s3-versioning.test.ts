import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type BucketVersioningStatus,
  type S3Client,
} from '@aws-sdk/client-s3';
import { newBucket } from './helpers/buckets.js';
import { bytesOf, describeEachBackend, rejectsWith, sweep } from './helpers/s3.js';
import type { PlinthHarness } from './helpers/server.js';

const blobOf = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const VERSION_ID = /^[0-9a-f]{32}$/;

describeEachBackend('versioning end to end', (server) => {
  let plinth: PlinthHarness;
  let s3: S3Client;

  before(() => {
    plinth = server();
    s3 = plinth.client;
  });

  const setVersioning = (Bucket: string, Status: BucketVersioningStatus) => s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status } }));
  const put = (Bucket: string, Key: string, Body: string | Buffer) => s3.send(new PutObjectCommand({ Bucket, Key, Body }));
  const read = async (Bucket: string, Key: string, VersionId?: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }));
    return { versionId: got.VersionId, body: (await bytesOf(got.Body)).toString() };
  };
  /** A key's versions and delete markers, newest first, as [versionId, isLatest, kind]. */
  async function history(Bucket: string, Key: string): Promise<[string, boolean, 'version' | 'marker'][]> {
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key }));
    const entries = [
      ...(listed.Versions ?? []).filter((v) => v.Key === Key).map((v) => ({ at: v.LastModified!, id: v.VersionId!, latest: v.IsLatest!, kind: 'version' as const })),
      ...(listed.DeleteMarkers ?? []).filter((m) => m.Key === Key).map((m) => ({ at: m.LastModified!, id: m.VersionId!, latest: m.IsLatest!, kind: 'marker' as const })),
    ];
    // The SDK splits the listing into versions and markers; these assertions need the latest first, then versions newest first.
    entries.sort((a, b) => Number(b.latest) - Number(a.latest));
    return entries.map((e) => [e.id, e.latest, e.kind]);
  }

  it('an unversioned bucket: no Status, no version ids, one null version per key', async () => {
    const Bucket = await newBucket(s3, 'versions');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, undefined);
    const first = await put(Bucket, 'k', 'one');
    assert.equal(first.VersionId, undefined, 'no x-amz-version-id before versioning was ever enabled');
    await put(Bucket, 'k', 'two');
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }));
    assert.equal(got.VersionId, undefined);
    assert.equal((await read(Bucket, 'k', 'null')).body, 'two', "the only version is addressable as 'null'");
    assert.deepEqual(await history(Bucket, 'k'), [['null', true, 'version']]);
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
    assert.equal(deleted.VersionId, undefined);
    assert.equal(deleted.DeleteMarker, undefined);
    assert.deepEqual(await history(Bucket, 'k'), []);
    await sweep(plinth);
    assert.equal(await plinth.server.node.has(blobOf('one')), false, 'an overwritten unversioned object is freed');
    assert.equal(await plinth.server.node.has(blobOf('two')), false);
  });

  it('versioning cannot go back to Unversioned, and only Enabled and Suspended are accepted', async () => {
    const Bucket = await newBucket(s3, 'versions', { versioning: 'Enabled' });
    await rejectsWith(setVersioning(Bucket, 'Unversioned' as BucketVersioningStatus), 'IllegalVersioningConfigurationException', 400);
    await rejectsWith(setVersioning(Bucket, 'enabled' as BucketVersioningStatus), 'IllegalVersioningConfigurationException', 400);
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled');
    await setVersioning(Bucket, 'Suspended');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Suspended');
    const reader = await plinth.addUser('versioning-reader');
    await rejectsWith(reader.client.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } })), 'AccessDenied', 403);
  });

  describe('the full lifecycle of one key: Unversioned → Enabled → Suspended → Enabled', () => {
    let Bucket: string;
    const Key = 'doc.txt';
    const ids: Record<string, string> = {};

    before(async () => {
      Bucket = await newBucket(s3, 'versions');
    });

    it('keeps the object written before versioning as the null version', async () => {
      await put(Bucket, Key, 'pre-versioning');
      await setVersioning(Bucket, 'Enabled');
      const v1 = await put(Bucket, Key, 'v1');
      const v2 = await put(Bucket, Key, 'v2');
      assert.match(v1.VersionId!, VERSION_ID);
      assert.match(v2.VersionId!, VERSION_ID);
      assert.notEqual(v1.VersionId, v2.VersionId);
      ids.v1 = v1.VersionId!;
      ids.v2 = v2.VersionId!;
      assert.deepEqual(await read(Bucket, Key), { versionId: ids.v2, body: 'v2' });
      assert.deepEqual(await read(Bucket, Key, ids.v1), { versionId: ids.v1, body: 'v1' });
      assert.deepEqual(await read(Bucket, Key, 'null'), { versionId: 'null', body: 'pre-versioning' });
      assert.deepEqual(await history(Bucket, Key), [
        [ids.v2, true, 'version'],
        [ids.v1, false, 'version'],
        ['null', false, 'version'],
      ]);
    });

    it('answers HEAD by version id with that version', async () => {
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key, VersionId: ids.v1 }));
      assert.equal(head.VersionId, ids.v1);
      assert.equal(head.ContentLength, 2);
      await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key, VersionId: '0'.repeat(32) })), undefined, 404);
      await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: '0'.repeat(32) })), 'NoSuchVersion', 404);
      await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: 'not-a-version' })), 'InvalidArgument', 400);
    });

    it('hides the key behind a delete marker, keeping every version readable', async () => {
      const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      assert.equal(marker.DeleteMarker, true);
      assert.match(marker.VersionId!, VERSION_ID);
      ids.marker = marker.VersionId!;
      const headers = await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key })), 'NoSuchKey', 404);
      assert.equal(headers['x-amz-delete-marker'], 'true');
      await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: ids.marker })), 'MethodNotAllowed', 405);
      await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key, VersionId: ids.marker })), undefined, 405);
      assert.equal((await read(Bucket, Key, ids.v2)).body, 'v2');
      const current = await s3.send(new ListObjectsV2Command({ Bucket }));
      assert.equal(current.KeyCount, 0, 'a key whose latest version is a delete marker is not listed');
      assert.deepEqual(await history(Bucket, Key), [
        [ids.marker, true, 'marker'],
        [ids.v2, false, 'version'],
        [ids.v1, false, 'version'],
        ['null', false, 'version'],
      ]);
      // A second simple DELETE stacks another marker.
      const again = await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      assert.notEqual(again.VersionId, ids.marker);
      const removed = await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: again.VersionId }));
      assert.equal(removed.DeleteMarker, true);
      assert.equal(removed.VersionId, again.VersionId);
    });

    it('brings the key back when its delete marker is deleted by version id', async () => {
      const removed = await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: ids.marker }));
      assert.equal(removed.DeleteMarker, true);
      assert.equal(removed.VersionId, ids.marker);
      assert.deepEqual(await read(Bucket, Key), { versionId: ids.v2, body: 'v2' });
    });

    it('makes the next older version latest when the latest is deleted by version id, and frees its bytes', async () => {
      const removed = await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: ids.v2 }));
      assert.equal(removed.VersionId, ids.v2);
      assert.equal(removed.DeleteMarker, undefined);
      assert.deepEqual(await read(Bucket, Key), { versionId: ids.v1, body: 'v1' });
      await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: ids.v2 })), 'NoSuchVersion', 404);
      await sweep(plinth);
      assert.equal(await plinth.server.node.has(blobOf('v2')), false);
      assert.ok(await plinth.server.node.has(blobOf('v1')));
      assert.ok(await plinth.server.node.has(blobOf('pre-versioning')));
    });

    it('under Suspended, writes replace the null version and leave the versioned ones', async () => {
      await setVersioning(Bucket, 'Suspended');
      const first = await put(Bucket, Key, 'suspended-1');
      // As S3: a write that made the 'null' version answers no version id (reads of it say 'null').
      assert.equal(first.VersionId, undefined);
      assert.deepEqual(await history(Bucket, Key), [
        ['null', true, 'version'],
        [ids.v1, false, 'version'],
      ]);
      const second = await put(Bucket, Key, 'suspended-2');
      assert.equal(second.VersionId, undefined);
      assert.deepEqual(await read(Bucket, Key), { versionId: 'null', body: 'suspended-2' });
      assert.deepEqual(await read(Bucket, Key, ids.v1), { versionId: ids.v1, body: 'v1' });
      assert.equal((await history(Bucket, Key)).length, 2, 'still one null version');
      await sweep(plinth);
      assert.equal(await plinth.server.node.has(blobOf('pre-versioning')), false, 'the replaced null version is freed');
      assert.equal(await plinth.server.node.has(blobOf('suspended-1')), false);
    });

    it('under Suspended, a simple DELETE puts a null delete marker in place of the null version', async () => {
      const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      assert.equal(marker.DeleteMarker, true);
      assert.equal(marker.VersionId, 'null');
      assert.deepEqual(await history(Bucket, Key), [
        ['null', true, 'marker'],
        [ids.v1, false, 'version'],
      ]);
      await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key })), 'NoSuchKey', 404);
      // Writing again replaces the null marker.
      await put(Bucket, Key, 'suspended-3');
      assert.deepEqual(await history(Bucket, Key), [
        ['null', true, 'version'],
        [ids.v1, false, 'version'],
      ]);
    });

    it('after re-enabling, new writes get ids and the null version stays as an older version', async () => {
      await setVersioning(Bucket, 'Enabled');
      const v3 = await put(Bucket, Key, 'v3');
      assert.match(v3.VersionId!, VERSION_ID);
      ids.v3 = v3.VersionId!;
      assert.deepEqual(await history(Bucket, Key), [
        [ids.v3, true, 'version'],
        ['null', false, 'version'],
        [ids.v1, false, 'version'],
      ]);
      assert.equal((await read(Bucket, Key, 'null')).body, 'suspended-3');
      const removed = await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: 'null' }));
      assert.equal(removed.VersionId, 'null');
      assert.deepEqual(
        (await history(Bucket, Key)).map(([id]) => id),
        [ids.v3, ids.v1],
      );
    });
  });

  it('gives CopyObject and CompleteMultipartUpload version ids by the bucket state, and copies a chosen source version', async () => {
    const Bucket = await newBucket(s3, 'versions', { versioning: 'Enabled' });
    const old = await put(Bucket, 'src', 'old source');
    await put(Bucket, 'src', 'new source');
    const copied = await s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/src?versionId=${old.VersionId}` }));
    assert.equal(copied.CopySourceVersionId, old.VersionId);
    assert.match(copied.VersionId!, VERSION_ID);
    assert.deepEqual(await read(Bucket, 'dst'), { versionId: copied.VersionId, body: 'old source' });

    const complete = async (Key: string, body: Buffer) => {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: body }));
      return s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
    };
    const mp = await complete('dst', randomBytes(1000));
    assert.match(mp.VersionId!, VERSION_ID);
    assert.deepEqual(
      (await history(Bucket, 'dst')).map(([id, latest]) => [id, latest]),
      [
        [mp.VersionId, true],
        [copied.VersionId, false],
      ],
    );

    await setVersioning(Bucket, 'Suspended');
    const suspendedCopy = await s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/src` }));
    // Writes that made the 'null' version answer no version id, as S3's do.
    assert.equal(suspendedCopy.VersionId, undefined);
    const suspendedMp = await complete('dst', randomBytes(1000));
    assert.equal(suspendedMp.VersionId, undefined);
    assert.deepEqual(
      (await history(Bucket, 'dst')).map(([id]) => id),
      ['null', mp.VersionId, copied.VersionId],
      'the completed upload replaced the copied null version',
    );
  });

  it('tags each version separately', async () => {
    const Bucket = await newBucket(s3, 'versions', { versioning: 'Enabled' });
    const v1 = await put(Bucket, 't', 'one');
    const v2 = await put(Bucket, 't', 'two');
    const tagged = await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 't', VersionId: v1.VersionId, Tagging: { TagSet: [{ Key: 'old', Value: 'yes' }] } }));
    assert.equal(tagged.VersionId, v1.VersionId);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId: v1.VersionId }))).TagSet, [{ Key: 'old', Value: 'yes' }]);
    const latest = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't' }));
    assert.equal(latest.VersionId, v2.VersionId);
    assert.deepEqual(latest.TagSet ?? [], []);
  });

  it('deletes versions and adds markers in DeleteObjects', async () => {
    const Bucket = await newBucket(s3, 'versions', { versioning: 'Enabled' });
    const a1 = await put(Bucket, 'a', 'a1');
    await put(Bucket, 'a', 'a2');
    await put(Bucket, 'b', 'b1');
    const result = await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'a', VersionId: a1.VersionId }, { Key: 'b' }] } }),
    );
    const byKey = new Map(result.Deleted?.map((d) => [d.Key, d]));
    assert.equal(byKey.get('a')?.VersionId, a1.VersionId);
    assert.equal(byKey.get('a')?.DeleteMarker, undefined);
    assert.equal(byKey.get('b')?.DeleteMarker, true);
    assert.match(byKey.get('b')!.DeleteMarkerVersionId!, VERSION_ID);
    assert.deepEqual((await history(Bucket, 'a')).map(([, latest, kind]) => [latest, kind]), [[true, 'version']]);
    assert.deepEqual((await history(Bucket, 'b')).map(([, latest, kind]) => [latest, kind]), [
      [true, 'marker'],
      [false, 'version'],
    ]);
  });

  it('pages ListObjectVersions with key-marker and version-id-marker, each key newest first', async () => {
    const Bucket = await newBucket(s3, 'versions', { versioning: 'Enabled' });
    const expected: string[] = [];
    for (const Key of ['p/a', 'p/b', 'p/c']) {
      const written: string[] = [];
      for (let i = 0; i < 4; i++) written.push((await put(Bucket, Key, `${Key}#${i}`)).VersionId!);
      if (Key === 'p/b') written.push((await s3.send(new DeleteObjectCommand({ Bucket, Key }))).VersionId!);
      expected.push(...written.reverse().map((id) => `${Key}@${id}`));
    }
    for (const MaxKeys of [1, 2, 3, 5]) {
      const seen: string[] = [];
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      for (let pages = 0; pages < 50; pages++) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket, MaxKeys, KeyMarker, VersionIdMarker }));
        const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
        assert.ok(entries.length <= MaxKeys);
        // The SDK splits a page into versions and markers: put them back in listing order, by key
        // and then newest first (this gateway's version ids sort by creation).
        entries.sort((x, y) => (x.Key! !== y.Key! ? (x.Key! < y.Key! ? -1 : 1) : x.VersionId! < y.VersionId! ? 1 : -1));
        seen.push(...entries.map((e) => `${e.Key}@${e.VersionId}`));
        if (!page.IsTruncated) break;
        KeyMarker = page.NextKeyMarker;
        VersionIdMarker = page.NextVersionIdMarker;
      }
      assert.deepEqual(seen, expected, `max-keys ${MaxKeys}`);
    }
    const folded = await s3.send(new ListObjectVersionsCommand({ Bucket, Delimiter: '/' }));
    assert.deepEqual(folded.CommonPrefixes?.map((p) => p.Prefix), ['p/']);
    assert.equal(folded.Versions, undefined);
  });

  it('keeps the bytes of every version through a delete marker, and frees them when the versions go', async () => {
    const Bucket = await newBucket(s3, 'versions', { versioning: 'Enabled' });
    const one = randomBytes(3000);
    const two = randomBytes(3000);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'kept' }));
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'kept', UploadId, PartNumber: 1, Body: one }));
    const v1 = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'kept', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
    const v2 = await put(Bucket, 'kept', two);
    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'kept' }));
    await sweep(plinth);
    assert.ok(await plinth.server.node.has(blobOf(one)), 'a multipart version keeps its part');
    assert.ok(await plinth.server.node.has(blobOf(two)));
    await rejectsWith(s3.send(new DeleteBucketCommand({ Bucket })), 'BucketNotEmpty', 409);
    for (const VersionId of [v1.VersionId, v2.VersionId, marker.VersionId]) await s3.send(new DeleteObjectCommand({ Bucket, Key: 'kept', VersionId }));
    assert.deepEqual(await history(Bucket, 'kept'), []);
    await sweep(plinth);
    assert.equal(await plinth.server.node.has(blobOf(one)), false);
    assert.equal(await plinth.server.node.has(blobOf(two)), false);
    await s3.send(new DeleteBucketCommand({ Bucket }));
  });
});
