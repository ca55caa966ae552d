/**
 * Bad input gets S3's error for it and the server keeps serving: after each case a signed read of
 * an object stored up front must still succeed, and at the end every such object is intact.
 * Complements s3-auth.test.ts (wrong secrets, unknown keys, expired and tampered presigned URLs,
 * skew) and server.test.ts (bad percent-encoding, one oversized header, `..` keys, non-HTTP
 * text), which are not repeated here.
 *
 * The fuzzing at the end draws from PLINTH_FUZZ_SEED when set (printed as a diagnostic).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { fuzzSeed, SeededRandom } from './helpers/random.js';
import { bytesOf, rejectsWith } from './helpers/s3.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';
import { EMPTY_SHA256, errorCode, rawRequest, sign, unsignedChunks, type RawResponse } from './helpers/sigv4.js';

const MiB = 1024 * 1024;
const seed = fuzzSeed();
const random = new SeededRandom(seed);
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const md5Base64 = (data: Buffer | string) => createHash('md5').update(data).digest('base64');

/** What a raw exchange on one socket gave back before the server closed it. */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    socket.on('close', () => resolvePromise(reply));
    socket.on('error', reject);
  });
}

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** What a data directory may hold: the SQLite files, blobs and chunk tables by content address, temp and quarantine files. */
const DATA_LAYOUT = /^(metadata\.sqlite(-wal|-shm|-journal)?|data\/blobs\/([0-9a-f]{2})\/([0-9a-f]{2})\/\3\4[0-9a-f]{60}(\.xxc)?|data\/(tmp|quarantine)\/[^/]+)$/;

