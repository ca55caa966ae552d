import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { User } from '../meta/types.js';
import { AwsChunkedDecoder, type ChunkSigning } from './chunked.js';
import { BodyVerifier, type BodyChecks, type ChecksumAlgorithm, checkChecksumValue, invalidChecksumHeader, isChecksumAlgorithm } from './checksums.js';
import { S3Error } from './errors.js';

/**
 * AWS Signature Version 4 as S3 checks it: the Authorization header or a presigned URL's query
 * parameters, then the payload as x-amz-content-sha256 announces it (a digest, unsigned, or
 * aws-chunked with chained chunk signatures and optional trailing checksums).
 */

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** S3 refuses presigned URLs valid for longer than 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** The parts of a request a signature covers, as received (the path still percent-encoded). */
export interface SignedRequest {
  method: string;
  rawPath: string;
  /** Query parameters, percent-decoded, in their order. */
  query: [string, string][];
  headers: IncomingHttpHeaders;
  /** Node's rawHeaders: name, value, name, value… (repeated headers are joined as AWS does). */
  rawHeaders: string[];
}

export type PayloadMode =
  | { kind: 'sha256'; hex: string }
  | { kind: 'unsigned' }
  | { kind: 'chunked'; signing: ChunkSigning | null; trailer: boolean };

export interface Authentication {
  user: User | null;
  payload: PayloadMode;
}

export interface AuthConfig {
  region: string;
  maxSkewMs: number;
}

/*
 * uriEncode, signingKey, canonicalQuery and stringToSign are the specification's own steps, the
 * same for signing and checking: the CLI's signer (cli/sigv4.ts) uses them too. The S3 suites keep
 * them honest against the AWS SDK's independent signer.
 */

/** RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes (AWS's UriEncode). */
export function uriEncode(text: string, keepSlash = false): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

/** Percent-decoding as S3 does it: '+' stays a plus (only forms use it for spaces). */
export function uriDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  }
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * Derived signing keys: one per user, day and region, so four HMACs per request become a lookup.
 * Dropped wholesale when it grows past SIGNING_KEYS_KEPT (a new day, many users).
 */
const signingKeys = new Map<string, Buffer>();
const SIGNING_KEYS_KEPT = 1000;

export function signingKey(secret: string, date: string, region: string, service = 's3'): Buffer {
  const id = `${date}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    if (signingKeys.size >= SIGNING_KEYS_KEPT) signingKeys.clear();
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    signingKeys.set(id, key);
  }
  return key;
}

export function canonicalQuery(query: [string, string][], omit?: string): string {
  return query
    .filter(([name]) => name !== omit)
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValues(rawHeaders: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    // Node decodes header bytes as latin1; clients sign the UTF-8 text those bytes spell.
    const value = Buffer.from(rawHeaders[i + 1]!, 'latin1').toString('utf8').trim().replace(/\s+/g, ' ');
    const previous = values.get(name);
    values.set(name, previous === undefined ? value : `${previous},${value}`);
  }
  return values;
}

/**
 * S3 does not normalise paths: the canonical URI is the path as the client encoded it. Clients
 * differ in which characters they leave unencoded, so the path is re-encoded strictly (what the
 * AWS SDKs sign) and, when that differs, the path exactly as sent is tried too.
 */
function canonicalUris(rawPath: string): string[] {
  const strict = rawPath
    .split('/')
    .map((segment) => uriEncode(uriDecode(segment)))
    .join('/');
  return strict === rawPath ? [strict] : [strict, rawPath];
}

function canonicalRequest(req: SignedRequest, canonicalUri: string, signedHeaders: string[], payloadHash: string, omitQuery?: string): string {
  const values = headerValues(req.rawHeaders);
  const headers = signedHeaders.map((name) => `${name}:${values.get(name) ?? ''}\n`).join('');
  return [req.method, canonicalUri, canonicalQuery(req.query, omitQuery), headers, signedHeaders.join(';'), payloadHash].join('\n');
}

export function stringToSign(timestamp: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${timestamp}\n${scope}\n${sha256Hex(canonical)}`;
}

/** `YYYYMMDDTHHMMSSZ` → epoch ms, or NaN. */
function parseAmzDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

interface Credential {
  accessKey: string;
  date: string;
  region: string;
  scope: string;
}

