import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Error } from './errors.js';

/**
 * S3's flexible checksums (x-amz-checksum-<algorithm>, as a header or an aws-chunked trailer):
 * computed while the body streams so a mismatch fails the request before the write commits.
 */

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** Digest sizes in bytes, to reject a malformed value before reading the body. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

/** Whether a value is the base64 of a digest of this algorithm's size. */
export function isChecksumValue(algorithm: ChecksumAlgorithm, base64: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(base64) && Buffer.from(base64, 'base64').length === DIGEST_BYTES[algorithm];
}

/** S3's answer to a malformed checksum header (x-amz-checksum-<algorithm>, x-amz-checksum-type…). */
export function invalidChecksumHeader(name: string): S3Error {
  return new S3Error('InvalidRequest', `Value for ${name} header is invalid.`);
}

export function checkChecksumValue(algorithm: ChecksumAlgorithm, base64: string): void {
  if (!isChecksumValue(algorithm, base64)) throw invalidChecksumHeader(`x-amz-checksum-${algorithm}`);
}

/**
 * The generator polynomials of the CRCs S3 offers, bit-reversed: all three are reflected CRCs
 * that start from all ones and end XORed with all ones (crc-combine.ts relies on that too).
 */
export const CRC_POLYNOMIALS = { crc32: 0xedb88320n, crc32c: 0x82f63b78n, crc64nvme: 0x9a6c9329ac4bc9b5n } as const;
export type CrcAlgorithm = keyof typeof CRC_POLYNOMIALS;

export function isCrcAlgorithm(algorithm: string): algorithm is CrcAlgorithm {
  return Object.hasOwn(CRC_POLYNOMIALS, algorithm);
}

function reflectedTable32(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
}

const CRC32C_TABLE = reflectedTable32(Number(CRC_POLYNOMIALS.crc32c));

/**
 * CRC-64/NVME's reflected polynomial, kept as two 32-bit halves: BigInt arithmetic per byte would
 * make large uploads crawl.
 */
const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
const CRC64_POLY_HI = Number(CRC_POLYNOMIALS.crc64nvme >> 32n);
const CRC64_POLY_LO = Number(CRC_POLYNOMIALS.crc64nvme & 0xffffffffn);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      hi = (hi ^ CRC64_POLY_HI) >>> 0;
      lo = (lo ^ CRC64_POLY_LO) >>> 0;
    }
  }
  CRC64_HI[i] = hi;
  CRC64_LO[i] = lo;
}

/** An incremental digest giving S3's base64 form. */
export interface Checksummer {
  update(data: Buffer): void;
  digest(): string;
}

function bigEndian(...words: number[]): string {
  const out = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => out.writeUInt32BE(w >>> 0, i * 4));
  return out.toString('base64');
}

export function checksummer(algorithm: ChecksumAlgorithm): Checksummer {
  switch (algorithm) {
    case 'crc32': {
      let crc = 0;
      return { update: (data) => void (crc = crc32(data, crc)), digest: () => bigEndian(crc) };
    }
    case 'crc32c': {
      let crc = 0xffffffff;
      return {
        update: (data) => {
          for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
        },
        digest: () => bigEndian(crc ^ 0xffffffff),
      };
    }
    case 'crc64nvme': {
      let hi = 0xffffffff;
      let lo = 0xffffffff;
      return {
        update: (data) => {
          for (let i = 0; i < data.length; i++) {
            const index = (lo ^ data[i]!) & 0xff;
            lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[index]!) >>> 0;
            hi = ((hi >>> 8) ^ CRC64_HI[index]!) >>> 0;
          }
        },
        digest: () => bigEndian(hi ^ 0xffffffff, lo ^ 0xffffffff),
      };
    }
    case 'sha1':
    case 'sha256': {
      const hash: Hash = createHash(algorithm);
      return { update: (data) => void hash.update(data), digest: () => hash.digest('base64') };
    }
  }
}

export interface BodyChecks {
  /** x-amz-content-sha256 when it is a digest (hex). */
  sha256Hex?: string;
  /** Content-MD5 (base64). */
  md5Base64?: string;
  /** A flexible checksum: its value from the header, or from the trailer once the body ended. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string | (() => string | undefined) };
  /**
   * A checksum to compute with nothing to compare it to: S3 computes a part's checksum itself when
   * a FULL_OBJECT upload's part comes without one.
   */
  compute?: ChecksumAlgorithm;
}

/**
 * Passes the (decoded) body through unchanged and checks it at its end against every digest the
 * client announced: a mismatch errors the stream instead of ending it, so the write path sees a
 * failed body and never commits. `verified` resolves with the flexible checksum that matched.
 */
export class BodyVerifier extends Transform {
  /** Bytes passed through so far (the request's payload, for metrics). */
  received = 0;
  readonly verified: Promise<Record<string, string>>;
  private resolve!: (checksums: Record<string, string>) => void;
  private readonly sha256?: Hash;
  private readonly md5?: Hash;
  private readonly sum?: Checksummer;

  /**
   * `onFirstRead` runs when the body is first asked for (see verifiedBody: the moment to send 100
   * Continue to a client that is waiting for it).
   */
  constructor(
    private readonly checks: BodyChecks,
    private onFirstRead?: () => void,
  ) {
    super();
    // Stays pending when the body fails: whoever awaits it has already seen the body's error.
    this.verified = new Promise((resolve) => (this.resolve = resolve));
    if (checks.sha256Hex) this.sha256 = createHash('sha256');
    if (checks.md5Base64) this.md5 = createHash('md5');
    const algorithm = checks.checksum?.algorithm ?? checks.compute;
    if (algorithm) this.sum = checksummer(algorithm);
  }

  override _read(size: number): void {
    const first = this.onFirstRead;
    this.onFirstRead = undefined;
    first?.();
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    this.sha256?.update(chunk);
    this.md5?.update(chunk);
    this.sum?.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      callback(null, this.finish());
    } catch (err) {
      callback(err as Error);
    }
  }

  private finish(): null {
    if (this.sha256) {
      const computed = this.sha256.digest('hex');
      if (computed !== this.checks.sha256Hex) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: this.checks.sha256Hex!, S3ComputedContentSHA256: computed });
      }
    }
    if (this.md5 && this.md5.digest('base64') !== this.checks.md5Base64) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    const verified: Record<string, string> = {};
    if (this.sum && this.checks.checksum) {
      const { algorithm, value } = this.checks.checksum;
      const expected = typeof value === 'string' ? value : value();
      if (expected === undefined) throw new S3Error('InvalidRequest', `The trailing header x-amz-checksum-${algorithm} was announced but not sent.`);
      checkChecksumValue(algorithm, expected);
      if (this.sum.digest() !== expected) throw new S3Error('BadDigest', `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`);
      verified[algorithm] = expected;
    } else if (this.sum && this.checks.compute) {
      verified[this.checks.compute] = this.sum.digest();
    }
    this.resolve(verified);
    return null;
  }
}

/**
 * Passes a body through while computing `algorithm` over it; `checksums` resolves with the value
 * once the body has ended (an error of the body ends the returned stream with that error). The
 * body is only asked for when the returned stream is first read, so a request refused before
 * that (a missing Content-Length) is answered without its body being sent.
 */
export function computingChecksum(body: Readable, algorithm: ChecksumAlgorithm): { body: Readable; checksums: Promise<Record<string, string>> } {
  const computer = new BodyVerifier({ compute: algorithm }, () => body.pipe(computer));
  body.on('error', (err) => computer.destroy(err));
  return { body: computer, checksums: computer.verified };
}
