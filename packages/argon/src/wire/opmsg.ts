/**
 * OP_MSG (opcode 2013): the message format of every modern command and reply.
 *
 *   header | uint32 flagBits | section+ | [uint32 CRC-32C]
 *   section kind 0: one BSON document (the command body)
 *   section kind 1: int32 size | cstring identifier | BSON document*
 *     (a "document sequence": e.g. the `documents` of an insert, sent outside
 *     the body so a batch is not limited to one 16 MiB document)
 */
import { serialize, type Document } from 'bson';
import {
  HEADER_SIZE,
  OP_MSG_KNOWN_REQUIRED_BITS,
  OP_MSG_REQUIRED_BITS_MASK,
  OpMsgFlag,
  writeHeader,
  type MessageHeader,
} from './protocol.js';
import { WireError } from './errors.js';
import { crc32c } from './crc32c.js';
import { frameOpMsg, type EncodeOpMsgOptions } from './msgframe.js';
import { decodeDocument, deserializeOptions, documentLength, readCString, type DecodeOptions } from './bsonio.js';

export type { DecodeOptions } from './bsonio.js';
export { frameOpMsg, type EncodeOpMsgOptions } from './msgframe.js';

export interface DecodeOpMsgOptions extends DecodeOptions {
  /**
   * Header of the message `body` came from. Required when the checksum flag
   * is set: the CRC covers the header bytes too.
   */
  header?: MessageHeader;
}

export interface OpMsg {
  flags: number;
  checksumPresent: boolean;
  /** Client: no reply wanted (unacknowledged write). Do not answer. */
  moreToCome: boolean;
  /** Client accepts exhaust replies (several replies with moreToCome). */
  exhaustAllowed: boolean;
  /** The kind-0 body. */
  doc: Document;
  /** Kind-1 sequences by identifier, in wire order. */
  sequences: Map<string, Document[]>;
  /** Bytes of the body document (a view into the message). */
  rawDoc: Buffer;
  /**
   * Bytes of each sequence document (views into the message), parallel to
   * `sequences`: lets the storage layer keep client bytes without
   * re-serializing. Copy them if kept: they pin the socket chunk.
   */
  rawSequences: Map<string, Buffer[]>;
}


