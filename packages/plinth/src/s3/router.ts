import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { User } from '../meta/types.js';
import type { PlinthMetrics } from '../metrics.js';
import { getObjectAcl, putObjectAcl } from './acl.js';
import { createBucket, deleteBucket, getBucketAcl, getBucketLocation, getBucketVersioning, headBucket, listBuckets, putBucketAcl, putBucketVersioning } from './bucket.js';
import { copyObject } from './copy.js';
import { deleteObject, deleteObjects } from './delete.js';
import { S3Error } from './errors.js';
import { getObject, headObject } from './get.js';
import { header } from './http.js';
import { listObjects, listObjectsV2, listObjectVersions } from './list.js';
import { abortMultipartUpload, completeOrAnswerRetry, createMultipartUpload, listMultipartUploads, listParts, uploadPart, uploadPartCopy } from './multipart.js';
import { putObject } from './put.js';
import { authenticate, uriDecode, verifiedBody } from './sigv4.js';
import { deleteObjectTagging, getObjectTagging, putObjectTagging } from './tagging.js';
import type { GatewayContext, Handler, S3Request, S3Response } from './types.js';
import { toXml } from './xml.js';

/**
 * The S3 front door: one catch-all fastify route that authenticates each request, works out the
 * operation from method, bucket/key and query subresources, calls the family's handler and turns
 * its response or S3Error into HTTP. Bodies are never parsed by fastify: handlers stream them.
 */

interface Operation {
  /** S3's operation name, the `operation` label of the metrics. */
  name: string;
  handler: Handler;
  /** An x-amz-checksum-<algorithm> header is the checksum of the object made, not of the body. */
  objectChecksumHeaders?: boolean;
}

const op = (name: string, handler: Handler, options: Pick<Operation, 'objectChecksumHeaders'> = {}): Operation => ({ name, handler, ...options });

/** Bucket subresources S3 has and Plinth does not: answered NotImplemented, never as a listing or a create. */
const UNSUPPORTED_BUCKET = [
  'accelerate', 'analytics', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'lifecycle', 'logging', 'metadataConfiguration', 'metadataTable',
  'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment',
  'tagging', 'website', 'session',
];
const UNSUPPORTED_OBJECT = ['attributes', 'legal-hold', 'retention', 'restore', 'select', 'torrent', 'renameObject'];

function unsupported(query: URLSearchParams, names: string[]): void {
  const name = names.find((n) => query.has(n));
  if (name !== undefined) throw new S3Error('NotImplemented', `The ${name} subresource is not supported.`);
}

function notAllowed(method: string, resource: string): never {
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: resource });
}

