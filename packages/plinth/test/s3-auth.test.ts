import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutBucketAclCommand, PutObjectAclCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsChunkedDecoder } from '../src/s3/chunked.js';
import { checksummer } from '../src/s3/checksums.js';
import { signingKey } from '../src/s3/sigv4.js';
import { rejectsWith } from './helpers/s3.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';
import { EMPTY_SHA256, errorCode, rawRequest, sign, signedChunks, unsignedChunks } from './helpers/sigv4.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const crc32Base64 = (data: Buffer) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data));
  return b.toString('base64');
};

describe('SigV4 authentication', () => {
  let h: PlinthHarness;
  let s3: S3Client;
  let port: number;
  let host: string;
  const Bucket = 'auth-tests';

  before(async () => {
    h = await startPlinth();
    s3 = h.client;
    port = h.server.port;
    host = `127.0.0.1:${port}`;
    await s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(() => h.stop());

  const readBack = async (Key: string) => (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();
  const exists = async (Key: string) =>
    s3.send(new HeadObjectCommand({ Bucket, Key })).then(
      () => true,
      () => false,
    );

  it('accepts requests signed by the SDK, including a path with characters it encodes', async () => {
    const Key = "dir/it's (a) key!*~ $&+,;=@ é.txt";
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'signed' }));
    assert.equal(await readBack(Key), 'signed');
  });

  it('refuses a wrong secret with SignatureDoesNotMatch and the canonical request', async () => {
    const wrong = h.clientFor({ accessKeyId: h.credentials.accessKeyId, secretAccessKey: 'not-the-secret' });
    await rejectsWith(wrong.send(new ListObjectsV2Command({ Bucket })), 'SignatureDoesNotMatch', 403);
    const signed = sign({ method: 'GET', path: `/${Bucket}`, host, payloadHash: EMPTY_SHA256, keys: { accessKeyId: h.credentials.accessKeyId, secretAccessKey: 'nope' } });
    const res = await rawRequest(port, 'GET', signed.target, signed.headers);
    assert.equal(res.status, 403);
    assert.equal(errorCode(res.body), 'SignatureDoesNotMatch');
    assert.match(res.body, /<CanonicalRequest>GET\n\/auth-tests\n/);
    assert.match(res.body, /<StringToSign>AWS4-HMAC-SHA256\n/);
  });

  it('refuses an unknown access key with InvalidAccessKeyId', async () => {
    const stranger = h.clientFor({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'whatever-secret' });
    await rejectsWith(stranger.send(new ListObjectsV2Command({ Bucket })), 'InvalidAccessKeyId', 403);
  });

  it('refuses a request signed more than 15 minutes off with RequestTimeTooSkewed', async () => {
    for (const offset of [-16 * 60_000, 16 * 60_000]) {
      const signed = sign({ method: 'GET', path: `/${Bucket}`, host, payloadHash: EMPTY_SHA256, keys: h.credentials, date: new Date(Date.now() + offset) });
      const res = await rawRequest(port, 'GET', signed.target, signed.headers);
      assert.equal(res.status, 403);
      assert.equal(errorCode(res.body), 'RequestTimeTooSkewed');
    }
    const skewed = h.clientFor(h.credentials, { systemClockOffset: -20 * 60_000 });
    await rejectsWith(skewed.send(new ListObjectsV2Command({ Bucket })), 'RequestTimeTooSkewed', 403);
    const fine = sign({ method: 'GET', path: `/${Bucket}`, host, payloadHash: EMPTY_SHA256, keys: h.credentials, date: new Date(Date.now() - 10 * 60_000) });
    assert.equal((await rawRequest(port, 'GET', fine.target, fine.headers)).status, 200);
  });

  it('refuses x-amz-* headers the signature does not cover, a wrong region and SigV2', async () => {
    const signed = sign({ method: 'GET', path: `/${Bucket}`, host, payloadHash: EMPTY_SHA256, keys: h.credentials, headers: { 'x-amz-meta-sneaky': '1' }, unsigned: ['x-amz-meta-sneaky'] });
    const res = await rawRequest(port, 'GET', signed.target, signed.headers);
    assert.equal(res.status, 403);
    assert.match(res.body, /<HeadersNotSigned>x-amz-meta-sneaky<\/HeadersNotSigned>/);

    const elsewhere = sign({ method: 'GET', path: `/${Bucket}`, host, payloadHash: EMPTY_SHA256, keys: h.credentials, region: 'eu-west-1' });
    const wrongRegion = await rawRequest(port, 'GET', elsewhere.target, elsewhere.headers);
    assert.equal(wrongRegion.status, 400);
    assert.equal(errorCode(wrongRegion.body), 'AuthorizationHeaderMalformed');
    assert.match(wrongRegion.body, /<Region>us-east-1<\/Region>/);

    const v2 = await rawRequest(port, 'GET', `/${Bucket}`, { authorization: `AWS ${h.credentials.accessKeyId}:c2lnbmF0dXJl`, date: new Date().toUTCString() });
    assert.equal(v2.status, 400);
    assert.equal(errorCode(v2.body), 'InvalidRequest');
  });

  it('requires x-amz-content-sha256 on header-signed requests', async () => {
    const signed = sign({ method: 'GET', path: `/${Bucket}`, host, payloadHash: EMPTY_SHA256, keys: h.credentials });
    delete signed.headers['x-amz-content-sha256'];
    const res = await rawRequest(port, 'GET', signed.target, signed.headers);
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'InvalidRequest');
  });

  it('checks a hex x-amz-content-sha256 against the body before the write commits', async () => {
    const body = Buffer.from('the real body');
    const ok = sign({ method: 'PUT', path: `/${Bucket}/sha-ok`, host, payloadHash: sha256(body), keys: h.credentials });
    assert.equal((await rawRequest(port, 'PUT', ok.target, ok.headers, body)).status, 200);
    assert.equal(await readBack('sha-ok'), 'the real body');

    const lie = sign({ method: 'PUT', path: `/${Bucket}/sha-bad`, host, payloadHash: sha256('another body'), keys: h.credentials });
    const res = await rawRequest(port, 'PUT', lie.target, lie.headers, body);
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'XAmzContentSHA256Mismatch');
    assert.equal(await exists('sha-bad'), false);
  });

  describe('presigned URLs', () => {
    it('serves a presigned GET and accepts a presigned PUT', async () => {
      await s3.send(new PutObjectCommand({ Bucket, Key: 'presigned', Body: 'shared' }));
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned' }), { expiresIn: 300 });
      assert.match(url, /X-Amz-Signature=/);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'shared');

      const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'uploaded' }), { expiresIn: 300 });
      const put = await fetch(putUrl, { method: 'PUT', body: 'via presigned put' });
      assert.equal(put.status, 200, await put.text());
      assert.equal(await readBack('uploaded'), 'via presigned put');
    });

    it('refuses an expired URL with AccessDenied "Request has expired"', async () => {
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned' }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
      const res = await fetch(url);
      assert.equal(res.status, 403);
      const body = await res.text();
      assert.equal(errorCode(body), 'AccessDenied');
      assert.match(body, /Request has expired/);
    });

    it('refuses an expiry beyond 7 days and a tampered URL', async () => {
      const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned' }), { expiresIn: 300 }));
      url.searchParams.set('X-Amz-Expires', String(7 * 24 * 3600 + 1));
      const tooLong = await fetch(url);
      assert.equal(tooLong.status, 400);
      assert.equal(errorCode(await tooLong.text()), 'AuthorizationQueryParametersError');

      url.searchParams.set('X-Amz-Expires', '600');
      const tampered = await fetch(url);
      assert.equal(tampered.status, 403);
      assert.equal(errorCode(await tampered.text()), 'SignatureDoesNotMatch');
    });
  });

  describe('aws-chunked bodies', () => {
    it('takes a streamed PutObject from the SDK (unsigned payload with a CRC32 trailer)', async () => {
      const data = Buffer.alloc(300_000, 7);
      const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'sdk-stream', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
      assert.equal(put.ChecksumCRC32, crc32Base64(data));
      const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'sdk-stream' }))).Body!.transformToByteArray());
      assert.ok(got.equals(data));
    });

    const streamingPut = (Key: string, mode: string, extra: Record<string, string>, decoded: number) =>
      sign({
        method: 'PUT',
        path: `/${Bucket}/${Key}`,
        host,
        payloadHash: mode,
        keys: h.credentials,
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded), ...extra },
      });

    it('verifies chained chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', async () => {
      const chunks = [Buffer.alloc(65536, 'a'), Buffer.alloc(65536, 'b'), Buffer.from('tail')];
      const size = chunks.reduce((n, c) => n + c.length, 0);
      const signed = streamingPut('chunked-signed', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', {}, size);
      const res = await rawRequest(port, 'PUT', signed.target, signed.headers, signedChunks(signed, chunks));
      assert.equal(res.status, 200, res.body);
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'chunked-signed' }));
      assert.equal(head.ContentLength, size);
      assert.equal(head.ContentEncoding, undefined, 'aws-chunked is framing, not a stored encoding');
      assert.equal(await readBack('chunked-signed'), Buffer.concat(chunks).toString());
    });

    it('refuses a tampered chunk with SignatureDoesNotMatch and stores nothing', async () => {
      const chunks = [Buffer.alloc(8192, 'x'), Buffer.alloc(8192, 'y')];
      const signed = streamingPut('chunked-tampered', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', {}, 16384);
      const res = await rawRequest(port, 'PUT', signed.target, signed.headers, signedChunks(signed, chunks, { tamper: 1 }));
      assert.equal(res.status, 403);
      assert.equal(errorCode(res.body), 'SignatureDoesNotMatch');
      assert.equal(await exists('chunked-tampered'), false);
    });

    it('checks a signed trailer and its checksum (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)', async () => {
      const chunks = [Buffer.from('hello '), Buffer.from('trailer')];
      const data = Buffer.concat(chunks);
      const trailer = { 'x-amz-trailer': 'x-amz-checksum-crc32' };
      const good = streamingPut('trailer-ok', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', trailer, data.length);
      const ok = await rawRequest(port, 'PUT', good.target, good.headers, signedChunks(good, chunks, { trailer: ['x-amz-checksum-crc32', crc32Base64(data)] }));
      assert.equal(ok.status, 200, ok.body);
      assert.equal(await readBack('trailer-ok'), 'hello trailer');

      const bad = streamingPut('trailer-bad', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', trailer, data.length);
      const res = await rawRequest(port, 'PUT', bad.target, bad.headers, signedChunks(bad, chunks, { trailer: ['x-amz-checksum-crc32', crc32Base64(Buffer.from('other'))] }));
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'BadDigest');
      assert.equal(await exists('trailer-bad'), false);
    });

    it('checks an unsigned trailer checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', async () => {
      const data = Buffer.from('unsigned but checksummed');
      const headers = { 'x-amz-trailer': 'x-amz-checksum-crc32' };
      const good = streamingPut('unsigned-ok', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', headers, data.length);
      assert.equal((await rawRequest(port, 'PUT', good.target, good.headers, unsignedChunks([data], ['x-amz-checksum-crc32', crc32Base64(data)]))).status, 200);
      const bad = streamingPut('unsigned-bad', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', headers, data.length);
      const res = await rawRequest(port, 'PUT', bad.target, bad.headers, unsignedChunks([data], ['x-amz-checksum-crc32', 'AAAAAA==']));
      assert.equal(errorCode(res.body), 'BadDigest');
      assert.equal(await exists('unsigned-bad'), false);
    });

    it('refuses a body shorter than x-amz-decoded-content-length', async () => {
      const signed = streamingPut('short', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', {}, 100);
      const res = await rawRequest(port, 'PUT', signed.target, signed.headers, signedChunks(signed, [Buffer.from('only this')]));
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'IncompleteBody');
    });
  });

  describe('anonymous requests', () => {
    let anonymous: S3Client;
    before(async () => {
      anonymous = h.clientFor(null);
      await s3.send(new CreateBucketCommand({ Bucket: 'open-shelf' }));
      await s3.send(new PutObjectCommand({ Bucket: 'open-shelf', Key: 'notice.txt', Body: 'public notice' }));
    });

    it('are refused on a private bucket', async () => {
      await rejectsWith(anonymous.send(new GetObjectCommand({ Bucket: 'open-shelf', Key: 'notice.txt' })), 'AccessDenied', 403);
      await rejectsWith(anonymous.send(new ListObjectsV2Command({ Bucket: 'open-shelf' })), 'AccessDenied', 403);
    });

    it('may list, not write, a public-read bucket, and read only its public objects; may write a public-read-write one', async () => {
      await s3.send(new PutBucketAclCommand({ Bucket: 'open-shelf', ACL: 'public-read' }));
      assert.equal((await anonymous.send(new ListObjectsV2Command({ Bucket: 'open-shelf' }))).KeyCount, 1);
      // As S3: the bucket's ACL lets anyone list it; reading an object takes that object's ACL.
      await rejectsWith(anonymous.send(new GetObjectCommand({ Bucket: 'open-shelf', Key: 'notice.txt' })), 'AccessDenied', 403);
      await rejectsWith(anonymous.send(new GetObjectCommand({ Bucket: 'open-shelf', Key: 'no-such-notice' })), 'NoSuchKey', 404);
      await s3.send(new PutObjectAclCommand({ Bucket: 'open-shelf', Key: 'notice.txt', ACL: 'public-read' }));
      assert.equal(await (await anonymous.send(new GetObjectCommand({ Bucket: 'open-shelf', Key: 'notice.txt' }))).Body!.transformToString(), 'public notice');
      await rejectsWith(anonymous.send(new PutObjectCommand({ Bucket: 'open-shelf', Key: 'graffiti', Body: 'x' })), 'AccessDenied', 403);
      const plain = await fetch(`${h.endpoint}/open-shelf/notice.txt`);
      assert.equal(await plain.text(), 'public notice');

      await s3.send(new PutBucketAclCommand({ Bucket: 'open-shelf', ACL: 'public-read-write' }));
      await anonymous.send(new PutObjectCommand({ Bucket: 'open-shelf', Key: 'guestbook', Body: 'was here' }));
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'open-shelf', Key: 'guestbook' }))).Body!.transformToString(), 'was here');
    });
  });
});