/** Parses the body (bytes after the header) of an OP_MSG. Throws non-fatal WireErrors. */
export function decodeOpMsg(body: Buffer, opts: DecodeOpMsgOptions = {}): OpMsg {
  if (body.length < 5) throw new WireError('ProtocolError', `OP_MSG too short (${body.length} body bytes)`);
  const flags = body.readUInt32LE(0);
  const unknownRequired = flags & OP_MSG_REQUIRED_BITS_MASK & ~OP_MSG_KNOWN_REQUIRED_BITS;
  if (unknownRequired !== 0) {
    throw new WireError('IllegalOpMsgFlag', `OP_MSG has unsupported required flag bits 0x${unknownRequired.toString(16)}`);
  }
  const checksumPresent = (flags & OpMsgFlag.checksumPresent) !== 0;
  let end = body.length;
  if (checksumPresent) {
    if (body.length < 9) throw new WireError('ProtocolError', 'OP_MSG with checksum flag is too short to hold a checksum');
    end -= 4;
    verifyChecksum(body, end, opts.header);
  }

  const options = deserializeOptions(opts);
  let doc: Document | undefined;
  let rawDoc: Buffer | undefined;
  const sequences = new Map<string, Document[]>();
  const rawSequences = new Map<string, Buffer[]>();
  let pos = 4;
  while (pos < end) {
    const kind = body[pos++];
    if (kind === 0) {
      if (doc) throw new WireError('ProtocolError', 'OP_MSG has more than one body section');
      const size = documentLength(body, pos, end, 'OP_MSG body');
      rawDoc = body.subarray(pos, pos + size);
      doc = decodeDocument(rawDoc, options, 'OP_MSG body');
      pos += size;
    } else if (kind === 1) {
      if (end - pos < 4) throw new WireError('ProtocolError', 'OP_MSG document sequence truncated');
      const size = body.readInt32LE(pos);
      const sectionEnd = pos + size;
      if (size < 5 || sectionEnd > end) {
        throw new WireError('ProtocolError', `OP_MSG document sequence size ${size} does not fit in the message`);
      }
      const [identifier, docsStart] = readCString(body, pos + 4, sectionEnd, 'OP_MSG document sequence identifier');
      if (sequences.has(identifier)) {
        throw new WireError('ProtocolError', `OP_MSG has duplicate document sequence '${identifier}'`);
      }
      const docs: Document[] = [];
      const raws: Buffer[] = [];
      const what = `OP_MSG document sequence '${identifier}'`;
      for (let p = docsStart; p < sectionEnd; ) {
        const docSize = documentLength(body, p, sectionEnd, what);
        const raw = body.subarray(p, p + docSize);
        raws.push(raw);
        docs.push(decodeDocument(raw, options, what));
        p += docSize;
      }
      sequences.set(identifier, docs);
      rawSequences.set(identifier, raws);
      pos = sectionEnd;
    } else {
      throw new WireError('ProtocolError', `OP_MSG has unknown section kind ${kind}`);
    }
  }
  if (!doc || !rawDoc) throw new WireError('ProtocolError', 'OP_MSG has no body section');
  // A sequence stands for a field of the body; having both is ambiguous.
  for (const identifier of sequences.keys()) {
    if (Object.prototype.hasOwnProperty.call(doc, identifier)) {
      throw new WireError('ProtocolError', `OP_MSG field '${identifier}' is both in the body and a document sequence`);
    }
  }
  return {
    flags,
    checksumPresent,
    moreToCome: (flags & OpMsgFlag.moreToCome) !== 0,
    exhaustAllowed: (flags & OpMsgFlag.exhaustAllowed) !== 0,
    doc,
    sequences,
    rawDoc,
    rawSequences,
  };
}

function verifyChecksum(body: Buffer, checksumOffset: number, header: MessageHeader | undefined): void {
  if (!header) throw new TypeError('decodeOpMsg: opts.header is required to verify an OP_MSG checksum');
  // The header bytes are fully determined by its fields, so re-encode them
  // rather than requiring the caller to keep the raw header around.
  const headerBytes = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(headerBytes, header);
  const actual = crc32c(body.subarray(0, checksumOffset), crc32c(headerBytes));
  const expected = body.readUInt32LE(checksumOffset);
  if (actual !== expected) {
    throw new WireError('ChecksumMismatch', `OP_MSG checksum mismatch: expected 0x${expected.toString(16)}, computed 0x${actual.toString(16)}`);
  }
}

/** Serializes `doc` and frames it as an OP_MSG with a single kind-0 section. */
export function encodeOpMsg(doc: Document, opts: EncodeOpMsgOptions): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = serialize(doc, { ignoreUndefined: false, checkKeys: false });
  } catch (err) {
    // bson refuses documents beyond its internal 17 MiB buffer.
    throw new WireError('BSONObjectTooLarge', `reply document cannot be serialized: ${(err as Error).message}`);
  }
  return encodeOpMsgRaw(bytes, opts);
}

/** Frames an already-serialized BSON document as an OP_MSG (kind-0 section only). */
export function encodeOpMsgRaw(docBytes: Uint8Array, opts: EncodeOpMsgOptions): Buffer {
  const n = docBytes.length;
  if (n < 5 || (docBytes[0]! | (docBytes[1]! << 8) | (docBytes[2]! << 16) | (docBytes[3]! << 24)) !== n) {
    throw new WireError('InvalidBSON', 'encodeOpMsgRaw: bytes are not one BSON document');
  }
  return frameOpMsg(n, opts, (buf, offset) => buf.set(docBytes, offset));
}

export { buildCursorReply, encodeCursorReply, cursorBatchEntrySize, type CursorBatchKey } from './cursor-reply.js';
