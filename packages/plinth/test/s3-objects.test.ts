import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parseCopySource } from '../src/s3/copy.js';
import { S3Error } from '../src/s3/errors.js';
import { evaluatePreconditions, parseRange } from '../src/s3/object-read.js';
import { newVersionId, storeBody } from '../src/s3/object-write.js';
import type { GatewayContext } from '../src/s3/types.js';
import { tagSet } from '../src/s3/tagging.js';
import { newBucket } from './helpers/buckets.js';
import { describeEachBackend, rejectsWith } from './helpers/s3.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';

const MiB = 1024 * 1024;
const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

const text = (out: GetObjectCommandOutput) => out.Body!.transformToString();
/** Tag order is not kept (PostgreSQL's jsonb reorders keys), nor promised by S3. */
const byKey = (tags: { Key?: string; Value?: string }[] | undefined) => [...(tags ?? [])].sort((a, b) => a.Key!.localeCompare(b.Key!));

/** The command as sent without Content-MD5 or any checksum (the SDK always adds one): removed just before signing. */
function withoutChecksums<C extends { middlewareStack: { addRelativeTo(middleware: never, options: { relation: 'before'; toMiddleware: string }): void } }>(command: C): C {
  const strip = (next: (args: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
    const headers = (args.request as { headers: Record<string, string> }).headers;
    for (const name of Object.keys(headers)) if (/^(content-md5|x-amz-checksum-|x-amz-sdk-checksum-)/i.test(name)) delete headers[name];
    return next(args);
  };
  command.middlewareStack.addRelativeTo(strip as never, { relation: 'before', toMiddleware: 'httpSigningMiddleware' });
  return command;
}

function unitError(code: string, fn: () => unknown): void {
  assert.throws(fn, (err) => err instanceof S3Error && err.code === code);
}

describe('object operations: pure parts', () => {
  it('parses Range as S3 serves it', () => {
    assert.deepEqual(parseRange('bytes=0-4', 26), { start: 0, end: 4 });
    assert.deepEqual(parseRange('bytes=20-', 26), { start: 20, end: 25 });
    assert.deepEqual(parseRange('bytes=-3', 26), { start: 23, end: 25 });
    assert.deepEqual(parseRange('bytes=-100', 26), { start: 0, end: 25 });
    assert.deepEqual(parseRange('bytes=24-100', 26), { start: 24, end: 25 });
    assert.deepEqual(parseRange(' bytes = 1 - 2 ', 26), { start: 1, end: 2 });
    // Ignored: the whole object is served.
    for (const ignored of [undefined, 'bytes=0-1,3-4', 'bytes=5-2', 'items=0-1', 'bytes=-', 'bytes=a-b', 'bytes=0-1,']) {
      assert.equal(parseRange(ignored, 26), undefined, String(ignored));
    }
    for (const [value, size] of [['bytes=26-', 26], ['bytes=26-30', 26], ['bytes=-0', 26], ['bytes=0-', 0], ['bytes=-5', 0]] as const) {
      assert.throws(
        () => parseRange(value, size),
        (err) => err instanceof S3Error && err.code === 'InvalidRange' && err.status === 416 && err.headers['content-range'] === `bytes */${size}`,
        value,
      );
    }
  });

  it('evaluates conditional headers with RFC 7232 precedence', () => {
    const version = { etag: '"abc"', lastModified: new Date('2026-01-01T12:00:00.700Z') };
    const past = 'Thu, 01 Jan 2026 11:00:00 GMT';
    const same = 'Thu, 01 Jan 2026 12:00:00 GMT';
    const future = 'Thu, 01 Jan 2026 13:00:00 GMT';
    const check = (p: Parameters<typeof evaluatePreconditions>[1]) => evaluatePreconditions(version, p);
    assert.equal(check({}), 'pass');
    assert.equal(check({ ifMatch: '"abc"' }), 'pass');
    assert.equal(check({ ifMatch: 'abc' }), 'pass');
    assert.equal(check({ ifMatch: '"x", "abc"' }), 'pass');
    assert.equal(check({ ifMatch: '*' }), 'pass');
    assert.equal(check({ ifMatch: '"x"' }), 'failed');
    assert.equal(check({ ifUnmodifiedSince: past }), 'failed');
    assert.equal(check({ ifUnmodifiedSince: same }), 'pass', 'Last-Modified has whole seconds');
    assert.equal(check({ ifMatch: '"abc"', ifUnmodifiedSince: past }), 'pass', 'a matching If-Match makes If-Unmodified-Since moot');
    assert.equal(check({ ifNoneMatch: '"abc"' }), 'not-modified');
    assert.equal(check({ ifNoneMatch: 'W/"abc"' }), 'not-modified');
    assert.equal(check({ ifNoneMatch: '"x"' }), 'pass');
    assert.equal(check({ ifModifiedSince: same }), 'not-modified');
    assert.equal(check({ ifModifiedSince: future }), 'not-modified');
    assert.equal(check({ ifModifiedSince: past }), 'pass');
    assert.equal(check({ ifNoneMatch: '"abc"', ifModifiedSince: past }), 'not-modified', 'If-None-Match decides over If-Modified-Since');
    assert.equal(check({ ifNoneMatch: '"x"', ifModifiedSince: future }), 'pass');
    assert.equal(check({ ifMatch: '"x"', ifNoneMatch: '"abc"' }), 'failed', '412 before 304');
    assert.equal(check({ ifModifiedSince: 'not a date' }), 'pass', 'unparsable dates are ignored');
  });

  it('parses x-amz-copy-source', () => {
    assert.deepEqual(parseCopySource({ 'x-amz-copy-source': 'src/a/b.txt' }), { bucket: 'src', key: 'a/b.txt', versionId: undefined });
    assert.deepEqual(parseCopySource({ 'x-amz-copy-source': '/src/with%20space%3F%2B+%C3%BC' }), { bucket: 'src', key: 'with space?++ü', versionId: undefined });
    const versionId = newVersionId();
    assert.deepEqual(parseCopySource({ 'x-amz-copy-source': `/src/k?versionId=${versionId}` }), { bucket: 'src', key: 'k', versionId });
    for (const bad of ['src', 'src/', '/k', '', '%E0%A4%A/k']) unitError('InvalidArgument', () => parseCopySource({ 'x-amz-copy-source': bad }));
    unitError('InvalidArgument', () => parseCopySource({}));
    unitError('InvalidArgument', () => parseCopySource({ 'x-amz-copy-source': 'src/k?versionId=' }));
  });

  it('checks tag sets as S3 does', () => {
    assert.deepEqual(tagSet([['a', '1'], ['Name space', 'ü + - = . _ : / @']]), { a: '1', 'Name space': 'ü + - = . _ : / @' });
    assert.deepEqual(tagSet([['__proto__', 'x']]), Object.fromEntries([['__proto__', 'x']]));
    assert.deepEqual(tagSet([['k', '']]), { k: '' });
    const many = Array.from({ length: 11 }, (_, i): [string, string] => [`k${i}`, 'v']);
    unitError('InvalidTag', () => tagSet(many));
    assert.equal(Object.keys(tagSet(many.slice(0, 10))).length, 10);
    unitError('InvalidTag', () => tagSet([['k'.repeat(129), 'v']]));
    assert.ok(tagSet([['é'.repeat(128), 'é'.repeat(256)]]), 'limits count characters, not bytes');
    unitError('InvalidTag', () => tagSet([['k', 'v'.repeat(257)]]));
    unitError('InvalidTag', () => tagSet([['', 'v']]));
    unitError('InvalidTag', () => tagSet([['a', '1'], ['a', '2']]));
    unitError('InvalidTag', () => tagSet([['k', 'a,b']]));
    unitError('InvalidTag', () => tagSet([['aws:k', 'v']]));
  });

  it('stores a body only when it is as long as Content-Length says', async () => {
    const ctx = {
      config: { maxObjectSize: 100 },
      node: {
        id: 'test-node',
        async put(source: Readable) {
          let size = 0;
          for await (const chunk of source) size += (chunk as Buffer).length;
          return { blob: 'b'.repeat(64), size, xxhash64: '0'.repeat(16), md5: md5(''), checksums: {} };
        },
      },
    } as unknown as GatewayContext;
    const store = (body: string, headers: Record<string, string>) => storeBody(ctx, { body: Readable.from([Buffer.from(body)]), headers, checksums: Promise.resolve({ crc32: 'AAAAAA==' }) });
    const stored = await store('hello', { 'content-length': '5' });
    assert.deepEqual(stored, { size: 5, etag: `"${md5('')}"`, xxhash64: '0'.repeat(16), checksums: { crc32: 'AAAAAA==' }, placement: { blob: 'b'.repeat(64), nodes: ['test-node'] } });
    await assert.rejects(store('hello', { 'content-length': '10' }), (err) => err instanceof S3Error && err.code === 'IncompleteBody');
    await assert.rejects(store('hello', {}), (err) => err instanceof S3Error && err.code === 'MissingContentLength' && err.status === 411);
    await assert.rejects(store('hello', { 'content-length': '101' }), (err) => err instanceof S3Error && err.code === 'EntityTooLarge');
    await assert.rejects(store('hello', { 'content-length': '5x' }), (err) => err instanceof S3Error && err.code === 'InvalidArgument');
  });

  it('makes unique version ids that sort by creation', () => {
    const ids = Array.from({ length: 2000 }, () => newVersionId());
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    const prefixes = ids.map((id) => id.slice(0, 16));
    assert.deepEqual([...prefixes].sort(), prefixes);
  });
});

describe('object size limit', () => {
  it('refuses a body larger than the configured maximum before reading it', async () => {
    const h = await startPlinth({ maxObjectSize: 1000 });
    try {
      const Bucket = await newBucket(h.client, 'limits');
      await h.client.send(new PutObjectCommand({ Bucket, Key: 'fits', Body: Buffer.alloc(1000) }));
      await rejectsWith(h.client.send(new PutObjectCommand({ Bucket, Key: 'big', Body: Buffer.alloc(1001) })), 'EntityTooLarge', 400);
      await rejectsWith(h.client.send(new PutObjectCommand({ Bucket, Key: 'big', Body: Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), ContentLength: 1200 })), 'EntityTooLarge', 400);
      await rejectsWith(h.client.send(new GetObjectCommand({ Bucket, Key: 'big' })), 'NoSuchKey', 404);
    } finally {
      await h.stop();
    }
  });
});

