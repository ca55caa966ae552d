/**
 * Hand-assembled cursor replies:
 *   { cursor: { firstBatch|nextBatch: [ doc0, doc1, ... ], id: <int64>, ns: <string> }, ok: 1, ...extra }
 *
 * The documents come from storage already serialized; writing the BSON
 * framing around them ourselves avoids deserializing and re-serializing every
 * document of every batch. BSON layout reminders: a document is
 * int32 totalLength | element* | 0x00, an element is type byte | cstring key |
 * value, and an array is a document whose keys are "0", "1", ...
 */
import { serialize, type Document, type Long } from 'bson';
import { MAX_BSON_INTERNAL_SIZE } from './protocol.js';
import { WireError } from './errors.js';
import { frameOpMsg, type EncodeOpMsgOptions } from './msgframe.js';

export type CursorBatchKey = 'firstBatch' | 'nextBatch';

const T_STRING = 0x02;
const T_DOCUMENT = 0x03;
const T_ARRAY = 0x04;
const T_INT32 = 0x10;
const T_INT64 = 0x12;

function decimalDigits(i: number): number {
  let d = 1;
  while (i >= 10) {
    i = Math.floor(i / 10);
    d++;
  }
  return d;
}

/**
 * Bytes one document of `docLength` bytes adds to a batch at position
 * `index` (type byte, key, NUL, document). Lets the command layer stop
 * filling a batch before the reply crosses the size limit.
 */
export function cursorBatchEntrySize(index: number, docLength: number): number {
  return 1 + decimalDigits(index) + 1 + docLength;
}

interface Layout {
  size: number;
  write(buf: Buffer, offset: number): void;
}

function layoutCursorReply(ns: string, cursorId: Long, batchKey: CursorBatchKey, docs: readonly Uint8Array[], extra?: Document): Layout {
  let arrayLen = 4 + 1;
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i]!;
    if (d.length < 5 || (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) !== d.length) {
      throw new WireError('InvalidBSON', `cursor batch entry ${i} is not a BSON document`);
    }
    arrayLen += cursorBatchEntrySize(i, d.length);
  }
  const nsLen = Buffer.byteLength(ns, 'utf8');
  const keyLen = batchKey.length;
  const cursorLen =
    4 +
    (1 + keyLen + 1 + arrayLen) + // batch array
    (1 + 2 + 1 + 8) + // id: int64
    (1 + 2 + 1 + 4 + nsLen + 1) + // ns: string
    1;
  let extraElems: Uint8Array | undefined;
  if (extra) {
    const bytes = serialize(extra, { ignoreUndefined: false, checkKeys: false });
    extraElems = bytes.subarray(4, bytes.length - 1); // strip length prefix and terminator
  }
  const size = 4 + (1 + 6 + 1 + cursorLen) + (1 + 2 + 1 + 4) + (extraElems?.length ?? 0) + 1;
  if (size > MAX_BSON_INTERNAL_SIZE) {
    throw new WireError('BSONObjectTooLarge', `cursor reply of ${size} bytes exceeds ${MAX_BSON_INTERNAL_SIZE} bytes`);
  }

  return {
    size,
    write(buf, o) {
      o = buf.writeInt32LE(size, o);
      buf[o++] = T_DOCUMENT;
      o += buf.write('cursor', o, 'latin1');
      buf[o++] = 0;
      o = buf.writeInt32LE(cursorLen, o);
      buf[o++] = T_ARRAY;
      o += buf.write(batchKey, o, 'latin1');
      buf[o++] = 0;
      o = buf.writeInt32LE(arrayLen, o);
      for (let i = 0; i < docs.length; i++) {
        buf[o++] = T_DOCUMENT;
        o += buf.write(String(i), o, 'latin1');
        buf[o++] = 0;
        const d = docs[i]!;
        buf.set(d, o);
        o += d.length;
      }
      buf[o++] = 0; // end of array
      buf[o++] = T_INT64;
      buf[o++] = 0x69; // 'i'
      buf[o++] = 0x64; // 'd'
      buf[o++] = 0;
      o = buf.writeInt32LE(cursorId.low, o);
      o = buf.writeInt32LE(cursorId.high, o);
      buf[o++] = T_STRING;
      buf[o++] = 0x6e; // 'n'
      buf[o++] = 0x73; // 's'
      buf[o++] = 0;
      o = buf.writeInt32LE(nsLen + 1, o);
      o += buf.write(ns, o, 'utf8');
      buf[o++] = 0;
      buf[o++] = 0; // end of cursor
      buf[o++] = T_INT32;
      buf[o++] = 0x6f; // 'o'
      buf[o++] = 0x6b; // 'k'
      buf[o++] = 0;
      o = buf.writeInt32LE(1, o);
      if (extraElems) {
        buf.set(extraElems, o);
        o += extraElems.length;
      }
      buf[o++] = 0; // end of reply
    },
  };
}

/**
 * BSON bytes of `{ cursor: { [batchKey]: docs, id: cursorId, ns }, ok: 1, ...extra }`
 * built from raw document buffers. `extra` must not repeat `cursor` or `ok`.
 */
export function buildCursorReply(
  ns: string,
  cursorId: Long,
  batchKey: CursorBatchKey,
  docs: readonly Uint8Array[],
  extra?: Document,
): Buffer {
  const layout = layoutCursorReply(ns, cursorId, batchKey, docs, extra);
  const buf = Buffer.allocUnsafe(layout.size);
  layout.write(buf, 0);
  return buf;
}

/**
 * The same reply already framed as an OP_MSG, writing the documents straight
 * into the outgoing message (one copy instead of two via
 * encodeOpMsgRaw(buildCursorReply(...))).
 */
export function encodeCursorReply(
  ns: string,
  cursorId: Long,
  batchKey: CursorBatchKey,
  docs: readonly Uint8Array[],
  extra: Document | undefined,
  opts: EncodeOpMsgOptions,
): Buffer {
  const layout = layoutCursorReply(ns, cursorId, batchKey, docs, extra);
  return frameOpMsg(layout.size, opts, layout.write);
}
