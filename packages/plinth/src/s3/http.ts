import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { isChecksumAlgorithm } from './checksums.js';
import { S3Error } from './errors.js';

/** Small HTTP helpers: request headers, small bodies, and the formats S3 uses in response headers. */

/** One header's value; Node gives repeated headers as an array or already joined with commas. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 1123 (IMF-fixdate), as Last-Modified is sent. */
export function httpDate(date: Date): string {
  return date.toUTCString();
}

/** `"abc"` → `abc`: clients send ETags quoted, unquoted or weak (W/"abc"). */
export function unquoteEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** Whether an If-Match / If-None-Match list (`"a", "b"` or `*`) names this ETag. */
export function etagMatches(etag: string, list: string): boolean {
  const mine = unquoteEtag(etag);
  return list.split(',').some((candidate) => candidate.trim() === '*' || unquoteEtag(candidate) === mine);
}

/**
 * Node reads request header bytes as Latin-1 and writes response headers as Latin-1, so a stored
 * header value goes back byte for byte. Text from a query string (response-cache-control=…) is
 * real Unicode: this turns it into its UTF-8 bytes, one Latin-1 character each. (Node re-encodes
 * Content-Disposition itself when Content-Length is set, so only an ASCII disposition, as RFC
 * 6266's filename* is, arrives intact.)
 */
export function utf8AsLatin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** A small request body (a tag set, a Delete list) read whole; past `limit` bytes it is refused. */
export async function readBody(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new S3Error('EntityTooLarge', `The request body may not exceed ${limit} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Requests whose body S3 insists be protected (a Delete list, a tag set) must carry Content-MD5
 * or a flexible checksum; the router has already checked whichever came against the body.
 */
export function requireBodyDigest(headers: IncomingHttpHeaders): void {
  const given =
    header(headers, 'content-md5') !== undefined ||
    header(headers, 'x-amz-trailer') !== undefined ||
    Object.keys(headers).some((name) => name.startsWith('x-amz-checksum-') && isChecksumAlgorithm(name.slice('x-amz-checksum-'.length)));
  if (!given) throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
}
