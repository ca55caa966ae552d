/**
 * Reading BSON documents and cstrings out of message bodies, with every
 * failure turned into a non-fatal WireError (the message was framed correctly,
 * only its content is bad, so the connection can continue).
 */
import { deserialize, type DeserializeOptions, type Document } from 'bson';
import { MAX_BSON_INTERNAL_SIZE } from './protocol.js';
import { WireError } from './errors.js';

export interface DecodeOptions {
  /**
   * true: every value keeps its exact BSON type (Int32, Double, Long,
   * Decimal128, BSONRegExp, Binary wrappers), so re-serializing gives back
   * identical bytes. Use it for anything that will be stored.
   * false (default): int32 and double become JS numbers, convenient for
   * reading command options and filters.
   */
  faithful?: boolean;
}

/*
 * Deserialize options. Documents are stored by re-serializing what was
 * decoded, so the faithful mode must round-trip types exactly:
 * - promoteValues:false keeps Int32/Double/Long wrappers: a plain JS number
 *   would lose the int32-vs-double distinction (1 vs 1.0) on the way back.
 * - promoteBuffers:false keeps Binary with its subtype (UUID, MD5, ...).
 * - bsonRegExp:true keeps BSONRegExp: a JS RegExp cannot represent every
 *   PCRE flag (e.g. 'x', 'l') and would drop or reject them.
 * - useBigInt64 stays false so int64 comes back as Long, which serializes
 *   back to int64.
 * The convenient mode still uses promoteLongs:false: silently turning int64
 * into a double-typed number would change a stored value's type, and
 * Decimal128 is never promoted by bson. utf8 validation stays on (bson's
 * default): invalid UTF-8 is InvalidBSON for MongoDB too.
 */
const FAITHFUL: DeserializeOptions = Object.freeze({
  promoteValues: false,
  promoteBuffers: false,
  bsonRegExp: true,
  useBigInt64: false,
});
const CONVENIENT: DeserializeOptions = Object.freeze({
  promoteValues: true,
  promoteLongs: false,
  promoteBuffers: false,
  bsonRegExp: true,
  useBigInt64: false,
});

export function deserializeOptions(opts: DecodeOptions | undefined): DeserializeOptions {
  return opts?.faithful ? FAITHFUL : CONVENIENT;
}

/**
 * Validates the length prefix of the BSON document at `offset` against the
 * `end` of its enclosing region and returns its byte length.
 */
export function documentLength(buf: Buffer, offset: number, end: number, what: string): number {
  const remaining = end - offset;
  if (remaining < 5) throw new WireError('InvalidBSON', `${what}: truncated BSON document (${remaining} bytes left)`);
  const size = buf.readInt32LE(offset);
  if (size < 5 || size > remaining) {
    throw new WireError('InvalidBSON', `${what}: BSON document length ${size} does not fit in the ${remaining} remaining bytes`);
  }
  if (size > MAX_BSON_INTERNAL_SIZE) {
    throw new WireError('BSONObjectTooLarge', `${what}: BSON document of ${size} bytes exceeds ${MAX_BSON_INTERNAL_SIZE}`);
  }
  if (buf[offset + size - 1] !== 0) throw new WireError('InvalidBSON', `${what}: BSON document is not terminated by 0x00`);
  return size;
}

/** Deserializes exactly `bytes` (one whole document), mapping bson errors. */
export function decodeDocument(bytes: Buffer, options: DeserializeOptions, what: string): Document {
  try {
    return deserialize(bytes, options);
  } catch (err) {
    throw new WireError('InvalidBSON', `${what}: invalid BSON: ${(err as Error).message}`);
  }
}

/** Reads a NUL-terminated UTF-8 string; returns it and the offset after the NUL. */
export function readCString(buf: Buffer, offset: number, end: number, what: string): [string, number] {
  const nul = buf.indexOf(0, offset);
  if (nul < 0 || nul >= end) throw new WireError('ProtocolError', `${what}: unterminated string`);
  return [buf.toString('utf8', offset, nul), nul + 1];
}