function parseCredential(text: string, config: AuthConfig, malformed: (message: string, extra?: Record<string, string>) => S3Error): Credential {
  const parts = text.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) throw malformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  const [accessKey, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date)) throw malformed(`invalid date. Date must be in ISO-8601 'yyyyMMdd' format: '${date}'.`);
  if (region !== config.region) throw malformed(`the region '${region}' is wrong; expecting '${config.region}'`, { Region: config.region });
  if (service !== 's3') throw malformed(`incorrect service '${service}'. This endpoint belongs to 's3'.`);
  if (terminator !== 'aws4_request') throw malformed(`incorrect terminal '${terminator}'. This endpoint uses 'aws4_request'.`);
  return { accessKey, date, region, scope: parts.slice(1).join('/') };
}

/**
 * S3 refuses x-amz-* headers the signature does not cover: otherwise anyone on the path could
 * add metadata, ACLs or copy sources to a signed request.
 */
function checkUnsignedAmzHeaders(headers: IncomingHttpHeaders, signed: string[]): void {
  const unsigned = Object.keys(headers).filter((name) => name.startsWith('x-amz-') && !signed.includes(name));
  if (unsigned.length > 0) throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
}

async function lookUp(accessKey: string, lookup: (accessKey: string) => Promise<User | null>): Promise<User> {
  const user = await lookup(accessKey);
  if (!user) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKey });
  return user;
}

/** Tries each canonical URI; the first that matches wins. Returns the signature that matched. */
function verifySignature(
  req: SignedRequest,
  user: User,
  credential: Credential,
  timestamp: string,
  signedHeaders: string[],
  payloadHash: string,
  signature: string,
  omitQuery?: string,
): { key: Buffer } {
  const key = signingKey(user.secretKey, credential.date, credential.region);
  let first: { canonical: string; toSign: string } | undefined;
  for (const uri of canonicalUris(req.rawPath)) {
    const canonical = canonicalRequest(req, uri, signedHeaders, payloadHash, omitQuery);
    const toSign = stringToSign(timestamp, credential.scope, canonical);
    const expected = Buffer.from(createHmac('sha256', key).update(toSign).digest('hex'));
    const given = Buffer.from(signature);
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { key };
    first ??= { canonical, toSign };
  }
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: credential.accessKey,
    StringToSign: first!.toSign,
    SignatureProvided: signature,
    CanonicalRequest: first!.canonical,
  });
}

function payloadMode(value: string | undefined, signing: ChunkSigning | null): PayloadMode {
  if (value === undefined || value === 'UNSIGNED-PAYLOAD') return { kind: 'unsigned' };
  if (/^[0-9a-f]{64}$/.test(value)) return { kind: 'sha256', hex: value };
  switch (value) {
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'chunked', signing: null, trailer: true };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      if (!signing) throw new S3Error('InvalidRequest', `${value} needs a request signed with the Authorization header.`);
      return { kind: 'chunked', signing, trailer: value.endsWith('-TRAILER') };
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER':
      throw new S3Error('NotImplemented', 'Signature Version 4A is not supported.');
    default:
      throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', { ArgumentName: 'x-amz-content-sha256' });
  }
}

