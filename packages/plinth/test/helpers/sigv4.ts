import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';

/**
 * A SigV4 signer written for the tests, separately from src/s3/sigv4.ts, so hand-made requests
 * (signed aws-chunked bodies, tampered chunks, skewed clocks, odd paths) check the gateway
 * against the specification rather than against itself.
 */

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** AWS's UriEncode: everything but A-Z a-z 0-9 - _ . ~ as %XX. */
export function awsEncode(text: string, keepSlash = false): string {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9_.~-]/.test(c) || (keepSlash && c === '/')) return c;
      return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignInput {
  method: string;
  /** The path as it goes on the wire (already encoded). */
  path: string;
  /** Unencoded query parameters. */
  query?: [string, string][];
  host: string;
  headers?: Record<string, string>;
  /** x-amz-content-sha256's value. */
  payloadHash: string;
  keys: Keys;
  region?: string;
  date?: Date;
  /** Headers sent but left out of SignedHeaders. */
  unsigned?: string[];
}

export interface Signed {
  /** Path and query to send. */
  target: string;
  headers: Record<string, string>;
  signature: string;
  signingKey: Buffer;
  timestamp: string;
  scope: string;
}

function timestampOf(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

function canonicalQuery(query: [string, string][]): string {
  return query
    .map(([k, v]) => `${awsEncode(k)}=${awsEncode(v)}`)
    .sort()
    .join('&');
}

export function sign(input: SignInput): Signed {
  const region = input.region ?? 'us-east-1';
  const timestamp = timestampOf(input.date ?? new Date());
  const day = timestamp.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const headers: Record<string, string> = { host: input.host, 'x-amz-date': timestamp, 'x-amz-content-sha256': input.payloadHash, ...input.headers };
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => !(input.unsigned ?? []).includes(n))
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonical = [
    input.method,
    input.path,
    canonicalQuery(input.query ?? []),
    names.map((n) => `${n}:${lower[n]!.trim()}\n`).join(''),
    names.join(';'),
    input.payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', timestamp, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${input.keys.secretAccessKey}`, day), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.keys.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  const query = (input.query ?? []).map(([k, v]) => `${awsEncode(k)}=${awsEncode(v)}`).join('&');
  return { target: query ? `${input.path}?${query}` : input.path, headers, signature, signingKey, timestamp, scope };
}

/**
 * An aws-chunked body with chained chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or the
 * -TRAILER variant when `trailer` is given). `tamper` flips a byte of that chunk after signing.
 */
export function signedChunks(signed: Signed, chunks: Buffer[], options: { trailer?: [string, string]; tamper?: number } = {}): Buffer {
  let previous = signed.signature;
  const parts: Buffer[] = [];
  const chunkSignature = (data: Buffer) => {
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', signed.timestamp, signed.scope, previous, EMPTY_SHA256, sha256(data)].join('\n');
    previous = createHmac('sha256', signed.signingKey).update(toSign).digest('hex');
    return previous;
  };
  [...chunks, Buffer.alloc(0)].forEach((data, i) => {
    const signature = chunkSignature(data);
    const sent = Buffer.from(data);
    if (options.tamper === i && sent.length > 0) sent[0] = sent[0]! ^ 0xff;
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`), sent);
    if (data.length > 0 || !options.trailer) parts.push(Buffer.from('\r\n'));
  });
  if (options.trailer) {
    const [name, value] = options.trailer;
    const toSign = ['AWS4-HMAC-SHA256-TRAILER', signed.timestamp, signed.scope, previous, sha256(`${name}:${value}\n`)].join('\n');
    const trailerSignature = createHmac('sha256', signed.signingKey).update(toSign).digest('hex');
    parts.push(Buffer.from(`${name}:${value}\r\nx-amz-trailer-signature:${trailerSignature}\r\n\r\n`));
  }
  return Buffer.concat(parts);
}

/** An aws-chunked body without signatures (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
export function unsignedChunks(chunks: Buffer[], trailer: [string, string]): Buffer {
  const parts = chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]);
  parts.push(Buffer.from(`0\r\n${trailer[0]}:${trailer[1]}\r\n\r\n`));
  return Buffer.concat(parts);
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request exactly as given (no path normalisation, unlike fetch), on a fresh connection. */
export function rawRequest(port: number, method: string, target: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: target, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, agent: false, setHost: !('host' in headers) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The <Code> of an S3 error body. */
export function errorCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
}