/** The operation a request names; throws NotImplemented or MethodNotAllowed for what has none. */
export function resolveOperation(method: string, bucket: string | undefined, key: string | undefined, query: URLSearchParams, copySource: boolean): Operation {
  if (bucket === undefined) {
    if (method === 'GET' || method === 'HEAD') return op('ListBuckets', listBuckets);
    notAllowed(method, 'SERVICE');
  }
  if (key === undefined) {
    switch (method) {
      case 'GET':
        unsupported(query, UNSUPPORTED_BUCKET);
        if (query.has('location')) return op('GetBucketLocation', getBucketLocation);
        if (query.has('versioning')) return op('GetBucketVersioning', getBucketVersioning);
        if (query.has('acl')) return op('GetBucketAcl', getBucketAcl);
        if (query.has('uploads')) return op('ListMultipartUploads', listMultipartUploads);
        if (query.has('versions')) return op('ListObjectVersions', listObjectVersions);
        if (query.get('list-type') === '2') return op('ListObjectsV2', listObjectsV2);
        return op('ListObjects', listObjects);
      case 'HEAD':
        return op('HeadBucket', headBucket);
      case 'PUT':
        unsupported(query, UNSUPPORTED_BUCKET);
        if (query.has('versioning')) return op('PutBucketVersioning', putBucketVersioning);
        if (query.has('acl')) return op('PutBucketAcl', putBucketAcl);
        return op('CreateBucket', createBucket);
      case 'DELETE':
        unsupported(query, UNSUPPORTED_BUCKET);
        return op('DeleteBucket', deleteBucket);
      case 'POST':
        if (query.has('delete')) return op('DeleteObjects', deleteObjects);
        throw new S3Error('NotImplemented', 'Browser-based POST uploads are not supported.');
      default:
        notAllowed(method, 'BUCKET');
    }
  }
  switch (method) {
    case 'GET':
      unsupported(query, UNSUPPORTED_OBJECT);
      if (query.has('acl')) return op('GetObjectAcl', getObjectAcl);
      if (query.has('tagging')) return op('GetObjectTagging', getObjectTagging);
      if (query.has('uploadId')) return op('ListParts', listParts);
      return op('GetObject', getObject);
    case 'HEAD':
      return op('HeadObject', headObject);
    case 'PUT':
      unsupported(query, UNSUPPORTED_OBJECT);
      if (query.has('uploadId') || query.has('partNumber')) {
        return copySource ? op('UploadPartCopy', uploadPartCopy) : op('UploadPart', uploadPart);
      }
      if (query.has('tagging')) return op('PutObjectTagging', putObjectTagging);
      if (query.has('acl')) return op('PutObjectAcl', putObjectAcl);
      return copySource ? op('CopyObject', copyObject) : op('PutObject', putObject);
    case 'DELETE':
      unsupported(query, UNSUPPORTED_OBJECT);
      if (query.has('uploadId')) return op('AbortMultipartUpload', abortMultipartUpload);
      if (query.has('tagging')) return op('DeleteObjectTagging', deleteObjectTagging);
      return op('DeleteObject', deleteObject);
    case 'POST':
      unsupported(query, UNSUPPORTED_OBJECT);
      if (query.has('uploads')) return op('CreateMultipartUpload', createMultipartUpload);
      if (query.has('uploadId')) return op('CompleteMultipartUpload', completeOrAnswerRetry, { objectChecksumHeaders: true });
      return notAllowed(method, 'OBJECT');
    default:
      return notAllowed(method, 'OBJECT');
  }
}

/**
 * Random bytes for ids, drawn from a pool refilled 4 KiB at a time: two ids per request, each
 * from its own randomBytes call, were a measurable share of a small GET's CPU.
 */
const idPool = Buffer.alloc(4096);
let idPoolUsed = idPool.length;

function randomId(bytes: number, encoding: 'hex' | 'base64'): string {
  if (idPoolUsed + bytes > idPool.length) {
    randomFillSync(idPool);
    idPoolUsed = 0;
  }
  idPoolUsed += bytes;
  return idPool.toString(encoding, idPoolUsed - bytes, idPoolUsed);
}

/** S3's request ids: 16 upper-case hex digits. */
function newRequestId(): string {
  return randomId(8, 'hex').toUpperCase();
}

/** x-amz-id-2, S3's "extended request id": opaque base64, per response. */
function newHostId(): string {
  return randomId(24, 'base64');
}

export interface Address {
  bucket?: string;
  key?: string;
  rawPath: string;
  /** Percent-decoded pairs in order ('+' stays a plus, as S3 reads query strings). */
  query: [string, string][];
}

/** The bucket a virtual-hosted-style Host names (`<bucket>.<domain>[:port]`), if it is one. */
function virtualBucket(host: string | undefined, domain: string | undefined): string | undefined {
  const hostname = host?.replace(/:\d+$/, '').toLowerCase();
  if (domain === undefined || hostname === undefined || !hostname.endsWith(`.${domain}`)) return undefined;
  return hostname.slice(0, -domain.length - 1);
}

/** S3 keys are at most 1024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

/**
 * Bucket and key from path-style (`/bucket/key`) or virtual-hosted-style (`bucket.<domain>`)
 * addressing. Keys are opaque: `..` or `//` are kept as sent, never normalised (blobs are
 * content-addressed, so a key never becomes a file path).
 */
