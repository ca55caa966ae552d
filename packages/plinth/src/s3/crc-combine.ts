import { CRC_POLYNOMIALS, type CrcAlgorithm } from './checksums.js';

/**
 * CRC combination: the CRC of A‖B from crc(A), crc(B) and the length of B. A FULL_OBJECT multipart
 * upload's checksum is the CRC of the whole object; Plinth never reads the object in one pass (a
 * completed object keeps its parts' blobs), so it is combined from the parts' CRCs instead.
 *
 * The arithmetic is over polynomials with coefficients in GF(2), modulo the CRC's polynomial P.
 * Running a CRC register over |B| zero bytes multiplies its content by x^(8·|B|) mod P, and the
 * register is linear in its starting value, so for a CRC that starts from all ones and ends XORed
 * with all ones (all three S3 offers):
 *
 *   crc(A‖B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B)
 *
 * (the all-ones conditioning of A's end and B's start cancel out). The values are kept as the CRC
 * keeps them, reflected: the top bit of a `width`-bit value is the coefficient of x^0, the lowest
 * bit that of x^(width−1). Multiplying by x is then one shift right, reduced by the reflected
 * polynomial when a term falls off the end: one step of the bitwise CRC.
 *
 * BigInt keeps one implementation for the 32- and 64-bit CRCs. It is slow per operation, but this
 * runs once per part, not per byte: x^(8n) is a product of the precomputed x^(2^k) for the bits
 * of 8n, so a part costs a handful of multiplications of `width` steps each.
 */

interface Crc {
  width: number;
  poly: bigint;
  /** The top bit: the polynomial 1. */
  one: bigint;
  /** x^(2^k) mod P for k = 0, 1, 2…; extended as larger lengths need. */
  powers: bigint[];
}

const CRCS = new Map<CrcAlgorithm, Crc>();

function crcOf(algorithm: CrcAlgorithm): Crc {
  let crc = CRCS.get(algorithm);
  if (!crc) {
    const width = algorithm === 'crc64nvme' ? 64 : 32;
    const one = 1n << BigInt(width - 1);
    crc = { width, poly: CRC_POLYNOMIALS[algorithm], one, powers: [one >> 1n] };
    CRCS.set(algorithm, crc);
  }
  return crc;
}

/** a · b mod P. */
function multiply(crc: Crc, a: bigint, b: bigint): bigint {
  let product = 0n;
  // Walks a's coefficients from x^0 up while b steps through b·x^i.
  for (let term = crc.one; term !== 0n; term >>= 1n) {
    if (a & term) {
      product ^= b;
      if ((a & (term - 1n)) === 0n) break;
    }
    b = b & 1n ? (b >> 1n) ^ crc.poly : b >> 1n;
  }
  return product;
}

/** x^(8·bytes) mod P: the effect of running `bytes` zero bytes through the register. */
function zeroBytes(crc: Crc, bytes: number): bigint {
  let result = crc.one;
  let exponent = BigInt(bytes) * 8n;
  for (let k = 0; exponent > 0n; k++, exponent >>= 1n) {
    if (k === crc.powers.length) crc.powers.push(multiply(crc, crc.powers[k - 1]!, crc.powers[k - 1]!));
    if (exponent & 1n) result = multiply(crc, result, crc.powers[k]!);
  }
  return result;
}

const fromBase64 = (value: string): bigint => BigInt(`0x${Buffer.from(value, 'base64').toString('hex') || '0'}`);
const toBase64 = (crc: Crc, value: bigint): string => Buffer.from(value.toString(16).padStart(crc.width / 4, '0'), 'hex').toString('base64');

/**
 * The CRC of the concatenation of pieces, from each piece's CRC (base64, as S3 sends it) and
 * size; base64 again. No pieces at all is the CRC of nothing, 0.
 */
export function combineCrcs(algorithm: CrcAlgorithm, pieces: { checksum: string; size: number }[]): string {
  const crc = crcOf(algorithm);
  // Parts of one upload are mostly of one size: its x^(8n) is computed once.
  const shifts = new Map<number, bigint>();
  let combined = 0n;
  for (const { checksum, size } of pieces) {
    let shift = shifts.get(size);
    if (shift === undefined) shifts.set(size, (shift = zeroBytes(crc, size)));
    combined = multiply(crc, combined, shift) ^ fromBase64(checksum);
  }
  return toBase64(crc, combined);
}
