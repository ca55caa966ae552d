/**
 * OP_COMPRESSED (2012): another message's body, compressed.
 *
 *   header | int32 originalOpcode | int32 uncompressedSize |
 *   uint8 compressorId | compressed bytes
 *
 * uncompressedSize excludes the 16-byte header: the original header is
 * rebuilt from the outer one (same requestId/responseTo, opCode =
 * originalOpcode). Argon speaks noop (0) and zlib (2, RFC 1950 format, as
 * MongoDB's zlib compressor). Per the spec a compressed request is answered
 * compressed with the same compressor; the command layer must still send the
 * replies of hello/isMaster/saslStart/... uncompressed.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { HEADER_SIZE, MAX_MESSAGE_SIZE_BYTES, OpCode, writeHeader, type MessageHeader } from './protocol.js';
import { WireError } from './errors.js';
import type { RawMessage } from './framing.js';

export const CompressorId = { noop: 0, snappy: 1, zlib: 2, zstd: 3 } as const;
export type SupportedCompressorId = typeof CompressorId.noop | typeof CompressorId.zlib;
/** Names to advertise in the hello reply's `compression` field (noop is implicit). */
export const SUPPORTED_COMPRESSORS: readonly string[] = ['zlib'];

export interface DecompressedMessage {
  /** The wrapped message, with its original header rebuilt. */
  message: RawMessage;
  /** Compressor the client used: answer with the same one. */
  compressorId: SupportedCompressorId;
  originalOpcode: number;
  uncompressedSize: number;
}

/**
 * Decompresses an OP_COMPRESSED message into the message it wraps, whose
 * header is rebuilt (messageLength = uncompressedSize + 16). Throws non-fatal
 * WireErrors: the outer frame was sound, so the connection can continue.
 */
export function decodeCompressed(compressed: RawMessage): DecompressedMessage {
  const { body, header } = compressed;
  if (header.opCode !== OpCode.OP_COMPRESSED) throw new TypeError(`decodeCompressed: opcode ${header.opCode} is not OP_COMPRESSED`);
  if (body.length < 9) throw new WireError('ProtocolError', `OP_COMPRESSED too short (${body.length} body bytes)`);
  const originalOpcode = body.readInt32LE(0);
  const uncompressedSize = body.readInt32LE(4);
  const compressorId = body[8]!;
  const payload = body.subarray(9);
  if (originalOpcode === OpCode.OP_COMPRESSED) {
    throw new WireError('ProtocolError', 'OP_COMPRESSED cannot wrap another OP_COMPRESSED');
  }
  if (uncompressedSize < 0 || uncompressedSize > MAX_MESSAGE_SIZE_BYTES - HEADER_SIZE) {
    throw new WireError('ProtocolError', `OP_COMPRESSED uncompressedSize ${uncompressedSize} is out of range`);
  }

  let inner: Buffer;
  if (compressorId === CompressorId.noop) {
    inner = payload;
  } else if (compressorId === CompressorId.zlib) {
    try {
      // maxOutputLength bounds the work and memory of a zip bomb: inflating
      // stops (with an error) as soon as the output exceeds the declared size.
      inner = inflateSync(payload, { maxOutputLength: Math.max(1, uncompressedSize) });
    } catch (err) {
      throw new WireError('ZLibError', `OP_COMPRESSED zlib payload could not be inflated to ${uncompressedSize} bytes: ${(err as Error).message}`);
    }
  } else {
    throw new WireError(
      'ProtocolError',
      `OP_COMPRESSED compressor id ${compressorId} is not supported; supported: 0 (noop), 2 (zlib)`,
    );
  }
  if (inner.length !== uncompressedSize) {
    throw new WireError('ProtocolError', `OP_COMPRESSED declared ${uncompressedSize} uncompressed bytes but holds ${inner.length}`);
  }

  const innerHeader: MessageHeader = {
    messageLength: uncompressedSize + HEADER_SIZE,
    requestId: header.requestId,
    responseTo: header.responseTo,
    opCode: originalOpcode,
  };
  const message = Buffer.allocUnsafe(innerHeader.messageLength);
  writeHeader(message, innerHeader);
  inner.copy(message, HEADER_SIZE);
  return {
    message: { header: innerHeader, body: message.subarray(HEADER_SIZE), message },
    compressorId,
    originalOpcode,
    uncompressedSize,
  };
}

/**
 * Wraps a complete message (header included, e.g. an encoded OP_MSG reply)
 * in OP_COMPRESSED. The inner header's requestId/responseTo are dropped:
 * the outer header carries `requestId`/`responseTo`.
 */
export function encodeCompressed(message: Buffer, compressorId: SupportedCompressorId | number, requestId: number, responseTo: number): Buffer {
  if (compressorId !== CompressorId.noop && compressorId !== CompressorId.zlib) {
    throw new RangeError(`encodeCompressed: compressor id ${compressorId} is not supported; supported: 0 (noop), 2 (zlib)`);
  }
  if (message.length < HEADER_SIZE) throw new RangeError('encodeCompressed: message shorter than a header');
  const originalOpcode = message.readInt32LE(12);
  const original = message.subarray(HEADER_SIZE);
  const payload = compressorId === CompressorId.zlib ? deflateSync(original) : original;
  const total = HEADER_SIZE + 9 + payload.length;
  const buf = Buffer.allocUnsafe(total);
  writeHeader(buf, { messageLength: total, requestId, responseTo, opCode: OpCode.OP_COMPRESSED });
  buf.writeInt32LE(originalOpcode, HEADER_SIZE);
  buf.writeInt32LE(original.length, HEADER_SIZE + 4);
  buf[HEADER_SIZE + 8] = compressorId;
  buf.set(payload, HEADER_SIZE + 9);
  return buf;
}
