import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './errors.js';

/**
 * The aws-chunked body framing (SigV4 streaming uploads):
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
 *   [<trailer name>:<value>\r\n ...][x-amz-trailer-signature:<sig>\r\n]\r\n
 *
 * Signed variants chain every chunk's signature from the previous one, starting at the request's
 * (seed) signature, so chunks can be neither altered nor reordered. Data is passed on as it
 * arrives and a chunk's signature is checked at its end: a write only commits after the body
 * ended cleanly, so bytes of a chunk that turns out forged never become an object.
 */

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** What chunk signatures are computed from: the request's signing key, timestamp, scope and signature. */
export interface ChunkSigning {
  signingKey: Buffer;
  timestamp: string;
  scope: string;
  seedSignature: string;
}

/** A chunk header line, trailer line or the bytes between: generous, but bounded against abuse. */
const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

function signaturesEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class AwsChunkedDecoder extends Transform {
  /** Trailing headers (lower-case names) once the body has ended, the trailer signature left out. */
  readonly trailers: Record<string, string> = {};
  private state: State = 'size';
  private line = Buffer.alloc(0);
  private remaining = 0;
  private decoded = 0;
  private trailerBytes = 0;
  private previousSignature: string;
  private chunkSignature = '';
  private chunkHash = createHash('sha256');
  private trailerSigned = false;
  private blankBeforeTrailer = false;
  private readonly signing: ChunkSigning | null;
  private readonly trailer: boolean;
  private readonly decodedLength?: number;

  constructor(options: {
    /** Null for STREAMING-UNSIGNED-PAYLOAD-TRAILER: framing without signatures. */
    signing: ChunkSigning | null;
    /** Whether trailing headers are announced (the -TRAILER variants). */
    trailer: boolean;
    /** x-amz-decoded-content-length, when the client gave it. */
    decodedLength?: number;
  }) {
    super();
    this.signing = options.signing;
    this.trailer = options.trailer;
    this.decodedLength = options.decodedLength;
    this.previousSignature = options.signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state === 'trailer' && this.blankBeforeTrailer && this.trailerBytes === 0) {
      try {
        this.endTrailer();
      } catch (err) {
        return callback(err as Error);
      }
    }
    if (this.state !== 'done') return callback(new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.'));
    if (this.decodedLength !== undefined && this.decoded !== this.decodedLength) {
      return callback(new S3Error('IncompleteBody', `x-amz-decoded-content-length is ${this.decodedLength} but the chunks held ${this.decoded} bytes.`));
    }
    callback();
  }

  private consume(input: Buffer): void {
    let offset = 0;
    while (offset < input.length) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, input.length - offset);
          const data = input.subarray(offset, offset + take);
          if (this.signing) this.chunkHash.update(data);
          this.decoded += take;
          if (this.decodedLength !== undefined && this.decoded > this.decodedLength) {
            throw new S3Error('IncompleteBody', 'The aws-chunked body holds more bytes than x-amz-decoded-content-length.');
          }
          this.push(data);
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) {
            this.verifyChunk(this.chunkHash.digest('hex'));
            this.state = 'data-end';
          }
          break;
        }
        case 'done':
          // Some clients end with an extra CRLF; anything else after the final chunk is not framing.
          if (input.subarray(offset).some((b) => b !== 0x0d && b !== 0x0a)) throw new S3Error('InvalidRequest', 'Unexpected bytes after the final aws-chunked chunk.');
          return;
        default: {
          const end = input.indexOf(0x0a, offset);
          const piece = input.subarray(offset, end === -1 ? input.length : end + 1);
          this.line = this.line.length === 0 ? Buffer.from(piece) : Buffer.concat([this.line, piece]);
          offset += piece.length;
          if (this.line.length > MAX_LINE) throw new S3Error('InvalidRequest', 'An aws-chunked framing line is too long.');
          if (end === -1) return;
          const text = this.line.toString('latin1');
          this.line = Buffer.alloc(0);
          if (!text.endsWith('\r\n')) throw new S3Error('InvalidRequest', 'aws-chunked framing lines must end with CRLF.');
          this.onLine(text.slice(0, -2));
        }
      }
    }
  }

  private onLine(line: string): void {
    switch (this.state) {
      case 'size': {
        const [size, ...extensions] = line.split(';');
        if (!/^[0-9a-fA-F]{1,16}$/.test(size!)) throw new S3Error('InvalidRequest', `Invalid aws-chunked chunk size '${size}'.`);
        this.remaining = parseInt(size!, 16);
        const signature = extensions.find((e) => e.startsWith('chunk-signature='))?.slice('chunk-signature='.length);
        if (this.signing && !signature) throw new S3Error('SignatureDoesNotMatch', 'A chunk of a signed aws-chunked body has no chunk-signature.');
        this.chunkSignature = signature ?? '';
        this.chunkHash = createHash('sha256');
        if (this.remaining > 0) {
          this.state = 'data';
        } else {
          this.verifyChunk(EMPTY_SHA256);
          this.state = 'trailer';
        }
        return;
      }
      case 'data-end':
        if (line !== '') throw new S3Error('InvalidRequest', 'An aws-chunked chunk is longer than its declared size.');
        this.state = 'size';
        return;
      case 'trailer':
        if (line === '') {
          // Some clients put the final chunk's CRLF before the trailer too: a blank line ahead of
          // any trailer line is skipped (the body may end right after it, see _flush).
          if (this.trailer && this.trailerBytes === 0 && !this.blankBeforeTrailer) {
            this.blankBeforeTrailer = true;
            return;
          }
          this.endTrailer();
          return;
        }
        if (!this.trailer) throw new S3Error('InvalidRequest', 'Trailing headers were sent but x-amz-content-sha256 announced none.');
        if (this.trailerSigned) throw new S3Error('SignatureDoesNotMatch', 'Trailing headers after x-amz-trailer-signature are not signed.');
        this.trailerBytes += line.length;
        if (this.trailerBytes > MAX_TRAILER_BYTES) throw new S3Error('InvalidRequest', 'The aws-chunked trailer is too large.');
        this.onTrailer(line);
        return;
      default:
        throw new S3Error('InternalError');
    }
  }

  private endTrailer(): void {
    if (this.signing && this.trailer && !this.trailerSigned) throw new S3Error('SignatureDoesNotMatch', 'The aws-chunked trailer has no x-amz-trailer-signature.');
    this.state = 'done';
  }

  private onTrailer(line: string): void {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new S3Error('InvalidRequest', 'Malformed aws-chunked trailer line.');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name !== 'x-amz-trailer-signature') {
      this.trailers[name] = value;
      return;
    }
    if (!this.signing) return;
    // The trailer signature covers the trailing headers as "name:value\n" lines, chained like a chunk.
    const canonical = Object.entries(this.trailers)
      .map(([n, v]) => `${n}:${v}\n`)
      .join('');
    const expected = this.sign('AWS4-HMAC-SHA256-TRAILER', createHash('sha256').update(canonical).digest('hex'));
    if (!signaturesEqual(expected, value)) throw new S3Error('SignatureDoesNotMatch', 'The aws-chunked trailer signature does not match.');
    this.trailerSigned = true;
  }

  private verifyChunk(dataHash: string): void {
    if (!this.signing) return;
    const expected = this.sign('AWS4-HMAC-SHA256-PAYLOAD', `${EMPTY_SHA256}\n${dataHash}`);
    if (!signaturesEqual(expected, this.chunkSignature)) throw new S3Error('SignatureDoesNotMatch', 'An aws-chunked chunk signature does not match its data.');
    this.previousSignature = expected;
  }

  private sign(algorithm: string, rest: string): string {
    const signing = this.signing!;
    const stringToSign = `${algorithm}\n${signing.timestamp}\n${signing.scope}\n${this.previousSignature}\n${rest}`;
    return createHmac('sha256', signing.signingKey).update(stringToSign).digest('hex');
  }
}