describeEachBackend('object operations through the SDK', (server) => {
  let h: PlinthHarness;
  let s3: S3Client;
  before(() => {
    h = server();
    s3 = h.client;
  });

  /** The cost counters settle after a response body closes, so they are polled. */
  async function costsEventually(bucket: string, expect: (cost: Awaited<ReturnType<PlinthHarness['server']['meta']['costs']>>[number]) => boolean) {
    for (let i = 0; ; i++) {
      const [cost] = await h.server.meta.costs(bucket);
      if (cost && expect(cost)) return cost;
      if (i === 100) assert.fail(`costs never settled: ${JSON.stringify(cost)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('round-trips content, content headers, tags and user metadata', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const expires = new Date('2030-01-01T00:00:00Z');
    const put = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'docs/hello.txt',
        Body: 'hello world',
        ContentType: 'text/plain; charset=utf-8',
        ContentEncoding: 'identity',
        ContentDisposition: 'attachment; filename="hello.txt"',
        ContentLanguage: 'de',
        CacheControl: 'max-age=60',
        Expires: expires,
        Metadata: { color: 'blue', 'Mixed-Case': 'Value With Spaces' },
        Tagging: 'project=plinth&note=two%20words',
      }),
    );
    assert.equal(put.ETag, `"${md5('hello world')}"`);
    assert.equal(put.VersionId, undefined, 'no version id on an unversioned bucket');
    const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'docs/hello.txt' }));
    assert.equal(await text(get), 'hello world');
    assert.equal(get.$metadata.httpStatusCode, 200);
    assert.equal(get.ETag, put.ETag);
    assert.equal(get.ContentLength, 11);
    assert.equal(get.AcceptRanges, 'bytes');
    assert.equal(get.ContentType, 'text/plain; charset=utf-8');
    assert.equal(get.ContentEncoding, 'identity');
    assert.equal(get.ContentDisposition, 'attachment; filename="hello.txt"');
    assert.equal(get.ContentLanguage, 'de');
    assert.equal(get.CacheControl, 'max-age=60');
    assert.equal(get.ExpiresString, expires.toUTCString());
    assert.deepEqual(get.Metadata, { color: 'blue', 'mixed-case': 'Value With Spaces' });
    assert.equal(get.TagCount, 2);
    assert.ok(Math.abs(get.LastModified!.getTime() - Date.now()) < 10_000);
    assert.equal(get.LastModified!.getMilliseconds(), 0, 'Last-Modified is an HTTP date');
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'docs/hello.txt' }));
    assert.equal(head.ContentLength, 11);
    assert.deepEqual(head.Metadata, get.Metadata);
    assert.equal(head.ETag, put.ETag);
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'docs/hello.txt' }));
    assert.deepEqual(byKey(tags.TagSet), [
      { Key: 'note', Value: 'two words' },
      { Key: 'project', Value: 'plinth' },
    ]);

    await s3.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
    const empty = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty' }));
    assert.equal(await text(empty), '');
    assert.equal(empty.ETag, `"${md5('')}"`);
  });

  it('refuses oversized metadata and keys, and bad tagging and ACL headers', async () => {
    const Bucket = await newBucket(s3, 'objects');
    await s3.send(new PutObjectCommand({ Bucket, Key: 'at-limit', Body: 'x', Metadata: { m: 'v'.repeat(2047) } }));
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'over', Body: 'x', Metadata: { m: 'v'.repeat(2048) } })), 'MetadataTooLarge', 400);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k'.repeat(1024), Body: 'x' }));
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'é'.repeat(513), Body: 'x' })), 'KeyTooLongError', 400);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'tags', Body: 'x', Tagging: 'a=1&a=2' })), 'InvalidTag', 400);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'acl', Body: 'x', ACL: 'no-such-acl' as 'private' })), 'InvalidArgument', 400);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'over' })), 'NoSuchKey', 404);
  });

  it('checks Content-MD5 and flexible checksums, and echoes and returns the checksum', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const body = 'checksummed body';
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'sha', Body: body, ChecksumAlgorithm: 'SHA256' }));
    const sha256 = createHash('sha256').update(body).digest('base64');
    assert.equal(put.ChecksumSHA256, sha256);
    assert.equal(put.ChecksumType, 'FULL_OBJECT');
    const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'sha', ChecksumMode: 'ENABLED' }));
    assert.equal(get.ChecksumSHA256, sha256);
    assert.equal(await text(get), body);
    const plain = await s3.send(new HeadObjectCommand({ Bucket, Key: 'sha' }));
    assert.equal(plain.ChecksumSHA256, undefined, 'only sent when x-amz-checksum-mode is ENABLED');

    await s3.send(new PutObjectCommand({ Bucket, Key: 'md5', Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }));
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'bad-md5', Body: body, ContentMD5: createHash('md5').update('other').digest('base64') })), 'BadDigest', 400);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'bad-md5', Body: body, ContentMD5: 'not-md5' })), 'InvalidDigest', 400);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'bad-crc', Body: body, ChecksumCRC32: 'AAAAAA==' })), 'BadDigest', 400);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'bad-md5' })), 'NoSuchKey', 404);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'bad-crc' })), 'NoSuchKey', 404);
  });

  it('streams a 50 MiB body in and out without corruption', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const base = randomBytes(MiB);
    const chunk = (i: number) => {
      const c = Buffer.from(base);
      c.writeUInt32BE(i, 0);
      return c;
    };
    const inHash = createHash('sha256');
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 50; i++) {
          const c = chunk(i);
          inHash.update(c);
          yield c;
        }
      })(),
    );
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: source, ContentLength: 50 * MiB }));
    const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'big' }));
    assert.equal(get.ContentLength, 50 * MiB);
    const outHash = createHash('sha256');
    const outMd5 = createHash('md5');
    let received = 0;
    for await (const part of get.Body as Readable) {
      outHash.update(part);
      outMd5.update(part);
      received += part.length;
    }
    assert.equal(received, 50 * MiB);
    assert.equal(outHash.digest('hex'), inHash.digest('hex'));
    assert.equal(put.ETag, `"${outMd5.digest('hex')}"`);

    const across = await s3.send(new GetObjectCommand({ Bucket, Key: 'big', Range: `bytes=${3 * MiB - 10}-${3 * MiB + 9}` }));
    const expected = Buffer.concat([chunk(2).subarray(MiB - 10), chunk(3).subarray(0, 10)]);
    assert.deepEqual(Buffer.from(await across.Body!.transformToByteArray()), expected);
  });

  it('serves byte ranges and refuses unsatisfiable ones', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const body = 'abcdefghijklmnopqrstuvwxyz';
    await s3.send(new PutObjectCommand({ Bucket, Key: 'abc', Body: body }));
    const ranged = async (Range: string) => {
      const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'abc', Range }));
      return { status: out.$metadata.httpStatusCode, range: out.ContentRange, length: out.ContentLength, text: await text(out) };
    };
    assert.deepEqual(await ranged('bytes=0-4'), { status: 206, range: 'bytes 0-4/26', length: 5, text: 'abcde' });
    assert.deepEqual(await ranged('bytes=20-'), { status: 206, range: 'bytes 20-25/26', length: 6, text: 'uvwxyz' });
    assert.deepEqual(await ranged('bytes=-3'), { status: 206, range: 'bytes 23-25/26', length: 3, text: 'xyz' });
    assert.deepEqual(await ranged('bytes=24-100'), { status: 206, range: 'bytes 24-25/26', length: 2, text: 'yz' });
    assert.deepEqual(await ranged('bytes=0-1,3-4'), { status: 200, range: undefined, length: 26, text: body });
    assert.deepEqual(await ranged('bytes=5-2'), { status: 200, range: undefined, length: 26, text: body });
    const headers = await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'abc', Range: 'bytes=26-' })), 'InvalidRange', 416);
    assert.equal(headers['content-range'], 'bytes */26');
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'abc', Range: 'bytes=1-2' }));
    assert.equal(head.$metadata.httpStatusCode, 206);
    assert.equal(head.ContentLength, 2);
    assert.equal(head.ContentRange, 'bytes 1-2/26');
  });

  it('answers conditional GET and HEAD with S3 precedence', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'conditional' }));
    const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket, Key: 'cond' }));
    const past = new Date(LastModified!.getTime() - 60_000);
    const future = new Date(LastModified!.getTime() + 60_000);
    const get = (input: Partial<ConstructorParameters<typeof GetObjectCommand>[0]>) => s3.send(new GetObjectCommand({ Bucket, Key: 'cond', ...input }));
    const ok = async (input: Partial<ConstructorParameters<typeof GetObjectCommand>[0]>) => assert.equal(await text(await get(input)), 'conditional');

    await ok({ IfMatch: ETag });
    await ok({ IfMatch: '*' });
    await rejectsWith(get({ IfMatch: '"0123"' }), 'PreconditionFailed', 412);
    await rejectsWith(get({ IfNoneMatch: ETag }), undefined, 304);
    await ok({ IfNoneMatch: '"0123"' });
    await rejectsWith(get({ IfModifiedSince: future }), undefined, 304);
    await rejectsWith(get({ IfModifiedSince: LastModified }), undefined, 304);
    await ok({ IfModifiedSince: past });
    await rejectsWith(get({ IfUnmodifiedSince: past }), 'PreconditionFailed', 412);
    await ok({ IfUnmodifiedSince: LastModified });
    // The two combinations S3 documents.
    await ok({ IfMatch: ETag, IfUnmodifiedSince: past });
    await rejectsWith(get({ IfNoneMatch: ETag, IfModifiedSince: past }), undefined, 304);

    const notModified = await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key: 'cond', IfNoneMatch: ETag })), undefined, 304);
    assert.equal(notModified.etag, ETag);
    await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key: 'cond', IfMatch: '"0123"' })), undefined, 412);
  });

  it('overrides response headers for signed requests only', async () => {
    const Bucket = await newBucket(s3, 'objects', { acl: 'public-read' });
    await s3.send(new PutObjectCommand({ Bucket, Key: 'o.json', Body: '{}', ContentType: 'text/plain', ACL: 'public-read' }));
    const expires = new Date('2031-02-03T04:05:06Z');
    const out = await s3.send(
      new GetObjectCommand({
        Bucket,
        Key: 'o.json',
        ResponseContentType: 'application/json',
        ResponseContentDisposition: 'attachment; filename="o.json"',
        ResponseCacheControl: 'no-cache, über',
        ResponseContentLanguage: 'fr',
        ResponseContentEncoding: 'identity',
        ResponseExpires: expires,
      }),
    );
    assert.equal(out.ContentType, 'application/json');
    assert.equal(out.ContentDisposition, 'attachment; filename="o.json"');
    assert.equal(Buffer.from(out.CacheControl!, 'latin1').toString('utf8'), 'no-cache, über', 'sent as UTF-8');
    assert.equal(out.ContentLanguage, 'fr');
    assert.equal(out.ContentEncoding, 'identity');
    assert.equal(out.ExpiresString, expires.toUTCString());
    const anonymous = h.clientFor(null);
    const plain = await anonymous.send(new GetObjectCommand({ Bucket, Key: 'o.json' }));
    assert.equal(plain.ContentType, 'text/plain');
    assert.equal(await text(plain), '{}');
    await rejectsWith(anonymous.send(new GetObjectCommand({ Bucket, Key: 'o.json', ResponseContentType: 'application/json' })), 'InvalidRequest', 400);
    await rejectsWith(anonymous.send(new PutObjectCommand({ Bucket, Key: 'nope', Body: 'x' })), 'AccessDenied', 403);
  });

  it('reads, lists and deletes versions and delete markers', async () => {
    const Bucket = await newBucket(s3, 'objects', { versioning: 'Enabled' });
    const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'doc', Body: 'one' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket, Key: 'doc', Body: 'two' }));
    assert.match(v1.VersionId!, /^[0-9a-f]{32}$/);
    assert.notEqual(v1.VersionId, v2.VersionId);
    const latest = await s3.send(new GetObjectCommand({ Bucket, Key: 'doc' }));
    assert.equal(latest.VersionId, v2.VersionId);
    assert.equal(await text(latest), 'two');
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'doc', VersionId: v1.VersionId }))), 'one');
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'doc', VersionId: '0'.repeat(32) })), 'NoSuchVersion', 404);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'doc', VersionId: 'bogus' })), 'InvalidArgument', 400);

    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'doc' }));
    assert.equal(marker.DeleteMarker, true);
    assert.match(marker.VersionId!, /^[0-9a-f]{32}$/);
    const gone = await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'doc' })), 'NoSuchKey', 404);
    assert.equal(gone['x-amz-delete-marker'], 'true');
    assert.equal(gone['x-amz-version-id'], marker.VersionId);
    await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key: 'doc' })), 'NotFound', 404);
    const onMarker = await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'doc', VersionId: marker.VersionId })), 'MethodNotAllowed', 405);
    assert.equal(onMarker['x-amz-delete-marker'], 'true');
    assert.ok(onMarker['last-modified']);
    await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key: 'doc', VersionId: marker.VersionId })), undefined, 405);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'doc', VersionId: v1.VersionId }))), 'one');

    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket }));
    assert.deepEqual(listed.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]), [[marker.VersionId, true]]);
    assert.deepEqual(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[v2.VersionId, false], [v1.VersionId, false]]);

    const unmarked = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'doc', VersionId: marker.VersionId }));
    assert.equal(unmarked.DeleteMarker, true, 'the version removed was a delete marker');
    assert.equal(unmarked.VersionId, marker.VersionId);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'doc' }))), 'two');
    const removed = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'doc', VersionId: v2.VersionId }));
    assert.equal(removed.DeleteMarker, undefined);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'doc' }))), 'one');
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'doc', VersionId: '0'.repeat(32) }));
  });

  it('deletes in unversioned and suspended buckets as S3 does', async () => {
    const Bucket = await newBucket(s3, 'objects');
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'first' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'second!' }));
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket }));
    assert.deepEqual(versions.Versions?.map((v) => [v.VersionId, v.Size]), [['null', 7]], 'an overwrite replaces the null version');
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    assert.equal(deleted.DeleteMarker, undefined);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'k' })), 'NoSuchKey', 404);
    assert.equal((await s3.send(new DeleteObjectCommand({ Bucket, Key: 'never-was' }))).$metadata.httpStatusCode, 204);

    const Suspended = await newBucket(s3, 'objects', { versioning: 'Suspended' });
    const put = await s3.send(new PutObjectCommand({ Bucket: Suspended, Key: 's', Body: 'x' }));
    // S3 names no version on a write that made the 'null' version; reads of it say 'null'.
    assert.equal(put.VersionId, undefined);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: Suspended, Key: 's' }))).VersionId, 'null');
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: Suspended, Key: 's' }));
    assert.deepEqual([marker.DeleteMarker, marker.VersionId], [true, 'null']);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: Suspended }));
    assert.equal(listed.Versions, undefined, 'the null delete marker replaced the null version');
    assert.deepEqual(listed.DeleteMarkers?.map((m) => m.VersionId), ['null']);
  });

  it('deletes many objects, quietly or not, with per-key errors', async () => {
    const Bucket = await newBucket(s3, 'objects');
    for (const Key of ['k1', 'k2', 'k3', 'k4']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
    const verbose = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'k1' }, { Key: 'k2' }, { Key: 'missing' }] } }));
    assert.deepEqual(verbose.Deleted?.map((d) => d.Key), ['k1', 'k2', 'missing']);
    assert.equal(verbose.Errors, undefined);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Quiet: true, Objects: [{ Key: 'k3' }, { Key: 'k4', VersionId: 'bogus' }] } }));
    assert.equal(quiet.Deleted, undefined);
    assert.deepEqual(quiet.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [['k4', 'bogus', 'InvalidArgument']]);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'k3' })), 'NoSuchKey', 404);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'k4' }))), 'k4');

    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ Key: `x${i}` }));
    await rejectsWith(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: tooMany } })), 'MalformedXML', 400);
    const unchecked = withoutChecksums(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'k4' }] } }));
    await rejectsWith(s3.send(unchecked), 'InvalidRequest', 400);

    const Versioned = await newBucket(s3, 'objects', { versioning: 'Enabled' });
    const v = await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'a', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'b', Body: 'b' }));
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: Versioned, Delete: { Objects: [{ Key: 'a', VersionId: v.VersionId }, { Key: 'b' }] } }));
    assert.deepEqual(out.Deleted?.[0], { Key: 'a', VersionId: v.VersionId });
    assert.equal(out.Deleted?.[1]?.Key, 'b');
    assert.equal(out.Deleted?.[1]?.DeleteMarker, true);
    assert.match(out.Deleted?.[1]?.DeleteMarkerVersionId ?? '', /^[0-9a-f]{32}$/);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: Versioned }));
    assert.deepEqual(listed.Versions?.map((x) => x.Key), ['b']);
    assert.deepEqual(listed.DeleteMarkers?.map((x) => x.VersionId), [out.Deleted?.[1]?.DeleteMarkerVersionId]);
  });

  it('honours If-None-Match: * and If-Match on PutObject, one winner under a race', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const first = await s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'first', IfNoneMatch: '*' }));
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'second', IfNoneMatch: '*' })), 'PreconditionFailed', 412);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'second', IfMatch: '"0123"' })), 'PreconditionFailed', 412);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'absent', Body: 'x', IfMatch: first.ETag })), 'NoSuchKey', 404);
    await rejectsWith(s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'x', IfNoneMatch: first.ETag })), 'NotImplemented', 501);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'third', IfMatch: first.ETag }));
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'c' }))), 'third');

    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: 'race', Body: `writer ${i}`, IfNoneMatch: '*' }))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'PreconditionFailed');

    const Versioned = await newBucket(s3, 'objects', { versioning: 'Enabled' });
    await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'k', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'k' }));
    await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'k', Body: 'back', IfNoneMatch: '*' }));
  });

  it('copies a multipart object as one part: its ETag becomes the MD5 of its bytes', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(3000)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'assembled' }));
    const Parts = [];
    for (const [i, Body] of parts.entries()) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'assembled', UploadId, PartNumber: i + 1, Body }));
      Parts.push({ PartNumber: i + 1, ETag });
    }
    const source = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'assembled', UploadId, MultipartUpload: { Parts } }));
    assert.match(source.ETag!, /-2"$/);
    const whole = Buffer.concat(parts);
    const copied = await s3.send(new CopyObjectCommand({ Bucket, Key: 'flat', CopySource: `${Bucket}/assembled` }));
    assert.equal(copied.CopyObjectResult?.ETag, `"${createHash('md5').update(whole).digest('hex')}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'flat', PartNumber: 1 }));
    assert.equal(head.PartsCount, undefined, 'the copy is not a multipart object');
    assert.equal(head.ContentLength, whole.length);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'flat' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(whole));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'assembled' }))).ETag, source.ETag, 'the source is untouched');
  });

  it('copies with COPY and REPLACE directives, without moving bytes', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const Key = 'dir/with space/ü?&+.txt';
    const source = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'copy me', ContentType: 'text/plain', Metadata: { origin: 'source' }, Tagging: 't=1' }));
    const CopySource = `${Bucket}/${encodeURIComponent(Key)}`;
    const copied = await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource }));
    assert.equal(copied.CopyObjectResult?.ETag, source.ETag);
    assert.ok(copied.CopyObjectResult?.LastModified instanceof Date);
    const copy = await s3.send(new GetObjectCommand({ Bucket, Key: 'copy' }));
    assert.equal(await text(copy), 'copy me');
    assert.equal(copy.ContentType, 'text/plain');
    assert.deepEqual(copy.Metadata, { origin: 'source' });
    assert.equal(copy.TagCount, 1);
    const [from, to] = await Promise.all([h.server.meta.getObject(Bucket, Key), h.server.meta.getObject(Bucket, 'copy')]);
    assert.equal(to!.placement.blob, from!.placement.blob, 'the copy shares the source blob');

    await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'replaced', CopySource, MetadataDirective: 'REPLACE', ContentType: 'text/csv', Metadata: { fresh: 'yes' }, TaggingDirective: 'REPLACE', Tagging: 'a=b&c=d' }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket, Key: 'replaced' }));
    assert.equal(replaced.ContentType, 'text/csv');
    assert.deepEqual(replaced.Metadata, { fresh: 'yes' });
    assert.equal(replaced.TagCount, 2);
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy-meta-only', CopySource, Metadata: { ignored: 'x' } }));
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy-meta-only' }))).Metadata, { origin: 'source' }, 'COPY ignores request metadata');

    await rejectsWith(s3.send(new CopyObjectCommand({ Bucket, Key, CopySource })), 'InvalidRequest', 400);
    await s3.send(new CopyObjectCommand({ Bucket, Key, CopySource, MetadataDirective: 'REPLACE', Metadata: { origin: 'updated' } }));
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket, Key }))).Metadata, { origin: 'updated' });
    await rejectsWith(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource, MetadataDirective: 'MOVE' as 'COPY' })), 'InvalidArgument', 400);
    await rejectsWith(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/missing` })), 'NoSuchKey', 404);
    await rejectsWith(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `no-such-bucket-${randomBytes(4).toString('hex')}/k` })), 'NoSuchBucket', 404);

    const Other = await newBucket(s3, 'objects');
    await s3.send(new CopyObjectCommand({ Bucket: Other, Key: 'across', CopySource }));
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: Other, Key: 'across' }))), 'copy me');
    const stranger = await h.addUser();
    await rejectsWith(stranger.client.send(new CopyObjectCommand({ Bucket: Other, Key: 'stolen', CopySource })), 'AccessDenied', 403);
  });

  it('applies x-amz-copy-source-if-* conditions', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'conditional copy' }));
    const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket, Key: 'src' }));
    const past = new Date(LastModified!.getTime() - 60_000);
    const future = new Date(LastModified!.getTime() + 60_000);
    const copy = (input: Partial<ConstructorParameters<typeof CopyObjectCommand>[0]>) => s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/src`, ...input }));
    await copy({ CopySourceIfMatch: ETag });
    await copy({ CopySourceIfNoneMatch: '"0123"' });
    await copy({ CopySourceIfModifiedSince: past });
    await copy({ CopySourceIfUnmodifiedSince: future });
    await copy({ CopySourceIfMatch: ETag, CopySourceIfUnmodifiedSince: past });
    await rejectsWith(copy({ CopySourceIfMatch: '"0123"' }), 'PreconditionFailed', 412);
    await rejectsWith(copy({ CopySourceIfNoneMatch: ETag }), 'PreconditionFailed', 412);
    await rejectsWith(copy({ CopySourceIfModifiedSince: future }), 'PreconditionFailed', 412);
    await rejectsWith(copy({ CopySourceIfUnmodifiedSince: past }), 'PreconditionFailed', 412);
    await rejectsWith(copy({ CopySourceIfNoneMatch: ETag, CopySourceIfModifiedSince: past }), 'PreconditionFailed', 412);
  });

  it('copies a chosen version, never a delete marker', async () => {
    const Bucket = await newBucket(s3, 'objects', { versioning: 'Enabled' });
    const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'version one' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'version two' }));
    const out = await s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/src?versionId=${v1.VersionId}` }));
    assert.equal(out.CopySourceVersionId, v1.VersionId);
    assert.match(out.VersionId!, /^[0-9a-f]{32}$/);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'dst' }))), 'version one');
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'src', CopySource: `${Bucket}/src?versionId=${v1.VersionId}` }));
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket, Key: 'src' }))), 'version one', 'restoring an old version onto its key is allowed');
    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'src' }));
    await rejectsWith(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/src?versionId=${marker.VersionId}` })), 'InvalidRequest', 400);
    await rejectsWith(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/src` })), 'NoSuchKey', 404);
  });

  it('puts, gets and deletes tag sets, per version', async () => {
    const Bucket = await newBucket(s3, 'objects', { versioning: 'Enabled' });
    const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 't', Body: '1' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket, Key: 't', Body: '2', Tagging: 'initial=yes' }));
    const put = await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 't', Tagging: { TagSet: [{ Key: 'env', Value: 'prod' }, { Key: 'empty', Value: '' }] } }));
    assert.equal(put.VersionId, v2.VersionId);
    await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 't', VersionId: v1.VersionId, Tagging: { TagSet: [{ Key: 'old', Value: 'v1' }] } }));
    const latest = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't' }));
    assert.deepEqual(byKey(latest.TagSet), [{ Key: 'empty', Value: '' }, { Key: 'env', Value: 'prod' }]);
    assert.equal(latest.VersionId, v2.VersionId);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId: v1.VersionId }))).TagSet, [{ Key: 'old', Value: 'v1' }]);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 't' }))).TagCount, 2);

    const deleted = await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 't' }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't' }))).TagSet ?? [], []);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId: v1.VersionId }))).TagSet, [{ Key: 'old', Value: 'v1' }]);

    const tagging = (TagSet: { Key: string; Value: string }[]) => s3.send(new PutObjectTaggingCommand({ Bucket, Key: 't', Tagging: { TagSet } }));
    await rejectsWith(tagging(Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }))), 'InvalidTag', 400);
    await rejectsWith(tagging([{ Key: 'k'.repeat(129), Value: 'v' }]), 'InvalidTag', 400);
    await rejectsWith(tagging([{ Key: 'k', Value: 'v'.repeat(257) }]), 'InvalidTag', 400);
    await rejectsWith(tagging([{ Key: 'k', Value: '1' }, { Key: 'k', Value: '2' }]), 'InvalidTag', 400);
    await rejectsWith(s3.send(withoutChecksums(new PutObjectTaggingCommand({ Bucket, Key: 't', Tagging: { TagSet: [] } }))), 'InvalidRequest', 400);
    await tagging(Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}`, Value: 'v'.repeat(256) })));
    await rejectsWith(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'missing' })), 'NoSuchKey', 404);
    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 't' }));
    await rejectsWith(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't' })), 'NoSuchKey', 404);
    await rejectsWith(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId: marker.VersionId })), 'MethodNotAllowed', 405);
  });

  it('reads multipart objects by part number and across parts', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
    const uploaded = [];
    for (const [i, Body] of parts.entries()) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: i + 1, Body }));
      uploaded.push({ ETag, PartNumber: i + 1 });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: uploaded } }));
    const whole = Buffer.concat(parts);
    const all = await s3.send(new GetObjectCommand({ Bucket, Key: 'mp' }));
    assert.deepEqual(Buffer.from(await all.Body!.transformToByteArray()), whole);
    const second = await s3.send(new GetObjectCommand({ Bucket, Key: 'mp', PartNumber: 2 }));
    assert.equal(second.$metadata.httpStatusCode, 206);
    assert.equal(second.PartsCount, 3);
    assert.equal(second.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${whole.length}`);
    assert.deepEqual(Buffer.from(await second.Body!.transformToByteArray()), parts[1]);
    const span = await s3.send(new GetObjectCommand({ Bucket, Key: 'mp', Range: `bytes=${5 * MiB - 5}-${10 * MiB + 4}` }));
    assert.deepEqual(Buffer.from(await span.Body!.transformToByteArray()), whole.subarray(5 * MiB - 5, 10 * MiB + 5));
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'mp', PartNumber: 4 })), 'InvalidPartNumber', 416);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'mp', PartNumber: 1, Range: 'bytes=0-1' })), 'InvalidRequest', 400);

    await s3.send(new CopyObjectCommand({ Bucket, Key: 'mp-copy', CopySource: `${Bucket}/mp` }));
    const copy = await s3.send(new GetObjectCommand({ Bucket, Key: 'mp-copy', Range: `bytes=${10 * MiB - 2}-` }));
    assert.deepEqual(Buffer.from(await copy.Body!.transformToByteArray()), whole.subarray(10 * MiB - 2));

    await s3.send(new PutObjectCommand({ Bucket, Key: 'single', Body: 'one part' }));
    const only = await s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 1 }));
    assert.equal(await text(only), 'one part');
    assert.equal(only.PartsCount, undefined);
    await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 2 })), 'InvalidPartNumber', 416);
  });

  it('cuts the response when stored bytes fail their checksum', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const body = randomBytes(3 * MiB);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'fragile', Body: body }));
    const { placement } = (await h.server.meta.getObject(Bucket, 'fragile'))!;
    const file = await findFile(h.dataDir, placement.blob);
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from([body[2 * MiB + 17]! ^ 0xff]), 0, 1, 2 * MiB + 17);
    await handle.close();
    const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'fragile' }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    await assert.rejects(out.Body!.transformToByteArray());
    const head = await s3.send(new GetObjectCommand({ Bucket, Key: 'fragile', Range: 'bytes=0-99' }));
    assert.deepEqual(Buffer.from(await head.Body!.transformToByteArray()), body.subarray(0, 100), 'intact chunks still read');
  });

  it('counts requests, stored bytes and egress', async () => {
    const Bucket = await newBucket(s3, 'objects');
    const [created] = await h.server.meta.costs(Bucket);
    const baseline = created?.requests ?? { get: 0, put: 0, list: 0, delete: 0 };
    const body = Buffer.alloc(1000, 7);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k2', Body: body.subarray(0, 10) }));
    await (await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }))).Body!.transformToByteArray();
    await (await s3.send(new GetObjectCommand({ Bucket, Key: 'k', Range: 'bytes=0-99' }))).Body!.transformToByteArray();
    await s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }));
    await s3.send(new ListObjectVersionsCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: body.subarray(0, 400) }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k2' }));
    const cost = await costsEventually(Bucket, (c) => c.egressBytes === 1100);
    assert.equal(cost.bytesStored, 400);
    assert.deepEqual(
      { put: cost.requests.put - baseline.put, get: cost.requests.get - baseline.get, list: cost.requests.list - baseline.list, delete: cost.requests.delete - baseline.delete },
      { put: 3, get: 3, list: 1, delete: 1 },
    );
  });
});

async function findFile(dir: string, name: string): Promise<string> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  throw new Error(`${name} not found under ${dir}`);
}
