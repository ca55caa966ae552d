import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SQLITE } from '../src/meta/dialect.js';
import { compareKeys } from '../src/meta/listing.js';
import { migrations } from '../src/meta/schema.js';
import { openMetadata, SQLITE_FILE } from '../src/meta/open.js';
import { UploadGoneError, type ListObjectsPage, type MetadataStore, type ObjectVersion } from '../src/meta/types.js';
import { bucket, completeUpload, content, OWNER, pending, put, putDeleteMarker } from './helpers/meta-fixtures.js';
import { metadataBackends, stopTestPostgres, type MetadataTestEnv } from './helpers/postgres.js';
import { downgradeToSchema, execOnStore } from './helpers/schema.js';

const keysOf = (page: ListObjectsPage) => page.objects.map((o) => o.key);
const sorted = (keys: string[]) => [...keys].sort(compareKeys);

type Entry = { key: string; versionId?: string; prefix?: true };

/** What S3 returns, computed naively from every row: entries in order, common prefixes folded. */
function reference(rows: { key: string; versionId?: string }[], prefix: string, delimiter?: string): Entry[] {
  const entries: Entry[] = [];
  for (const row of rows) {
    if (!row.key.startsWith(prefix)) continue;
    const at = delimiter === undefined ? -1 : row.key.indexOf(delimiter, prefix.length);
    if (at < 0) {
      entries.push(row);
      continue;
    }
    const folded = row.key.slice(0, at + delimiter!.length);
    if (entries.at(-1)?.key !== folded) entries.push({ key: folded, prefix: true });
  }
  return entries;
}

const label = (entry: { key: string; versionId?: string }, withVersion: boolean) =>
  withVersion ? `${entry.key}@${entry.versionId}` : entry.key;

/** Walks every page of a listing, checking each against the reference slice that should come back. */
async function checkPages(
  expected: Entry[],
  maxKeys: number,
  list: (after: string | undefined, afterVersionId: string | undefined) => Promise<ListObjectsPage & { nextVersionIdMarker?: string }>,
): Promise<void> {
  const withVersion = expected.some((e) => e.versionId !== undefined);
  let start = 0;
  let after: string | undefined;
  let afterVersionId: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages <= expected.length + 1, 'listing does not end');
    const page = await list(after, afterVersionId);
    const slice = expected.slice(start, start + maxKeys);
    const context = `maxKeys ${maxKeys}, after ${after}/${afterVersionId}`;
    assert.deepEqual(
      page.objects.map((v) => label(v, withVersion)),
      slice.filter((e) => !e.prefix).map((e) => label(e, withVersion)),
      context,
    );
    assert.deepEqual(page.commonPrefixes, slice.filter((e) => e.prefix).map((e) => e.key), context);
    start += slice.length;
    assert.equal(page.isTruncated, start < expected.length, context);
    if (!page.isTruncated) {
      assert.equal(page.nextMarker, undefined);
      return;
    }
    const last = slice.at(-1)!;
    assert.equal(page.nextMarker, last.key, context);
    assert.equal(page.nextVersionIdMarker, last.versionId, context);
    after = page.nextMarker;
    afterVersionId = page.nextVersionIdMarker;
  }
}

const NON_ASCII_KEYS = ['a', 'a/b', 'a/c', 'ab', 'b', 'é', 'z', '\u{1F600}', '\uFB00', 'a/b/c', 'b/'];

after(stopTestPostgres);

