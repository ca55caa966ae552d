import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
import { BlobError } from './errors.js';

/**
 * The digests a blob's bytes are run through while they stream. Everything here is incremental:
 * nothing keeps more than the current buffer.
 */

let api: Promise<XXHashAPI> | undefined;

/**
 * One WebAssembly instance for the process. Hashers copy their 88-byte state in and out of its
 * memory on every call, so any number of them can interleave on it.
 */
export function xxhashApi(): Promise<XXHashAPI> {
  api ??= xxhash();
  return api;
}

export function xxhashHex(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

function crcTables(reflectedPoly: number): Uint32Array {
  const t = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
    t[n] = c >>> 0;
  }
  // Tables 1..7 advance a byte through 1..7 further zero bytes: the slicing-by-8 scheme, which
  // folds eight input bytes per step instead of one (about 5x faster in V8).
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
}

const CRC32C = crcTables(0x82f63b78);

/**
 * CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c. `previous` is the value returned for the
 * bytes before `buf` (0 to start), the same convention as zlib.crc32. No maintained package
 * exists in the tree (the AWS SDK's copy is internal to @aws-sdk/checksums).
 */
export function crc32c(buf: Uint8Array, previous = 0): number {
  const t = CRC32C;
  let c = ~previous;
  let i = 0;
  const n = buf.length;
  for (; i + 8 <= n; i += 8) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** S3 sends CRCs as the base64 of their four big-endian bytes. */
export function crcBase64(value: number): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0);
  return b.toString('base64');
}

export const SUPPORTED_CHECKSUMS = ['crc32', 'crc32c', 'sha1', 'sha256'] as const;
type ChecksumName = (typeof SUPPORTED_CHECKSUMS)[number];

/**
 * xxHash64 of the whole stream and of each `chunkSize` slice of it: the per-chunk values let a
 * range read verify only the chunks it touches.
 */
export class ChunkedXxhash {
  private readonly whole;
  private chunk;
  private inChunk = 0;
  readonly chunks: bigint[] = [];

  constructor(
    private readonly xxh: XXHashAPI,
    private readonly chunkSize: number,
  ) {
    this.whole = xxh.create64();
    this.chunk = xxh.create64();
  }

  update(buf: Uint8Array): void {
    let off = 0;
    // Fed at most a chunk at a time: the WebAssembly memory grows to the largest input it is
    // given and never shrinks, so one huge buffer would pin that much for the process's life.
    while (off < buf.length) {
      const take = Math.min(this.chunkSize - this.inChunk, buf.length - off);
      const piece = off === 0 && take === buf.length ? buf : buf.subarray(off, off + take);
      this.whole.update(piece);
      this.chunk.update(piece);
      this.inChunk += take;
      off += take;
      if (this.inChunk === this.chunkSize) {
        this.chunks.push(this.chunk.digest());
        this.chunk = this.xxh.create64();
        this.inChunk = 0;
      }
    }
  }

  /** The whole stream's value; the last, partial chunk joins the list. */
  finish(): bigint {
    if (this.inChunk > 0) this.chunks.push(this.chunk.digest());
    return this.whole.digest();
  }
}

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
  xxhash64: string;
  chunkHashes: bigint[];
  checksums: Record<string, string>;
}

/** Every digest a put computes, fed buffer by buffer. */
export class Digester {
  private readonly sha256 = createHash('sha256');
  private readonly md5 = createHash('md5');
  private readonly xxh: ChunkedXxhash;
  private readonly sha1?: Hash;
  private crc32?: number;
  private crc32c?: number;
  private readonly wantSha256: boolean;
  size = 0;

  constructor(xxh: XXHashAPI, chunkSize: number, checksums: readonly string[]) {
    this.xxh = new ChunkedXxhash(xxh, chunkSize);
    const names = new Set<ChecksumName>();
    for (const raw of checksums) {
      const name = raw.toLowerCase();
      if (!(SUPPORTED_CHECKSUMS as readonly string[]).includes(name)) {
        throw new BlobError('UnsupportedChecksum', `unsupported checksum algorithm: ${raw}`);
      }
      names.add(name as ChecksumName);
    }
    if (names.has('crc32')) this.crc32 = 0;
    if (names.has('crc32c')) this.crc32c = 0;
    if (names.has('sha1')) this.sha1 = createHash('sha1');
    this.wantSha256 = names.has('sha256');
  }

  update(buf: Uint8Array): void {
    this.size += buf.length;
    this.sha256.update(buf);
    this.md5.update(buf);
    this.xxh.update(buf);
    this.sha1?.update(buf);
    if (this.crc32 !== undefined) this.crc32 = crc32(buf, this.crc32);
    if (this.crc32c !== undefined) this.crc32c = crc32c(buf, this.crc32c);
  }

  finish(): Digests {
    const sha256 = this.sha256.digest();
    const checksums: Record<string, string> = {};
    if (this.crc32 !== undefined) checksums.crc32 = crcBase64(this.crc32);
    if (this.crc32c !== undefined) checksums.crc32c = crcBase64(this.crc32c);
    if (this.sha1) checksums.sha1 = this.sha1.digest('base64');
    if (this.wantSha256) checksums.sha256 = sha256.toString('base64');
    const xxhash64 = xxhashHex(this.xxh.finish());
    return {
      size: this.size,
      sha256: sha256.toString('hex'),
      md5: this.md5.digest('hex'),
      xxhash64,
      chunkHashes: this.xxh.chunks,
      checksums,
    };
  }
}
