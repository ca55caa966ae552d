import { createHash, createHmac } from 'node:crypto';
import { canonicalQuery, signingKey, stringToSign, uriEncode } from '../s3/sigv4.js';

/**
 * Signature V4 for the CLI's admin requests: header-signed, the whole (small JSON) payload
 * hashed. Its own few lines rather than the AWS SDK, which is only a dependency of the tests; the
 * specification's shared steps come from the server's s3/sigv4.ts.
 */

export interface Keys {
  accessKey: string;
  secretKey: string;
}

/** A path whose segments are encoded as AWS signs them (the server re-encodes the same way). */
export function signedPath(segments: string[]): string {
  return `/${segments.map((s) => uriEncode(s)).join('/')}`;
}

/**
 * The headers to send with a request to `url`: `headers` plus x-amz-date, x-amz-content-sha256
 * and Authorization. Host is signed but left to the HTTP client to send.
 */
export function signRequest(method: string, url: URL, headers: Record<string, string>, body: string, keys: Keys, region: string, now = new Date()): Record<string, string> {
  const timestamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${timestamp.slice(0, 8)}/${region}/s3/aws4_request`;
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const sent: Record<string, string> = { ...headers, 'x-amz-date': timestamp, 'x-amz-content-sha256': payloadHash };
  const signed: Record<string, string> = { host: url.host };
  for (const [name, value] of Object.entries(sent)) signed[name.toLowerCase()] = value.trim();
  const names = Object.keys(signed).sort();
  const canonical = [method, url.pathname, canonicalQuery([...url.searchParams]), names.map((n) => `${n}:${signed[n]}\n`).join(''), names.join(';'), payloadHash].join('\n');
  const signature = createHmac('sha256', signingKey(keys.secretKey, timestamp.slice(0, 8), region)).update(stringToSign(timestamp, scope, canonical)).digest('hex');
  return { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${keys.accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}
