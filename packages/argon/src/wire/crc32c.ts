/**
 * CRC-32C (Castagnoli), the checksum OP_MSG uses when checksumPresent is set.
 *
 * Node has no built-in CRC-32C (zlib.crc32 is the IEEE polynomial), so this is
 * a table implementation. It uses "slicing-by-8": eight 256-entry tables let
 * the loop consume 8 bytes per iteration instead of 1, which matters because a
 * checksummed message can be up to 48 MB.
 */

/** Reflected form of the Castagnoli polynomial 0x1EDC6F41. */
const POLY = 0x82f63b78;

// TABLES[k * 256 + i] is the CRC contribution of byte value i placed k bytes
// before the end of an 8-byte block.
const TABLES = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = ((prev >>> 8) ^ t[prev & 0xff]!) >>> 0;
    }
  }
  return t;
}

/**
 * CRC-32C of `data`. Pass the result of a previous call as `previous` to
 * continue a running checksum: crc32c(b, crc32c(a)) === crc32c(a ++ b). That
 * lets a caller checksum a header and a body living in different buffers.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  const t = TABLES;
  let crc = ~previous >>> 0;
  let i = 0;
  const n = data.length;
  const blockEnd = n - (n % 8);
  while (i < blockEnd) {
    const a = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t[7 * 256 + (a & 0xff)]! ^
      t[6 * 256 + ((a >>> 8) & 0xff)]! ^
      t[5 * 256 + ((a >>> 16) & 0xff)]! ^
      t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + data[i + 4]!]! ^
      t[2 * 256 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) {
    crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}