export function parseAddress(url: string, host: string | undefined, domain: string | undefined): Address {
  let target = url;
  if (!target.startsWith('/')) {
    // Absolute-form request targets (sent to proxies) carry the origin; only path and query count.
    const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(target);
    if (!match) throw new S3Error('InvalidURI');
    target = match[1]!.startsWith('/') ? match[1]! : `/${match[1]!}`;
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQuery = q === -1 ? '' : target.slice(q + 1);
  const query: [string, string][] = rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq === -1 ? [uriDecode(part), ''] : [uriDecode(part.slice(0, eq)), uriDecode(part.slice(eq + 1))];
    });
  let bucket = virtualBucket(host, domain);
  let key: string | undefined;
  if (bucket !== undefined) {
    key = uriDecode(rawPath.slice(1));
  } else {
    const rest = rawPath.slice(1);
    const slash = rest.indexOf('/');
    bucket = uriDecode(slash === -1 ? rest : rest.slice(0, slash));
    key = slash === -1 ? '' : uriDecode(rest.slice(slash + 1));
  }
  if (bucket === '' && key !== '') throw new S3Error('InvalidBucketName', 'The bucket name in the path is empty.', { BucketName: '' });
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', undefined, { Size: String(Buffer.byteLength(key)), MaxSizeAllowed: String(MAX_KEY_BYTES) });
  return { bucket: bucket === '' ? undefined : bucket, key: key === '' ? undefined : key, rawPath, query };
}

function errorXml(err: S3Error, resource: string, requestId: string, hostId: string): string {
  return toXml('Error', { Code: err.code, Message: err.message, ...err.extra, Resource: resource, RequestId: requestId, HostId: hostId }, false);
}

/** Errors from below the gateway (data node, metadata) that have an S3 meaning, by their `code`. */
function asS3Error(err: unknown): S3Error | null {
  if (err instanceof S3Error) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'EntityTooLarge' || code === 'InvalidRange') return new S3Error(code, (err as Error).message);
  return null;
}

export interface GatewayOptions {
  ctx: GatewayContext;
  metrics: PlinthMetrics;
  log: Logger;
  /** Virtual-hosted-style addressing for hosts `<bucket>.<domain>`; path-style only when absent. */
  domain?: string;
  /** The first user: the only one the admin API answers. */
  adminId: () => string;
  /** Requests under /_plinth/admin/ (path after that prefix), authenticated like S3 requests. */
  admin: (req: S3Request, path: string) => Promise<S3Response>;
  /** GET /health and GET /metrics when sent without credentials or query. */
  health: () => Promise<Record<string, unknown>>;
}

const ADMIN_PREFIX = '/_plinth/admin/';

/** Headers every response has, kept when an error replaces a response being written. */
const KEPT_ON_ERROR = ['x-amz-request-id', 'x-amz-id-2', 'server'];

/** The request header section's limit (Node's default, stated): larger is RequestHeaderSectionTooLarge. */
const MAX_HEADER_BYTES = 16 * 1024;

/** A presigned URL is a bearer credential until it expires: its signature stays out of the logs. */
function redact(url: string): string {
  return url.replace(/([?&]X-Amz-Signature=)[^&]*/i, '$1REDACTED');
}

/** Per-request facts gathered as it is served, for its log line and metrics. */
interface Outcome {
  operation: string;
  bucket?: string;
  user: User | null;
  bytesIn: () => number;
  bytesOut: () => number;
}

