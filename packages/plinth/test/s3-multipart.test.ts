import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import type { MetadataStore } from '../src/meta/types.js';
import { completeMultipartUpload, uploadPart } from '../src/s3/multipart.js';
import type { GatewayContext, S3Request } from '../src/s3/types.js';
import { newBucket } from './helpers/buckets.js';
import { bytesOf, describeEachBackend, rejectsWith, sweep } from './helpers/s3.js';
import type { PlinthHarness } from './helpers/server.js';

const MiB = 1024 * 1024;

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest();
const blobOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const quotedMd5 = (bytes: Buffer) => `"${md5(bytes).toString('hex')}"`;

/** S3's multipart ETag, computed here independently of the server: MD5 of the binary part MD5s, dash, count. */
function multipartEtag(parts: Buffer[]): string {
  return `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;
}

describeEachBackend('multipart uploads', (server) => {
  let plinth: PlinthHarness;
  let s3: S3Client;
  const Bucket = 'multipart';

  before(async () => {
    plinth = server();
    s3 = plinth.client;
    await s3.send(new CreateBucketCommand({ Bucket }));
  });

  async function create(Key: string, extra: Partial<ConstructorParameters<typeof CreateMultipartUploadCommand>[0]> = {}, bucket = Bucket): Promise<string> {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ...extra }));
    assert.ok(UploadId);
    return UploadId;
  }

  async function putPart(Key: string, UploadId: string, PartNumber: number, Body: Buffer, bucket = Bucket): Promise<CompletedPart> {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body }));
    assert.equal(ETag, quotedMd5(Body));
    return { PartNumber, ETag };
  }

  async function uploadAll(Key: string, parts: Buffer[], bucket = Bucket): Promise<{ UploadId: string; completed: CompletedPart[] }> {
    const UploadId = await create(Key, {}, bucket);
    const completed: CompletedPart[] = [];
    for (const [i, body] of parts.entries()) completed.push(await putPart(Key, UploadId, i + 1, body, bucket));
    return { UploadId, completed };
  }

  function complete(Key: string, UploadId: string, Parts: CompletedPart[], bucket = Bucket) {
    return s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts } }));
  }

  describe('a three-part object (5 MiB, 5 MiB, 1 MiB)', () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 123)];
    const whole = Buffer.concat(parts);
    const Key = 'big/object.bin';

    before(async () => {
      const { UploadId, completed } = await uploadAll(Key, parts);
      const done = await complete(Key, UploadId, completed);
      assert.equal(done.ETag, multipartEtag(parts));
      assert.equal(done.Key, Key);
      assert.equal(done.Bucket, Bucket);
      assert.equal(done.VersionId, undefined, 'no version id in a bucket that never had versioning');
    });

    it('reads back whole with the multipart ETag', async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      assert.equal(got.ETag, multipartEtag(parts));
      assert.equal(got.ContentLength, whole.length);
      assert.ok((await bytesOf(got.Body)).equals(whole));
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      assert.equal(head.ContentLength, whole.length);
      assert.equal(head.ETag, multipartEtag(parts));
    });

    it('serves ranges across part boundaries', async () => {
      const ranges: [number, number][] = [
        [5 * MiB - 10, 5 * MiB + 9],
        [5 * MiB - 1, 10 * MiB],
        [100, whole.length - 100],
        [10 * MiB, 10 * MiB],
      ];
      for (const [start, end] of ranges) {
        const got = await s3.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${start}-${end}` }));
        assert.equal(got.ContentRange, `bytes ${start}-${end}/${whole.length}`);
        assert.ok((await bytesOf(got.Body)).equals(whole.subarray(start, end + 1)), `bytes=${start}-${end}`);
      }
      const suffix = await s3.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=-${MiB + 200}` }));
      assert.ok((await bytesOf(suffix.Body)).equals(whole.subarray(whole.length - MiB - 200)));
    });

    it('serves one part with partNumber, with Content-Range and the part count', async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 2 }));
      assert.equal(got.PartsCount, 3);
      assert.equal(got.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${whole.length}`);
      assert.equal(got.ContentLength, 5 * MiB);
      assert.ok((await bytesOf(got.Body)).equals(parts[1]!));
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key, PartNumber: 3 }));
      assert.equal(head.PartsCount, 3);
      assert.equal(head.ContentLength, parts[2]!.length);
      await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 4 })), 'InvalidPartNumber', 416);
    });

    it('keeps the parts as blobs: nothing is rewritten on completion', async () => {
      for (const part of parts) assert.ok(await plinth.server.node.has(blobOf(part)));
      assert.equal(await plinth.server.node.has(blobOf(whole)), false);
    });
  });

  it('takes the template headers from CreateMultipartUpload', async () => {
    const Key = 'templated.txt';
    const UploadId = await create(Key, {
      ContentType: 'text/plain',
      CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="t.txt"',
      Metadata: { colour: 'blue' },
      Tagging: 'project=plinth&tier=gold',
    });
    const body = Buffer.from('one small part is also the last part');
    await complete(Key, UploadId, [await putPart(Key, UploadId, 1, body)]);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.equal(got.ContentType, 'text/plain');
    assert.equal(got.CacheControl, 'max-age=60');
    assert.equal(got.ContentDisposition, 'attachment; filename="t.txt"');
    assert.deepEqual(got.Metadata, { colour: 'blue' });
    assert.equal(got.TagCount, 2);
    assert.equal(got.ETag, multipartEtag([body]));
    assert.ok((await bytesOf(got.Body)).equals(body));
    const { TagSet } = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
    assert.deepEqual(TagSet?.sort((a, b) => a.Key!.localeCompare(b.Key!)), [
      { Key: 'project', Value: 'plinth' },
      { Key: 'tier', Value: 'gold' },
    ]);
  });

  it('refuses a template with bad headers at CreateMultipartUpload', async () => {
    await rejectsWith(s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'bad-tags', Tagging: 'aws:reserved=1' })), 'InvalidTag', 400);
    await rejectsWith(s3.send(new CreateMultipartUploadCommand({ Bucket: 'no-such-bucket', Key: 'k' })), 'NoSuchBucket', 404);
  });

  it('gives unguessable, distinct upload ids', async () => {
    const ids = await Promise.all([create('ids'), create('ids'), create('ids')]);
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) {
      assert.ok(id.length >= 32, id);
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'ids', UploadId: id }));
    }
  });

  it('checks part numbers, Content-MD5 and flexible checksums on UploadPart', async () => {
    const Key = 'checked';
    const UploadId = await create(Key);
    const Body = randomBytes(1000);
    for (const PartNumber of [0, 10001]) {
      await rejectsWith(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body })), 'InvalidArgument', 400);
    }
    const wrongMd5 = md5(Buffer.from('something else')).toString('base64');
    await rejectsWith(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body, ContentMD5: wrongMd5 })), 'BadDigest', 400);
    const sha = createHash('sha256').update(Buffer.from('other bytes')).digest('base64');
    await rejectsWith(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body, ChecksumSHA256: sha })), 'BadDigest', 400);
    assert.equal((await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))).Parts, undefined, 'a refused part is not recorded');

    const good = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 10000, Body, ContentMD5: md5(Body).toString('base64'), ChecksumAlgorithm: 'SHA256' }));
    assert.equal(good.ETag, quotedMd5(Body));
    assert.equal(good.ChecksumSHA256, createHash('sha256').update(Body).digest('base64'));
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[10000, quotedMd5(Body), Body.length]]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  });

  it('answers NoSuchUpload for unknown, aborted, completed or mismatched uploads, but a repeated Complete as the first', async () => {
    const Key = 'lifecycle';
    const Body = Buffer.from('tiny');
    await rejectsWith(s3.send(new UploadPartCommand({ Bucket, Key, UploadId: 'no-such-upload', PartNumber: 1, Body })), 'NoSuchUpload', 404);
    await rejectsWith(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: 'no-such-upload' })), 'NoSuchUpload', 404);
    await rejectsWith(s3.send(new ListPartsCommand({ Bucket, Key, UploadId: 'no-such-upload' })), 'NoSuchUpload', 404);

    const UploadId = await create(Key);
    const part = await putPart(Key, UploadId, 1, Body);
    // The upload id belongs to another key.
    await rejectsWith(s3.send(new UploadPartCommand({ Bucket, Key: 'other-key', UploadId, PartNumber: 1, Body })), 'NoSuchUpload', 404);
    await rejectsWith(complete('other-key', UploadId, [part]), 'NoSuchUpload', 404);

    const done = await complete(Key, UploadId, [part]);
    // A Complete retried after it succeeded (an SDK whose answer was lost) gets the same answer, as
    // from S3; a different part list for the gone upload is NoSuchUpload.
    const again = await complete(Key, UploadId, [part]);
    assert.deepEqual([again.ETag, again.Key, again.Location], [done.ETag, done.Key, done.Location]);
    await rejectsWith(complete(Key, UploadId, [{ PartNumber: 1, ETag: quotedMd5(Buffer.from('other')) }]), 'NoSuchUpload', 404);
    await rejectsWith(complete(Key, UploadId, [part, { PartNumber: 2, ETag: part.ETag }]), 'NoSuchUpload', 404);
    await rejectsWith(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body })), 'NoSuchUpload', 404);
    await rejectsWith(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })), 'NoSuchUpload', 404);

    const aborted = await create(Key);
    const abortedPart = await putPart(Key, aborted, 1, Buffer.from('aborted'));
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: aborted }));
    await rejectsWith(complete(Key, aborted, [abortedPart]), 'NoSuchUpload', 404);
    await rejectsWith(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: aborted })), 'NoSuchUpload', 404);
  });

  describe('a Complete retried once its upload is gone', () => {
    const bodies = [randomBytes(5 * MiB), randomBytes(3000)];
    const Key = 'retried';

    it('is answered as the first was: ETag, checksum, checksum type and version id, with one commit', async () => {
      const bucket = await newBucket(s3, 'mp-retry', { versioning: 'Enabled' });
      const UploadId = await create(Key, { ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }, bucket);
      const parts = [await putPart(Key, UploadId, 1, bodies[0]!, bucket), await putPart(Key, UploadId, 2, bodies[1]!, bucket)];
      const answer = (out: Awaited<ReturnType<typeof complete>>) => [out.Bucket, out.Key, out.Location, out.ETag, out.ChecksumCRC32, out.ChecksumType, out.VersionId];
      const first = await complete(Key, UploadId, parts, bucket);
      assert.equal(first.ETag, multipartEtag(bodies));
      assert.ok(first.ChecksumCRC32 && first.VersionId);
      assert.deepEqual(answer(await complete(Key, UploadId, parts, bucket)), answer(first));
      // Still the first answer once a later version (here a delete marker) is on top of it.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
      assert.deepEqual(answer(await complete(Key, UploadId, parts, bucket)), answer(first));
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: Key }));
      assert.deepEqual([versions.Versions?.map((v) => v.VersionId), versions.DeleteMarkers?.length], [[first.VersionId], 1], 'one commit');
      // Another part list, or the same upload id for another key, is no retry of it.
      await rejectsWith(complete(Key, UploadId, parts.slice(0, 1), bucket), 'NoSuchUpload', 404);
      await rejectsWith(complete('elsewhere', UploadId, parts, bucket), 'NoSuchUpload', 404);

      // Once that version is deleted, nothing is answered for it.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key, VersionId: first.VersionId }));
      await rejectsWith(complete(Key, UploadId, parts, bucket), 'NoSuchUpload', 404);
    });

    it('is NoSuchUpload for an aborted upload of the very same parts, or a made-up upload id', async () => {
      const { UploadId, completed } = await uploadAll(Key, bodies);
      const done = await complete(Key, UploadId, completed);
      // Same bytes, so the same part ETags as the key's current object: only the upload id differs.
      const { UploadId: aborted, completed: same } = await uploadAll(Key, bodies);
      assert.deepEqual(same, completed);
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: aborted }));
      await rejectsWith(complete(Key, aborted, same), 'NoSuchUpload', 404);
      await rejectsWith(complete(Key, `made-up-${randomBytes(24).toString('base64url')}`, completed), 'NoSuchUpload', 404);
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      assert.equal(head.ETag, done.ETag);
      assert.equal((await complete(Key, UploadId, completed)).ETag, done.ETag, 'the real retry still is one');
    });

    it("is NoSuchUpload once the 'null' version it made is replaced or deleted, though a 'null' version is there again", async () => {
      const { UploadId, completed } = await uploadAll(Key, bodies);
      await complete(Key, UploadId, completed);
      await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'replaced' }));
      await rejectsWith(complete(Key, UploadId, completed), 'NoSuchUpload', 404);

      const again = await uploadAll(Key, bodies);
      await complete(Key, again.UploadId, again.completed);
      await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      await rejectsWith(complete(Key, again.UploadId, again.completed), 'NoSuchUpload', 404);
    });
  });

  it('refuses parts below 5 MiB except the last (EntityTooSmall), leaving the upload completable', async () => {
    const Key = 'too-small';
    const small = [randomBytes(MiB), randomBytes(MiB)];
    const { UploadId, completed } = await uploadAll(Key, small);
    await rejectsWith(complete(Key, UploadId, completed), 'EntityTooSmall', 400);
    // One byte short of the minimum is still too small.
    const almost = randomBytes(5 * MiB - 1);
    const replaced = await putPart(Key, UploadId, 1, almost);
    await rejectsWith(complete(Key, UploadId, [replaced, completed[1]!]), 'EntityTooSmall', 400);
    const exact = randomBytes(5 * MiB);
    const first = await putPart(Key, UploadId, 1, exact);
    const done = await complete(Key, UploadId, [first, completed[1]!]);
    assert.equal(done.ETag, multipartEtag([exact, small[1]!]));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.ok((await bytesOf(got.Body)).equals(Buffer.concat([exact, small[1]!])));
  });

  it('refuses missing parts and wrong ETags (InvalidPart) and out-of-order lists (InvalidPartOrder)', async () => {
    const Key = 'invalid-parts';
    const bodies = [randomBytes(5 * MiB), randomBytes(100)];
    const { UploadId, completed } = await uploadAll(Key, bodies);
    const [one, two] = completed as [CompletedPart, CompletedPart];
    await rejectsWith(complete(Key, UploadId, [one, { PartNumber: 2, ETag: quotedMd5(Buffer.from('not it')) }]), 'InvalidPart', 400);
    await rejectsWith(complete(Key, UploadId, [one, two, { PartNumber: 3, ETag: two.ETag }]), 'InvalidPart', 400);
    await rejectsWith(complete(Key, UploadId, [two, one]), 'InvalidPartOrder', 400);
    await rejectsWith(complete(Key, UploadId, [one, one]), 'InvalidPartOrder', 400);
    await rejectsWith(complete(Key, UploadId, []), 'MalformedXML', 400);
    // ETags match quoted or not.
    const done = await complete(Key, UploadId, [one, { PartNumber: 2, ETag: two.ETag!.replace(/"/g, '') }]);
    assert.equal(done.ETag, multipartEtag(bodies));
  });

  it('lets part numbers skip, and frees the parts a Complete leaves out', async () => {
    const Key = 'sparse';
    const UploadId = await create(Key);
    const first = randomBytes(5 * MiB);
    const unused = randomBytes(4096);
    const last = randomBytes(4096);
    const p1 = await putPart(Key, UploadId, 1, first);
    await putPart(Key, UploadId, 5, unused);
    const p9 = await putPart(Key, UploadId, 9, last);
    const done = await complete(Key, UploadId, [p1, p9]);
    assert.equal(done.ETag, multipartEtag([first, last]));
    await sweep(plinth);
    assert.equal(await plinth.server.node.has(blobOf(unused)), false, 'the unused part is freed');
    assert.ok(await plinth.server.node.has(blobOf(first)));
    assert.ok(await plinth.server.node.has(blobOf(last)));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.ok((await bytesOf(got.Body)).equals(Buffer.concat([first, last])));
    const part2 = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 2 }));
    assert.ok((await bytesOf(part2.Body)).equals(last), 'partNumber counts the completed parts, not the upload numbers');
  });

  it('replaces a part uploaded twice and frees the old bytes', async () => {
    const Key = 'replaced';
    const UploadId = await create(Key);
    const old = randomBytes(2048);
    const fresh = randomBytes(2048);
    const stale = await putPart(Key, UploadId, 1, old);
    const current = await putPart(Key, UploadId, 1, fresh);
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.ETag), [current.ETag]);
    await sweep(plinth);
    assert.equal(await plinth.server.node.has(blobOf(old)), false);
    await rejectsWith(complete(Key, UploadId, [stale]), 'InvalidPart', 400);
    await complete(Key, UploadId, [current]);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.ok((await bytesOf(got.Body)).equals(fresh));
  });

  it('frees every part on abort', async () => {
    const Key = 'aborted';
    await sweep(plinth);
    const before = await plinth.server.node.usage();
    const bodies = [randomBytes(5 * MiB), randomBytes(300_000)];
    const { UploadId } = await uploadAll(Key, bodies);
    const during = await plinth.server.node.usage();
    assert.equal(during.blobs, before.blobs + 2);
    assert.equal(during.bytes, before.bytes + 5 * MiB + 300_000);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    for (const body of bodies) assert.equal(await plinth.server.meta.blobReferenced(blobOf(body)), false);
    await sweep(plinth);
    assert.deepEqual(await plinth.server.node.usage(), before);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: Key }));
    assert.equal(uploads.Uploads, undefined);
  });

  it('pages ListParts with max-parts and part-number-marker', async () => {
    const Key = 'many-parts';
    const UploadId = await create(Key);
    const etags: string[] = [];
    for (let n = 1; n <= 7; n++) etags.push((await putPart(Key, UploadId, n, Buffer.from(`part ${n}`))).ETag!);
    const seen: number[] = [];
    let marker: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 3, PartNumberMarker: marker }));
      pages++;
      assert.equal(page.MaxParts, 3);
      assert.equal(page.UploadId, UploadId);
      assert.equal(page.Key, Key);
      assert.equal(page.StorageClass, 'STANDARD');
      assert.ok(page.Owner?.ID);
      for (const part of page.Parts ?? []) {
        seen.push(part.PartNumber!);
        assert.equal(part.ETag, etags[part.PartNumber! - 1]);
        assert.equal(part.Size, Buffer.byteLength(`part ${part.PartNumber}`));
        assert.ok(part.LastModified instanceof Date);
      }
      if (!page.IsTruncated) break;
      assert.equal(page.NextPartNumberMarker, String(seen.at(-1)));
      marker = page.NextPartNumberMarker;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
    const tail = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, PartNumberMarker: '5' }));
    assert.deepEqual(tail.Parts?.map((p) => p.PartNumber), [6, 7]);
    assert.equal(tail.IsTruncated, false);
    await rejectsWith(s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: -1 })), 'InvalidArgument', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  });

  describe('ListMultipartUploads', () => {
    const bucket = 'uploads';
    const keys = ['a/1', 'a/2', 'b', 'b', 'c/x/y', 'c/z', 'd', 'e/'];
    let listed: { key: string; id: string }[];

    before(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      for (const key of keys) await create(key, {}, bucket);
      const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      listed = (all.Uploads ?? []).map((u) => ({ key: u.Key!, id: u.UploadId! }));
      assert.equal(all.IsTruncated, false);
    });

    it('lists every upload in key order, each with its owner and initiation time', async () => {
      assert.deepEqual(
        listed.map((u) => u.key),
        keys,
      );
      const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const upload of all.Uploads!) {
        assert.ok(upload.Initiated instanceof Date);
        assert.equal(upload.Owner?.ID, 'admin');
        assert.equal(upload.StorageClass, 'STANDARD');
      }
    });

    it('pages with key-marker and upload-id-marker, the two uploads of one key included', async () => {
      for (const MaxUploads of [1, 2, 3]) {
        const seen: string[] = [];
        let KeyMarker: string | undefined;
        let UploadIdMarker: string | undefined;
        for (;;) {
          const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, MaxUploads, KeyMarker, UploadIdMarker }));
          assert.ok((page.Uploads?.length ?? 0) <= MaxUploads);
          seen.push(...(page.Uploads ?? []).map((u) => u.UploadId!));
          if (!page.IsTruncated) break;
          KeyMarker = page.NextKeyMarker;
          UploadIdMarker = page.NextUploadIdMarker;
          assert.equal(KeyMarker, page.Uploads!.at(-1)!.Key);
          assert.equal(UploadIdMarker, page.Uploads!.at(-1)!.UploadId);
        }
        assert.deepEqual(seen, listed.map((u) => u.id), `max-uploads ${MaxUploads}`);
      }
      // A key marker alone starts after every upload of that key.
      const afterB = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: 'b' }));
      assert.deepEqual(afterB.Uploads?.map((u) => u.Key), ['c/x/y', 'c/z', 'd', 'e/']);
    });

    it('filters by prefix and folds keys under a delimiter into common prefixes', async () => {
      const underA = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'a/' }));
      assert.deepEqual(underA.Uploads?.map((u) => u.Key), ['a/1', 'a/2']);
      assert.equal(underA.Prefix, 'a/');

      const folded = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: '/' }));
      assert.deepEqual(folded.Uploads?.map((u) => u.Key), ['b', 'b', 'd']);
      assert.deepEqual(folded.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'c/', 'e/']);
      assert.equal(folded.Delimiter, '/');

      const nested = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'c/', Delimiter: '/' }));
      assert.deepEqual(nested.Uploads?.map((u) => u.Key), ['c/z']);
      assert.deepEqual(nested.CommonPrefixes?.map((p) => p.Prefix), ['c/x/']);
    });

    it('pages through common prefixes without repeating them', async () => {
      const entries: string[] = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: '/', MaxUploads: 1, KeyMarker, UploadIdMarker }));
        entries.push(...(page.Uploads ?? []).map((u) => u.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
        if (!page.IsTruncated) break;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
      assert.deepEqual(entries, ['a/', 'b', 'b', 'c/', 'd', 'e/']);
    });

    it('checks max-uploads', async () => {
      await rejectsWith(s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, MaxUploads: -5 })), 'InvalidArgument', 400);
    });
  });

  describe('UploadPartCopy', () => {
    const source = randomBytes(7 * MiB);
    const small = randomBytes(10_000);
    let multipartSource: Buffer;

    before(async () => {
      await s3.send(new PutObjectCommand({ Bucket, Key: 'copy/source', Body: source }));
      await s3.send(new PutObjectCommand({ Bucket, Key: 'copy/small', Body: small }));
      const parts = [randomBytes(5 * MiB), randomBytes(MiB)];
      multipartSource = Buffer.concat(parts);
      const { UploadId, completed } = await uploadAll('copy/multipart-source', parts);
      await complete('copy/multipart-source', UploadId, completed);
    });

    it('copies ranges and whole objects into parts', async () => {
      const Key = 'copy/assembled';
      const UploadId = await create(Key);
      const copy = (PartNumber: number, from: string, CopySourceRange?: string) =>
        s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber, CopySource: `${Bucket}/${from}`, CopySourceRange }));
      const first = await copy(1, 'copy/source', `bytes=0-${5 * MiB - 1}`);
      const second = await copy(2, 'copy/source', `bytes=${5 * MiB}-${7 * MiB - 1}`);
      // Whole, and a range straddling the multipart source's part boundary.
      const third = await copy(3, 'copy/small');
      const fourth = await copy(4, 'copy/multipart-source', `bytes=${5 * MiB - 1000}-${5 * MiB + 999}`);
      const expected = [source.subarray(0, 5 * MiB), source.subarray(5 * MiB), small, multipartSource.subarray(5 * MiB - 1000, 5 * MiB + 1000)];
      const results = [first, second, third, fourth];
      for (const [i, result] of results.entries()) {
        assert.equal(result.CopyPartResult?.ETag, quotedMd5(expected[i]!), `part ${i + 1}`);
        assert.ok(result.CopyPartResult?.LastModified instanceof Date);
      }
      // Parts 2 and 3 are below 5 MiB: only the last part may be, so complete with 1 and 4.
      await rejectsWith(complete(Key, UploadId, results.map((r, i) => ({ PartNumber: i + 1, ETag: r.CopyPartResult!.ETag }))), 'EntityTooSmall', 400);
      const done = await complete(Key, UploadId, [
        { PartNumber: 1, ETag: first.CopyPartResult!.ETag },
        { PartNumber: 4, ETag: fourth.CopyPartResult!.ETag },
      ]);
      assert.equal(done.ETag, multipartEtag([expected[0]!, expected[3]!]));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      assert.ok((await bytesOf(got.Body)).equals(Buffer.concat([expected[0]!, expected[3]!])));
    });

    it('checks the copy source range and conditions', async () => {
      const Key = 'copy/conditions';
      const UploadId = await create(Key);
      const base = { Bucket, Key, UploadId, PartNumber: 1, CopySource: `${Bucket}/copy/small` };
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, CopySourceRange: `bytes=0-${small.length}` })), 'InvalidRange', 416);
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, CopySourceRange: 'bytes=10-5' })), 'InvalidArgument', 400);
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfMatch: quotedMd5(Buffer.from('no')) })), 'PreconditionFailed', 412);
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfNoneMatch: quotedMd5(small) })), 'PreconditionFailed', 412);
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfModifiedSince: new Date(Date.now() + 3_600_000) })), 'PreconditionFailed', 412);
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, CopySource: `${Bucket}/copy/missing` })), 'NoSuchKey', 404);
      await rejectsWith(s3.send(new UploadPartCopyCommand({ ...base, UploadId: 'nope' })), 'NoSuchUpload', 404);
      const ok = await s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfMatch: quotedMd5(small), CopySourceRange: 'bytes=10-19' }));
      assert.equal(ok.CopyPartResult?.ETag, quotedMd5(small.subarray(10, 20)));
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    });
  });

  it('gives a completed upload a version id in a versioned bucket', async () => {
    const bucket = await newBucket(s3, 'mp-versioned', { versioning: 'Enabled' });
    const Key = 'v';
    const first = Buffer.from('first version');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: first }));
    const second = Buffer.from('second version, multipart');
    const { UploadId, completed } = await uploadAll(Key, [second], bucket);
    const done = await complete(Key, UploadId, completed, bucket);
    assert.ok(done.VersionId && done.VersionId !== 'null');
    const latest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    assert.equal(latest.VersionId, done.VersionId);
    assert.ok((await bytesOf(latest.Body)).equals(second));
  });

  it('counts multipart requests, and stored bytes once completed', async () => {
    const bucket = await newBucket(s3, 'mp-costs');
    const bodies = [randomBytes(5 * MiB), randomBytes(777)];
    const { UploadId, completed } = await uploadAll('k', bodies, bucket);
    await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'k', UploadId }));
    await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    await complete('k', UploadId, completed, bucket);
    const abandoned = await create('other', {}, bucket);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'other', UploadId: abandoned }));
    const [cost] = await plinth.server.meta.costs(bucket);
    assert.equal(cost?.bytesStored, 5 * MiB + 777);
    // CreateBucket, two CreateMultipartUploads, two UploadParts and the Complete.
    assert.deepEqual(cost?.requests, { put: 6, get: 0, list: 2, delete: 1 });
  });

  describe('races and crashes, through the handlers', () => {
    const Key = 'atomic';
    const bodies = [randomBytes(5 * MiB), randomBytes(1000)];
    const silent = pino({ level: 'silent' });

    function context(meta: MetadataStore, gc?: GatewayContext['gc']): GatewayContext {
      return { meta, node: plinth.server.node, log: silent, config: { region: 'us-east-1', maxObjectSize: 5 * 2 ** 30, maxSkewMs: 900_000 }, gc };
    }

    function request(query: Record<string, string>, body: Readable, headers: Record<string, string> = {}): S3Request {
      return { method: 'POST', bucket: Bucket, key: Key, query: new URLSearchParams(query), headers, body, user: plinth.server.admin, requestId: 'test' };
    }

    function completeBody(parts: CompletedPart[]): Readable {
      const xml = `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      return Readable.from([Buffer.from(xml)]);
    }

    /** Completes through the handler with a metadata store whose `method` fails, as a crash there would. */
    async function completeFailingAt(method: 'commit', UploadId: string, parts: CompletedPart[]): Promise<void> {
      const meta = plinth.server.meta;
      const failing = new Proxy(meta, {
        get(target, name) {
          if (name === method) return async () => Promise.reject(new Error(`crash at ${method}`));
          const value = Reflect.get(target, name) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as MetadataStore;
      await assert.rejects(completeMultipartUpload(request({ uploadId: UploadId }, completeBody(parts)), context(failing)), new RegExp(`crash at ${method}`));
    }

    it('answers NoSuchUpload, not InvalidPart, when an Abort removes the upload while Complete reads its parts', async () => {
      const { UploadId, completed } = await uploadAll(Key, [randomBytes(100)]);
      const meta = plinth.server.meta;
      // The Abort lands between Complete finding the upload and reading its parts.
      const abortFirst = new Proxy(meta, {
        get(target, name) {
          if (name === 'listParts') return async (...args: Parameters<MetadataStore['listParts']>) => (await target.deleteUpload(UploadId), target.listParts(...args));
          const value = Reflect.get(target, name) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as MetadataStore;
      await assert.rejects(completeMultipartUpload(request({ uploadId: UploadId }, completeBody(completed)), context(abortFirst)), (err: Error & { code?: string }) => err.code === 'NoSuchUpload');
      await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key })), undefined, 404);
    });

    it('leaves the upload completable when Complete fails before the commit', async () => {
      const { UploadId, completed } = await uploadAll(Key, bodies);
      await completeFailingAt('commit', UploadId, completed);
      await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key })), undefined, 404);
      const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
      assert.equal(listed.Parts?.length, 2);
      const done = await complete(Key, UploadId, completed);
      assert.equal(done.ETag, multipartEtag(bodies));
    });

    it('removes the upload in the commit itself: nothing is left to fail after it', async () => {
      const next = [randomBytes(5 * MiB), randomBytes(2000)];
      const { UploadId, completed } = await uploadAll(Key, next);
      // Complete never calls deleteUpload any more: failing it changes nothing.
      const meta = plinth.server.meta;
      const failing = new Proxy(meta, {
        get(target, name) {
          if (name === 'deleteUpload') return async () => Promise.reject(new Error('deleteUpload called'));
          const value = Reflect.get(target, name) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as MetadataStore;
      await completeMultipartUpload(request({ uploadId: UploadId }, completeBody(completed)), context(failing));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      assert.equal(got.ETag, multipartEtag(next));
      assert.ok((await bytesOf(got.Body)).equals(Buffer.concat(next)));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
      assert.equal((uploads.Uploads ?? []).some((u) => u.UploadId === UploadId), false);
      await rejectsWith(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })), 'NoSuchUpload', 404);
      await sweep(plinth);
      const again = await s3.send(new GetObjectCommand({ Bucket, Key }));
      assert.ok((await bytesOf(again.Body)).equals(Buffer.concat(next)));
    });

    it('commits once when two Completes race: the other finds NoSuchUpload or gets the same answer', async () => {
      // Versioned, so a second commit would show as a second version.
      const bucket = await newBucket(s3, 'mp-race', { versioning: 'Enabled' });
      const body = [randomBytes(700)];
      const { UploadId, completed } = await uploadAll(Key, body, bucket);
      const outcomes = await Promise.allSettled([complete(Key, UploadId, completed, bucket), complete(Key, UploadId, completed, bucket)]);
      // A Complete that arrives once the upload is gone is answered as a retry of the first, as S3
      // answers a repeated Complete; one that loses the race inside the commit finds NoSuchUpload.
      const answers = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [[o.value.ETag, o.value.VersionId]] : []));
      assert.ok(answers.length >= 1);
      assert.equal(new Set(answers.map((a) => a.join())).size, 1, 'every success names the same version');
      for (const o of outcomes) if (o.status === 'rejected') assert.equal((o.reason as Error).name, 'NoSuchUpload');
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: Key }));
      assert.equal(versions.Versions?.length, 1, 'one commit');
    });

    it('answers NoSuchUpload for a part whose upload is aborted while it streams, and releases its bytes', async () => {
      const UploadId = await create(Key);
      const released: string[] = [];
      const gc = { collect: async (blobs: Iterable<string>) => (released.push(...blobs), 0) };
      let reading!: () => void;
      const started = new Promise<void>((resolve) => (reading = resolve));
      const body = new Readable({ read: () => reading() });
      const part = uploadPart(request({ uploadId: UploadId, partNumber: '1' }, body, { 'content-length': '11' }), context(plinth.server.meta, gc));
      await started;
      body.push('hello ');
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
      body.push('world');
      body.push(null);
      await assert.rejects(part, (err: { code?: string }) => err.code === 'NoSuchUpload');
      assert.deepEqual(released, [blobOf(Buffer.from('hello world'))]);
    });
  });
});