describe('payload decoding', () => {
  it('computes the flexible checksums’ check values', () => {
    const check = Buffer.from('123456789');
    const hex = (algorithm: Parameters<typeof checksummer>[0]) => {
      const sum = checksummer(algorithm);
      sum.update(check.subarray(0, 4));
      sum.update(check.subarray(4));
      return Buffer.from(sum.digest(), 'base64').toString('hex');
    };
    assert.equal(hex('crc32'), 'cbf43926');
    assert.equal(hex('crc32c'), 'e3069283');
    assert.equal(hex('crc64nvme'), 'ae8b14860a799888');
    assert.equal(hex('sha256'), sha256(check));
  });

  it('decodes signed aws-chunked framing fed one byte at a time', async () => {
    const keys = { accessKeyId: 'AKID', secretAccessKey: 'secret-for-unit-test' };
    const date = new Date('2024-05-01T12:00:00Z');
    const signed = sign({ method: 'PUT', path: '/b/k', host: 'h', payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', keys, date });
    assert.ok(signed.signingKey.equals(signingKey(keys.secretAccessKey, '20240501', 'us-east-1')), 'both signers derive the same key');
    const chunks = [Buffer.from('first chunk;'), Buffer.from('second\r\nchunk')];
    const data = Buffer.concat(chunks);
    const encoded = signedChunks(signed, chunks, { trailer: ['x-amz-checksum-crc32', crc32Base64(data)] });
    const decoder = new AwsChunkedDecoder({ signing: { signingKey: signed.signingKey, timestamp: signed.timestamp, scope: signed.scope, seedSignature: signed.signature }, trailer: true, decodedLength: data.length });
    const out: Buffer[] = [];
    decoder.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((resolve, reject) => decoder.on('end', resolve).on('error', reject));
    for (const byte of encoded) decoder.write(Buffer.from([byte]));
    decoder.end();
    await ended;
    assert.ok(Buffer.concat(out).equals(data));
    assert.deepEqual(decoder.trailers, { 'x-amz-checksum-crc32': crc32Base64(data) });
  });

  it('refuses a body cut before its final chunk', async () => {
    const decoder = new AwsChunkedDecoder({ signing: null, trailer: true });
    decoder.resume();
    const failed = new Promise<Error>((resolve) => decoder.on('error', resolve));
    decoder.end(Buffer.from('5\r\nhello\r\n'));
    assert.equal(((await failed) as { code?: string }).code, 'IncompleteBody');
  });
});