for (const backend of metadataBackends()) {
  describe(`metadata contract (${backend.name})`, () => {
    let env: MetadataTestEnv;
    let meta: MetadataStore;

    beforeEach(async () => {
      env = await backend.open();
      meta = await openMetadata(env.url, env.dataDir);
    });
    afterEach(async () => {
      await meta.close();
      await env.cleanup();
    });

    it('opens the backend it is named after', () => {
      assert.equal(meta.kind, backend.name);
    });

    it('stores users by id and finds them by access key', async () => {
      await meta.putUser({ id: 'u2', displayName: 'Bea', accessKey: 'AK2', secretKey: 's2' });
      await meta.putUser({ id: 'u1', displayName: 'Al', accessKey: 'AK1', secretKey: 's1' });
      assert.deepEqual(await meta.userByAccessKey('AK1'), { id: 'u1', displayName: 'Al', accessKey: 'AK1', secretKey: 's1' });
      assert.equal(await meta.userByAccessKey('nope'), null);

      await meta.putUser({ id: 'u1', displayName: 'Al', accessKey: 'AK1b', secretKey: 'rotated' });
      assert.equal(await meta.userByAccessKey('AK1'), null);
      assert.equal((await meta.userByAccessKey('AK1b'))?.secretKey, 'rotated');
      assert.deepEqual((await meta.listUsers()).map((u) => u.id), ['u1', 'u2']);

      await meta.deleteUser('u1');
      assert.deepEqual((await meta.listUsers()).map((u) => u.id), ['u2']);
    });

    it('creates, updates, lists and deletes buckets', async () => {
      assert.equal(await meta.createBucket(bucket('beta')), true);
      assert.equal(await meta.createBucket(bucket('alpha')), true);
      assert.equal(await meta.createBucket({ ...bucket('beta'), ownerId: 'someone-else' }), false);
      assert.deepEqual(await meta.getBucket('alpha'), bucket('alpha'));
      assert.equal((await meta.getBucket('beta'))?.ownerId, OWNER);
      assert.equal(await meta.getBucket('gamma'), null);
      assert.deepEqual((await meta.listBuckets()).map((b) => b.name), ['alpha', 'beta']);

      await meta.updateBucket('alpha', { versioning: 'Enabled', grants: { u2: 'read' } });
      await meta.updateBucket('alpha', { acl: 'public-read' });
      assert.deepEqual(await meta.getBucket('alpha'), {
        ...bucket('alpha', 'Enabled'),
        acl: 'public-read',
        grants: { u2: 'read' },
      });

      assert.equal(await meta.deleteBucket('beta'), true);
      assert.equal(await meta.getBucket('beta'), null);
      assert.equal(await meta.deleteBucket('beta'), true, 'deleting an absent bucket is not a "not empty"');
    });

    it('refuses to delete a bucket holding a version, a pending write or an upload', async () => {
      await meta.createBucket(bucket('b'));
      await meta.insertPending(pending('b', 'k', 'null'));
      assert.equal(await meta.deleteBucket('b'), false);
      await meta.commit('b', 'k', 'null', content('blob1', 5));
      assert.equal(await meta.deleteBucket('b'), false);
      await meta.deleteVersion('b', 'k', 'null');

      await meta.createUpload({ uploadId: 'up', bucket: 'b', key: 'k', initiated: new Date(), ownerId: OWNER, template: { userMetadata: {}, tags: {}, acl: 'private' } });
      assert.equal(await meta.deleteBucket('b'), false);
      await meta.deleteUpload('up');

      assert.equal(await meta.deleteBucket('b'), true);
    });

    it('keeps a pending version invisible until it commits, then makes it the latest', async () => {
      await meta.createBucket(bucket('b'));
      const version = pending('b', 'photo.jpg', 'null', {
        contentType: 'image/jpeg',
        cacheControl: 'max-age=60',
        userMetadata: { camera: 'x100' },
        tags: { team: 'a' },
        acl: 'public-read',
      });
      await meta.insertPending(version);
      assert.equal(await meta.getObject('b', 'photo.jpg'), null);
      assert.equal(await meta.getObject('b', 'photo.jpg', 'null'), null);
      assert.deepEqual((await meta.listObjects({ bucket: 'b', maxKeys: 10 })).objects, []);
      assert.deepEqual((await meta.listVersions({ bucket: 'b', maxKeys: 10 })).objects, []);
      assert.equal(await meta.blobReferenced('blob1'), false);

      const lastModified = new Date('2024-05-06T07:08:09.123Z');
      const result = await meta.commit('b', 'photo.jpg', 'null', content('blob1', 1234, { lastModified, checksums: { crc32: 'AAAA' } }));
      assert.deepEqual(result, { orphaned: [] });
      const expected: ObjectVersion = {
        ...version,
        isLatest: true,
        state: 'committed',
        size: 1234,
        etag: '"etag-blob1"',
        xxhash64: 'xx-blob1',
        checksums: { crc32: 'AAAA' },
        placement: { blob: 'blob1', nodes: ['local'] },
        lastModified,
      };
      assert.deepEqual(await meta.getObject('b', 'photo.jpg'), expected);
      assert.deepEqual(await meta.getObject('b', 'photo.jpg', 'null'), expected);
      assert.deepEqual((await meta.listObjects({ bucket: 'b', maxKeys: 10 })).objects, [expected]);
      assert.equal(await meta.blobReferenced('blob1'), true);
    });

    it('drops an aborted pending version and refuses to commit what is not pending', async () => {
      await meta.createBucket(bucket('b'));
      await meta.insertPending(pending('b', 'k', 'null'));
      await meta.abortPending('b', 'k', 'null');
      assert.deepEqual(await meta.stalePending(new Date(Date.now() + 60_000)), []);
      await assert.rejects(meta.commit('b', 'k', 'null', content('blob1', 1)));
      assert.equal(await meta.getObject('b', 'k'), null);
    });

    it('lists pending versions older than the cutoff as stale', async () => {
      await meta.createBucket(bucket('b'));
      await meta.insertPending(pending('b', 'k', 'null'));
      assert.deepEqual(await meta.stalePending(new Date(Date.now() - 60_000)), []);
      const stale = await meta.stalePending(new Date(Date.now() + 60_000));
      assert.deepEqual(stale.map((v) => [v.bucket, v.key, v.versionId, v.state]), [['b', 'k', 'null', 'pending']]);
    });

    it("commits and aborts each writer's own pending row when writes of one 'null' version overlap", async () => {
      await meta.createBucket(bucket('b'));
      await meta.insertPending(pending('b', 'k', 'null', { pendingId: 'first', contentType: 'text/first' }));
      await meta.insertPending(pending('b', 'k', 'null', { pendingId: 'second', contentType: 'text/second' }));
      await meta.commit('b', 'k', 'null', content('blob2', 2), { pendingId: 'second' });
      const committed = await meta.getObject('b', 'k');
      assert.deepEqual([committed?.contentType, committed?.placement.blob], ['text/second', 'blob2']);
      assert.equal(committed?.pendingId, undefined, 'a committed version has no pending id');

      const stale = await meta.stalePending(new Date(Date.now() + 60_000));
      assert.deepEqual(stale.map((v) => [v.pendingId, v.contentType]), [['first', 'text/first']]);
      await meta.abortPending('b', 'k', 'null', 'second');
      assert.equal((await meta.stalePending(new Date(Date.now() + 60_000))).length, 1, 'no pending row of that id any more');
      await meta.abortPending('b', 'k', 'null', 'first');
      assert.deepEqual(await meta.stalePending(new Date(Date.now() + 60_000)), []);
      await assert.rejects(meta.commit('b', 'k', 'null', content('blob1', 1), { pendingId: 'first' }));
      assert.equal((await meta.getObject('b', 'k'))?.placement.blob, 'blob2');
    });

    it('counts a blob a pending version already names as referenced', async () => {
      await meta.createBucket(bucket('b'));
      const parts = [{ size: 1, blob: 'part-blob', xxhash64: 'x', etag: '"e"' }];
      await meta.insertPending(pending('b', 'copy', 'null', { placement: { blob: 'known-blob', nodes: ['local'] }, parts }));
      assert.equal(await meta.blobReferenced('known-blob'), true);
      assert.equal(await meta.blobReferenced('part-blob'), true);
      await meta.abortPending('b', 'copy', 'null');
      assert.equal(await meta.blobReferenced('known-blob'), false);
      assert.equal(await meta.blobReferenced('part-blob'), false);
    });

    it('counts committed objects and their bytes across buckets, delete markers and pending writes left out', async () => {
      assert.deepEqual(await meta.stats?.(), { objects: 0, bytes: 0 });
      await meta.createBucket(bucket('b', 'Enabled'));
      await meta.createBucket(bucket('c'));
      await put(meta, 'b', 'k', 'v1', 'blob1', 100);
      await put(meta, 'b', 'k', 'v2', 'blob2', 20);
      await putDeleteMarker(meta, 'b', 'k', 'dm');
      await put(meta, 'c', 'k', 'null', 'blob3', 3);
      await meta.insertPending(pending('c', 'p', 'null', { size: 1000 }));
      assert.deepEqual(await meta.stats?.(), { objects: 3, bytes: 123 });
    });

    it("replaces the 'null' version and returns the blob nothing references any more", async () => {
      await meta.createBucket(bucket('b'));
      assert.deepEqual(await put(meta, 'b', 'k', 'null', 'blobA'), { orphaned: [] });
      assert.deepEqual(await put(meta, 'b', 'k', 'null', 'blobB'), { orphaned: ['blobA'] });
      assert.equal((await meta.getObject('b', 'k'))?.placement.blob, 'blobB');
      assert.deepEqual((await meta.listVersions({ bucket: 'b', maxKeys: 10 })).objects.map((v) => v.placement.blob), ['blobB']);
      assert.equal(await meta.blobReferenced('blobA'), false);

      assert.deepEqual(await put(meta, 'b', 'k', 'null', 'blobB'), { orphaned: [] }, 'same bytes again: still referenced');
      assert.deepEqual(await meta.deleteVersion('b', 'k', 'null'), { removed: 'version', orphaned: ['blobB'] });
      assert.equal(await meta.getObject('b', 'k'), null);
      assert.deepEqual(await meta.deleteVersion('b', 'k', 'null'), { removed: null, orphaned: [] }, 'deleting what is gone is a no-op');
    });

    it('does not orphan a blob another key, version or upload part still references', async () => {
      await meta.createBucket(bucket('b'));
      await put(meta, 'b', 'one', 'null', 'shared');
      await put(meta, 'b', 'two', 'null', 'shared');
      assert.deepEqual(await put(meta, 'b', 'one', 'null', 'other'), { orphaned: [] });

      await meta.createUpload({ uploadId: 'up', bucket: 'b', key: 'x', initiated: new Date(), ownerId: OWNER, template: { userMetadata: {}, tags: {}, acl: 'private' } });
      await meta.putPart({ uploadId: 'up', partNumber: 1, size: 5, etag: '"p"', lastModified: new Date(), blob: 'shared', xxhash64: 'xx' });
      assert.deepEqual(await meta.deleteVersion('b', 'two', 'null'), { removed: 'version', orphaned: [] });
      assert.equal(await meta.blobReferenced('shared'), true);
      assert.deepEqual(await meta.deleteUpload('up'), { found: true, blobs: ['shared'] });
      assert.equal(await meta.blobReferenced('shared'), false);
    });

    it('keeps every version with versioning Enabled, newest latest, and promotes the next one on delete', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      await put(meta, 'b', 'k', 'v1', 'blob1', 1);
      await put(meta, 'b', 'k', 'v2', 'blob2', 2);
      assert.deepEqual(await put(meta, 'b', 'k', 'v3', 'blob3', 3), { orphaned: [] });

      assert.equal((await meta.getObject('b', 'k'))?.versionId, 'v3');
      const v1 = await meta.getObject('b', 'k', 'v1');
      assert.equal(v1?.isLatest, false);
      assert.equal(v1?.placement.blob, 'blob1');
      const versions = await meta.listVersions({ bucket: 'b', maxKeys: 10 });
      assert.deepEqual(versions.objects.map((v) => [v.versionId, v.isLatest]), [['v3', true], ['v2', false], ['v1', false]]);

      assert.deepEqual(await meta.deleteVersion('b', 'k', 'v3'), { removed: 'version', orphaned: ['blob3'] });
      assert.deepEqual([(await meta.getObject('b', 'k'))?.versionId, (await meta.getObject('b', 'k'))?.isLatest], ['v2', true]);
      assert.deepEqual(await meta.deleteVersion('b', 'k', 'v1'), { removed: 'version', orphaned: ['blob1'] });
      assert.equal((await meta.getObject('b', 'k', 'v2'))?.isLatest, true, 'deleting an older version leaves the latest alone');
    });

    it('hides a key behind a delete marker and shows it again when the marker is deleted', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      await put(meta, 'b', 'k', 'v1', 'blob1');
      await put(meta, 'b', 'other', 'v9', 'blob9');
      assert.deepEqual(await putDeleteMarker(meta, 'b', 'k', 'dm1'), { orphaned: [] });

      const marker = await meta.getObject('b', 'k');
      assert.equal(marker?.isDeleteMarker, true);
      assert.equal(marker?.versionId, 'dm1');
      assert.equal(marker?.isLatest, true);
      assert.deepEqual(keysOf(await meta.listObjects({ bucket: 'b', maxKeys: 10 })), ['other']);
      const versions = await meta.listVersions({ bucket: 'b', maxKeys: 10 });
      assert.deepEqual(
        versions.objects.map((v) => [v.key, v.versionId, v.isLatest, v.isDeleteMarker]),
        [['k', 'dm1', true, true], ['k', 'v1', false, false], ['other', 'v9', true, false]],
      );

      assert.deepEqual(await meta.deleteVersion('b', 'k', 'dm1'), { removed: 'deleteMarker', orphaned: [] });
      assert.deepEqual(keysOf(await meta.listObjects({ bucket: 'b', maxKeys: 10 })), ['k', 'other']);
      assert.equal((await meta.getObject('b', 'k'))?.versionId, 'v1');
    });

    it("writes 'null' with versioning Suspended, replacing only the previous 'null' version", async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      await put(meta, 'b', 'k', 'v1', 'blob1');
      await meta.updateBucket('b', { versioning: 'Suspended' });
      assert.deepEqual(await put(meta, 'b', 'k', 'null', 'blobA'), { orphaned: [] });
      assert.deepEqual(await put(meta, 'b', 'k', 'null', 'blobB'), { orphaned: ['blobA'] });
      let versions = await meta.listVersions({ bucket: 'b', maxKeys: 10 });
      assert.deepEqual(versions.objects.map((v) => [v.versionId, v.isLatest, v.placement.blob]), [
        ['null', true, 'blobB'],
        ['v1', false, 'blob1'],
      ]);

      // A DELETE while Suspended: a 'null' delete marker takes the 'null' version's place.
      assert.deepEqual(await putDeleteMarker(meta, 'b', 'k', 'null'), { orphaned: ['blobB'] });
      versions = await meta.listVersions({ bucket: 'b', maxKeys: 10 });
      assert.deepEqual(versions.objects.map((v) => [v.versionId, v.isLatest, v.isDeleteMarker]), [
        ['null', true, true],
        ['v1', false, false],
      ]);

      // Enabled again: new versions stack on top of the 'null' one.
      await meta.updateBucket('b', { versioning: 'Enabled' });
      await put(meta, 'b', 'k', 'v2', 'blob2');
      versions = await meta.listVersions({ bucket: 'b', maxKeys: 10 });
      assert.deepEqual(versions.objects.map((v) => v.versionId), ['v2', 'null', 'v1']);
    });

    it('round-trips multipart objects with their parts and orphans the part blobs on delete', async () => {
      await meta.createBucket(bucket('b'));
      const parts = [
        { size: 5, blob: 'part1', xxhash64: 'x1', etag: '"e1"' },
        { size: 3, blob: 'part2', xxhash64: 'x2', etag: '"e2"' },
      ];
      await meta.insertPending(pending('b', 'big', 'null'));
      await meta.commit('b', 'big', 'null', content('', 8, { etag: '"abc-2"', parts }));
      assert.deepEqual((await meta.getObject('b', 'big'))?.parts, parts);
      assert.deepEqual((await meta.listObjects({ bucket: 'b', maxKeys: 1 })).objects[0]?.parts, parts);
      assert.equal((await meta.getObject('b', 'big'))?.placement.blob, '');
      assert.equal(await meta.blobReferenced('part2'), true);
      assert.deepEqual((await meta.deleteVersion('b', 'big', 'null')).orphaned.sort(), ['part1', 'part2']);

      await put(meta, 'b', 'small', 'null', 'blob1');
      assert.equal((await meta.getObject('b', 'small'))?.parts, undefined, 'a single-part object has no parts list');
    });

    it('updates tags and ACL of one version', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      await put(meta, 'b', 'k', 'v1', 'blob1');
      await put(meta, 'b', 'k', 'v2', 'blob2');
      await meta.updateObject('b', 'k', 'v1', { tags: { a: '1' } });
      await meta.updateObject('b', 'k', 'v1', { acl: 'public-read' });
      const v1 = await meta.getObject('b', 'k', 'v1');
      assert.deepEqual([v1?.tags, v1?.acl], [{ a: '1' }, 'public-read']);
      const v2 = await meta.getObject('b', 'k', 'v2');
      assert.deepEqual([v2?.tags, v2?.acl], [{}, 'private']);
    });

    it('sorts keys in UTF-8 byte order, non-ASCII included', async () => {
      await meta.createBucket(bucket('b'));
      for (const key of [...NON_ASCII_KEYS].reverse()) await put(meta, 'b', key, 'null', `blob-${key}`);
      const all = await meta.listObjects({ bucket: 'b', maxKeys: 100 });
      // 'z' < 'é' (C3 A9) < 'ﬀ' (EF AC 80) < '😀' (F0 9F 98 80); JS's UTF-16 order would put '😀' before 'ﬀ'.
      assert.deepEqual(keysOf(all), ['a', 'a/b', 'a/b/c', 'a/c', 'ab', 'b', 'b/', 'z', 'é', '\uFB00', '\u{1F600}']);
      assert.equal(all.isTruncated, false);
      assert.equal(all.nextMarker, undefined);
      assert.deepEqual(keysOf(await meta.listObjects({ bucket: 'b', maxKeys: 100, after: 'é' })), ['\uFB00', '\u{1F600}']);
      assert.deepEqual(keysOf(await meta.listObjects({ bucket: 'b', maxKeys: 100, prefix: 'é' })), ['é']);
    });

    it('folds keys into common prefixes, each counting toward maxKeys', async () => {
      await meta.createBucket(bucket('b'));
      for (const key of NON_ASCII_KEYS) await put(meta, 'b', key, 'null', `blob-${key}`);
      const page = await meta.listObjects({ bucket: 'b', delimiter: '/', maxKeys: 100 });
      assert.deepEqual(keysOf(page), ['a', 'ab', 'b', 'z', 'é', '\uFB00', '\u{1F600}']);
      assert.deepEqual(page.commonPrefixes, ['a/', 'b/']);

      // The page ends on a common prefix, with more after it.
      const first = await meta.listObjects({ bucket: 'b', delimiter: '/', maxKeys: 2 });
      assert.deepEqual([keysOf(first), first.commonPrefixes, first.isTruncated, first.nextMarker], [['a'], ['a/'], true, 'a/']);
      const second = await meta.listObjects({ bucket: 'b', delimiter: '/', maxKeys: 2, after: 'a/' });
      assert.deepEqual([keysOf(second), second.commonPrefixes, second.nextMarker], [['ab', 'b'], [], 'b']);

      // The page ends on a common prefix that is the last entry: not truncated.
      const underA = await meta.listObjects({ bucket: 'b', prefix: 'a', delimiter: '/', maxKeys: 3 });
      assert.deepEqual([keysOf(underA), underA.commonPrefixes, underA.isTruncated], [['a', 'ab'], ['a/'], false]);
      const nested = await meta.listObjects({ bucket: 'b', prefix: 'a/', delimiter: '/', maxKeys: 10 });
      assert.deepEqual([keysOf(nested), nested.commonPrefixes], [['a/b', 'a/c'], ['a/b/']]);

      // A marker inside a common prefix means that prefix was listed already.
      const inside = await meta.listObjects({ bucket: 'b', delimiter: '/', maxKeys: 2, after: 'a/b' });
      assert.deepEqual([keysOf(inside), inside.commonPrefixes], [['ab', 'b'], []]);

      // A delimiter of several characters, and a marker before the prefix.
      const multi = await meta.listObjects({ bucket: 'b', delimiter: '/c', maxKeys: 10, prefix: 'a', after: '0' });
      assert.deepEqual([keysOf(multi), multi.commonPrefixes], [['a', 'a/b', 'ab'], ['a/b/c', 'a/c']]);

      assert.deepEqual(await meta.listObjects({ bucket: 'b', maxKeys: 0 }), { objects: [], commonPrefixes: [], isTruncated: false });
      assert.deepEqual(await meta.listObjects({ bucket: 'b', maxKeys: 5, prefix: 'zz' }), { objects: [], commonPrefixes: [], isTruncated: false });
    });

    it('pages through every prefix, delimiter and page size exactly as the naive listing does', async () => {
      await meta.createBucket(bucket('b'));
      for (const key of NON_ASCII_KEYS) await put(meta, 'b', key, 'null', `blob-${key}`);
      await putDeleteMarker(meta, 'b', 'hidden', 'null');
      await meta.insertPending(pending('b', 'pending', 'null'));
      const rows = sorted(NON_ASCII_KEYS).map((key) => ({ key }));
      for (const prefix of ['', 'a', 'a/', 'b', 'é', 'q']) {
        for (const delimiter of [undefined, '/', 'b']) {
          for (const maxKeys of [1, 2, 3, 5, 1000]) {
            await checkPages(reference(rows, prefix, delimiter), maxKeys, (after) =>
              meta.listObjects({ bucket: 'b', prefix, delimiter, maxKeys, after }),
            );
          }
        }
      }
    });

    it('seeks past large common prefixes across query batches', async () => {
      await meta.createBucket(bucket('b'));
      const keys: string[] = [];
      for (let i = 0; i < 30; i++) keys.push(`a${String(i).padStart(3, '0')}`);
      for (let d = 0; d < 4; d++) for (let i = 0; i < 70; i++) keys.push(`d${d}/${String(i).padStart(3, '0')}`);
      for (let i = 0; i < 30; i++) keys.push(`z${String(i).padStart(3, '0')}`);
      for (const key of keys) await put(meta, 'b', key, 'null', 'same-blob', 1);
      const rows = sorted(keys).map((key) => ({ key }));
      for (const [delimiter, maxKeys] of [['/', 1000], ['/', 7], [undefined, 1000], [undefined, 101]] as const) {
        await checkPages(reference(rows, '', delimiter), maxKeys, (after) =>
          meta.listObjects({ bucket: 'b', delimiter, maxKeys, after }),
        );
      }
      const page = await meta.listObjects({ bucket: 'b', delimiter: '/', maxKeys: 1000 });
      assert.deepEqual(page.commonPrefixes, ['d0/', 'd1/', 'd2/', 'd3/']);
      assert.equal(page.objects.length, 60);
    });

    it('lists versions by key, newest first, with version-id markers', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      const rows: { key: string; versionId: string }[] = [];
      let n = 0;
      for (const key of ['x/1', 'a', 'x/2', 'é', 'b']) {
        for (let i = 0; i < 3; i++) {
          const versionId = `v${String(n++).padStart(2, '0')}`;
          if (key === 'b' && i === 1) await putDeleteMarker(meta, 'b', key, versionId);
          else await put(meta, 'b', key, versionId, `blob-${versionId}`);
          rows.push({ key, versionId });
        }
      }
      // Newest first within a key: the reverse of the order written.
      const expectedRows = sorted([...new Set(rows.map((r) => r.key))]).flatMap((key) =>
        rows.filter((r) => r.key === key).reverse(),
      );
      const all = await meta.listVersions({ bucket: 'b', maxKeys: 100 });
      assert.deepEqual(all.objects.map((v) => [v.key, v.versionId]), expectedRows.map((r) => [r.key, r.versionId]));
      assert.deepEqual(all.objects.filter((v) => v.isLatest).map((v) => v.versionId), ['v05', 'v14', 'v02', 'v08', 'v11']);
      assert.deepEqual(all.objects.filter((v) => v.isDeleteMarker).map((v) => v.versionId), ['v13']);

      for (const delimiter of [undefined, '/']) {
        for (const maxKeys of [1, 2, 4, 100]) {
          await checkPages(reference(expectedRows, '', delimiter), maxKeys, (after, afterVersionId) =>
            meta.listVersions({ bucket: 'b', delimiter, maxKeys, after, afterVersionId }),
          );
        }
      }

      const middle = await meta.listVersions({ bucket: 'b', maxKeys: 2, after: 'a', afterVersionId: 'v04' });
      assert.deepEqual(middle.objects.map((v) => v.versionId), ['v03', 'v14']);
      const keyOnly = await meta.listVersions({ bucket: 'b', maxKeys: 1, after: 'a' });
      assert.deepEqual(keyOnly.objects.map((v) => v.versionId), ['v14']);
      const unknown = await meta.listVersions({ bucket: 'b', maxKeys: 1, after: 'a', afterVersionId: 'gone' });
      assert.deepEqual(unknown.objects.map((v) => v.versionId), ['v14'], 'an unknown version marker resumes after the key');
      const folded = await meta.listVersions({ bucket: 'b', maxKeys: 1, delimiter: '/', after: 'b', afterVersionId: 'v12' });
      assert.deepEqual(
        [folded.objects, folded.commonPrefixes, folded.isTruncated, folded.nextMarker, folded.nextVersionIdMarker],
        [[], ['x/'], true, 'x/', undefined],
      );
    });

    it('records uploads and parts, replacing a part and returning its blob', async () => {
      await meta.createBucket(bucket('b'));
      const template = { contentType: 'text/plain', userMetadata: { a: 'b' }, tags: { t: '1' }, acl: 'private' as const };
      const upload = { uploadId: 'up1', bucket: 'b', key: 'big', initiated: new Date('2024-01-01T00:00:00.000Z'), ownerId: OWNER, template };
      await meta.createUpload(upload);
      assert.deepEqual(await meta.getUpload('up1'), upload);
      assert.equal(await meta.getUpload('nope'), null);

      const part = (partNumber: number, blob: string) => ({
        uploadId: 'up1', partNumber, size: 5, etag: `"${blob}"`, lastModified: new Date('2024-01-01T00:00:01.000Z'), blob, xxhash64: `x-${blob}`,
      });
      assert.deepEqual(await meta.putPart(part(2, 'p2')), {});
      assert.deepEqual(await meta.putPart(part(1, 'p1')), {});
      assert.deepEqual(await meta.putPart(part(1, 'p1b')), { replaced: 'p1' });
      assert.deepEqual(await meta.putPart(part(1, 'p1b')), {}, 'the same bytes again replace nothing');
      assert.deepEqual(await meta.listParts('up1', 0, 100), [part(1, 'p1b'), part(2, 'p2')]);
      assert.deepEqual(await meta.listParts('up1', 1, 100), [part(2, 'p2')]);
      assert.deepEqual(await meta.listParts('up1', 0, 1), [part(1, 'p1b')]);

      // CompleteMultipartUpload: the commit removes the upload; the object references the parts'
      // blobs, so that frees none, and a second completion finds the upload gone.
      const completed = content('', 10, { parts: [part(1, 'p1b'), part(2, 'p2')].map(({ size, blob, xxhash64, etag }) => ({ size, blob, xxhash64, etag })) });
      await meta.insertPending(pending('b', 'big', 'null'));
      assert.deepEqual(await meta.commit('b', 'big', 'null', completed, { completesUpload: 'up1' }), { orphaned: [] });
      assert.equal(await meta.getUpload('up1'), null);
      assert.deepEqual(await meta.listParts('up1', 0, 100), []);
      assert.deepEqual(await meta.deleteUpload('up1'), { found: false, blobs: [] });
      await meta.insertPending(pending('b', 'big', 'null', { pendingId: 'again' }));
      await assert.rejects(meta.commit('b', 'big', 'null', completed, { pendingId: 'again', completesUpload: 'up1' }), UploadGoneError);
      assert.equal((await meta.stalePending(new Date(Date.now() + 60_000))).length, 1, 'the refused commit left its pending row for the caller to drop');
      await meta.abortPending('b', 'big', 'null', 'again');

      // AbortMultipartUpload: the parts' blobs are free.
      await meta.createUpload({ ...upload, uploadId: 'up2' });
      await meta.putPart({ ...part(1, 'q1'), uploadId: 'up2' });
      await meta.putPart({ ...part(2, 'q2'), uploadId: 'up2' });
      assert.deepEqual((await meta.deleteUpload('up2')).blobs.sort(), ['q1', 'q2']);

      // A completion using only some parts orphans the others' blobs.
      await meta.createUpload({ ...upload, uploadId: 'up3' });
      await meta.putPart({ ...part(1, 'r1'), uploadId: 'up3' });
      await meta.putPart({ ...part(2, 'r2'), uploadId: 'up3' });
      await meta.insertPending(pending('b', 'partial', 'null'));
      const onlyFirst = content('', 5, { parts: [part(1, 'r1')].map(({ size, blob, xxhash64, etag }) => ({ size, blob, xxhash64, etag })) });
      assert.deepEqual(await meta.commit('b', 'partial', 'null', onlyFirst, { completesUpload: 'up3' }), { orphaned: ['r2'] });
    });

    it("records an upload's checksum algorithm and type, its parts' checksums, and a completed object's parts'", async () => {
      await meta.createBucket(bucket('b'));
      const template = { userMetadata: {}, tags: {}, acl: 'private' as const };
      const upload = { uploadId: 'c1', bucket: 'b', key: 'k', initiated: new Date('2024-01-01T00:00:00.000Z'), ownerId: OWNER, template, checksum: { algorithm: 'crc32c', type: 'FULL_OBJECT' as const } };
      await meta.createUpload(upload);
      await meta.createUpload({ ...upload, uploadId: 'c2', key: 'plain', checksum: undefined });
      assert.deepEqual(await meta.getUpload('c1'), upload);
      assert.equal((await meta.getUpload('c2'))?.checksum, undefined);
      assert.deepEqual((await meta.listUploads('b', '')).map((u) => u.checksum), [upload.checksum, undefined]);

      const part = (partNumber: number, checksum: string) => ({
        uploadId: 'c1', partNumber, size: 5, etag: `"e${partNumber}"`, lastModified: new Date('2024-01-01T00:00:01.000Z'), blob: `b${partNumber}`, xxhash64: `x${partNumber}`,
        checksums: { crc32c: checksum },
      });
      await meta.putPart(part(1, 'AAAAAA=='));
      await meta.putPart(part(2, 'BBBBBB=='));
      await meta.putPart(part(2, 'CCCCCC=='));
      assert.deepEqual(await meta.listParts('c1', 0, 10), [part(1, 'AAAAAA=='), part(2, 'CCCCCC==')]);

      const parts = (await meta.listParts('c1', 0, 10)).map(({ size, blob, xxhash64, etag, checksums }) => ({ size, blob, xxhash64, etag, checksums }));
      await meta.insertPending(pending('b', 'k', 'null'));
      await meta.commit('b', 'k', 'null', content('', 10, { etag: '"m-2"', checksums: { crc32c: 'DDDDDD==' }, parts }), { completesUpload: 'c1' });
      const version = await meta.getObject('b', 'k');
      assert.deepEqual(version?.parts, parts);
      assert.deepEqual(version?.checksums, { crc32c: 'DDDDDD==' });
      assert.deepEqual((await meta.listVersions({ bucket: 'b', maxKeys: 10 })).objects[0]?.parts, parts);
    });

    it('remembers which version a completion made, only while that very version exists', async () => {
      await meta.createBucket(bucket('b'));
      await meta.createBucket(bucket('v', 'Enabled'));
      const etag = await completeUpload(meta, 'b', 'k', 'null', 'up1');
      const made = await meta.completedUpload('up1');
      assert.deepEqual([made?.bucket, made?.key, made?.versionId, made?.etag, made?.parts?.length], ['b', 'k', 'null', etag, 1]);
      assert.deepEqual(made, await meta.getObject('b', 'k'), 'the version itself, as getObject gives it');

      // Unknown and aborted upload ids, and plain writes, record nothing.
      assert.equal(await meta.completedUpload('never'), null);
      await meta.createUpload({ uploadId: 'aborted', bucket: 'b', key: 'k', initiated: new Date(), ownerId: OWNER, template: { userMetadata: {}, tags: {}, acl: 'private' } });
      await meta.deleteUpload('aborted');
      assert.equal(await meta.completedUpload('aborted'), null);
      // A refused second completion of the same upload changes nothing.
      await meta.insertPending(pending('b', 'other', 'null'));
      await assert.rejects(meta.commit('b', 'other', 'null', content('x', 1), { completesUpload: 'up1' }), UploadGoneError);
      await meta.abortPending('b', 'other', 'null');
      assert.equal((await meta.completedUpload('up1'))?.key, 'k');

      // The next write of the key replaces the 'null' version: same version id, another object.
      await put(meta, 'b', 'k', 'null', 'plain');
      assert.equal(await meta.completedUpload('up1'), null);

      // With versioning a later version leaves it alone; deleting the version forgets it.
      await completeUpload(meta, 'v', 'k', 'v1', 'up2');
      await put(meta, 'v', 'k', 'v2', 'later');
      assert.deepEqual([(await meta.completedUpload('up2'))?.versionId, (await meta.completedUpload('up2'))?.isLatest], ['v1', false]);
      await meta.deleteVersion('v', 'k', 'v1');
      assert.equal(await meta.completedUpload('up2'), null);
      await meta.deleteVersion('v', 'k', 'v2');
      assert.equal(await meta.deleteBucket('v'), true, 'no record keeps a bucket alive');
    });

    it('forgets completions recorded before the cutoff, never the versions they made', async () => {
      await meta.createBucket(bucket('b'));
      await completeUpload(meta, 'b', 'k1', 'null', 'up1');
      await completeUpload(meta, 'b', 'k2', 'null', 'up2');
      assert.equal(await meta.pruneCompletedUploads(new Date(Date.now() - 60_000)), 0);
      assert.notEqual(await meta.completedUpload('up1'), null);
      assert.equal(await meta.pruneCompletedUploads(new Date(Date.now() + 60_000)), 2);
      assert.deepEqual([await meta.completedUpload('up1'), await meta.completedUpload('up2')], [null, null]);
      assert.equal((await meta.getObject('b', 'k1'))?.parts?.length, 1);
      assert.equal(await meta.pruneCompletedUploads(new Date(Date.now() + 60_000)), 0);
    });

    it('records one completion when 20 commits complete one upload at once', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      await meta.createUpload({ uploadId: 'race', bucket: 'b', key: 'k', initiated: new Date(), ownerId: OWNER, template: { userMetadata: {}, tags: {}, acl: 'private' } });
      const ids = Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}`);
      for (const id of ids) await meta.insertPending(pending('b', 'k', id));
      const outcomes = await Promise.allSettled(ids.map((id) => meta.commit('b', 'k', id, content(`blob-${id}`, 1), { completesUpload: 'race' })));
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [ids[i]] : []));
      assert.equal(won.length, 1);
      assert.ok(outcomes.every((o) => o.status === 'fulfilled' || o.reason instanceof UploadGoneError));
      assert.equal((await meta.completedUpload('race'))?.versionId, won[0]);
    });

    it('upgrades a store of schema version 2 in place: completions from before it are unknown, later ones remembered', async () => {
      await meta.createBucket(bucket('b'));
      await completeUpload(meta, 'b', 'before', 'null', 'old');
      await meta.close();

      await downgradeToSchema(env, 2);
      meta = await openMetadata(env.url, env.dataDir);
      assert.equal((await meta.getObject('b', 'before'))?.parts?.length, 1);
      assert.equal(await meta.completedUpload('old'), null);
      await completeUpload(meta, 'b', 'after', 'null', 'new');
      assert.equal((await meta.completedUpload('new'))?.key, 'after');
      await put(meta, 'b', 'before', 'null', 'replaced');
      await meta.close();
      meta = await openMetadata(env.url, env.dataDir);
      assert.equal((await meta.completedUpload('new'))?.key, 'after', 'reopening migrates nothing twice');
    });

    it('upgrades a store of schema version 1 in place: its uploads, parts and multipart objects stay, without checksums', async () => {
      await meta.createBucket(bucket('b'));
      const template = { userMetadata: {}, tags: {}, acl: 'private' as const };
      const upload = { uploadId: 'old', bucket: 'b', key: 'k', initiated: new Date('2024-01-01T00:00:00.000Z'), ownerId: OWNER, template };
      await meta.createUpload(upload);
      const part = { uploadId: 'old', partNumber: 1, size: 5, etag: '"e1"', lastModified: new Date('2024-01-01T00:00:01.000Z'), blob: 'p1', xxhash64: 'x1' };
      await meta.putPart(part);
      const parts = [{ size: 5, blob: 'q1', xxhash64: 'y1', etag: '"f1"' }];
      await meta.insertPending(pending('b', 'done', 'null'));
      await meta.commit('b', 'done', 'null', content('', 5, { etag: '"m-1"', parts }));
      await meta.close();

      await downgradeToSchema(env, 1);
      meta = await openMetadata(env.url, env.dataDir);
      assert.deepEqual(await meta.getUpload('old'), upload);
      assert.deepEqual(await meta.listParts('old', 0, 10), [part]);
      assert.deepEqual((await meta.getObject('b', 'done'))?.parts, parts);
      // The upgraded tables take the new columns.
      await meta.putPart({ ...part, partNumber: 2, blob: 'p2', checksums: { sha1: 'c2E=' } });
      assert.deepEqual((await meta.listParts('old', 1, 10))[0]?.checksums, { sha1: 'c2E=' });
      await meta.close();
      meta = await openMetadata(env.url, env.dataDir);
      assert.equal((await meta.listParts('old', 0, 10)).length, 2, 'reopening migrates nothing twice');
    });

    it('lists uploads by key then initiation, with prefix and markers, and finds stale ones', async () => {
      await meta.createBucket(bucket('b'));
      await meta.createBucket(bucket('c'));
      const template = { userMetadata: {}, tags: {}, acl: 'private' as const };
      const make = (uploadId: string, key: string, at: string, b = 'b') =>
        meta.createUpload({ uploadId, bucket: b, key, initiated: new Date(at), ownerId: OWNER, template });
      await make('u3', 'k/2', '2024-01-03T00:00:00Z');
      await make('u1', 'k/1', '2024-01-02T00:00:00Z');
      await make('u2', 'k/1', '2024-01-01T00:00:00Z');
      await make('u4', 'é', '2024-01-01T00:00:00Z');
      await make('u5', 'k/1', '2024-01-01T00:00:00Z', 'c');
      const ids = async (...args: [string, string?, string?, number?]) =>
        (await meta.listUploads('b', ...args)).map((u) => u.uploadId);
      assert.deepEqual(await ids(''), ['u2', 'u1', 'u3', 'u4']);
      assert.deepEqual(await ids('k/'), ['u2', 'u1', 'u3']);
      assert.deepEqual(await ids('k/', undefined, undefined, 2), ['u2', 'u1']);
      assert.deepEqual(await ids('', 'k/1'), ['u3', 'u4']);
      assert.deepEqual(await ids('', 'k/1', 'u2'), ['u1', 'u3', 'u4']);
      assert.deepEqual(await ids('', 'k/1', 'u1', 1), ['u3']);
      assert.deepEqual(await ids('\u00e9'), ['u4']);

      const stale = await meta.staleUploads(new Date('2024-01-02T12:00:00Z'));
      assert.deepEqual(stale.map((u) => u.uploadId).sort(), ['u1', 'u2', 'u4', 'u5']);
    });

    it('adds cost counters per bucket and tracks committed bytes through writes and deletes', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      await meta.createBucket(bucket('c'));
      await meta.addCost('b', { get: 2, egressBytes: 100 });
      await meta.addCost('b', { get: 1, put: 4, list: 5, delete: 6 });
      await meta.addCost('c', { list: 1 });
      assert.deepEqual(await meta.costs('b'), [
        { bucket: 'b', tier: 'standard', bytesStored: 0, requests: { get: 3, put: 4, list: 5, delete: 6 }, egressBytes: 100 },
      ]);
      assert.deepEqual((await meta.costs()).map((c) => c.bucket), ['b', 'c']);
      assert.deepEqual(await meta.costs('none'), []);

      const stored = async (name: string) => (await meta.costs(name))[0]?.bytesStored;
      await put(meta, 'b', 'k', 'v1', 'blob1', 100);
      await put(meta, 'b', 'k', 'v2', 'blob2', 50);
      assert.equal(await stored('b'), 150);
      await putDeleteMarker(meta, 'b', 'k', 'dm');
      assert.equal(await stored('b'), 150);
      await meta.deleteVersion('b', 'k', 'v1');
      assert.equal(await stored('b'), 50);

      await put(meta, 'c', 'k', 'null', 'blob3', 70);
      await put(meta, 'c', 'k', 'null', 'blob4', 30);
      assert.equal(await stored('c'), 30);
      await meta.insertPending(pending('c', 'p', 'null'));
      assert.equal(await stored('c'), 30, 'a pending write stores nothing yet');
      await meta.deleteVersion('c', 'k', 'null');
      assert.equal(await stored('c'), 0);
    });

    it('records node health', async () => {
      const checked = new Date('2024-02-03T04:05:06.789Z');
      await meta.setNodeHealth({ node: 'local', status: 'up', checked, bytesUsed: 10 });
      await meta.setNodeHealth({ node: 'b-node', status: 'down', checked, bytesUsed: 0 });
      await meta.setNodeHealth({ node: 'local', status: 'up', checked, bytesUsed: 5_000_000_000 });
      assert.deepEqual(await meta.nodeHealth(), [
        { node: 'b-node', status: 'down', checked, bytesUsed: 0 },
        { node: 'local', status: 'up', checked, bytesUsed: 5_000_000_000 },
      ]);
    });

    it('decides a commit precondition inside the commit, against the live version', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      const seen: ({ etag: string } | null)[] = [];
      const record = (current: { etag: string } | null) => void seen.push(current);
      await meta.insertPending(pending('b', 'k', 'v1'));
      await meta.commit('b', 'k', 'v1', content('blob1', 1, { etag: '"e1"' }), { precondition: record });
      await meta.insertPending(pending('b', 'k', 'v2'));
      await meta.commit('b', 'k', 'v2', content('blob2', 1, { etag: '"e2"' }), { precondition: record });
      await meta.insertPending(pending('b', 'k', 'm1', { isDeleteMarker: true }));
      await meta.commit('b', 'k', 'm1', content('', 0, { etag: '' }), { precondition: record });
      await meta.insertPending(pending('b', 'k', 'v3'));
      await meta.commit('b', 'k', 'v3', content('blob3', 1, { etag: '"e3"' }), { precondition: record });
      assert.deepEqual(seen, [null, { etag: '"e1"' }, { etag: '"e2"' }, null], 'a delete marker counts as no live version');

      await meta.insertPending(pending('b', 'k', 'v4'));
      const refusal = new Error('precondition failed');
      await assert.rejects(
        meta.commit('b', 'k', 'v4', content('blob4', 1), {
          precondition: () => {
            throw refusal;
          },
        }),
        (err) => err === refusal,
      );
      assert.equal((await meta.getObject('b', 'k'))?.versionId, 'v3', 'a refused commit changes nothing');
      assert.equal(await meta.getObject('b', 'k', 'v4'), null);
      assert.equal((await meta.costs('b'))[0]?.bytesStored, 3);
    });

    it('lets exactly one of 20 concurrent create-only commits of one key through', async () => {
      await meta.createBucket(bucket('b'));
      const ids = Array.from({ length: 20 }, (_, i) => `w${i}`);
      for (const id of ids) await meta.insertPending(pending('b', 'once', 'null', { pendingId: id }));
      const createOnly = (current: { etag: string } | null) => {
        if (current) throw new Error('exists');
      };
      const outcomes = await Promise.allSettled(ids.map((id) => meta.commit('b', 'once', 'null', content(`blob-${id}`, 1), { pendingId: id, precondition: createOnly })));
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      assert.ok(outcomes.every((o) => o.status === 'fulfilled' || (o.reason as Error).message === 'exists'));
      const winner = ids[outcomes.findIndex((o) => o.status === 'fulfilled')];
      assert.equal((await meta.getObject('b', 'once'))?.placement.blob, `blob-${winner}`);
    });

    it('leaves exactly one latest version after 20 concurrent versioned commits of one key', async () => {
      await meta.createBucket(bucket('b', 'Enabled'));
      const ids = Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}`);
      for (const id of ids) await meta.insertPending(pending('b', 'hot', id));
      const results = await Promise.all(ids.map((id) => meta.commit('b', 'hot', id, content(`blob-${id}`, 1))));
      assert.deepEqual(results.flatMap((r) => r.orphaned), []);
      const versions = await meta.listVersions({ bucket: 'b', maxKeys: 100 });
      assert.equal(versions.objects.length, 20);
      const latest = versions.objects.filter((v) => v.isLatest);
      assert.equal(latest.length, 1);
      assert.equal(versions.objects[0]?.isLatest, true, 'the latest is listed first');
      assert.equal((await meta.getObject('b', 'hot'))?.versionId, latest[0]?.versionId);
      assert.equal((await meta.costs('b'))[0]?.bytesStored, 20);
    });

    it("leaves exactly one 'null' version after 20 concurrent unversioned commits of one key", async () => {
      await meta.createBucket(bucket('b'));
      await put(meta, 'b', 'hot', 'null', 'blob-first', 1);
      for (let i = 0; i < 20; i++) await meta.insertPending(pending('b', 'hot', 'null'));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => meta.commit('b', 'hot', 'null', content(`blob-${i}`, 1))),
      );
      const versions = await meta.listVersions({ bucket: 'b', maxKeys: 100 });
      assert.equal(versions.objects.length, 1);
      assert.equal(versions.objects[0]?.isLatest, true);
      const kept = versions.objects[0]!.placement.blob;
      const orphaned = results.flatMap((r) => r.orphaned).sort();
      const written = ['blob-first', ...Array.from({ length: 20 }, (_, i) => `blob-${i}`)];
      assert.deepEqual(orphaned, written.filter((blob) => blob !== kept).sort(), 'every replaced blob orphaned once');
      assert.equal((await meta.costs('b'))[0]?.bytesStored, 1);
      assert.deepEqual(await meta.stalePending(new Date(Date.now() + 60_000)), []);
    });

    it('keeps its data across close and reopen, and refuses a schema from a newer Plinth', async () => {
      await meta.createBucket(bucket('b'));
      await put(meta, 'b', 'k', 'null', 'blob1');
      await meta.close();
      meta = await openMetadata(env.url, env.dataDir);
      assert.equal((await meta.getObject('b', 'k'))?.placement.blob, 'blob1');
      await meta.close();

      await setSchemaVersion(env, 999);
      await assert.rejects(openMetadata(env.url, env.dataDir), /newer than this Plinth/);
      await setSchemaVersion(env, migrations(SQLITE).length);
      meta = await openMetadata(env.url, env.dataDir);
    });

    it('keeps a committed object when the process is killed right after the commit', async () => {
      const script = fileURLToPath(new URL('./helpers/meta-crash-child.js', import.meta.url));
      const child = spawn(process.execPath, [script, env.url ?? '', env.dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      assert.equal(signal, 'SIGKILL');
      assert.match(output, /committed/);
      const version = await meta.getObject('crash', 'survivor');
      assert.equal(version?.placement.blob, 'blob-crash');
      assert.equal(version?.isLatest, true);
    });
  });
}

