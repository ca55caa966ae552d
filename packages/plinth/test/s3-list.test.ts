import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { before, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type ListObjectsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import type { Bucket, ObjectVersion, User } from '../src/meta/types.js';
import { listObjectVersions, s3UrlEncode } from '../src/s3/list.js';
import type { GatewayContext } from '../src/s3/types.js';
import { newBucket } from './helpers/buckets.js';
import { describeEachBackend, rejectsWith } from './helpers/s3.js';
import type { PlinthHarness } from './helpers/server.js';

/** S3's listing order: UTF-8 bytes. */
const utf8Order = (keys: string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe('listings: pure parts', () => {
  it('URL-encodes as S3 does for encoding-type=url', () => {
    assert.equal(s3UrlEncode('a b+c/ü*~._-'), 'a%20b%2Bc/%C3%BC%2A~._-');
    assert.equal(s3UrlEncode("q?&=!'()"), 'q%3F%26%3D%21%27%28%29');
    assert.equal(s3UrlEncode('\u0001\u{1F600}'), '%01%F0%9F%98%80');
  });

  it('interleaves versions and delete markers in listing order', async () => {
    const user: User = { id: 'owner-id', displayName: 'Owner Name', accessKey: 'A', secretKey: 'S' };
    const bucket: Bucket = { name: 'bucket', ownerId: user.id, created: new Date(), acl: 'private', versioning: 'Enabled', grants: {} };
    const version = (key: string, versionId: string, isDeleteMarker: boolean, isLatest: boolean): ObjectVersion => ({
      bucket: 'bucket',
      key,
      versionId,
      isLatest,
      isDeleteMarker,
      state: 'committed',
      size: isDeleteMarker ? 0 : 3,
      etag: isDeleteMarker ? '' : '"e"',
      lastModified: new Date('2026-01-01T00:00:00Z'),
      userMetadata: {},
      tags: {},
      acl: 'private',
      ownerId: user.id,
      checksums: isDeleteMarker ? {} : { crc32: 'AAAAAA==' },
      xxhash64: '',
      placement: { blob: '', nodes: [] },
    });
    const objects = [version('a b', 'v3', true, true), version('a b', 'v2', false, false), version('a b', 'v1', true, false), version('c', 'v0', false, true)];
    const meta = {
      getBucket: async () => bucket,
      addCost: async () => {},
      listUsers: async () => [user],
      listVersions: async () => ({ objects, commonPrefixes: ['d/'], isTruncated: true, nextMarker: 'd/' }),
    };
    const ctx = { meta, log: pino({ level: 'silent' }) } as unknown as GatewayContext;
    const query = new URLSearchParams({ versions: '', 'encoding-type': 'url', delimiter: '/', 'max-keys': '5' });
    const response = await listObjectVersions({ method: 'GET', bucket: 'bucket', query, headers: {}, body: Readable.from([]), user, requestId: 'r' }, ctx);
    const xml = String(response.body);
    const sequence = [...xml.matchAll(/<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId><IsLatest>(true|false)</g)].map((m) => m.slice(1).join(' '));
    assert.deepEqual(sequence, ['DeleteMarker a%20b v3 true', 'Version a%20b v2 false', 'DeleteMarker a%20b v1 false', 'Version c v0 true']);
    assert.match(xml, /<Owner><ID>owner-id<\/ID><DisplayName>Owner Name<\/DisplayName><\/Owner>/);
    assert.match(xml, /<ChecksumAlgorithm>CRC32<\/ChecksumAlgorithm>/);
    assert.match(xml, /<IsTruncated>true<\/IsTruncated><NextKeyMarker>d\/<\/NextKeyMarker><DeleteMarker>/, 'no NextVersionIdMarker after a common prefix');
    assert.match(xml, /<CommonPrefixes><Prefix>d\/<\/Prefix><\/CommonPrefixes><EncodingType>url<\/EncodingType><\/ListVersionsResult>$/);
  });
});

describeEachBackend('listings through the SDK', (server) => {
  let h: PlinthHarness;
  let s3: S3Client;
  before(() => {
    h = server();
    s3 = h.client;
  });

  it('lists keys in UTF-8 binary order', async () => {
    const keys = ['a', 'a/b', 'ab', 'é', '\u{1F600}', '\uFF5A', 'B', 'a b', 'a!', 'z'];
    const Bucket = await newBucket(s3, 'list', { keys });
    const expected = utf8Order(keys);
    assert.deepEqual(expected.slice(-2), ['\uFF5A', '\u{1F600}'], 'UTF-16 order would put the emoji first');
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket }));
    assert.deepEqual(v2.Contents?.map((o) => o.Key), expected);
    assert.equal(v2.KeyCount, keys.length);
    assert.equal(v2.IsTruncated, false);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket }));
    assert.deepEqual(v1.Contents?.map((o) => o.Key), expected);
    const first = v2.Contents![0]!;
    assert.equal(first.Size, Buffer.byteLength(first.Key!));
    assert.equal(first.StorageClass, 'STANDARD');
    assert.match(first.ETag!, /^"[0-9a-f]{32}"$/);
    assert.ok(first.LastModified instanceof Date);
    assert.equal(first.Owner, undefined, 'V2 leaves the owner out unless fetch-owner');
    assert.deepEqual(v1.Contents![0]!.Owner, { ID: 'admin', DisplayName: 'admin' }, 'V1 always has it');
    const owned = await s3.send(new ListObjectsV2Command({ Bucket, FetchOwner: true, MaxKeys: 1 }));
    assert.deepEqual(owned.Contents![0]!.Owner, { ID: 'admin', DisplayName: 'admin' });
  });

  const tree = ['photos/2024/a.jpg', 'photos/2024/b.jpg', 'photos/2025/c.jpg', 'photos/d.jpg', 'photos/e.jpg', 'photos/2026/x/y.jpg', 'photos', 'photosX', 'other/z.jpg', 'photos/f/'];
  const treeEntries = ['photos/2024/', 'photos/2025/', 'photos/2026/', 'photos/d.jpg', 'photos/e.jpg', 'photos/f/'];

  it('pages ListObjectsV2 with prefix and delimiter through every page', async () => {
    const Bucket = await newBucket(s3, 'list', { keys: tree });
    for (const MaxKeys of [1, 2, 4, 1000]) {
      const seen: string[] = [];
      let ContinuationToken: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', Delimiter: '/', MaxKeys, ContinuationToken }));
        pages++;
        const entries = [...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!)];
        assert.ok(entries.length <= MaxKeys);
        assert.equal(page.KeyCount, entries.length);
        assert.equal(page.Prefix, 'photos/');
        assert.equal(page.Delimiter, '/');
        assert.equal(page.ContinuationToken, ContinuationToken);
        seen.push(...entries);
        if (!page.IsTruncated) {
          assert.equal(page.NextContinuationToken, undefined);
          break;
        }
        ContinuationToken = page.NextContinuationToken;
        assert.ok(ContinuationToken);
      }
      assert.deepEqual(utf8Order(seen), treeEntries, `max-keys ${MaxKeys}`);
      assert.equal(pages, Math.max(1, Math.ceil(treeEntries.length / MaxKeys)));
    }
    const after = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', StartAfter: 'photos/2025/c.jpg' }));
    assert.deepEqual(after.Contents?.map((o) => o.Key), ['photos/2026/x/y.jpg', 'photos/d.jpg', 'photos/e.jpg', 'photos/f/']);
    assert.equal(after.StartAfter, 'photos/2025/c.jpg');
    const all = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
    assert.deepEqual(all.CommonPrefixes?.map((p) => p.Prefix), ['other/', 'photos/']);
    assert.deepEqual(all.Contents?.map((o) => o.Key), ['photos', 'photosX']);
  });

  it('pages ListObjects (v1) with NextMarker only when a delimiter is given', async () => {
    const Bucket = await newBucket(s3, 'list', { keys: tree });
    const seen: string[] = [];
    let Marker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket, Prefix: 'photos/', Delimiter: '/', MaxKeys: 2, Marker }));
      assert.equal(page.Marker ?? '', Marker ?? '');
      seen.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      if (!page.IsTruncated) break;
      assert.ok(page.NextMarker);
      Marker = page.NextMarker;
    }
    assert.deepEqual(utf8Order(seen), treeEntries);

    const flat: string[] = [];
    Marker = undefined;
    for (;;) {
      const page: ListObjectsCommandOutput = await s3.send(new ListObjectsCommand({ Bucket, MaxKeys: 3, Marker }));
      assert.equal(page.NextMarker, undefined, 'no NextMarker without a delimiter');
      flat.push(...page.Contents!.map((o) => o.Key!));
      if (!page.IsTruncated) break;
      Marker = page.Contents!.at(-1)!.Key;
    }
    assert.deepEqual(flat, utf8Order(tree));
  });

  it('URL-encodes keys, prefixes and markers with encoding-type=url', async () => {
    const Bucket = await newBucket(s3, 'list', { keys: ['a b+c', 'ü/x', 'ü/y', 'q?&=', 'ctl\u0001key'] });
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket, EncodingType: 'url', Delimiter: '/', StartAfter: 'a b' }));
    assert.equal(v2.EncodingType, 'url');
    assert.equal(v2.StartAfter, 'a%20b');
    assert.deepEqual(v2.Contents?.map((o) => o.Key), ['a%20b%2Bc', 'ctl%01key', 'q%3F%26%3D']);
    assert.deepEqual(v2.CommonPrefixes?.map((p) => p.Prefix), ['%C3%BC/']);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket, EncodingType: 'url', Prefix: 'ü/', Marker: 'ü/x' }));
    assert.equal(v1.Prefix, '%C3%BC/');
    assert.equal(v1.Marker, '%C3%BC/x');
    assert.deepEqual(v1.Contents?.map((o) => o.Key), ['%C3%BC/y']);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket, EncodingType: 'url', KeyMarker: 'a b+c', MaxKeys: 1 }));
    assert.equal(versions.KeyMarker, 'a%20b%2Bc');
    assert.deepEqual(versions.Versions?.map((v) => v.Key), ['ctl%01key']);
    assert.equal(versions.NextKeyMarker, 'ctl%01key');
    await rejectsWith(s3.send(new ListObjectsV2Command({ Bucket, EncodingType: 'base64' as 'url' })), 'InvalidArgument', 400);
  });

  it('checks max-keys and continuation tokens', async () => {
    const Bucket = await newBucket(s3, 'list', { keys: ['k1', 'k2'] });
    const none = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 0 }));
    assert.deepEqual([none.KeyCount, none.IsTruncated, none.Contents], [0, false, undefined]);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 5000 }))).MaxKeys, 1000);
    assert.equal((await s3.send(new ListObjectsCommand({ Bucket }))).MaxKeys, 1000);
    await rejectsWith(s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: -1 })), 'InvalidArgument', 400);
    await rejectsWith(s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: 'not a token!' })), 'InvalidArgument', 400);
    const page = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1, StartAfter: 'zzz-ignored' }));
    assert.equal(page.KeyCount, 0);
    const first = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1 }));
    const second = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1, ContinuationToken: first.NextContinuationToken, StartAfter: 'zzz' }));
    assert.deepEqual(second.Contents?.map((o) => o.Key), ['k2'], 'the token wins over start-after');
  });

  it('lists versions and delete markers, paging by key and version markers', async () => {
    const Bucket = await newBucket(s3, 'list');
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k0', Body: 'from before versioning' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const k1v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'k1', Body: '1' }));
    const k1v2 = await s3.send(new PutObjectCommand({ Bucket, Key: 'k1', Body: '22' }));
    const k1dm = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k1' }));
    const k2v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/k2', Body: '333' }));
    const expected = [
      ['dir/k2', k2v1.VersionId, 'version', true],
      ['k0', 'null', 'version', true],
      ['k1', k1dm.VersionId, 'marker', true],
      ['k1', k1v2.VersionId, 'version', false],
      ['k1', k1v1.VersionId, 'version', false],
    ];

    const all = await s3.send(new ListObjectVersionsCommand({ Bucket }));
    assert.deepEqual(
      all.Versions?.map((v) => [v.Key, v.VersionId, 'version', v.IsLatest]),
      expected.filter((e) => e[2] === 'version'),
    );
    assert.deepEqual(all.DeleteMarkers?.map((m) => [m.Key, m.VersionId, 'marker', m.IsLatest]), expected.filter((e) => e[2] === 'marker'));
    assert.deepEqual(all.Versions?.map((v) => v.Size), [3, 22, 2, 1]);
    assert.deepEqual(all.DeleteMarkers?.[0]?.Owner, { ID: 'admin', DisplayName: 'admin' });

    // One entry per page: the pages, in order, are the interleaved listing.
    const walked: unknown[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket, MaxKeys: 1, KeyMarker, VersionIdMarker }));
      const entries = [...(page.Versions ?? []).map((v) => [v.Key, v.VersionId, 'version', v.IsLatest]), ...(page.DeleteMarkers ?? []).map((m) => [m.Key, m.VersionId, 'marker', m.IsLatest])];
      assert.equal(entries.length, 1);
      walked.push(entries[0]);
      if (!page.IsTruncated) break;
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
    }
    assert.deepEqual(walked, expected);

    const folded = await s3.send(new ListObjectVersionsCommand({ Bucket, Delimiter: '/' }));
    assert.deepEqual(folded.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);
    assert.deepEqual(folded.Versions?.map((v) => v.Key), ['k0', 'k1', 'k1']);
    const afterKey = await s3.send(new ListObjectVersionsCommand({ Bucket, KeyMarker: 'k0' }));
    assert.deepEqual(afterKey.Versions?.map((v) => v.VersionId), [k1v2.VersionId, k1v1.VersionId]);
    await rejectsWith(s3.send(new ListObjectVersionsCommand({ Bucket, VersionIdMarker: k1v1.VersionId })), 'InvalidArgument', 400);
  });

  it('refuses listings to those who may not read the bucket', async () => {
    const Bucket = await newBucket(s3, 'list', { keys: ['private'] });
    await rejectsWith(h.clientFor(null).send(new ListObjectsV2Command({ Bucket })), 'AccessDenied', 403);
    const stranger = await h.addUser();
    await rejectsWith(stranger.client.send(new ListObjectVersionsCommand({ Bucket })), 'AccessDenied', 403);
    await rejectsWith(s3.send(new ListObjectsV2Command({ Bucket: `missing-${Bucket}` })), 'NoSuchBucket', 404);
  });
});