describe('bad input', () => {
  const Bucket = 'bad-input';
  /** Stored before any bad request and checked after them. */
  const kept = new Map([
    ['kept/small', randomBytes(1000)],
    ['kept/large', randomBytes(3 * MiB)],
    ['kept/empty', Buffer.alloc(0)],
  ]);
  let h: PlinthHarness;
  let s3: S3Client;
  let port: number;
  let host: string;

  before(async () => {
    h = await startPlinth();
    ({ client: s3, server: { port } } = h);
    host = `127.0.0.1:${port}`;
    await s3.send(new CreateBucketCommand({ Bucket }));
    for (const [Key, Body] of kept) await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
  });
  after(() => h.stop());

  /** A request signed by the admin, its payload hash and Content-MD5 matching `body`; `unsigned` headers are sent outside the signature. */
  function signed(method: string, path: string, options: { query?: [string, string][]; body?: string; headers?: Record<string, string>; unsigned?: string[] } = {}): Promise<RawResponse> {
    const headers = { ...(options.body !== undefined ? { 'content-md5': md5Base64(options.body) } : {}), ...options.headers };
    const request = sign({ method, path, query: options.query, host, headers, payloadHash: sha256(options.body ?? ''), keys: h.credentials, unsigned: options.unsigned });
    return rawRequest(port, method, request.target, request.headers, options.body);
  }

  async function stillServing(): Promise<void> {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'kept/small' }));
    assert.ok((await bytesOf(got.Body)).equals(kept.get('kept/small')!), 'a stored object still reads back');
  }

  async function keptIntact(): Promise<void> {
    for (const [Key, data] of kept) {
      const got = await bytesOf((await s3.send(new GetObjectCommand({ Bucket, Key }))).Body);
      assert.equal(sha256(got), sha256(data), Key);
    }
  }

  function expectError(res: RawResponse, status: number, code: string, what: string): void {
    assert.equal(res.status, status, `${what}: ${res.body}`);
    assert.equal(errorCode(res.body), code, what);
    assert.match(String(res.headers['x-amz-request-id']), /^[0-9A-F]{16}$/, `${what}: request id`);
  }

  it('refuses presigned URLs whose query was altered after signing', async () => {
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'kept/small' }), { expiresIn: 300 }));
    const altered = (change: (params: URLSearchParams) => void, path = url.pathname) => {
      const copy = new URL(url);
      copy.pathname = path;
      change(copy.searchParams);
      return rawRequest(port, 'GET', `${copy.pathname}${copy.search}`);
    };
    const date = url.searchParams.get('X-Amz-Date')!;
    const signature = url.searchParams.get('X-Amz-Signature')!;
    const cases: [string, Promise<RawResponse>, number, string][] = [
      ['an added parameter', altered((q) => q.set('response-content-type', 'text/html')), 403, 'SignatureDoesNotMatch'],
      ['another second in X-Amz-Date', altered((q) => q.set('X-Amz-Date', date.slice(0, 13) + (date.slice(13, 15) === '00' ? '01' : '00') + 'Z')), 403, 'SignatureDoesNotMatch'],
      ['one signature digit changed', altered((q) => q.set('X-Amz-Signature', (signature[0] === '0' ? '1' : '0') + signature.slice(1))), 403, 'SignatureDoesNotMatch'],
      ['more signed headers claimed', altered((q) => q.set('X-Amz-SignedHeaders', 'host;x-amz-date')), 403, 'SignatureDoesNotMatch'],
      ['another key in the path', altered(() => {}, `/${Bucket}/kept/large`), 403, 'SignatureDoesNotMatch'],
      ['another access key', altered((q) => q.set('X-Amz-Credential', q.get('X-Amz-Credential')!.replace(/^[^/]+/, 'NOSUCHACCESSKEY'))), 403, 'InvalidAccessKeyId'],
      ['the signature left out', altered((q) => q.delete('X-Amz-Signature')), 400, 'AuthorizationQueryParametersError'],
    ];
    for (const [what, response, status, code] of cases) {
      expectError(await response, status, code, what);
      await stillServing();
    }
    const untouched = await rawRequest(port, 'GET', `${url.pathname}${url.search}`);
    assert.equal(untouched.status, 200, 'the URL as signed still works');
  });

  describe('malformed XML bodies', () => {
    const NOT_XML = ['', 'not xml at all', '<', '<?xml version="1.0"?>', '\u0000\u0001binary'];

    async function refuses(bodies: string[], code: string, send: (body: string) => Promise<RawResponse>): Promise<void> {
      for (const body of bodies) {
        expectError(await send(body), 400, code, JSON.stringify(body));
        await stillServing();
      }
    }

    it('DeleteObjects: MalformedXML, UserKeyMustBeSpecified for an empty key, and nothing deleted', async () => {
      const deleteObjects = (body: string) => signed('POST', `/${Bucket}`, { query: [['delete', '']], body });
      await refuses(
        [
          ...NOT_XML,
          '<Delete><Object><Key>kept/small</Key></Object>',
          '<Other><Object><Key>kept/small</Key></Object></Other>',
          '<Delete></Delete>',
          '<Delete><Object><VersionId>null</VersionId></Object></Delete>',
          '<Delete><Object><Key><b>kept/small</b></Key></Object></Delete>',
          '<Delete><Object><Key>kept/small</Key><Key>kept/large</Key></Object></Delete>',
          '<Delete><Quiet>perhaps</Quiet><Object><Key>kept/small</Key></Object></Delete>',
          '<Delete><Quiet><yes/></Quiet><Object><Key>kept/small</Key></Object></Delete>',
        ],
        'MalformedXML',
        deleteObjects,
      );
      await refuses(['<Delete><Object><Key></Key></Object></Delete>', '<Delete><Object><Key>kept/small</Key></Object><Object><Key/></Object></Delete>'], 'UserKeyMustBeSpecified', deleteObjects);
      await keptIntact();
    });

    it('CompleteMultipartUpload: MalformedXML, and the upload stays completable', async () => {
      const Key = 'bad-complete';
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      const part = randomBytes(1000);
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part }));
      const complete = (body: string) => signed('POST', `/${Bucket}/${Key}`, { query: [['uploadId', UploadId!]], body });
      await refuses(
        [
          ...NOT_XML,
          `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${ETag}</ETag></Part>`,
          `<Complete><Part><PartNumber>1</PartNumber><ETag>${ETag}</ETag></Part></Complete>`,
          '<CompleteMultipartUpload></CompleteMultipartUpload>',
          `<CompleteMultipartUpload><Part><ETag>${ETag}</ETag></Part></CompleteMultipartUpload>`,
          '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
          `<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>${ETag}</ETag></Part></CompleteMultipartUpload>`,
          `<CompleteMultipartUpload><Part><PartNumber><n>1</n></PartNumber><ETag>${ETag}</ETag></Part></CompleteMultipartUpload>`,
        ],
        'MalformedXML',
        complete,
      );
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
      assert.deepEqual(uploads.Uploads?.map((u) => u.UploadId), [UploadId]);
      await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
      assert.ok((await bytesOf((await s3.send(new GetObjectCommand({ Bucket, Key }))).Body)).equals(part));
    });

    it('PutBucketVersioning: MalformedXML, and the state unchanged', async () => {
      await refuses(
        [
          ...NOT_XML,
          '<VersioningConfiguration><Status>Enabled</Status>',
          '<Versioning><Status>Enabled</Status></Versioning>',
          '<VersioningConfiguration><Status>Enabled</Status><MfaDelete><on/></MfaDelete></VersioningConfiguration>',
        ],
        'MalformedXML',
        (body) => signed('PUT', `/${Bucket}`, { query: [['versioning', '']], body }),
      );
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, undefined);
    });

    it('PutObjectTagging: MalformedXML, and the tags unchanged', async () => {
      const Key = 'kept/small';
      await s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: [{ Key: 'keep', Value: 'me' }] } }));
      await refuses(
        [
          ...NOT_XML,
          '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet>',
          '<Tags><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tags>',
          '<Tagging/>',
          '<Tagging><TagSet>no tags here</TagSet></Tagging>',
          '<Tagging><TagSet><Tag><Value>b</Value></Tag></TagSet></Tagging>',
          '<Tagging><TagSet><Tag><Key>a</Key><Value><v/></Value></Tag></TagSet></Tagging>',
          '<Tagging><TagSet><Tag>loose text</Tag></TagSet></Tagging>',
        ],
        'MalformedXML',
        (body) => signed('PUT', `/${Bucket}/${Key}`, { query: [['tagging', '']], body }),
      );
      assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet, [{ Key: 'keep', Value: 'me' }]);
    });

    it('decodes character references, as SDKs write line breaks in keys, and expands no declared entity', async () => {
      const keys = ['line\nbreak', 'carriage\rreturn', 'tab\there', 'amp&lt;'];
      for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key: `refs/${Key}`, Body: Key }));
      const deleted = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((k) => ({ Key: `refs/${k}` })) } }));
      assert.deepEqual(deleted.Deleted?.map((d) => d.Key).sort(), keys.map((k) => `refs/${k}`).sort());
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'refs/' }))).KeyCount, 0);

      const entities = Array.from({ length: 9 }, (_, i) => `<!ENTITY e${i + 1} "${`&e${i};`.repeat(10)}">`).join('');
      const bomb = `<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY e0 "boom">${entities}]><Delete><Object><Key>&e9;</Key></Object></Delete>`;
      expectError(await signed('POST', `/${Bucket}`, { query: [['delete', '']], body: bomb }), 400, 'MalformedXML', 'entities a DOCTYPE declares');
      await keptIntact();
    });
  });

  it('answers unsatisfiable ranges 416 InvalidRange with Content-Range, and ignores malformed ones', async () => {
    const unsatisfiable: [string, string, number][] = [
      ['kept/empty', 'bytes=0-0', 0],
      ['kept/empty', 'bytes=-1', 0],
      ['kept/small', 'bytes=-0', 1000],
      ['kept/small', 'bytes=1000-1000', 1000],
      ['kept/small', 'bytes=99999999999999999999-', 1000],
      ['kept/large', `bytes=${3 * MiB}-`, 3 * MiB],
    ];
    for (const [Key, Range, size] of unsatisfiable) {
      const headers = await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key, Range })), 'InvalidRange', 416);
      assert.equal(headers['content-range'], `bytes */${size}`, `${Key} ${Range}`);
      const head = await signed('HEAD', `/${Bucket}/${Key}`, { headers: { range: Range } });
      assert.equal(head.status, 416, `HEAD ${Key} ${Range}`);
      assert.equal(head.headers['content-range'], `bytes */${size}`);
      assert.equal(head.body, '');
      await stillServing();
    }
    for (const range of ['bytes=abc', 'items=0-1', 'bytes=', 'bytes=--1', 'bytes=1-2-3']) {
      const res = await signed('GET', `/${Bucket}/kept/small`, { headers: { range } });
      assert.equal(res.status, 200, range);
      assert.equal(res.headers['content-length'], '1000', range);
    }
  });

  it('sizes the header section, however many lines it has: RequestHeaderSectionTooLarge past 16 KiB', async () => {
    const lines = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-${i}`, '1']));
    const many = lines(1200);
    const served = await signed('GET', `/${Bucket}/kept/small`, { headers: many, unsigned: Object.keys(many) });
    assert.equal(served.status, 200, `1200 short header lines fit in 16 KiB, none dropped: ${served.body}`);
    expectError(await rawRequest(port, 'GET', `/${Bucket}/kept/small`, lines(3000)), 400, 'RequestHeaderSectionTooLarge', '3000 header lines');
    await stillServing();
    expectError(await rawRequest(port, 'GET', `/${Bucket}/${'k'.repeat(20_000)}`), 400, 'RequestHeaderSectionTooLarge', 'a 20 kB request line');
    await stillServing();
  });

  it('stores encoded dot segments as key names, never as paths', async () => {
    const marker = `plinth-escape-${randomBytes(6).toString('hex')}`;
    const encoded = ['%2e%2e/%2e%2e/%2e%2e/%2e%2e', '%2E%2E%2F%2E%2E%2F%2E%2E', '..%2f..', '..%5C..%5C..', '.%2e/.%2e/./..', '%2e%2e%5c%2e%2e'];
    for (const prefix of encoded) {
      const path = `/${Bucket}/${prefix}/${marker}`;
      const key = decodeURIComponent(`${prefix}/${marker}`);
      const put = await signed('PUT', path, { body: key });
      assert.equal(put.status, 200, `${path}: ${put.body}`);
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
      assert.equal(await got.Body!.transformToString(), key, path);
      await stillServing();
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    const names = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith(marker));
    assert.deepEqual(names.sort(), encoded.map((p) => decodeURIComponent(`${p}/${marker}`)).sort());

    const escaped = await signed('GET', `/%2e%2e/%2e%2e/%2e%2e/etc/passwd`);
    assert.ok(escaped.status === 400 || escaped.status === 404, `a bucket named .. is refused or missing: ${escaped.status}`);
    assert.ok(errorCode(escaped.body), escaped.body);
    assert.doesNotMatch(escaped.body, /root:/);
    for (const dir of [tmpdir(), resolve(h.dataDir, '..'), h.dataDir, join(h.dataDir, 'data')]) assert.equal(existsSync(join(dir, marker)), false, dir);
    const strays = (await filesUnder(h.dataDir)).filter((file) => !DATA_LAYOUT.test(file));
    assert.deepEqual(strays, [], 'every file in the data directory is a blob, a table or metadata');
  });

  it('stores nothing when the client closes the connection before the body it announced', async () => {
    const tmp = join(h.dataDir, 'data', 'tmp');
    const waitForTemp = async (present: boolean) => {
      for (let waited = 0; (await readdir(tmp)).length > 0 !== present && waited < 5000; waited += 20) await sleep(20);
      return (await readdir(tmp)).length > 0;
    };
    const blobsBefore = (await filesUnder(h.dataDir)).filter((f) => f.startsWith('data/blobs/'));
    const cut = async (Key: string, payloadHash: string, headers: Record<string, string>, sent: Buffer) => {
      const request = sign({ method: 'PUT', path: `/${Bucket}/${Key}`, host, headers, payloadHash, keys: h.credentials });
      const head = `PUT ${request.target} HTTP/1.1\r\n${Object.entries(request.headers).map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
      const socket = connect(port, '127.0.0.1');
      socket.write(Buffer.concat([Buffer.from(head), sent]));
      assert.equal(await waitForTemp(true), true, `${Key}: the body streams to a temp file before it is complete`);
      socket.destroy();
      assert.equal(await waitForTemp(false), false, `${Key}: the temp file is removed once the client is gone`);
    };
    const partial = randomBytes(256 * 1024);
    await cut('cut/unsigned', 'UNSIGNED-PAYLOAD', { 'content-length': String(MiB) }, partial);
    await cut('cut/signed', sha256(randomBytes(MiB)), { 'content-length': String(MiB) }, partial);
    const chunked = unsignedChunks([partial, partial], ['x-amz-checksum-crc32', 'AAAAAA==']);
    await cut(
      'cut/chunked',
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      { 'content-length': String(chunked.length), 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(2 * partial.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
      chunked.subarray(0, 300_000),
    );
    for (const Key of ['cut/unsigned', 'cut/signed', 'cut/chunked']) await rejectsWith(s3.send(new GetObjectCommand({ Bucket, Key })), 'NoSuchKey', 404);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'cut/' }))).KeyCount, 0);
    assert.deepEqual(await h.server.meta.stalePending(new Date(Date.now() + 60_000)), [], 'no pending version is left behind');
    assert.deepEqual((await filesUnder(h.dataDir)).filter((f) => f.startsWith('data/blobs/')), blobsBefore, 'no blob was stored');
    await stillServing();
  });

  it('answers bytes that are not HTTP with 400 and closes only that connection', async () => {
    const garbage = [
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
      Buffer.alloc(64, 0),
      Buffer.from('GET / HTTP/1.1\r\n'),
      Buffer.from(`GET /${'x'.repeat(70_000)}`),
      Buffer.from('GET / HTTP/9.9\r\nHost: a\r\n\r\n'),
      Buffer.from(`GET /${Bucket} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
      Buffer.from(`PUT /${Bucket}/k HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n`),
      Buffer.from(`GET /${Bucket} HTTP/1.1\r\nHost: a\r\nNot A Header\r\n\r\n`),
      random.bytes(4096),
    ];
    for (const bytes of garbage) {
      const reply = await exchange(port, bytes);
      assert.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(bytes.subarray(0, 40).toString('latin1')));
      assert.match(reply, /<Code>(InvalidRequest|RequestHeaderSectionTooLarge)<\/Code>/);
      await stillServing();
    }
  });

  describe('fuzzed requests', () => {
    const FUZZ_BUCKETS = ['fuzz', 'fuzz-versioned'];
    /** Mostly names that reach the handlers, some that stop at parsing or lookup. */
    const BUCKETS = { usual: FUZZ_BUCKETS, odd: ['no-such-bucket', 'UPPER', 'a', 'x'.repeat(70), '..', '%2e%2e', '_plinth', 'health', '%ZZ'] };
    const KEYS = { usual: ['k', 'dir/k', 'dir/sub/k', 'upload', 'new', 'sp%20ace', '%E2%98%83'], odd: ['a%2Fb', '%2e%2e/%2e%2e/k', '%00', '%ZZ', '/double', 'admin/users', 'k'.repeat(1030)] };
    const METHODS = { usual: ['GET', 'GET', 'PUT', 'PUT', 'HEAD', 'POST', 'DELETE'], odd: ['PATCH', 'OPTIONS', 'PROPFIND'] };
    /** Query parameters and values to draw from; `upload` is a multipart upload in progress. */
    const query = (upload: string): [string, string[]][] => [
      ['uploads', ['']], ['uploadId', [upload, upload, 'junk', '']], ['partNumber', ['1', '2', '0', '10001', 'x']], ['versioning', ['']], ['acl', ['']], ['tagging', ['']],
      ['delete', ['']], ['versions', ['']], ['list-type', ['2', '3']], ['prefix', ['d', 'dir/', '']], ['delimiter', ['/', '']], ['max-keys', ['0', '2', '-1', 'abc', '99999999999']],
      ['continuation-token', ['junk', '']], ['start-after', ['k']], ['versionId', ['null', 'junk', '']], ['location', ['']], ['cors', ['']], ['encoding-type', ['url', 'xml']],
      ['key-marker', ['k']], ['upload-id-marker', ['u', upload]], ['max-uploads', ['1', 'x']], ['part-number-marker', ['1', 'x']], ['max-parts', ['1', '-5']],
      ['version-id-marker', ['v']], ['marker', ['dir/']], ['response-content-type', ['text/html']], ['response-cache-control', ['no-cache']],
      ['X-Amz-Algorithm', ['AWS4-HMAC-SHA256', 'X']], ['X-Amz-Signature', ['00']], ['X-Amz-Credential', ['a/b/c/d/e']], ['X-Amz-Expires', ['10', '-1']],
    ];
    const HEADERS: [string, string[]][] = [
      ['range', ['bytes=0-0', 'bytes=5-', 'bytes=-3', 'bytes=9-1', 'bytes=0-1,2-3', 'bytes=x', 'bytes=99999999999999999999-']],
      ['if-match', ['*', '"abc"', 'junk']], ['if-none-match', ['*', '"abc"']], ['if-modified-since', ['Tue, 01 Jan 2030 00:00:00 GMT', 'junk']],
      ['if-unmodified-since', ['Tue, 01 Jan 2000 00:00:00 GMT']],
      ['x-amz-copy-source', ['fuzz/k', '/fuzz/k', `${Bucket}/kept/small`, `${Bucket}/kept/large`, 'no-such-bucket/k', 'fuzz/k?versionId=junk', 'fuzz-versioned/k?versionId=null', '%ZZ', 'fuzz']],
      ['x-amz-copy-source-range', ['bytes=0-0', 'bytes=5-1', 'bytes=0-99999999', 'junk']], ['x-amz-copy-source-if-match', ['"abc"']],
      ['x-amz-metadata-directive', ['COPY', 'REPLACE', 'junk']], ['x-amz-tagging-directive', ['COPY', 'REPLACE', 'junk']],
      ['x-amz-tagging', ['a=b', 'a=b&a=c', '%ZZ', 'aws:x=1', '=']], ['x-amz-acl', ['private', 'public-read', 'bogus']],
      ['x-amz-grant-read', ['id="admin"', 'junk', 'uri="http://acs.amazonaws.com/groups/global/AllUsers"']], ['x-amz-grant-full-control', ['id="nobody"']],
      ['content-md5', ['1B2M2Y8AsgTpgAmY7PhCfg==', 'junk']], ['x-amz-checksum-crc32', ['AAAAAA==', 'junk']], ['x-amz-checksum-sha256', [Buffer.alloc(32).toString('base64'), '']],
      ['x-amz-checksum-algorithm', ['CRC32', 'MD5']], ['x-amz-checksum-mode', ['ENABLED']], ['x-amz-trailer', ['x-amz-checksum-crc32', 'x-amz-checksum-md5']],
      ['x-amz-decoded-content-length', ['0', '5', 'junk']], ['content-encoding', ['aws-chunked', 'gzip', 'aws-chunked,gzip']],
      ['content-type', ['text/plain', ';;;', 'application/xml']], ['x-amz-meta-a', ['b', 'x'.repeat(3000)]], ['x-amz-storage-class', ['STANDARD', 'GLACIER']],
      ['x-amz-server-side-encryption', ['AES256']], ['x-amz-object-lock-mode', ['GOVERNANCE']], ['x-amz-date', ['junk']], ['expect', ['100-continue']],
    ];
    const XML_BODIES = [
      '<Delete><Object><Key>k</Key></Object><Quiet>true</Quiet></Delete>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>',
      '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
      '<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>',
      '<AccessControlPolicy><Owner><ID>admin</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>admin</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>',
    ];

    const usually = (pools: { usual: string[]; odd: string[] }, odds: number) => random.pick(random.chance(odds) ? pools.odd : pools.usual);
    const draw = (table: [string, string[]][], most: number) =>
      Array.from({ length: random.int(0, most) }, (): [string, string] => {
        const [name, values] = random.pick(table);
        return [name, random.pick(values)];
      });

    function body(): Buffer | undefined {
      switch (random.int(0, 5)) {
        case 0:
          return undefined;
        case 1:
          return random.bytes(random.int(0, 2000));
        case 2:
          return Buffer.from(random.pick(XML_BODIES));
        case 3: {
          const xml = Buffer.from(random.pick(XML_BODIES));
          const cut = xml.subarray(0, random.int(0, xml.length));
          if (cut.length > 0) cut[random.int(0, cut.length - 1)] = random.int(0, 255);
          return cut;
        }
        case 4:
          return unsignedChunks([random.bytes(random.int(0, 300))], ['x-amz-checksum-crc32', random.pick(['AAAAAA==', 'junk'])]);
        default:
          return random.bytes(random.int(60_000, 70_000));
      }
    }

    interface FuzzCase {
      method: string;
      path: string;
      query: [string, string][];
      headers: Record<string, string>;
      body?: Buffer;
      auth: 'admin' | 'wrong secret' | 'anonymous';
      payloadHash: string;
    }

    function fuzzCase(upload: string): FuzzCase {
      const key = random.chance(0.3) ? '' : usually(KEYS, 0.15);
      const payload = body();
      return {
        method: usually(METHODS, 0.05),
        path: `/${usually(BUCKETS, 0.15)}${key === '' ? '' : `/${key}`}`,
        query: draw(query(upload), 2),
        headers: Object.fromEntries(draw(HEADERS, 3)),
        body: payload,
        auth: random.chance(0.8) ? 'admin' : random.pick(['wrong secret', 'anonymous']),
        payloadHash: random.chance(0.7) ? sha256(payload ?? '') : random.pick(['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', EMPTY_SHA256, 'junk']),
      };
    }

    function send(c: FuzzCase): Promise<RawResponse> {
      if (c.auth === 'anonymous') {
        const target = c.query.length === 0 ? c.path : `${c.path}?${c.query.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&')}`;
        return rawRequest(port, c.method, target, c.headers, c.body);
      }
      const keys = c.auth === 'admin' ? h.credentials : { ...h.credentials, secretAccessKey: 'not-the-secret' };
      const request = sign({ method: c.method, path: c.path, query: c.query, host, headers: c.headers, payloadHash: c.payloadHash, keys });
      return rawRequest(port, c.method, request.target, request.headers, c.body);
    }

    let upload: string;
    before(async () => {
      for (const name of FUZZ_BUCKETS) {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
        for (const Key of ['k', 'dir/k', 'dir/sub/k']) await s3.send(new PutObjectCommand({ Bucket: name, Key, Body: `fuzz target ${Key}` }));
      }
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'fuzz-versioned', VersioningConfiguration: { Status: 'Enabled' } }));
      upload = (await s3.send(new CreateMultipartUploadCommand({ Bucket: 'fuzz', Key: 'upload' }))).UploadId!;
      await s3.send(new UploadPartCommand({ Bucket: 'fuzz', Key: 'upload', UploadId: upload, PartNumber: 1, Body: randomBytes(5 * MiB) }));
    });

    it('answers 1000 random requests without an internal error and keeps every stored object', async (t) => {
      t.diagnostic(`seed ${seed} (replay with PLINTH_FUZZ_SEED=${seed})`);
      const cases = Array.from({ length: 1000 }, () => fuzzCase(upload));
      const problems: string[] = [];
      let dropped = 0;
      let next = 0;
      const worker = async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const what = `${c.auth} ${c.method} ${c.path}?${new URLSearchParams(c.query)} ${JSON.stringify(c.headers)} body ${c.body?.length ?? 'none'}`;
          let res: RawResponse;
          try {
            res = await send(c);
          } catch {
            // The server may answer an early error and close while the body is still being sent.
            dropped++;
            continue;
          }
          if (res.status >= 500 && res.status !== 501) problems.push(`${res.status} for ${what}: ${res.body.slice(0, 300)}`);
          if (!/^[0-9A-F]{16}$/.test(String(res.headers['x-amz-request-id']))) problems.push(`no request id for ${what}`);
          const admin = c.path.startsWith('/_plinth/admin/');
          if (res.status >= 400 && res.body !== '' && !admin && errorCode(res.body) === undefined) problems.push(`no S3 error code for ${what}: ${res.body.slice(0, 300)}`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      t.diagnostic(`${dropped} of ${cases.length} connections closed before an answer`);
      assert.deepEqual(problems, []);
      assert.ok(dropped < cases.length / 10, `${dropped} requests got no answer`);

      await keptIntact();
      const health = await fetch(`${h.endpoint}/health`);
      assert.equal(health.status, 200);
      await s3.send(new PutObjectCommand({ Bucket, Key: 'after-fuzz', Body: 'still writable' }));
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'after-fuzz' }))).Body!.transformToString(), 'still writable');
      assert.deepEqual(await readdir(join(h.dataDir, 'data', 'tmp')), [], 'no temp file is left');
      assert.deepEqual(await h.server.meta.stalePending(new Date(Date.now() + 60_000)), [], 'no pending version is left');
    });
  });
});