async function authorizationHeader(
  req: SignedRequest,
  header: string,
  lookup: (accessKey: string) => Promise<User | null>,
  config: AuthConfig,
  now: number,
): Promise<Authentication> {
  const malformed = (message: string, extra: Record<string, string> = {}) => new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`, extra);
  if (header.startsWith('AWS ')) throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  if (!header.startsWith(`${ALGORITHM} `)) throw malformed('the authorization mechanism is not AWS4-HMAC-SHA256.');
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credentialText = fields.get('Credential');
  const signedHeadersText = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credentialText || !signedHeadersText || !signature) throw malformed('it must have Credential, SignedHeaders and Signature.');
  const credential = parseCredential(credentialText, config, malformed);
  const signedHeaders = signedHeadersText.split(';');
  if (!signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed.');
  checkUnsignedAmzHeaders(req.headers, signedHeaders);

  const amz = req.headers['x-amz-date'];
  const time = typeof amz === 'string' ? parseAmzDate(amz) : typeof req.headers.date === 'string' ? Date.parse(req.headers.date) : NaN;
  if (Number.isNaN(time)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const timestamp = amzDate(time);
  if (timestamp.slice(0, 8) !== credential.date) throw malformed(`the date in the Credential '${credential.date}' does not match the request date '${timestamp.slice(0, 8)}'.`);
  if (Math.abs(now - time) > config.maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: new Date(time).toISOString(), ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: String(config.maxSkewMs) });
  }

  const payloadHash = req.headers['x-amz-content-sha256'];
  if (typeof payloadHash !== 'string') throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  const user = await lookUp(credential.accessKey, lookup);
  const { key } = verifySignature(req, user, credential, timestamp, signedHeaders, payloadHash, signature);
  return { user, payload: payloadMode(payloadHash, { signingKey: key, timestamp, scope: credential.scope, seedSignature: signature }) };
}

async function presignedUrl(req: SignedRequest, lookup: (accessKey: string) => Promise<User | null>, config: AuthConfig, now: number): Promise<Authentication> {
  const param = (name: string) => req.query.find(([n]) => n === name)?.[1];
  const malformed = (message: string, extra: Record<string, string> = {}) => new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${message}`, extra);
  if (param('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const credentialText = param('X-Amz-Credential');
  const date = param('X-Amz-Date');
  const expires = param('X-Amz-Expires');
  const signedHeadersText = param('X-Amz-SignedHeaders');
  const signature = param('X-Amz-Signature');
  if (!credentialText || !date || !expires || !signedHeadersText || !signature) {
    throw new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  const credential = parseCredential(credentialText, config, malformed);
  const time = parseAmzDate(date);
  if (Number.isNaN(time)) throw new S3Error('AuthorizationQueryParametersError', "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  if (date.slice(0, 8) !== credential.date) throw malformed(`the date in the Credential '${credential.date}' does not match X-Amz-Date.`);
  if (!/^\d+$/.test(expires)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  const seconds = Number(expires);
  if (seconds > MAX_PRESIGN_SECONDS) throw new S3Error('AuthorizationQueryParametersError', `X-Amz-Expires must be less than a week (in seconds) that is; ${MAX_PRESIGN_SECONDS}`);
  if (time - now > config.maxSkewMs) throw new S3Error('AccessDenied', 'Request is not valid yet');
  if (now > time + seconds * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': expires, Expires: new Date(time + seconds * 1000).toISOString(), ServerTime: new Date(now).toISOString() });
  }
  const signedHeaders = signedHeadersText.split(';');
  if (!signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed.');
  checkUnsignedAmzHeaders(req.headers, signedHeaders);

  const header = req.headers['x-amz-content-sha256'];
  const payloadHash = param('X-Amz-Content-Sha256') ?? (typeof header === 'string' ? header : 'UNSIGNED-PAYLOAD');
  const user = await lookUp(credential.accessKey, lookup);
  verifySignature(req, user, credential, date, signedHeaders, payloadHash, signature, 'X-Amz-Signature');
  // A presigned URL carries no seed for chunk signatures: only a digest or an unsigned body fit it.
  const payload = payloadMode(payloadHash, null);
  return { user, payload: payload.kind === 'chunked' ? { kind: 'unsigned' } : payload };
}

/**
 * Who sent the request (null: anonymous) and how its payload must be checked. Throws S3Error for
 * every way a signature can be wrong, missing pieces, expired or skewed.
 */
export async function authenticate(req: SignedRequest, lookup: (accessKey: string) => Promise<User | null>, config: AuthConfig, now = Date.now()): Promise<Authentication> {
  const authorization = req.headers.authorization;
  const presigned = req.query.some(([name]) => name === 'X-Amz-Signature' || name === 'X-Amz-Credential' || name === 'X-Amz-Algorithm');
  if (authorization !== undefined && presigned) throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified', { ArgumentName: 'Authorization' });
  if (authorization !== undefined) return authorizationHeader(req, authorization, lookup, config, now);
  if (presigned) return presignedUrl(req, lookup, config, now);
  const header = req.headers['x-amz-content-sha256'];
  return { user: null, payload: payloadMode(typeof header === 'string' ? header : undefined, null) };
}

export interface VerifiedBody {
  body: BodyVerifier;
  /** Headers as the operation families should see them: the aws-chunked framing taken out. */
  headers: IncomingHttpHeaders;
  checksums: Promise<Record<string, string>>;
}

function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The flexible checksum a request announces: an x-amz-checksum-<algorithm> header, or one in x-amz-trailer. */
export interface AnnouncedChecksum {
  algorithm: ChecksumAlgorithm;
  /** The header's name, x-amz-checksum-<algorithm>. */
  name: string;
  /** Whether its value is in the headers (else it comes in the aws-chunked trailer). */
  inHeaders: boolean;
}

/**
 * The flexible checksum the request announces, if any, refused as S3 refuses it: more than one,
 * an unknown algorithm in the trailer, or an x-amz-sdk-checksum-algorithm naming another one.
 */
export function announcedChecksum(headers: IncomingHttpHeaders): AnnouncedChecksum | undefined {
  // Only digest values: x-amz-checksum-mode, -type and -algorithm are settings, not checksums.
  const inHeaders = Object.keys(headers).filter((name) => name.startsWith('x-amz-checksum-') && isChecksumAlgorithm(name.slice('x-amz-checksum-'.length)));
  const announced = (one(headers, 'x-amz-trailer') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.startsWith('x-amz-checksum-'));
  if (inHeaders.length + announced.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const name = inHeaders[0] ?? announced[0];
  if (name === undefined) return undefined;
  const algorithm = name.slice('x-amz-checksum-'.length);
  if (!isChecksumAlgorithm(algorithm)) throw new S3Error('InvalidRequest', `The algorithm type you specified in ${name} is invalid.`);
  // SDKs name the algorithm they computed; S3 refuses a request whose checksum is another one.
  const sdkAlgorithm = one(headers, 'x-amz-sdk-checksum-algorithm');
  if (sdkAlgorithm !== undefined && sdkAlgorithm.toLowerCase() !== algorithm) throw invalidChecksumHeader('x-amz-sdk-checksum-algorithm');
  return { algorithm, name, inHeaders: inHeaders.length > 0 };
}

function bodyChecks(headers: IncomingHttpHeaders, payload: PayloadMode, decoder: AwsChunkedDecoder | null, objectChecksumHeaders: boolean): BodyChecks {
  const checks: BodyChecks = {};
  if (payload.kind === 'sha256') checks.sha256Hex = payload.hex;
  const md5 = one(headers, 'content-md5');
  if (md5 !== undefined) {
    if (Buffer.from(md5, 'base64').length !== 16) throw new S3Error('InvalidDigest');
    checks.md5Base64 = md5;
  }
  const announced = announcedChecksum(headers);
  if (announced === undefined || (objectChecksumHeaders && announced.inHeaders)) return checks;
  const { algorithm, name } = announced;
  if (announced.inHeaders) {
    const value = one(headers, name)!;
    checkChecksumValue(algorithm, value);
    checks.checksum = { algorithm, value };
  } else {
    if (!decoder) throw new S3Error('InvalidRequest', 'x-amz-trailer needs an aws-chunked body (a STREAMING-*-TRAILER x-amz-content-sha256).');
    checks.checksum = { algorithm, value: () => decoder.trailers[name] };
  }
  return checks;
}

export interface BodyOptions {
  /** Runs once, when the handler first reads the body. */
  onFirstRead?: () => void;
  /**
   * The request's x-amz-checksum-<algorithm> header is the checksum of the object it makes, not
   * of its body (CompleteMultipartUpload), so the body is not checked against it.
   */
  objectChecksumHeaders?: boolean;
}

/**
 * The request body decoded and verified as it streams: aws-chunked framing removed and its chunk
 * signatures checked, and the payload digest, Content-MD5 and flexible checksum compared at the
 * end. Any failure errors the returned stream; the raw request is left alone so the error can
 * still be answered on it.
 */
export function verifiedBody(raw: Readable, headers: IncomingHttpHeaders, payload: PayloadMode, options: BodyOptions = {}): VerifiedBody {
  const view: IncomingHttpHeaders = { ...headers };
  let decoder: AwsChunkedDecoder | null = null;
  if (payload.kind === 'chunked') {
    const decodedText = one(headers, 'x-amz-decoded-content-length');
    if (decodedText !== undefined && !/^\d+$/.test(decodedText)) throw new S3Error('InvalidArgument', 'x-amz-decoded-content-length must be a number', { ArgumentName: 'x-amz-decoded-content-length' });
    decoder = new AwsChunkedDecoder({ signing: payload.signing, trailer: payload.trailer, decodedLength: decodedText === undefined ? undefined : Number(decodedText) });
    if (decodedText === undefined) delete view['content-length'];
    else view['content-length'] = decodedText;
    const encodings = (one(headers, 'content-encoding') ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '' && e !== 'aws-chunked');
    if (encodings.length > 0) view['content-encoding'] = encodings.join(', ');
    else delete view['content-encoding'];
  }
  const verifier = new BodyVerifier(bodyChecks(headers, payload, decoder, options.objectChecksumHeaders ?? false), options.onFirstRead);
  const first = decoder ?? verifier;
  raw.on('error', (err) => first.destroy(err));
  raw.on('aborted', () => first.destroy(new S3Error('IncompleteBody', 'The client closed the connection before the body was complete.')));
  raw.pipe(first);
  if (decoder) {
    decoder.on('error', (err) => {
      raw.unpipe(decoder);
      verifier.destroy(err);
    });
    decoder.pipe(verifier);
  }
  // A handler that never reads the body must not crash the process when the body fails.
  verifier.on('error', () => raw.unpipe(verifier));
  return { body: verifier, headers: view, checksums: verifier.verified };
}
