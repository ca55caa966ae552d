/**
 * A second client: test/fixtures/boto3_smoke.py drives Plinth through Debian's boto3 (for
 * /usr/bin/python3, as .ci/run installs it) and prints what it saw; this file checks that against
 * what it computes itself and against the stored objects, read back with the AWS SDK for JavaScript.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, it } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { bytesOf, describeEachBackend } from './helpers/s3.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'boto3_smoke.py');
const MiB = 1024 * 1024;

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

function crc32Base64(data: Buffer | string): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data));
  return out.toString('base64');
}

/** S3's multipart ETag of an object uploaded in parts of `partSize`, computed here from its bytes. */
function multipartEtag(data: Buffer, partSize: number): string {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += partSize) parts.push(createHash('md5').update(data.subarray(at, at + partSize)).digest());
  return `"${md5(Buffer.concat(parts))}-${parts.length}"`;
}

/**
 * A TLS front for the server (a throwaway self-signed certificate from openssl), passing bytes
 * through untouched so the signatures still match.
 */
async function tlsFront(port: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-tls-'));
  try {
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) => {
      const upstream = connect(port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // Connections still open at the end die with the process; the test server stops first.
    server.unref();
    return server;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ErrorSeen {
  code: string;
  status: number;
}

/** What boto3_smoke.py prints. */
interface Summary {
  botocore: string;
  buckets: string[];
  put: { etag: string; md5: string };
  get: { body: string; contentType: string; metadata: Record<string, string> };
  head: { length: number; etag: string; metadata: Record<string, string> };
  checksum: { crc32: string; body: string };
  list: { keys: string[]; prefixes: string[]; keyCount: number };
  paginated: { pages: number; keys: string[] };
  copy: { body: string; metadata: Record<string, string> };
  deleteObjects: { deleted: string[]; errors: unknown[]; left: string[] };
  multipart: { sentMd5: string; etag: string; length: number; readMd5: string; uploadsLeft: number };
  awsChunked: { requests: [string, string, string][]; crc32: string; md5: string; bigMd5: string };
  presigned: { status: number; body: string };
  versioning: { status: string; written: [string, string]; listed: [string, boolean][]; oldBody: string };
  errors: { noSuchKey: ErrorSeen; noSuchBucket: ErrorSeen; headMissing: ErrorSeen };
}

describeEachBackend('boto3 against Plinth', (server) => {
  const Bucket = 'boto3-smoke';
  let summary: Summary;
  const stored = async (Key: string) => bytesOf((await server().client.send(new GetObjectCommand({ Bucket, Key }))).Body);

  before(async () => {
    const h = server();
    const tls = await tlsFront(h.server.port);
    const { port } = tls.address() as AddressInfo;
    try {
      const args = [SCRIPT, h.endpoint, `https://127.0.0.1:${port}`, h.credentials.accessKeyId, h.credentials.secretAccessKey, Bucket];
      const { stdout } = await promisify(execFile)('/usr/bin/python3', args, { maxBuffer: 4 * MiB });
      summary = JSON.parse(stdout) as Summary;
    } finally {
      tls.close();
    }
  });

  it('creates a bucket, puts, gets and heads an object with its metadata', () => {
    const body = 'hello from boto3\n';
    assert.ok(summary.buckets.includes(Bucket));
    assert.deepEqual(summary.put, { etag: `"${md5(body)}"`, md5: md5(body) });
    assert.deepEqual(summary.get, { body, contentType: 'text/plain', metadata: { color: 'blue', shape: 'round' } });
    assert.deepEqual(summary.head, { length: body.length, etag: `"${md5(body)}"`, metadata: { color: 'blue', shape: 'round' } });
    assert.deepEqual(summary.checksum, { crc32: crc32Base64('with a flexible checksum'), body: 'with a flexible checksum' });
  });

  it('lists with prefix and delimiter, and pages with the paginator', () => {
    assert.deepEqual(summary.list, { keys: ['dir/a.txt', 'dir/b.txt'], prefixes: ['dir/sub/'], keyCount: 3 });
    const all = ['checked.txt', 'dir/a.txt', 'dir/b.txt', 'dir/sub/c.txt', 'dir/sub/d.txt', 'greeting.txt', 'top.txt'];
    assert.deepEqual(summary.paginated, { pages: Math.ceil(all.length / 2), keys: all });
  });

  it('copies with the metadata and deletes many keys at once', () => {
    assert.deepEqual(summary.copy, { body: 'hello from boto3\n', metadata: { color: 'blue', shape: 'round' } });
    assert.deepEqual(summary.deleteObjects, { deleted: ['dir/a.txt', 'dir/sub/c.txt', 'never-existed'], errors: [], left: ['dir/b.txt', 'dir/sub/d.txt'] });
  });

  it('takes upload_fileobj in 5 MiB parts and gives the object back whole', async () => {
    const data = await stored('big.bin');
    assert.equal(md5(data), summary.multipart.sentMd5, 'stored bytes are the bytes boto3 sent');
    assert.deepEqual(summary.multipart, { sentMd5: md5(data), etag: multipartEtag(data, 5 * MiB), length: data.length, readMd5: md5(data), uploadsLeft: 0 });
  });

  it('takes aws-chunked bodies with trailing checksums as botocore sends them over HTTPS', async (t) => {
    t.diagnostic(`botocore ${summary.botocore}`);
    const { requests, crc32, md5: sentMd5, bigMd5 } = summary.awsChunked;
    assert.deepEqual(requests, [
      ['aws-chunked', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-checksum-crc32'],
      ...Array.from({ length: 3 }, () => ['aws-chunked', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-checksum-sha256']),
    ]);
    const small = await stored('chunked.bin');
    assert.equal(md5(small), sentMd5);
    assert.equal(crc32, crc32Base64(small), 'the trailer checksum is echoed');
    assert.equal(md5(await stored('chunked-big.bin')), bigMd5);
  });

  it('serves a presigned URL to a plain HTTP client', () => {
    assert.deepEqual(summary.presigned, { status: 200, body: 'hello from boto3\n' });
  });

  it('keeps versions once versioning is on', () => {
    const [first, second] = summary.versioning.written;
    assert.notEqual(first, second);
    assert.deepEqual(summary.versioning, { status: 'Enabled', written: [first, second], listed: [[second, true], [first, false]], oldBody: 'one' });
  });

  it('answers errors botocore maps to NoSuchKey and NoSuchBucket', () => {
    assert.deepEqual(summary.errors, {
      noSuchKey: { code: 'NoSuchKey', status: 404 },
      noSuchBucket: { code: 'NoSuchBucket', status: 404 },
      // HEAD errors have no body, so botocore names them by status.
      headMissing: { code: '404', status: 404 },
    });
  });
});