/** Overwrites the stored schema version, as a newer (or this) Plinth would have left it. */
function setSchemaVersion(env: MetadataTestEnv, version: number): Promise<void> {
  return execOnStore(env, `UPDATE plinth_schema SET version = ${Number(version)}`);
}

describe('openMetadata URLs', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'plinth-open-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens SQLite under the data directory by default, with WAL', async () => {
    const dataDir = join(dir, 'data');
    for (const url of [undefined, 'sqlite:', 'sqlite://']) {
      const meta = await openMetadata(url, dataDir);
      assert.equal(meta.kind, 'sqlite');
      await meta.close();
    }
    assert.ok(existsSync(join(dataDir, SQLITE_FILE)));
    const db = new Database(join(dataDir, SQLITE_FILE));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('opens SQLite at a path relative to the data directory, absolute, or in memory', async () => {
    for (const [url, file] of [['sqlite:custom.db', join(dir, 'custom.db')], [`sqlite:${join(dir, 'abs.db')}`, join(dir, 'abs.db')]]) {
      const meta = await openMetadata(url, dir);
      await meta.close();
      assert.ok(existsSync(file!), file);
    }
    const memory = await openMetadata('sqlite::memory:', dir);
    assert.equal(await memory.createBucket(bucket('m')), true);
    await memory.close();
  });

  it('refuses other schemes without echoing the URL', async () => {
    await assert.rejects(openMetadata('mysql://root:secret@host/db', dir), (err: Error) => {
      assert.match(err.message, /mysql:/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });
});
