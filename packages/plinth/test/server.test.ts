import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3Client as Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import pino from 'pino';
import { parseAddress, resolveOperation } from '../src/s3/router.js';
import { PlinthServer } from '../src/server.js';
import { startServe } from './helpers/serve.js';
import { startPlinth, type Credentials, type PlinthHarness } from './helpers/server.js';
import { errorCode, rawRequest, sign, type RawResponse } from './helpers/sigv4.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A logger whose JSON lines are kept, to check what was (and was not) logged. */
function capturingLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return {
    logger: pino({ level: 'info' }, sink),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A signed request made by hand (admin API, odd paths, virtual hosts). */
function signedRequest(port: number, keys: Credentials, method: string, path: string, options: { query?: [string, string][]; body?: string; host?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const host = options.host ?? `127.0.0.1:${port}`;
  const signed = sign({ method, path, query: options.query, host, headers: options.headers, payloadHash: sha256(options.body ?? ''), keys });
  return rawRequest(port, method, signed.target, signed.headers, options.body);
}

describe('server', () => {
  let h: PlinthHarness;
  let s3: Client;
  let port: number;
  const logs = capturingLogger();

  before(async () => {
    h = await startPlinth({ logger: logs.logger });
    s3 = h.client;
    port = h.server.port;
    await s3.send(new CreateBucketCommand({ Bucket: 'served' }));
    await s3.send(new PutObjectCommand({ Bucket: 'served', Key: 'hello.txt', Body: 'hello' }));
  });
  after(() => h.stop());

  it('answers /health with the metadata backend and the node’s usage', async () => {
    const res = await fetch(`${h.endpoint}/health`);
    assert.equal(res.status, 200);
    const health = (await res.json()) as Record<string, any>;
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.metadata, { backend: 'sqlite', status: 'up' });
    assert.equal(health.node.id, 'local');
    assert.equal(health.node.status, 'up');
    assert.ok(health.node.blobs >= 1 && health.node.bytes >= 5);
  });

  it('exposes Prometheus metrics on /metrics', async () => {
    await s3.send(new GetObjectCommand({ Bucket: 'served', Key: 'hello.txt' })).then((r) => r.Body!.transformToString());
    const res = await fetch(`${h.endpoint}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain/);
    const text = await res.text();
    for (const name of ['plinth_objects_total', 'plinth_bytes_stored', 'plinth_http_requests_total', 'plinth_http_request_duration_seconds', 'plinth_http_bytes_in_total', 'plinth_http_bytes_out_total', 'plinth_gc_runs_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^plinth_http_requests_total\{method="PUT",operation="PutObject",status="200"\} 1$/m);
    assert.match(text, /^plinth_http_request_duration_seconds_count\{method="GET",operation="GetObject"\} [1-9]/m);
    assert.match(text, /^plinth_http_bytes_in_total\{operation="PutObject"\} 5$/m);
    assert.match(text, /^plinth_http_bytes_out_total\{operation="GetObject"\} [1-9]/m);
    assert.match(text, /^plinth_bytes_stored [1-9]/m);
    assert.match(text, /^plinth_objects_total 1$/m);
  });

  it('puts request ids on every response, in error bodies and on each request’s log line', async () => {
    const ok = await fetch(`${h.endpoint}/health`);
    assert.match(ok.headers.get('x-amz-request-id')!, /^[0-9A-F]{16}$/);
    assert.ok(ok.headers.get('x-amz-id-2'));
    const denied = await fetch(`${h.endpoint}/served/hello.txt`);
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('content-type'), 'application/xml');
    const body = await denied.text();
    const id = denied.headers.get('x-amz-request-id')!;
    assert.match(body, new RegExp(`<RequestId>${id}</RequestId>`));
    assert.match(body, /<Resource>\/served\/hello.txt<\/Resource>/);
    assert.match(body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>/);
    await new Promise((r) => setTimeout(r, 50));
    const line = logs.lines().find((l) => l.requestId === id);
    assert.ok(line, 'the request has a log line with its id');
    assert.equal(line.operation, 'GetObject');
    assert.equal(line.status, 403);
  });

  it('keeps presigned signatures out of the request log', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'served', Key: 'hello.txt' }), { expiresIn: 60 });
    const res = await fetch(url);
    assert.equal(await res.text(), 'hello');
    await new Promise((r) => setTimeout(r, 50));
    const line = logs.lines().find((l) => l.requestId === res.headers.get('x-amz-request-id'));
    assert.match(String(line?.url), /X-Amz-Signature=REDACTED/);
    assert.ok(!logs.text().includes(new URL(url).searchParams.get('X-Amz-Signature')!));
  });

  it('answers HEAD errors without a body', async () => {
    const res = await rawRequest(port, 'HEAD', '/served/hello.txt');
    assert.equal(res.status, 403);
    assert.equal(res.body, '');
    assert.equal(res.headers['content-type'], 'application/xml');
    const signed = await signedRequest(port, h.credentials, 'HEAD', '/served/missing');
    assert.equal(signed.status, 404);
    assert.equal(signed.body, '');
  });

  it('answers unknown operations NotImplemented and wrong methods MethodNotAllowed', async () => {
    const cors = await signedRequest(port, h.credentials, 'GET', '/served', { query: [['cors', '']] });
    assert.equal(cors.status, 501);
    assert.equal(errorCode(cors.body), 'NotImplemented');
    const patch = await signedRequest(port, h.credentials, 'PATCH', '/served/hello.txt');
    assert.equal(patch.status, 405);
    assert.equal(errorCode(patch.body), 'MethodNotAllowed');
    const post = await signedRequest(port, h.credentials, 'POST', '/served/hello.txt');
    assert.equal(errorCode(post.body), 'MethodNotAllowed');
    const putService = await signedRequest(port, h.credentials, 'PUT', '/');
    assert.equal(errorCode(putService.body), 'MethodNotAllowed');
  });

  describe('malformed requests', () => {
    const stillServing = async () => assert.equal((await s3.send(new ListBucketsCommand({}))).Buckets?.some((b) => b.Name === 'served'), true);

    it('bad percent-encoding is InvalidURI', async () => {
      for (const target of ['/served/%ZZ', '/served/%E0%A4%A', '/served/x?prefix=%']) {
        const res = await rawRequest(port, 'GET', target);
        assert.equal(res.status, 400, target);
        assert.equal(errorCode(res.body), 'InvalidURI', target);
      }
      await stillServing();
    });

    it('an oversized header section is RequestHeaderSectionTooLarge', async () => {
      const res = await rawRequest(port, 'GET', '/served', { 'x-padding': 'p'.repeat(40_000) });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'RequestHeaderSectionTooLarge');
      assert.match(String(res.headers['x-amz-request-id']), /^[0-9A-F]{16}$/);
      assert.ok(res.headers['x-amz-id-2']);
      await stillServing();
    });

    it('bytes that are not HTTP get a 400 and the connection closed', async () => {
      const reply = await new Promise<string>((resolvePromise, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('close', () => resolvePromise(text));
        socket.on('error', reject);
      });
      assert.match(reply, /^HTTP\/1.1 400 /);
      assert.match(reply, /<Code>InvalidRequest<\/Code>/);
      await stillServing();
    });

    it('asks for the body (100 Continue) only once the request will take it, and ignores other expectations, as S3', async () => {
      const body = 'sent after 100 Continue';
      /** A signed PUT with Expect: 100-continue: the first status line, then everything once closed. */
      const expectingPut = (path: string) =>
        new Promise<{ first: string; all: string }>((resolvePromise, reject) => {
          const signed = sign({ method: 'PUT', path, host: `127.0.0.1:${port}`, headers: { expect: '100-continue', 'content-length': String(body.length) }, payloadHash: sha256(body), keys: h.credentials });
          const socket = connect(port, '127.0.0.1', () => {
            const head = Object.entries({ ...signed.headers, connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
            socket.write(`PUT ${signed.target} HTTP/1.1\r\n${head}\r\n`);
          });
          let all = '';
          let first: string | undefined;
          socket.on('data', (d) => {
            all += d.toString();
            if (first !== undefined) return;
            first = all.split('\r\n')[0]!;
            if (first.startsWith('HTTP/1.1 100 ')) socket.write(body);
          });
          socket.on('close', () => resolvePromise({ first: first ?? '', all }));
          socket.on('error', reject);
        });
      // Refused before the body is wanted: the final answer comes at once, and no body was sent.
      const refused = await expectingPut('/no-such-bucket/k');
      assert.match(refused.first, /^HTTP\/1.1 404 /);
      assert.match(refused.all, /<Code>NoSuchBucket<\/Code>/);
      // Taken: 100 Continue, the body, then 200 and the object stored.
      const taken = await expectingPut('/served/continued');
      assert.equal(taken.first, 'HTTP/1.1 100 Continue');
      assert.match(taken.all, /\r\n\r\nHTTP\/1.1 200 /);
      assert.equal((await signedRequest(port, h.credentials, 'GET', '/served/continued')).body, body);
      // Any other expectation is ignored rather than answered 417.
      const other = await signedRequest(port, h.credentials, 'PUT', '/served/expect-200', { body: 'x', headers: { expect: '200' } });
      assert.equal(other.status, 200, other.body);
      await stillServing();
    });

    it('a Content-Type fastify could not parse is stored as given, as S3 does', async () => {
      const put = await signedRequest(port, h.credentials, 'PUT', '/served/odd-type', { body: 'x', headers: { 'content-type': ';;not a media type' } });
      assert.equal(put.status, 200, put.body);
      const get = await signedRequest(port, h.credentials, 'GET', '/served/odd-type');
      assert.equal(get.headers['content-type'], ';;not a media type');
    });

    it('a too-long key is KeyTooLongError', async () => {
      const res = await signedRequest(port, h.credentials, 'PUT', `/served/${'k'.repeat(1025)}`, { body: 'x' });
      assert.equal(errorCode(res.body), 'KeyTooLongError');
    });

    it('keys with .. segments are opaque names that never reach the file system', async () => {
      const key = '../../../../../../tmp/plinth-escape/../etc/passwd';
      const put = await signedRequest(port, h.credentials, 'PUT', `/served/${key}`, { body: 'not a file' });
      assert.equal(put.status, 200, put.body);
      const get = await signedRequest(port, h.credentials, 'GET', `/served/${key}`);
      assert.equal(get.body, 'not a file');
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'served', Prefix: '../' }));
      assert.deepEqual(listed.Contents?.map((o) => o.Key), [key]);
      assert.equal(existsSync('/tmp/plinth-escape'), false);
      assert.equal(existsSync(resolve(h.dataDir, 'data', key)), false);
      assert.equal(existsSync(resolve(h.dataDir, key)), false);
      await stillServing();
    });
  });

  describe('virtual-hosted-style addressing', () => {
    let vh: PlinthHarness;
    before(async () => (vh = await startPlinth({ domain: 's3.plinth.test' })));
    after(() => vh.stop());

    it('takes the bucket from Host: <bucket>.<domain>', async () => {
      const vport = vh.server.port;
      const host = `vhosted.s3.plinth.test:${vport}`;
      assert.equal((await signedRequest(vport, vh.credentials, 'PUT', '/', { host })).status, 200);
      assert.equal((await signedRequest(vport, vh.credentials, 'PUT', '/dir/file.txt', { host, body: 'by host' })).status, 200);
      assert.equal(await (await vh.client.send(new GetObjectCommand({ Bucket: 'vhosted', Key: 'dir/file.txt' }))).Body!.transformToString(), 'by host');
    });
  });

  describe('admin API', () => {
    const admin = (method: string, path: string, options: { body?: string; query?: [string, string][]; keys?: Credentials } = {}) =>
      signedRequest(port, options.keys ?? h.credentials, method, `/_plinth/admin/${path}`, { body: options.body, query: options.query, headers: options.body ? { 'content-type': 'application/json' } : {} });

    it('lists, creates and deletes users; a created user can sign requests, a deleted one cannot', async () => {
      const listed = JSON.parse((await admin('GET', 'users')).body) as { users: Record<string, unknown>[] };
      assert.ok(listed.users.some((u) => u.id === h.server.admin.id && u.admin === true));
      assert.ok(listed.users.every((u) => !('secretKey' in u)), 'secrets are never listed');

      const created = await admin('POST', 'users', { body: JSON.stringify({ displayName: 'carol' }) });
      assert.equal(created.status, 201, created.body);
      const { user } = JSON.parse(created.body) as { user: { id: string; accessKey: string; secretKey: string; displayName: string } };
      assert.equal(user.displayName, 'carol');
      const carol = h.clientFor({ accessKeyId: user.accessKey, secretAccessKey: user.secretKey });
      await carol.send(new CreateBucketCommand({ Bucket: 'carols' }));
      assert.deepEqual((await carol.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), ['carols']);

      const duplicate = await admin('POST', 'users', { body: JSON.stringify({ accessKey: user.accessKey, secretKey: 'whatever-long' }) });
      assert.equal(duplicate.status, 409);
      assert.equal(JSON.parse(duplicate.body).code, 'EntityAlreadyExists');
      const notAdmin = await admin('GET', 'users', { keys: { accessKeyId: user.accessKey, secretAccessKey: user.secretKey } });
      assert.equal(notAdmin.status, 403);
      assert.equal(notAdmin.headers['content-type'], 'application/json');

      assert.equal((await admin('DELETE', `users/${user.id}`)).status, 204);
      await assert.rejects(carol.send(new ListBucketsCommand({})), { name: 'InvalidAccessKeyId' });
      assert.equal((await admin('DELETE', `users/${user.id}`)).status, 404);
      assert.equal((await admin('DELETE', `users/${h.server.admin.id}`)).status, 400);
      assert.equal((await admin('POST', 'users', { body: 'not json' })).status, 400);
      assert.equal((await fetch(`${h.endpoint}/_plinth/admin/users`)).status, 403, 'anonymous');
    });

    it('reports per-bucket costs with a monthly estimate', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'costly' }));
      const data = Buffer.alloc(1 << 20, 1);
      await s3.send(new PutObjectCommand({ Bucket: 'costly', Key: 'big', Body: data }));
      for (let i = 0; i < 3; i++) await (await s3.send(new GetObjectCommand({ Bucket: 'costly', Key: 'big' }))).Body!.transformToByteArray();
      const res = await admin('GET', 'costs', { query: [['bucket', 'costly']] });
      assert.equal(res.status, 200, res.body);
      const report = JSON.parse(res.body) as { currency: string; prices: Record<string, number>; buckets: any[]; total: Record<string, number> };
      assert.equal(report.currency, 'USD');
      assert.deepEqual(report.prices, { storagePerGbMonth: 0.023, putPer1000: 0.005, listPer1000: 0.005, getPer1000: 0.0004, deletePer1000: 0, egressPerGb: 0.09 });
      assert.equal(report.buckets.length, 1);
      const [record] = report.buckets;
      assert.equal(record.bucket, 'costly');
      assert.equal(record.bytesStored, data.length);
      assert.equal(record.requests.get, 3);
      assert.ok(record.requests.put >= 2, 'CreateBucket and PutObject');
      assert.equal(record.egressBytes, 3 * data.length);
      const gb = 2 ** 30;
      const expected = {
        storage: (data.length / gb) * 0.023,
        requests: (record.requests.put / 1000) * 0.005 + (record.requests.list / 1000) * 0.005 + (3 / 1000) * 0.0004,
        egress: ((3 * data.length) / gb) * 0.09,
      };
      assert.ok(Math.abs(record.estimate.storage - expected.storage) < 1e-6);
      assert.ok(Math.abs(record.estimate.requests - expected.requests) < 1e-6);
      assert.ok(Math.abs(record.estimate.egress - expected.egress) < 1e-6);
      assert.ok(Math.abs(report.total.total - (expected.storage + expected.requests + expected.egress)) < 1e-5);
      const all = JSON.parse((await admin('GET', 'costs')).body) as { buckets: { bucket: string }[] };
      assert.ok(all.buckets.some((b) => b.bucket === 'served') && all.buckets.some((b) => b.bucket === 'costly'));
    });
  });
});

describe('users and credentials', () => {
  it('generates the admin key pair once, in credentials.json (0600), and never logs the secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plinth-creds-'));
    const saved = { ...process.env };
    delete process.env.PLINTH_ACCESS_KEY;
    delete process.env.PLINTH_SECRET_KEY;
    try {
      const logs = capturingLogger();
      const first = await PlinthServer.start({ dataDir: dir, port: 0, logger: logs.logger });
      const file = join(dir, 'credentials.json');
      assert.equal(first.credentialsFile, file);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const creds = JSON.parse(readFileSync(file, 'utf8')) as { accessKey: string; secretKey: string; id: string };
      assert.equal(creds.accessKey, first.admin.accessKey);
      const client = new S3Client({ endpoint: first.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey } });
      await client.send(new CreateBucketCommand({ Bucket: 'kept' }));
      client.destroy();
      await first.stop();
      assert.ok(!logs.text().includes(creds.secretKey), 'the secret is not logged');

      const second = await PlinthServer.start({ dataDir: dir, port: 0, logger: pino({ level: 'silent' }) });
      assert.equal(second.admin.accessKey, creds.accessKey);
      assert.equal(second.admin.id, creds.id);
      const again = new S3Client({ endpoint: second.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey } });
      assert.deepEqual((await again.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), ['kept']);
      again.destroy();
      await second.stop();
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the admin from PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY and more users from a users file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plinth-users-'));
    const saved = { ...process.env };
    Object.assign(process.env, { PLINTH_ACCESS_KEY: 'ENVADMINKEY', PLINTH_SECRET_KEY: 'env-admin-secret', PLINTH_USER_ID: 'env-admin', PLINTH_DISPLAY_NAME: 'Env Admin' });
    const usersFile = join(dir, 'users.json');
    writeFileSync(usersFile, JSON.stringify([{ accessKey: 'DAVEKEY', secretKey: 'dave-secret-key', id: 'dave', displayName: 'Dave' }]));
    try {
      const server = await PlinthServer.start({ dataDir: dir, port: 0, usersFile, logger: pino({ level: 'silent' }) });
      assert.deepEqual({ id: server.admin.id, displayName: server.admin.displayName, accessKey: server.admin.accessKey }, { id: 'env-admin', displayName: 'Env Admin', accessKey: 'ENVADMINKEY' });
      assert.equal(server.credentialsFile, null);
      assert.equal(existsSync(join(dir, 'credentials.json')), false);
      const dave = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'DAVEKEY', secretAccessKey: 'dave-secret-key' } });
      const list = await dave.send(new ListBucketsCommand({}));
      assert.deepEqual(list.Owner, { ID: 'dave', DisplayName: 'Dave' });
      dave.destroy();
      await server.stop();
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('plinth serve (CLI)', () => {
  it('serves S3 until SIGTERM, then exits cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plinth-cli-'));
    const serve = await startServe({ dataDir: dir, accessKey: 'CLIKEY', secretKey: 'cli-secret-key' });
    try {
      const client = serve.client();
      await client.send(new CreateBucketCommand({ Bucket: 'from-cli' }));
      assert.deepEqual((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), ['from-cli']);
      // The launcher sized libuv's pool before the module loader started it: 16 workers besides
      // Node's own few threads (7 here with the default pool of 4).
      assert.ok(readdirSync(`/proc/${serve.pid}/task`).length >= 16 + 5, 'a 16-thread pool');
      assert.equal(await serve.kill('SIGTERM'), 0);
    } finally {
      await serve.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('routing', () => {
  const route = (method: string, target: string, copySource = false) => {
    const address = parseAddress(target, '127.0.0.1:9000', undefined);
    const query = new URLSearchParams();
    for (const [name, value] of address.query) query.append(name, value);
    try {
      return resolveOperation(method, address.bucket, address.key, query, copySource).name;
    } catch (err) {
      return (err as { code: string }).code;
    }
  };

  it('picks the operation from method, bucket/key and subresources', () => {
    const table: [string, string, string, boolean?][] = [
      ['GET', '/', 'ListBuckets'],
      ['PUT', '/b', 'CreateBucket'],
      ['HEAD', '/b/', 'HeadBucket'],
      ['DELETE', '/b', 'DeleteBucket'],
      ['GET', '/b?location', 'GetBucketLocation'],
      ['GET', '/b?versioning', 'GetBucketVersioning'],
      ['PUT', '/b?versioning', 'PutBucketVersioning'],
      ['GET', '/b?acl', 'GetBucketAcl'],
      ['PUT', '/b?acl', 'PutBucketAcl'],
      ['GET', '/b', 'ListObjects'],
      ['GET', '/b?list-type=2&prefix=a', 'ListObjectsV2'],
      ['GET', '/b?versions', 'ListObjectVersions'],
      ['GET', '/b?uploads', 'ListMultipartUploads'],
      ['POST', '/b?delete', 'DeleteObjects'],
      ['PUT', '/b/k', 'PutObject'],
      ['PUT', '/b/k', 'CopyObject', true],
      ['GET', '/b/k', 'GetObject'],
      ['GET', '/b/k?partNumber=2', 'GetObject'],
      ['HEAD', '/b/k', 'HeadObject'],
      ['DELETE', '/b/k', 'DeleteObject'],
      ['GET', '/b/k?tagging', 'GetObjectTagging'],
      ['PUT', '/b/k?tagging', 'PutObjectTagging'],
      ['DELETE', '/b/k?tagging', 'DeleteObjectTagging'],
      ['GET', '/b/k?acl', 'GetObjectAcl'],
      ['PUT', '/b/k?acl', 'PutObjectAcl'],
      ['POST', '/b/k?uploads', 'CreateMultipartUpload'],
      ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPart'],
      ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPartCopy', true],
      ['POST', '/b/k?uploadId=u', 'CompleteMultipartUpload'],
      ['DELETE', '/b/k?uploadId=u', 'AbortMultipartUpload'],
      ['GET', '/b/k?uploadId=u', 'ListParts'],
      ['GET', '/b?cors', 'NotImplemented'],
      ['PUT', '/b?policy', 'NotImplemented'],
      ['DELETE', '/b?lifecycle', 'NotImplemented'],
      ['GET', '/b/k?torrent', 'NotImplemented'],
      ['POST', '/b', 'NotImplemented'],
      ['PUT', '/', 'MethodNotAllowed'],
      ['PATCH', '/b', 'MethodNotAllowed'],
      ['POST', '/b/k', 'MethodNotAllowed'],
      ['OPTIONS', '/b/k', 'MethodNotAllowed'],
    ];
    for (const [method, target, expected, copy] of table) assert.equal(route(method, target, copy), expected, `${method} ${target}`);
  });

  it('reads bucket and key from the path (or the Host) without normalising the key', () => {
    assert.deepEqual(parseAddress('/b/a//b/../c%20d+e?x=1', undefined, undefined), { bucket: 'b', key: 'a//b/../c d+e', rawPath: '/b/a//b/../c%20d+e', query: [['x', '1']] });
    assert.deepEqual(parseAddress('/b/', undefined, undefined), { bucket: 'b', key: undefined, rawPath: '/b/', query: [] });
    assert.equal(parseAddress('/k%2Fz', 'photos.s3.example:9000', 's3.example').bucket, 'photos');
    assert.equal(parseAddress('/k%2Fz', 'photos.s3.example:9000', 's3.example').key, 'k/z');
    assert.equal(parseAddress('/k', 'other.host', 's3.example').bucket, 'k');
    assert.equal(parseAddress('http://proxy.example/b/k?acl', undefined, undefined).key, 'k');
  });
});