function hasHeader(headers: Record<string, string | number>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

/**
 * Writes a response. A stream body is piped and any error on it destroys the response (and its
 * socket), so the client sees a cut connection, never a short body that looks complete.
 */
function send(raw: IncomingMessage, res: ServerResponse, response: S3Response, outcome: Outcome, log: Logger): void {
  const status = response.status ?? 200;
  const headers: Record<string, string | number> = { ...response.headers };
  let body = response.body;
  if (typeof body === 'string') {
    body = Buffer.from(body);
    if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/xml';
  }
  // A body the handler did not read (an early error) is left unread: closing is cheaper than draining it.
  if (!raw.complete) headers.connection = 'close';
  const noBody = raw.method === 'HEAD' || status === 204 || status === 304;
  if (Buffer.isBuffer(body) && !noBody) headers['content-length'] = body.length;
  if (body === undefined && !noBody && !hasHeader(headers, 'content-length')) headers['content-length'] = 0;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.statusCode = status;
  if (body instanceof Readable) {
    if (noBody) {
      body.destroy();
      res.end();
      return;
    }
    // pipe rather than pipeline: pipeline aborts an AbortController (building a DOMException
    // with its stack) at the end of every response, a measurable cost on small GETs.
    const source = body;
    let bytes = 0;
    source.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    source.once('error', (err) => {
      log.warn({ err, requestId: res.getHeader('x-amz-request-id') }, 'response body failed mid-stream; connection cut');
      res.destroy(err);
    });
    res.once('close', () => {
      // A response cut short (client gone) releases the source, and its file, at once.
      if (!source.readableEnded) source.destroy();
      response.sent?.(bytes);
    });
    outcome.bytesOut = () => bytes;
    source.pipe(res);
    return;
  }
  const length = !noBody && body ? body.length : 0;
  outcome.bytesOut = () => length;
  res.end(noBody ? undefined : body);
}

function jsonError(err: S3Error, requestId: string): string {
  return JSON.stringify({ code: err.code, message: err.message, requestId, ...err.extra });
}

/** The fastify instance serving S3, admin, /health and /metrics on one port. */
export function createGateway(options: GatewayOptions): FastifyInstance {
  const { ctx, metrics, log } = options;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One line per request is written when it ends (see serve), with the S3 operation in it.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: newRequestId,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // A path find-my-way cannot decode is still ours to answer (InvalidURI), in S3's shape.
    frameworkErrors: (_err, request, reply) => void serve(request, reply),
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const s3 = err.code === 'HPE_HEADER_OVERFLOW' ? new S3Error('RequestHeaderSectionTooLarge') : new S3Error('InvalidRequest', 'The request could not be parsed as HTTP.');
      const requestId = newRequestId();
      const hostId = newHostId();
      const body = errorXml(s3, '', requestId, hostId);
      log.info({ requestId, code: err.code, status: s3.status }, 'malformed request refused');
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${s3.status} ${s3.status === 400 ? 'Bad Request' : 'Error'}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `x-amz-request-id: ${requestId}\r\nx-amz-id-2: ${hostId}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
  });
  // Node answers Expect by itself: 100 Continue at once, before the request is even authenticated,
  // and 417 to any other expectation. S3 ignores expectations it does not know (ceph/s3-tests
  // test_object_create_bad_expect_mismatch) and asks for the body only once it will take it, so a
  // refused upload is never sent for nothing (test_100_continue). Such requests are served like
  // any other; serve sends 100 Continue when the handler first reads the body.
  const serveAnyway = (req: IncomingMessage, res: ServerResponse) => app.server.emit('request', req, res);
  app.server.on('checkContinue', serveAnyway);
  app.server.on('checkExpectation', serveAnyway);
  // The section's size is the limit (RequestHeaderSectionTooLarge). Node's cap on the number of
  // lines would instead drop the lines past it unannounced, Host and Authorization included.
  app.server.maxHeadersCount = 0;
  app.removeAllContentTypeParsers();
  // Bodies stay unread here: handlers stream request.raw (through the signature checks) themselves.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  // S3 stores any Content-Type string as given, but fastify refuses ones it cannot parse (415)
  // before a handler runs: the header is hidden from fastify and put back when serving.
  const contentTypes = new WeakMap<IncomingMessage, string | undefined>();
  app.addHook('onRequest', (request, _reply, done) => {
    contentTypes.set(request.raw, request.raw.headers['content-type']);
    delete request.raw.headers['content-type'];
    done();
  });

  async function serve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    const raw = request.raw;
    const contentType = contentTypes.get(raw);
    if (contentType !== undefined) raw.headers['content-type'] = contentType;
    const res = reply.raw;
    const started = process.hrtime.bigint();
    const requestId = request.id;
    const hostId = newHostId();
    const method = raw.method ?? 'GET';
    const url = raw.url ?? '/';
    const resource = url.split('?')[0]!;
    // On a virtual host the path is a key, which may well start with the admin prefix.
    const isAdmin = url.startsWith(ADMIN_PREFIX) && virtualBucket(raw.headers.host, options.domain) === undefined;
    const outcome: Outcome = { operation: isAdmin ? 'Admin' : 'Unknown', user: null, bytesIn: () => 0, bytesOut: () => 0 };
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', hostId);
    res.setHeader('server', 'Plinth');

    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? res.statusCode : 0;
      const labels = { method, operation: outcome.operation };
      metrics.requests.inc({ ...labels, status: String(status) });
      metrics.duration.observe(labels, seconds);
      metrics.bytesIn.inc({ operation: outcome.operation }, outcome.bytesIn());
      metrics.bytesOut.inc({ operation: outcome.operation }, outcome.bytesOut());
      request.log.info(
        { method, url: redact(url), operation: outcome.operation, bucket: outcome.bucket, user: outcome.user?.id, status, ms: Math.round(seconds * 1000), bytesIn: outcome.bytesIn(), bytesOut: outcome.bytesOut(), completed: res.writableFinished },
        'request',
      );
    });

    try {
      if (method === 'GET' && raw.headers.authorization === undefined && (url === '/health' || url === '/metrics')) {
        outcome.operation = url === '/health' ? 'Health' : 'Metrics';
        if (url === '/health') {
          const health = await options.health();
          send(raw, res, { status: health.status === 'ok' ? 200 : 503, headers: { 'content-type': 'application/json' }, body: JSON.stringify(health) }, outcome, log);
        } else {
          send(raw, res, { headers: { 'content-type': metrics.registry.contentType }, body: await metrics.registry.metrics() }, outcome, log);
        }
        return;
      }
      const address = parseAddress(url, raw.headers.host, options.domain);
      const query = new URLSearchParams();
      for (const [name, value] of address.query) query.append(name, value);
      const operation = isAdmin ? null : resolveOperation(method, address.bucket, address.key, query, raw.headers['x-amz-copy-source'] !== undefined);
      if (operation) {
        outcome.operation = operation.name;
        outcome.bucket = address.bucket;
      }
      const auth = await authenticate(
        { method, rawPath: address.rawPath, query: address.query, headers: raw.headers, rawHeaders: raw.rawHeaders },
        (accessKey) => ctx.meta.userByAccessKey(accessKey),
        ctx.config,
      );
      outcome.user = auth.user;
      // A client that sent Expect: 100-continue waits for it before sending the body: it goes out
      // when the handler asks for the body, so a request refused before that (AccessDenied,
      // NoSuchBucket, a failed precondition) is answered without the body ever being sent.
      const expectsContinue = /^\s*100-continue\s*$/i.test(header(raw.headers, 'expect') ?? '');
      const askForBody = expectsContinue ? () => void (res.headersSent || res.writableEnded || res.writeContinue()) : undefined;
      const body = verifiedBody(raw, raw.headers, auth.payload, { onFirstRead: askForBody, objectChecksumHeaders: operation?.objectChecksumHeaders });
      outcome.bytesIn = () => body.body.received;
      const s3req: S3Request = {
        method,
        bucket: isAdmin ? undefined : address.bucket,
        key: isAdmin ? undefined : address.key,
        query,
        headers: body.headers,
        body: body.body,
        checksums: body.checksums,
        user: auth.user,
        requestId,
      };
      let response: S3Response;
      if (isAdmin) {
        if (!auth.user || auth.user.id !== options.adminId()) throw new S3Error('AccessDenied', 'The admin API is only open to the first (admin) user.');
        response = await options.admin(s3req, address.rawPath.slice(ADMIN_PREFIX.length));
      } else {
        response = await operation!.handler(s3req, ctx);
      }
      send(raw, res, response, outcome, log);
    } catch (err) {
      let s3 = asS3Error(err);
      if (!s3) {
        request.log.error({ err, operation: outcome.operation }, 'request failed');
        s3 = new S3Error('InternalError');
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A response that failed while being written may have set headers of its own (ETag, length…).
      for (const name of res.getHeaderNames()) if (!KEPT_ON_ERROR.includes(name)) res.removeHeader(name);
      const body = isAdmin ? jsonError(s3, requestId) : errorXml(s3, resource, requestId, hostId);
      send(raw, res, { status: s3.status, headers: { ...s3.headers, 'content-type': isAdmin ? 'application/json' : 'application/xml' }, body }, outcome, log);
    }
  }

  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'], url: '/*', handler: serve });
  app.setNotFoundHandler(serve);
  // Anything fastify itself refuses before a handler runs still gets S3's error shape.
  app.setErrorHandler((err: NodeJS.ErrnoException & { statusCode?: number }, request, reply) => {
    const status = err.statusCode ?? 500;
    const code = status === 413 ? 'EntityTooLarge' : status >= 500 ? 'InternalError' : 'InvalidRequest';
    const s3 = new S3Error(code, code === 'InternalError' ? undefined : err.message);
    if (status >= 500) request.log.error({ err }, 'request failed');
    const hostId = newHostId();
    void reply
      .code(s3.status)
      .header('content-type', 'application/xml')
      .header('x-amz-request-id', request.id)
      .header('x-amz-id-2', hostId)
      .send(errorXml(s3, request.url.split('?')[0]!, request.id, hostId));
  });
  return app;
}
