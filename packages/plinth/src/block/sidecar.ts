import type { XXHashAPI } from 'xxhash-wasm';

/**
 * The chunk table stored beside a blob larger than one chunk (`<blob>.xxc`): the xxHash64 of
 * each CHUNK_SIZE slice, so a range read verifies only the chunks it touches instead of hashing
 * the whole blob. The table records the whole blob's xxHash64 too, which the reader compares
 * with the value the metadata holds, and ends with its own xxHash64, so a damaged table is
 * recognised (and the reader falls back to hashing the whole blob) rather than trusted.
 *
 * Layout, big-endian: "PXC1", chunk size u32, blob size u64, whole xxHash64 u64, one u64 per
 * chunk, then the xxHash64 of everything before it. 8 KiB per GiB of blob.
 */

export const CHUNK_SIZE = 1024 * 1024;
export const SIDECAR_SUFFIX = '.xxc';

const MAGIC = 0x50584331;
const HEADER = 24;

export interface ChunkTable {
  chunkSize: number;
  size: number;
  whole: bigint;
  chunks: bigint[];
}

export function encodeChunkTable(xxh: XXHashAPI, table: ChunkTable): Buffer {
  const buf = Buffer.alloc(HEADER + table.chunks.length * 8 + 8);
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt32BE(table.chunkSize, 4);
  buf.writeBigUInt64BE(BigInt(table.size), 8);
  buf.writeBigUInt64BE(table.whole, 16);
  table.chunks.forEach((h, i) => buf.writeBigUInt64BE(h, HEADER + i * 8));
  const end = buf.length - 8;
  buf.writeBigUInt64BE(xxh.h64Raw(buf.subarray(0, end)), end);
  return buf;
}

/** Null when the bytes are not an intact table. */
export function decodeChunkTable(xxh: XXHashAPI, buf: Buffer): ChunkTable | null {
  if (buf.length < HEADER + 8 || (buf.length - HEADER - 8) % 8 !== 0) return null;
  if (buf.readUInt32BE(0) !== MAGIC) return null;
  const end = buf.length - 8;
  if (xxh.h64Raw(buf.subarray(0, end)) !== buf.readBigUInt64BE(end)) return null;
  const chunkSize = buf.readUInt32BE(4);
  const size = Number(buf.readBigUInt64BE(8));
  const n = (end - HEADER) / 8;
  if (chunkSize === 0 || n !== Math.ceil(size / chunkSize)) return null;
  const chunks: bigint[] = [];
  for (let i = 0; i < n; i++) chunks.push(buf.readBigUInt64BE(HEADER + i * 8));
  return { chunkSize, size, whole: buf.readBigUInt64BE(16), chunks };
}
